//! Turning `linux.cgroupsPath` into directories, the way runc 1.1 does (see docs/cgroups.md).
//!
//! * absolute path: the same path below each hierarchy's mount point;
//! * relative path: below the runtime's own cgroup in each v1 hierarchy and in the hybrid unified hierarchy,
//!   and below the *parent* of its own cgroup on a cgroup2-only host (its own cgroup usually has processes,
//!   which would forbid enabling controllers for children);
//! * absent: the relative path `<id>`.

use std::path::{Component, Path, PathBuf};

use super::mountinfo::{CgroupMount, OwnCgroup};
use super::{CgroupError, Mode, V1Hierarchy};

/// Cleans `p` lexically (`.`, `..`, repeated `/`), refusing paths that climb above their start or name the root.
pub fn clean_path(p: &Path) -> Result<PathBuf, CgroupError> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in p.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => parts.push(n),
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(CgroupError::Invalid(format!(
                        "cgroupsPath {} escapes its parent with '..'",
                        p.display()
                    )));
                }
            }
            Component::Prefix(_) => {
                return Err(CgroupError::Invalid(format!("cgroupsPath {}", p.display())))
            }
        }
    }
    if parts.is_empty() {
        return Err(CgroupError::Invalid(format!(
            "cgroupsPath {:?} names the root cgroup; a container needs its own",
            p
        )));
    }
    let mut out = if p.is_absolute() {
        PathBuf::from("/")
    } else {
        PathBuf::new()
    };
    out.extend(parts);
    Ok(out)
}

/// The cleaned path to use: `cgroups_path` or, when absent, the container id (relative, as runc does).
pub fn requested_path(cgroups_path: Option<&Path>, id: &str) -> Result<PathBuf, CgroupError> {
    match cgroups_path {
        Some(p) if !p.as_os_str().is_empty() => clean_path(p),
        _ => {
            if id.is_empty() || id.contains('/') || id == "." || id == ".." {
                return Err(CgroupError::Invalid(format!(
                    "container id {id:?} cannot name a cgroup"
                )));
            }
            Ok(PathBuf::from(id))
        }
    }
}

/// Joins the in-hierarchy cgroup `cg` (absolute) under the mount `m`, honouring the mount's root.
fn under_mount(m: &CgroupMount, cg: &Path) -> PathBuf {
    // With a cgroup namespace or a bind mount of a sub-cgroup, mountinfo's root names the cgroup at the mount point.
    let rel = cg
        .strip_prefix(&m.root)
        .unwrap_or_else(|_| cg.strip_prefix("/").unwrap_or(cg));
    m.mount_point.join(rel)
}

/// Joins `req` to the right base within one hierarchy.
fn dir_in(
    m: &CgroupMount,
    req: &Path,
    own: Option<&Path>,
    parent_of_own: bool,
) -> Result<PathBuf, CgroupError> {
    if req.is_absolute() {
        return Ok(m.mount_point.join(req.strip_prefix("/").unwrap_or(req)));
    }
    let own = own.ok_or_else(|| {
        CgroupError::Invalid(format!(
            "relative cgroupsPath {} but this process's cgroup in {} is unknown",
            req.display(),
            m.mount_point.display()
        ))
    })?;
    let base = if parent_of_own {
        own.parent().unwrap_or(Path::new("/"))
    } else {
        own
    };
    Ok(under_mount(m, base).join(req))
}

/// Computes the v1 hierarchy directories and the unified directory for `req` on a host in `mode`.
pub fn resolve(
    req: &Path,
    mode: Mode,
    mounts: &[CgroupMount],
    own: &[OwnCgroup],
) -> Result<(Vec<V1Hierarchy>, Option<PathBuf>), CgroupError> {
    let mut v1 = Vec::new();
    if mode != Mode::Unified {
        for m in mounts.iter().filter(|m| !m.v2 && !m.controllers.is_empty()) {
            let mine = own
                .iter()
                .find(|o| {
                    let mut a = o.controllers.clone();
                    let mut b = m.controllers.clone();
                    a.sort();
                    b.sort();
                    a == b
                })
                .map(|o| o.path.as_path());
            v1.push(V1Hierarchy {
                controllers: m.controllers.clone(),
                mount: m.mount_point.clone(),
                dir: dir_in(m, req, mine, false)?,
            });
        }
        if v1.is_empty() {
            return Err(CgroupError::Unsupported(
                "a cgroup v1 host without any mounted hierarchy".into(),
            ));
        }
    }
    let unified = if mode == Mode::Legacy {
        None
    } else {
        let m = pick_unified(mounts, mode).ok_or_else(|| {
            CgroupError::Unsupported("finding the cgroup2 mount in /proc/self/mountinfo".into())
        })?;
        let mine = own
            .iter()
            .find(|o| o.controllers.is_empty())
            .map(|o| o.path.as_path());
        Some((
            m.mount_point.clone(),
            dir_in(m, req, mine, mode == Mode::Unified)?,
        ))
    };
    Ok((v1, unified.map(|(_, d)| d)))
}

/// The cgroup2 mount to use: `/sys/fs/cgroup` on a unified host, `/sys/fs/cgroup/unified` on a hybrid one.
pub fn pick_unified(mounts: &[CgroupMount], mode: Mode) -> Option<&CgroupMount> {
    let want = if mode == Mode::Unified {
        super::CGROUP_ROOT
    } else {
        "/sys/fs/cgroup/unified"
    };
    mounts
        .iter()
        .find(|m| m.v2 && m.mount_point == Path::new(want))
        .or_else(|| mounts.iter().find(|m| m.v2))
}

#[cfg(test)]
mod tests {
    use super::super::mountinfo::{parse_mountinfo, parse_proc_cgroup};
    use super::*;

    const MOUNTS: &str = "\
32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";
    const OWN: &str = "9:name=systemd:/\n4:memory:/api/x\n1:cpu:/\n0::/u/me\n";

    #[test]
    fn cleans_and_validates() {
        assert_eq!(
            clean_path(Path::new("/a//b/./c/../d")).unwrap(),
            PathBuf::from("/a/b/d")
        );
        assert_eq!(clean_path(Path::new("a/b/..")).unwrap(), PathBuf::from("a"));
        assert!(clean_path(Path::new("/../etc")).is_err());
        assert!(clean_path(Path::new("a/../../b")).is_err());
        assert!(clean_path(Path::new("/")).is_err());
        assert!(requested_path(None, "a/b").is_err());
        assert_eq!(requested_path(None, "abc").unwrap(), PathBuf::from("abc"));
        assert_eq!(
            requested_path(Some(Path::new("")), "abc").unwrap(),
            PathBuf::from("abc")
        );
    }

    #[test]
    fn absolute_is_below_each_mount() {
        let m = parse_mountinfo(MOUNTS);
        let o = parse_proc_cgroup(OWN);
        let (v1, u) = resolve(Path::new("/b/c"), Mode::Hybrid, &m, &o).unwrap();
        assert_eq!(v1.len(), 3);
        assert_eq!(v1[1].dir, PathBuf::from("/sys/fs/cgroup/memory/b/c"));
        assert_eq!(v1[2].controllers, vec!["name=systemd"]);
        assert_eq!(u.unwrap(), PathBuf::from("/sys/fs/cgroup/unified/b/c"));
    }

    #[test]
    fn relative_is_below_own_cgroup() {
        let m = parse_mountinfo(MOUNTS);
        let o = parse_proc_cgroup(OWN);
        let (v1, u) = resolve(Path::new("id1"), Mode::Hybrid, &m, &o).unwrap();
        assert_eq!(v1[0].dir, PathBuf::from("/sys/fs/cgroup/cpu/id1"));
        assert_eq!(v1[1].dir, PathBuf::from("/sys/fs/cgroup/memory/api/x/id1"));
        // Hybrid: runc joins its own unified cgroup, not the parent (measured with runc 1.1.5).
        assert_eq!(u.unwrap(), PathBuf::from("/sys/fs/cgroup/unified/u/me/id1"));
    }

    #[test]
    fn unified_relative_is_below_parent_of_own() {
        let m = parse_mountinfo("1 0 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
        let o = parse_proc_cgroup("0::/user.slice/session-1.scope\n");
        let (v1, u) = resolve(Path::new("c1"), Mode::Unified, &m, &o).unwrap();
        assert!(v1.is_empty());
        assert_eq!(u.unwrap(), PathBuf::from("/sys/fs/cgroup/user.slice/c1"));
        let o = parse_proc_cgroup("0::/\n");
        let (_, u) = resolve(Path::new("c1"), Mode::Unified, &m, &o).unwrap();
        assert_eq!(u.unwrap(), PathBuf::from("/sys/fs/cgroup/c1"));
    }

    #[test]
    fn legacy_has_no_unified_dir() {
        let m = parse_mountinfo(MOUNTS);
        let o = parse_proc_cgroup(OWN);
        let (v1, u) = resolve(Path::new("/x"), Mode::Legacy, &m, &o).unwrap();
        assert_eq!(v1.len(), 3);
        assert!(u.is_none());
    }

    #[test]
    fn honours_mount_root() {
        let m =
            parse_mountinfo("1 0 0:1 /api/x /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
        let o = parse_proc_cgroup("4:memory:/api/x/me\n");
        let (v1, _) = resolve(Path::new("c"), Mode::Legacy, &m, &o).unwrap();
        assert_eq!(v1[0].dir, PathBuf::from("/sys/fs/cgroup/memory/me/c"));
    }
}

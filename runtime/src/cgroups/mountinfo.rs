//! Finding cgroup hierarchies in `/proc/self/mountinfo` (parsed by `berth_mountinfo`) and the process's own
//! cgroups in `/proc/self/cgroup`.

use std::path::PathBuf;

/// Controllers a cgroup v1 mount can carry; other super options (`rw`, `xattr`, `release_agent=`…) are not controllers.
const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// One cgroup file system mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    /// Where it is mounted, e.g. `/sys/fs/cgroup/memory`.
    pub mount_point: PathBuf,
    /// The cgroup the mount shows as its root (`/` unless a cgroup namespace or bind mount narrows it).
    pub root: PathBuf,
    /// `true` for cgroup2, `false` for a v1 hierarchy.
    pub v2: bool,
    /// v1 controllers (incl. `name=…` for named hierarchies); empty for cgroup2.
    pub controllers: Vec<String>,
}

/// Parses mountinfo text and returns its cgroup mounts, first mount of each v1 hierarchy only.
pub fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    let mut mounts: Vec<CgroupMount> = Vec::new();
    for mount in berth_mountinfo::parse(text) {
        let v2 = match mount.fs_type.as_str() {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        let controllers: Vec<String> = if v2 {
            Vec::new()
        } else {
            mount
                .super_options
                .split(',')
                .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                .map(str::to_string)
                .collect()
        };
        let m = CgroupMount {
            mount_point: mount.mount_point,
            root: mount.root,
            v2,
            controllers,
        };
        // A hierarchy bind-mounted twice appears twice; the first mount is the one the host set up.
        let dup = mounts
            .iter()
            .any(|o| o.v2 == m.v2 && !m.v2 && o.controllers == m.controllers);
        if !dup {
            mounts.push(m);
        }
    }
    mounts
}

/// One line of `/proc/<pid>/cgroup`: the controllers (empty for cgroup2) and the cgroup path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnCgroup {
    /// Controllers of the hierarchy; empty for the cgroup2 line `0::`.
    pub controllers: Vec<String>,
    /// The process's cgroup in that hierarchy.
    pub path: PathBuf,
}

/// Parses `/proc/<pid>/cgroup`.
pub fn parse_proc_cgroup(text: &str) -> Vec<OwnCgroup> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _id = parts.next()?;
            let ctrls = parts.next()?;
            let path = parts.next()?;
            Some(OwnCgroup {
                controllers: ctrls
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
                path: PathBuf::from(path),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:5 - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
99 31 0:32 /sub /mnt/my\\040mem rw,relatime - cgroup cgroup rw,memory
";

    #[test]
    fn parses_hybrid_mounts() {
        let m = parse_mountinfo(HYBRID);
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(m[1].mount_point, PathBuf::from("/sys/fs/cgroup/memory"));
        assert_eq!(m[2].controllers, vec!["name=systemd"]);
        assert!(m[3].v2);
        assert_eq!(m[3].mount_point, PathBuf::from("/sys/fs/cgroup/unified"));
    }

    #[test]
    fn unescapes_mount_points() {
        let m = parse_mountinfo("1 2 0:1 /a\\040b /x\\011y rw - cgroup2 cgroup2 rw\n");
        assert_eq!(m[0].mount_point, PathBuf::from("/x\ty"));
        assert_eq!(m[0].root, PathBuf::from("/a b"));
    }

    #[test]
    fn parses_proc_cgroup() {
        let c = parse_proc_cgroup("9:name=systemd:/a\n4:memory:/p/q\n1:cpu,cpuacct:/\n0::/u\n");
        assert_eq!(c.len(), 4);
        assert_eq!(c[0].controllers, vec!["name=systemd"]);
        assert_eq!(c[1].path, PathBuf::from("/p/q"));
        assert_eq!(c[2].controllers, vec!["cpu", "cpuacct"]);
        assert!(c[3].controllers.is_empty());
    }
}

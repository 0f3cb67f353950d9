//! The `cgroup` mount type: cgroup2 on a v2 host, a tmpfs of per-hierarchy mounts on a v1/hybrid host.
//! Without a cgroup namespace the container's own cgroup directories are bind-mounted, so it never sees
//! the host's hierarchy; with one, the hierarchies are mounted fresh (the namespace root is its cgroup).

use std::fs;
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};

use super::mounts::{remount_bind, MountEnv};
use super::options::MountOptions;
use crate::cgroups::mountinfo::{parse_mountinfo, parse_proc_cgroup};
use crate::error::Context;
use crate::{Error, Result};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// A cgroup hierarchy mounted on the host.
struct Hierarchy {
    /// Host mount point, e.g. `/sys/fs/cgroup/cpu,cpuacct`.
    mountpoint: PathBuf,
    /// `cgroup` or `cgroup2`.
    fstype: String,
    /// Controller/name options for a fresh v1 mount (`cpu,cpuacct`, `name=systemd`).
    controllers: String,
}

/// Mounts a cgroup filesystem at `dest` (already resolved inside the rootfs).
pub fn mount_cgroup(dest: &Path, opts: &MountOptions, env: MountEnv) -> Result<()> {
    fs::create_dir_all(dest).ctx(|| format!("mkdir {}", dest.display()))?;
    let flags = opts.flags
        & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RELATIME);
    let ro = opts.flags.contains(MsFlags::MS_RDONLY);
    let v2 = statfs(CGROUP_ROOT)
        .map(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC)
        .unwrap_or(false);
    if v2 {
        return mount_one(
            &PathBuf::from(CGROUP_ROOT),
            "cgroup2",
            "",
            &own_path(&read_own_cgroups()?, "")?,
            dest,
            flags,
            ro,
            env,
        );
    }
    mount(Some("tmpfs"), dest, Some("tmpfs"), flags, Some("mode=755"))
        .ctx(|| format!("mount tmpfs on {}", dest.display()))?;
    // Read once: one read_to_string of a proc file is several small reads, and a v1 host has a
    // dozen hierarchies.
    let own = read_own_cgroups()?;
    for h in hierarchies()? {
        let Some(name) = h.mountpoint.file_name().map(|n| n.to_os_string()) else {
            continue;
        };
        let target = dest.join(&name);
        fs::create_dir_all(&target).ctx(|| format!("mkdir {}", target.display()))?;
        let key = if h.fstype == "cgroup2" {
            String::new()
        } else {
            h.controllers.clone()
        };
        let sub = own_path(&own, &key)?;
        mount_one(
            &h.mountpoint,
            &h.fstype,
            &h.controllers,
            &sub,
            &target,
            flags,
            ro,
            env,
        )?;
        let name = name.to_string_lossy().into_owned();
        if name.contains(',') {
            for part in name.split(',') {
                let link = dest.join(part);
                if !link.exists() {
                    std::os::unix::fs::symlink(&name, &link)
                        .ctx(|| format!("symlink {}", link.display()))?;
                }
            }
        }
    }
    if ro {
        mount(
            None::<&str>,
            dest,
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | flags,
            Some("mode=755"),
        )
        .ctx(|| format!("remount {} read-only", dest.display()))?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn mount_one(
    host_mount: &Path,
    fstype: &str,
    controllers: &str,
    sub: &str,
    target: &Path,
    flags: MsFlags,
    ro: bool,
    env: MountEnv,
) -> Result<()> {
    let roflag = if ro {
        MsFlags::MS_RDONLY
    } else {
        MsFlags::empty()
    };
    if env.cgroupns {
        let data = (fstype == "cgroup").then_some(controllers);
        return mount(Some(fstype), target, Some(fstype), flags | roflag, data)
            .ctx(|| format!("mount {fstype} ({controllers}) on {}", target.display()));
    }
    let src = host_mount.join(sub.trim_start_matches('/'));
    mount(
        Some(&src),
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| format!("bind mount {} on {}", src.display(), target.display()))?;
    remount_bind(target, flags | roflag)
}

/// The host's cgroup hierarchies under /sys/fs/cgroup, from /proc/self/mountinfo.
fn hierarchies() -> Result<Vec<Hierarchy>> {
    let text =
        fs::read_to_string("/proc/self/mountinfo").ctx(|| "read /proc/self/mountinfo".into())?;
    Ok(parse_mountinfo(&text)
        .into_iter()
        .filter(|m| {
            m.mount_point.starts_with(CGROUP_ROOT) && m.mount_point != Path::new(CGROUP_ROOT)
        })
        .map(|m| Hierarchy {
            fstype: if m.v2 { "cgroup2" } else { "cgroup" }.to_string(),
            controllers: m.controllers.join(","),
            mountpoint: m.mount_point,
        })
        .collect())
}

/// The text of /proc/self/cgroup.
fn read_own_cgroups() -> Result<String> {
    fs::read_to_string("/proc/self/cgroup").ctx(|| "read /proc/self/cgroup".into())
}

/// This process's cgroup path (from `text`, /proc/self/cgroup) for a hierarchy identified by its
/// controller list (empty for cgroup2).
fn own_path(text: &str, controllers: &str) -> Result<String> {
    let want: Vec<&str> = controllers.split(',').filter(|c| !c.is_empty()).collect();
    parse_proc_cgroup(text)
        .into_iter()
        .find(|c| {
            c.controllers.len() == want.len()
                && want.iter().all(|w| c.controllers.iter().any(|h| h == w))
        })
        .map(|c| c.path.to_string_lossy().into_owned())
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "no cgroup for hierarchy {controllers:?} in /proc/self/cgroup"
            ))
        })
}

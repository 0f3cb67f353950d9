//! After pivot_root: masked and read-only paths, a read-only `/`, and sysctls.

use std::collections::HashMap;
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};

use super::mounts::remount_bind;
use crate::error::Context;
use crate::{Error, Result};

/// Hides each path: /dev/null bound over files, an empty read-only tmpfs over directories.
pub fn mask(paths: &[String]) -> Result<()> {
    for p in paths {
        let meta = match std::fs::metadata(p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(Error::Io {
                    context: format!("masked path {p}"),
                    source: e,
                })
            }
        };
        let res = if meta.is_dir() {
            mount(
                Some("tmpfs"),
                p.as_str(),
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None::<&str>,
            )
        } else {
            mount(
                Some("/dev/null"),
                p.as_str(),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
        };
        res.ctx(|| format!("mask {p}"))?;
    }
    Ok(())
}

/// Makes each path read-only with a recursive bind mount onto itself.
pub fn readonly(paths: &[String]) -> Result<()> {
    for p in paths {
        match mount(
            Some(p.as_str()),
            p.as_str(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        ) {
            Ok(()) => {}
            Err(Errno::ENOENT) => continue,
            Err(e) => {
                return Err(Error::Sys {
                    context: format!("bind readonly path {p}"),
                    source: e,
                })
            }
        }
        // A bind remount sets exactly the flags given: keep the source's nosuid/nodev/noexec
        // (procfs has all three), as runc does.
        let keep = super::mounts::locked_flags(Path::new(p))
            & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
        remount_bind(Path::new(p), MsFlags::MS_RDONLY | MsFlags::MS_REC | keep)?;
    }
    Ok(())
}

/// Remounts `/` read-only (`root.readonly`).
pub fn readonly_root() -> Result<()> {
    remount_bind(Path::new("/"), MsFlags::MS_RDONLY)
}

/// Writes `linux.sysctl` under /proc/sys.
pub fn sysctl(values: &HashMap<String, String>) -> Result<()> {
    for (key, value) in values {
        let path = sysctl_path(key);
        std::fs::write(&path, value).ctx(|| format!("write sysctl {key} ({path})"))?;
    }
    Ok(())
}

/// `net.ipv4.ip_forward` → `/proc/sys/net/ipv4/ip_forward`.
pub fn sysctl_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sysctl_keys_become_proc_paths() {
        assert_eq!(
            super::sysctl_path("net.ipv4.ip_forward"),
            "/proc/sys/net/ipv4/ip_forward"
        );
        assert_eq!(
            super::sysctl_path("kernel.shmmax"),
            "/proc/sys/kernel/shmmax"
        );
    }
}

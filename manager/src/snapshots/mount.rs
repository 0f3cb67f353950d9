//! Mount descriptions returned by snapshotters, and performing/undoing them on a directory.

use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use serde::{Deserialize, Serialize};

use super::SnapshotError;

/// One mount, as in containerd and the OCI runtime spec: `mount -t <typ> -o <options> <source>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// Filesystem type: `overlay` or `bind`.
    pub typ: String,
    /// Source (a directory for binds, `overlay` for overlay).
    pub source: String,
    /// Options: flags (`ro`, `rbind`, …) and filesystem data (`lowerdir=…`).
    pub options: Vec<String>,
}

/// The kernel rejects mount data longer than a page.
const MAX_MOUNT_DATA: usize = 4095;

impl Mount {
    /// A bind mount of `dir`, read-only when `ro`.
    pub fn bind(dir: &Path, ro: bool) -> Mount {
        Mount {
            typ: "bind".into(),
            source: dir.display().to_string(),
            options: vec!["rbind".into(), if ro { "ro" } else { "rw" }.into()],
        }
    }

    /// True when the mount is read-only.
    pub fn is_read_only(&self) -> bool {
        self.options.iter().any(|o| o == "ro")
    }

    /// Splits options into mount flags and the filesystem data string.
    fn flags_and_data(&self) -> (MsFlags, String) {
        let mut flags = MsFlags::empty();
        let mut data = Vec::new();
        for o in &self.options {
            match o.as_str() {
                "ro" => flags |= MsFlags::MS_RDONLY,
                "rw" => {}
                "bind" => flags |= MsFlags::MS_BIND,
                "rbind" => flags |= MsFlags::MS_BIND | MsFlags::MS_REC,
                "nosuid" => flags |= MsFlags::MS_NOSUID,
                "nodev" => flags |= MsFlags::MS_NODEV,
                "noexec" => flags |= MsFlags::MS_NOEXEC,
                other => data.push(other),
            }
        }
        (flags, data.join(","))
    }

    /// Mounts this on `target`.
    pub fn mount_on(&self, target: &Path) -> Result<(), SnapshotError> {
        let (flags, data) = self.flags_and_data();
        let merr = |source| SnapshotError::Mount {
            op: "mount",
            target: target.to_path_buf(),
            source,
        };
        if data.len() > MAX_MOUNT_DATA {
            return Err(SnapshotError::InvalidMount {
                target: target.to_path_buf(),
                reason: format!(
                    "mount options are {} bytes, the kernel accepts {MAX_MOUNT_DATA} (too many layers)",
                    data.len()
                ),
            });
        }
        if self.typ == "bind" || flags.contains(MsFlags::MS_BIND) {
            let bind = (flags & (MsFlags::MS_BIND | MsFlags::MS_REC)) | MsFlags::MS_BIND;
            mount(
                Some(self.source.as_str()),
                target,
                None::<&str>,
                bind,
                None::<&str>,
            )
            .map_err(merr)?;
            // A bind mount ignores MS_RDONLY and friends until remounted.
            let rest = flags - (MsFlags::MS_BIND | MsFlags::MS_REC);
            if !rest.is_empty() {
                let re = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | rest;
                if let Err(e) = mount(None::<&str>, target, None::<&str>, re, None::<&str>) {
                    let _ = umount2(target, MntFlags::MNT_DETACH);
                    return Err(merr(e));
                }
            }
            return Ok(());
        }
        let data = (!data.is_empty()).then_some(data);
        mount(
            Some(self.source.as_str()),
            target,
            Some(self.typ.as_str()),
            flags,
            data.as_deref(),
        )
        .map_err(merr)
    }
}

/// Unmounts `target` (lazily if busy).
pub fn unmount(target: &Path) -> Result<(), SnapshotError> {
    match umount2(target, MntFlags::empty()) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EBUSY) => umount2(target, MntFlags::MNT_DETACH),
        Err(e) => Err(e),
    }
    .map_err(|source| SnapshotError::Mount {
        op: "umount",
        target: target.to_path_buf(),
        source,
    })
}

/// Mounts stacked on one target; unmounted (in reverse) on drop unless [`MountGuard::keep`] is called.
#[derive(Debug)]
pub struct MountGuard {
    target: PathBuf,
    count: usize,
}

impl MountGuard {
    /// The mount point.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Leaves the mounts in place (e.g. a container's rootfs) and forgets them.
    pub fn keep(mut self) {
        self.count = 0;
    }

    /// Unmounts now, reporting errors.
    pub fn unmount(mut self) -> Result<(), SnapshotError> {
        while self.count > 0 {
            unmount(&self.target)?;
            self.count -= 1;
        }
        Ok(())
    }
}

impl Drop for MountGuard {
    fn drop(&mut self) {
        while self.count > 0 {
            if let Err(e) = unmount(&self.target) {
                tracing::warn!(error = %e, "unmount on drop failed");
                return;
            }
            self.count -= 1;
        }
    }
}

/// Performs `mounts` on `target` in order; on failure undoes what was done.
pub fn mount_all(mounts: &[Mount], target: &Path) -> Result<MountGuard, SnapshotError> {
    let mut g = MountGuard {
        target: target.to_path_buf(),
        count: 0,
    };
    for m in mounts {
        m.mount_on(target)?;
        g.count += 1;
    }
    Ok(g)
}

/// Checks that overlayfs can be mounted with upper and work dirs inside `dir` (the filesystem
/// the snapshots will live on). Everything it creates is removed.
pub fn probe_overlay(dir: &Path) -> Result<(), SnapshotError> {
    let t = dir.join(format!(".overlay-probe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&t);
    let result = (|| {
        for d in ["lower1", "lower2", "upper", "work", "merged"] {
            crate::private_dir::create_all(&t.join(d))
                .map_err(|e| SnapshotError::io("create", &t.join(d), e))?;
        }
        let m = Mount {
            typ: "overlay".into(),
            source: "overlay".into(),
            options: vec![
                format!(
                    "lowerdir={}:{}",
                    t.join("lower1").display(),
                    t.join("lower2").display()
                ),
                format!("upperdir={}", t.join("upper").display()),
                format!("workdir={}", t.join("work").display()),
            ],
        };
        let g = mount_all(&[m], &t.join("merged"))?;
        g.unmount()
    })();
    let _ = std::fs::remove_dir_all(&t);
    result
}

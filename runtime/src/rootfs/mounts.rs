//! Mounting the config's `mounts` entries under the rootfs (before pivot_root).

use std::fs;
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use nix::sys::statvfs::{statvfs, FsFlags};
use oci_spec::runtime::Mount;

use super::options::{self, MountOptions};
use super::securejoin::secure_join;
use crate::error::Context;
use crate::{Error, Result};

/// Where the mount code runs: namespaces that change how mounts must be done.
#[derive(Debug, Clone, Copy)]
pub struct MountEnv {
    /// The container has its own (new) user namespace.
    pub userns: bool,
    /// The container has its own (new) cgroup namespace.
    pub cgroupns: bool,
}

/// Mounts one `mounts` entry; `bundle` anchors relative bind sources.
pub fn mount_entry(rootfs: &Path, bundle: &Path, m: &Mount, env: MountEnv) -> Result<()> {
    let mut opts = options::parse(m.options().as_deref().unwrap_or_default());
    // /dev is mounted writable and made read-only at the end (`finalize`), after the devices,
    // their links and the mounts below it (/dev/pts, /dev/shm) are in place, as runc does.
    if is_dev(m) {
        opts.flags.remove(MsFlags::MS_RDONLY);
    }
    let dest = secure_join(rootfs, m.destination())?;
    mount_entry_with(bundle, m, &opts, &dest, env)?;
    super::mountattr::set_recursive(&dest, opts.rec_set, opts.rec_clear)
}

/// True for the mount at `/dev`.
pub fn is_dev(m: &Mount) -> bool {
    let d = m.destination();
    d.components()
        .filter(|c| !matches!(c, std::path::Component::RootDir))
        .count()
        == 1
        && d.file_name().is_some_and(|n| n == "dev")
}

fn mount_entry_with(
    bundle: &Path,
    m: &Mount,
    opts: &MountOptions,
    dest: &Path,
    env: MountEnv,
) -> Result<()> {
    if !opts.unsupported.is_empty() {
        return Err(Error::Unsupported(format!(
            "mount option {:?} (mount {})",
            opts.unsupported,
            m.destination().display()
        )));
    }
    let typ = m.typ().as_deref().unwrap_or("none");
    let dest = dest.to_path_buf();
    if typ == "cgroup" || typ == "cgroup2" {
        return super::cgroupfs::mount_cgroup(&dest, opts, env);
    }
    if opts.bind || typ == "bind" {
        let src = m.source().as_deref().ok_or_else(|| {
            Error::InvalidArgument(format!(
                "bind mount {} has no source",
                m.destination().display()
            ))
        })?;
        let src = if src.is_absolute() {
            src.to_path_buf()
        } else {
            bundle.join(src)
        };
        bind(&src, &dest, opts)
    } else {
        fs::create_dir_all(&dest).ctx(|| format!("mkdir {}", dest.display()))?;
        let source = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
        let data = opts.data.join(",");
        let flags = opts.flags & !MsFlags::MS_REMOUNT;
        match mount(
            Some(&source),
            &dest,
            Some(typ),
            flags,
            (!data.is_empty()).then_some(data.as_str()),
        ) {
            Ok(()) => {}
            // A user namespace that does not own the network namespace may not mount sysfs:
            // fall back to a recursive bind of the host's /sys with the same flags (what `runc spec
            // --rootless` configs ask for; runc 1.1.5 itself fails the create here).
            Err(nix::errno::Errno::EPERM) if typ == "sysfs" && env.userns => {
                let mut rbind = opts.clone();
                rbind.flags |= MsFlags::MS_REC;
                return bind(Path::new("/sys"), &dest, &rbind);
            }
            Err(e) => {
                return Err(Error::Sys {
                    context: format!("mount {} ({typ}) on {}", source.display(), dest.display()),
                    source: e,
                })
            }
        }
        apply_propagation(&dest, opts)
    }
}

/// Bind-mounts `src` on `dest` (creating `dest` as a file or directory like `src`), then applies the
/// remaining flags with a bind remount.
pub fn bind(src: &Path, dest: &Path, opts: &MountOptions) -> Result<()> {
    let meta = fs::metadata(src).ctx(|| format!("bind mount source {}", src.display()))?;
    create_target(dest, meta.is_dir())?;
    let rec = opts.flags & MsFlags::MS_REC;
    mount(
        Some(src),
        dest,
        None::<&str>,
        MsFlags::MS_BIND | rec,
        None::<&str>,
    )
    .ctx(|| format!("bind mount {} on {}", src.display(), dest.display()))?;
    let extra = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if !extra.is_empty() {
        remount_bind(dest, extra)?;
    }
    apply_propagation(dest, &opts.clone())
}

/// Remounts the bind mount at `dest` with `flags`, keeping the flags the kernel locks in a user namespace.
pub fn remount_bind(dest: &Path, flags: MsFlags) -> Result<()> {
    let base = MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    match mount(None::<&str>, dest, None::<&str>, base | flags, None::<&str>) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EPERM) => {
            let locked = locked_flags(dest);
            mount(
                None::<&str>,
                dest,
                None::<&str>,
                base | flags | locked,
                None::<&str>,
            )
            .ctx(|| format!("remount {} with {:?}", dest.display(), flags))
        }
        Err(e) => Err(Error::Sys {
            context: format!("remount {} with {:?}", dest.display(), flags),
            source: e,
        }),
    }
}

/// The flags of the mount at `path` that an unprivileged remount must keep.
pub(crate) fn locked_flags(path: &Path) -> MsFlags {
    let Ok(st) = statvfs(path) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(fs) {
            out |= ms;
        }
    }
    out
}

/// Creates a mount target: a directory, or an empty file (and its parents).
pub fn create_target(dest: &Path, dir: bool) -> Result<()> {
    if dir {
        return fs::create_dir_all(dest).ctx(|| format!("mkdir {}", dest.display()));
    }
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).ctx(|| format!("mkdir {}", parent.display()))?;
    }
    if fs::symlink_metadata(dest).is_err() {
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(dest)
            .ctx(|| format!("create mount target {}", dest.display()))?;
    }
    Ok(())
}

fn apply_propagation(dest: &Path, opts: &MountOptions) -> Result<()> {
    for p in &opts.propagation {
        mount(None::<&str>, dest, None::<&str>, *p, None::<&str>)
            .ctx(|| format!("set propagation {:?} on {}", p, dest.display()))?;
    }
    Ok(())
}

//! The container's root filesystem: mounts and devices under the rootfs, then pivot_root, then the
//! root propagation, sysctls and masked/read-only paths that need the container's `/proc`.

pub mod cgroupfs;
pub mod dev_nodes;
pub mod mountattr;
pub mod mounts;
pub mod options;
pub mod paths;
pub mod pivot;
pub mod securejoin;

use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use oci_spec::runtime::Spec;

use crate::error::Context;
use crate::{Error, Result};
use mounts::MountEnv;

/// Everything done before pivot_root: propagation, the rootfs bind, every mount, and /dev.
pub fn prepare(spec: &Spec, rootfs: &Path, bundle: &Path, env: MountEnv) -> Result<()> {
    let linux = spec.linux().as_ref();
    let prop = requested_propagation(spec)?.unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    // Our mounts must not propagate to the host (unless the config asks for shared propagation).
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        prop | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| format!("set propagation {prop:?} on /"))?;
    if prop.contains(MsFlags::MS_SHARED) {
        make_parent_private(rootfs)?;
    }
    // pivot_root needs the new root to be a mount point.
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| format!("bind mount rootfs {}", rootfs.display()))?;
    let all_mounts = spec.mounts().as_deref().unwrap_or_default();
    for m in all_mounts {
        mounts::mount_entry(rootfs, bundle, m, env)?;
    }
    if dev_nodes::needs_dev_setup(all_mounts) {
        for dev in dev_nodes::default_devices() {
            dev_nodes::create(rootfs, &dev, env.userns)?;
        }
        for d in linux
            .and_then(|l| l.devices().as_deref())
            .unwrap_or_default()
        {
            dev_nodes::create(rootfs, &dev_nodes::from_spec(d)?, env.userns)?;
        }
        dev_nodes::create_symlinks(rootfs)?;
    } else {
        for d in linux
            .and_then(|l| l.devices().as_deref())
            .unwrap_or_default()
        {
            dev_nodes::create(rootfs, &dev_nodes::from_spec(d)?, env.userns)?;
        }
    }
    Ok(())
}

/// `linux.rootfsPropagation` as mount flags, `None` when unset.
fn requested_propagation(spec: &Spec) -> Result<Option<MsFlags>> {
    match spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
        .filter(|p| !p.is_empty())
    {
        Some(name) => options::propagation(name).map(Some).ok_or_else(|| {
            Error::InvalidArgument(format!("invalid linux.rootfsPropagation {name:?}"))
        }),
        None => Ok(None),
    }
}

/// Everything done after pivot_root, inside the container's view.
pub fn finalize(spec: &Spec) -> Result<()> {
    // The rootfs bind mount was made under a private parent (pivot_root needs that), so the new
    // `/` does not carry the requested propagation yet: the spec says it applies to the root.
    if let Some(prop) = requested_propagation(spec)? {
        mount(None::<&str>, "/", None::<&str>, prop, None::<&str>)
            .ctx(|| format!("set rootfsPropagation {prop:?} on the container's /"))?;
    }
    if let Some(linux) = spec.linux() {
        // Sysctls first: readonlyPaths usually covers /proc/sys (runc's order too).
        if let Some(sysctl) = linux.sysctl() {
            paths::sysctl(sysctl)?;
        }
        paths::mask(linux.masked_paths().as_deref().unwrap_or_default())?;
        paths::readonly(linux.readonly_paths().as_deref().unwrap_or_default())?;
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        paths::readonly_root()?;
    }
    // A read-only /dev was mounted writable so that everything under it could be made first.
    for m in spec.mounts().as_deref().unwrap_or_default() {
        let opts = options::parse(m.options().as_deref().unwrap_or_default());
        if mounts::is_dev(m) && opts.flags.contains(MsFlags::MS_RDONLY) {
            let dev = Path::new("/dev");
            let keep = mounts::locked_flags(dev)
                & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
            let flags = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
            mounts::remount_bind(dev, flags | keep)?;
        }
    }
    Ok(())
}

/// pivot_root would fail under a shared parent mount: make the mount holding the rootfs private.
/// That is the rootfs itself when it is a mount point (an overlay snapshot): the bind of the
/// rootfs onto itself that pivot_root gets is then a child of that mount (runc's rule too).
fn make_parent_private(rootfs: &Path) -> Result<()> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .ctx(|| "read /proc/self/mountinfo".into())?;
    let best = berth_mountinfo::parse(&text)
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|mp| rootfs.starts_with(mp))
        .max_by_key(|mp| mp.as_os_str().len())
        .unwrap_or_else(|| PathBuf::from("/"));
    mount(
        None::<&str>,
        &best,
        None::<&str>,
        MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .ctx(|| format!("make {} private", best.display()))
}

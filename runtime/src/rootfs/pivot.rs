//! Making the rootfs the container's `/`: pivot_root, or (with `--no-pivot`) move mount + chroot.

use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, chroot, fchdir, pivot_root};

use crate::error::Context;
use crate::Result;

/// pivot_root(".", ".") inside the rootfs, then detaches the old root stacked underneath.
pub fn pivot(rootfs: &Path) -> Result<()> {
    let oldroot = open(
        "/",
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "open /".into())?;
    let newroot = open(
        rootfs,
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| format!("open {}", rootfs.display()))?;
    fchdir(&newroot).ctx(|| format!("chdir {}", rootfs.display()))?;
    pivot_root(".", ".").ctx(|| format!("pivot_root {}", rootfs.display()))?;
    // The old root is now mounted on top of the new one at "."; detach it without propagating the
    // unmount back to the host.
    fchdir(&oldroot).ctx(|| "chdir old root".into())?;
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| "make old root rslave".into())?;
    umount2(".", MntFlags::MNT_DETACH).ctx(|| "unmount old root".into())?;
    chdir("/").ctx(|| "chdir /".into())
}

/// `--no-pivot`: moves the rootfs mount onto `/` and chroots into it.
pub fn move_chroot(rootfs: &Path) -> Result<()> {
    chdir(rootfs).ctx(|| format!("chdir {}", rootfs.display()))?;
    mount(
        Some(rootfs),
        "/",
        None::<&str>,
        MsFlags::MS_MOVE,
        None::<&str>,
    )
    .ctx(|| format!("move mount {} to /", rootfs.display()))?;
    chroot(".").ctx(|| format!("chroot {}", rootfs.display()))?;
    chdir("/").ctx(|| "chdir /".into())
}

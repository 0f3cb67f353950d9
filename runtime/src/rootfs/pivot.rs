//! Making the rootfs the container's `/`: pivot_root, or (with `--no-pivot`) move mount + chroot.

use std::path::{Path, PathBuf};

use nix::errno::Errno;

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

/// Decodes mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let digits = std::str::from_utf8(&b[i + 1..i + 4]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(digits, 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points of full (root `/`) proc and sysfs mounts outside `rootfs`, from mountinfo text.
pub fn host_proc_sys_mounts(mountinfo: &str, rootfs: &Path) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let f: Vec<&str> = pre.split(' ').collect();
            let fstype = post.split(' ').next()?;
            if f.len() < 5 || f[3] != "/" || !(fstype == "proc" || fstype == "sysfs") {
                return None;
            }
            let mp = PathBuf::from(unescape(f[4]));
            (!mp.starts_with(rootfs)).then_some(mp)
        })
        .collect()
}

/// Hides the host's full proc and sysfs mounts, as runc does before a chroot: they stay reachable
/// in the mount namespace under `--no-pivot`, and the kernel lets a user namespace mount a new
/// procfs or sysfs only while a fully visible one exists there. Each is made rslave (no unmount
/// reaches the host) and detached, or covered with an empty tmpfs where it may not be unmounted.
fn hide_host_proc_sys(rootfs: &Path) -> Result<()> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .ctx(|| "read /proc/self/mountinfo".into())?;
    for mp in host_proc_sys_mounts(&text, rootfs) {
        match mount(
            None::<&str>,
            &mp,
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        ) {
            Ok(()) => {}
            // A parent was detached already.
            Err(Errno::ENOENT) => continue,
            Err(e) => {
                return Err(crate::Error::Sys {
                    context: format!("make {} rslave", mp.display()),
                    source: e,
                })
            }
        }
        match umount2(&mp, MntFlags::MNT_DETACH) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(Errno::EINVAL | Errno::EPERM) => mount(
                Some("tmpfs"),
                &mp,
                Some("tmpfs"),
                MsFlags::empty(),
                None::<&str>,
            )
            .ctx(|| format!("cover {} with a tmpfs", mp.display()))?,
            Err(e) => {
                return Err(crate::Error::Sys {
                    context: format!("unmount {}", mp.display()),
                    source: e,
                })
            }
        }
    }
    Ok(())
}

/// `--no-pivot`: hides the host's proc and sysfs, moves the rootfs mount onto `/` and chroots
/// into it.
pub fn move_chroot(rootfs: &Path) -> Result<()> {
    hide_host_proc_sys(rootfs)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_full_proc_and_sysfs_outside_the_rootfs() {
        let mi = "\
22 1 0:21 / /proc rw,nosuid - proc proc rw
23 1 0:22 / /sys rw - sysfs sysfs rw
24 1 0:21 /sys /proc/sys ro - proc proc rw
25 1 0:23 / /r/rootfs/proc rw - proc proc rw
26 1 0:24 / /odd\\040dir rw - sysfs sysfs rw
27 1 0:25 / /tmp rw - tmpfs tmpfs rw
";
        assert_eq!(
            host_proc_sys_mounts(mi, Path::new("/r/rootfs")),
            vec![
                PathBuf::from("/proc"),
                PathBuf::from("/sys"),
                PathBuf::from("/odd dir")
            ]
        );
    }
}

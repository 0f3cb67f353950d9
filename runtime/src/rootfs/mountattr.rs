//! Recursive mount attributes (`rro`, `rnosuid`, ... in `mounts[].options`) with mount_setattr(2)
//! and `AT_RECURSIVE`, as runc 1.1 applies them (Linux 5.12+).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;

use crate::error::Context;
use crate::{Error, Result};

/// `struct mount_attr` of linux/mount.h (MOUNT_ATTR_SIZE_VER0).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Sets `set` and clears `clear` on the mount at `path` and every mount below it.
pub fn set_recursive(path: &Path, set: u64, clear: u64) -> Result<()> {
    if set == 0 && clear == 0 {
        return Ok(());
    }
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::InvalidArgument(format!("NUL byte in {}", path.display())))?;
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: mount_setattr reads the NUL-terminated path and `size` bytes of `attr`, both alive
    // for the call; it writes no memory of ours.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c.as_ptr(),
            (libc::AT_RECURSIVE | libc::AT_SYMLINK_NOFOLLOW) as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(ret)
        .map(drop)
        .ctx(|| format!("mount_setattr {} (recursive mount options)", path.display()))
}

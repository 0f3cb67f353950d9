//! Recursive mount attributes (`rro`, `rnosuid`, ... in `mounts[].options`) with mount_setattr(2)
//! and `AT_RECURSIVE`, as runc 1.1 applies them (Linux 5.12+).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::Context;
use crate::{Error, Result};

/// Sets `set` and clears `clear` on the mount at `path` and every mount below it.
pub fn set_recursive(path: &Path, set: u64, clear: u64) -> Result<()> {
    if set == 0 && clear == 0 {
        return Ok(());
    }
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::InvalidArgument(format!("NUL byte in {}", path.display())))?;
    crate::syscall::mount_setattr(
        libc::AT_FDCWD,
        &c,
        libc::AT_RECURSIVE | libc::AT_SYMLINK_NOFOLLOW,
        set,
        clear,
    )
    .ctx(|| format!("mount_setattr {} (recursive mount options)", path.display()))
}

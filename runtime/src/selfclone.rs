//! CVE-2019-5736: a container must never be able to open the host's berth-runc binary for writing
//! through `/proc/<pid>/exe`. `create`, `run` and `exec` re-execute themselves from a file no one
//! can write, so every process they fork has an unwritable executable as its `/proc/self/exe`:
//! first a detached read-only bind mount of the binary (no copy: the page cache is shared by every
//! run, as crun's read-only bind of itself), else a sealed memfd copy (where mounts are not
//! allowed, e.g. in a user namespace without the privilege).

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::statvfs::{fstatvfs, FsFlags};

use crate::error::Context;
use crate::Result;

/// The seals that make the copy immutable.
fn seals() -> SealFlag {
    SealFlag::F_SEAL_SEAL | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE
}

/// True when this process already runs from a binary a container cannot write: a sealed memfd, or
/// a file on a read-only mount (the bind mount [`reexec`] makes, or a read-only /usr), which a
/// container cannot remount as it is in no mount namespace of the container's.
pub fn is_cloned() -> bool {
    let Ok(f) = File::open("/proc/self/exe") else {
        return false;
    };
    if matches!(fcntl(f.as_fd(), FcntlArg::F_GET_SEALS),
        Ok(bits) if SealFlag::from_bits_truncate(bits).contains(seals()))
    {
        return true;
    }
    // statfs's flags include the mount's own (a read-only bind of a writable filesystem).
    matches!(fstatvfs(&f), Ok(s) if s.flags().contains(FsFlags::ST_RDONLY))
}

/// The running binary on a detached bind mount of its own, made read-only: opening it for writing
/// fails with EROFS whatever the path (`/proc/<pid>/exe`, `/proc/<pid>/fd/N`), and the mount is
/// in no namespace, so no one can remount it or see it in mountinfo.
fn readonly_bind() -> nix::Result<OwnedFd> {
    let fd = crate::syscall::open_tree_clone(c"/proc/self/exe")?;
    crate::syscall::mount_setattr(
        fd.as_raw_fd(),
        c"",
        libc::AT_EMPTY_PATH,
        libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV,
        0,
    )?;
    Ok(fd)
}

/// Copies `src` to `dst` through a userspace buffer (the fallback of [`sealed_copy`]).
fn copy_plain(src: &mut File, dst: &mut File) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        dst.write_all(&buf[..n])?;
    }
}

/// Copies `src` to `dst` with sendfile(2): page cache to shmem in the kernel, without the
/// userspace buffer (whose pages counted in the peak RSS of `create` and `run`) and its extra
/// copy. Errors when the kernel refuses sendfile between these files.
fn copy_sendfile(src: &File, dst: &File) -> nix::Result<()> {
    loop {
        match crate::syscall::sendfile(dst.as_raw_fd(), src.as_raw_fd(), 1 << 30) {
            Ok(0) => return Ok(()),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// A memfd holding a sealed copy of the binary at /proc/self/exe.
fn sealed_copy() -> Result<File> {
    let new_memfd = || -> Result<File> {
        let fd = memfd_create(
            "berth-runc",
            MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
        )
        .ctx(|| "memfd_create berth-runc".into())?;
        Ok(File::from(fd))
    };
    let open_exe = || File::open("/proc/self/exe").ctx(|| "open /proc/self/exe".into());
    let seal = |f: &File| fcntl(f.as_fd(), FcntlArg::F_ADD_SEALS(seals()));
    let src = open_exe()?;
    let dst = new_memfd()?;
    if copy_sendfile(&src, &dst).is_ok() && seal(&dst).is_ok() {
        return Ok(dst);
    }
    // sendfile refused, or sealing failed (EBUSY if a kernel still held a reference to a page
    // of the copy): a fresh copy through a buffer, whose errors are reported.
    let mut src = open_exe()?;
    let mut dst = new_memfd()?;
    copy_plain(&mut src, &mut dst).ctx(|| "copy /proc/self/exe to memfd".into())?;
    seal(&dst).ctx(|| "seal berth-runc memfd".into())?;
    Ok(dst)
}

/// Execs the running binary again, with the same argv and environment, from a read-only bind
/// mount of it, or from a sealed memfd copy when the kernel refuses the mount (EPERM without
/// CAP_SYS_ADMIN, ENOSYS before Linux 5.12). Returns only on error.
pub fn reexec() -> Result<std::convert::Infallible> {
    let dst = match readonly_bind() {
        Ok(fd) => fd,
        Err(_) => OwnedFd::from(sealed_copy()?),
    };
    let args: Vec<CString> = std::env::args_os()
        .filter_map(|a| CString::new(std::os::unix::ffi::OsStrExt::as_bytes(a.as_os_str())).ok())
        .collect();
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = std::os::unix::ffi::OsStrExt::as_bytes(k.as_os_str()).to_vec();
            kv.push(b'=');
            kv.extend_from_slice(std::os::unix::ffi::OsStrExt::as_bytes(v.as_os_str()));
            CString::new(kv).ok()
        })
        .collect();
    let e =
        nix::unistd::fexecve(dst.as_fd(), &args, &env).ctx(|| "fexecve berth-runc memfd".into());
    e.map(|never| match never {})
}

//! The few syscalls `nix` lacks, each in a small unsafe function.

use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::unistd::Pid;

/// Forks with `CLONE_PARENT`: the child becomes a sibling of the caller (a child of the caller's parent).
///
/// Returns `None` in the child and the child's pid (in the caller's pid namespace) in the caller.
/// The intermediate process uses it so the container init is a direct child of `berth-runc`, which can
/// then `waitpid` it (foreground `run`, cleanup after a failed `create`).
pub fn clone_parent() -> nix::Result<Option<Pid>> {
    // SAFETY: a raw clone(2) without CLONE_VM and with a NULL stack behaves like fork(2): the child gets a
    // copy-on-write copy of the address space and continues on a copy of the same stack. The process is
    // single-threaded (no locks can be held by other threads), and the child only runs the container init
    // path, which never returns into the caller's frames.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    match ret {
        -1 => Err(Errno::last()),
        0 => Ok(None),
        pid => Ok(Some(Pid::from_raw(pid as i32))),
    }
}

/// Makes `fd` the controlling terminal of the calling session leader (ioctl TIOCSCTTY).
pub fn set_controlling_terminal(fd: RawFd) -> nix::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument and touches no memory of ours.
    let ret = unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) };
    Errno::result(ret).map(drop)
}

/// Sets the window size of terminal `fd` (ioctl TIOCSWINSZ).
pub fn set_window_size(fd: RawFd, rows: u16, cols: u16) -> nix::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a `struct winsize`, which `ws` is, alive for the call.
    let ret = unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws as *const libc::winsize) };
    Errno::result(ret).map(drop)
}

/// Reads the window size of terminal `fd` (ioctl TIOCGWINSZ).
pub fn window_size(fd: RawFd) -> nix::Result<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a `struct winsize` into `ws`, which is valid and writable.
    let ret = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws as *mut libc::winsize) };
    Errno::result(ret).map(|_| (ws.ws_row, ws.ws_col))
}

/// Marks every fd from `first` upwards close-on-exec (close_range with CLOSE_RANGE_CLOEXEC).
pub fn cloexec_from(first: u32) -> nix::Result<()> {
    // SAFETY: close_range only changes fd flags; it dereferences no memory.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    Errno::result(ret).map(drop)
}

/// Sets the NIS domain name (setdomainname(2)).
pub fn set_domainname(name: &str) -> nix::Result<()> {
    // SAFETY: setdomainname reads exactly `len` bytes from a valid buffer.
    let ret = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    Errno::result(ret).map(drop)
}

/// Restores the default disposition of every catchable signal (Rust starts with SIGPIPE ignored).
pub fn reset_signal_dispositions() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for sig in Signal::iterator() {
        if sig != Signal::SIGKILL && sig != Signal::SIGSTOP {
            // SAFETY: installing SIG_DFL runs no handler code of ours.
            let _ = unsafe { sigaction(sig, &dfl) };
        }
    }
}

/// Clears close-on-exec on `fd` so the user program inherits it (`--preserve-fds`).
pub fn clear_cloexec(fd: RawFd) -> nix::Result<()> {
    // SAFETY: F_SETFD on a raw fd number only changes its flags; an invalid fd yields EBADF.
    let ret = unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    Errno::result(ret).map(drop)
}

/// Joins a new session keyring named `name` and limits its permissions to the possessor, as runc
/// does, so the container cannot read the host's session keys. Returns Ok when keyrings are
/// unavailable (ENOSYS) — there is then nothing to isolate.
pub fn join_session_keyring(name: &str) -> nix::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_ulong = 1;
    const KEYCTL_SETPERM: libc::c_ulong = 5;
    let cname = std::ffi::CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: keyctl(JOIN_SESSION_KEYRING) reads a NUL-terminated string that outlives the call.
    let id = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            cname.as_ptr(),
        )
    };
    if id == -1 {
        return match Errno::last() {
            Errno::ENOSYS => Ok(()),
            e => Err(e),
        };
    }
    // Possessor: all; user: view and search (runc sets the same 0x3f090000); group/other: nothing.
    // SAFETY: KEYCTL_SETPERM takes two integers.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_SETPERM,
            id,
            0x3f09_0000 as libc::c_ulong,
        )
    };
    Errno::result(ret).map(drop)
}

/// Copies up to `count` bytes from the current offset of `src` to `dst` in the kernel
/// (sendfile(2)); returns the number copied, 0 at end of file.
pub fn sendfile(dst: RawFd, src: RawFd, count: usize) -> nix::Result<usize> {
    // SAFETY: a NULL offset pointer makes sendfile use and advance `src`'s file offset; no memory
    // of ours is read or written.
    let ret = unsafe { libc::sendfile(dst, src, std::ptr::null_mut(), count) };
    Errno::result(ret).map(|n| n as usize)
}

/// `struct mount_attr` of linux/mount.h (MOUNT_ATTR_SIZE_VER0).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(2): sets `set` and clears `clear` on the mount at `path` relative to `dirfd`
/// (`flags`: `AT_RECURSIVE`, `AT_EMPTY_PATH`, `AT_SYMLINK_NOFOLLOW`).
pub fn mount_setattr(
    dirfd: RawFd,
    path: &std::ffi::CStr,
    flags: libc::c_int,
    set: u64,
    clear: u64,
) -> nix::Result<()> {
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
            dirfd,
            path.as_ptr(),
            flags as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(ret).map(drop)
}

/// open_tree(2) with `OPEN_TREE_CLONE`: a detached bind mount of `path` (a file or a directory),
/// in no mount namespace, alive as long as the returned fd or what holds it (an exec of it).
pub fn open_tree_clone(path: &std::ffi::CStr) -> nix::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: open_tree reads the NUL-terminated path, alive for the call, and returns a new fd.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            (libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC) as libc::c_uint,
        )
    };
    let fd = Errno::result(ret)?;
    // SAFETY: on success the kernel returned a new fd that nothing else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as RawFd) })
}

//! The loopback interface of a new network namespace. The kernel creates `lo` down; runc brings it
//! up (its "loopback" network strategy), and callers such as `ctr run` and `podman --network none`
//! rely on that, so the init does it too, before the user process can run.

use std::os::fd::AsRawFd;

use nix::errno::Errno;
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};

use crate::error::Context;
use crate::Result;

/// Sets `IFF_UP` on `lo` in the calling process's network namespace (SIOCGIFFLAGS + SIOCSIFFLAGS).
pub fn loopback_up() -> Result<()> {
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .ctx(|| "socket(AF_INET, SOCK_DGRAM) to configure lo".into())?;
    let fd = sock.as_raw_fd();
    // SAFETY: ifreq is plain data; all-zero is a valid value (empty name, zero flags).
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the NUL-terminated name in `req` and writes its flags member;
    // `req` is a live, correctly sized ifreq for the duration of the call.
    let ret = unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req as *mut libc::ifreq) };
    Errno::result(ret).ctx(|| "ioctl(SIOCGIFFLAGS, lo)".into())?;
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union just above.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    if flags & libc::IFF_UP as libc::c_short != 0 {
        return Ok(());
    }
    req.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
    // SAFETY: SIOCSIFFLAGS reads the name and flags from `req`, which stays alive for the call.
    let ret = unsafe { libc::ioctl(fd, libc::SIOCSIFFLAGS, &req as *const libc::ifreq) };
    Errno::result(ret).ctx(|| "ioctl(SIOCSIFFLAGS, lo up)".into())?;
    Ok(())
}

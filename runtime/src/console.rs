//! Terminals: the init creates a pty inside the container and sends the master to `--console-socket`
//! as runc does (one message, payload `/dev/ptmx`, the fd in SCM_RIGHTS).

use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::fcntl::{open, OFlag};
use nix::mount::{mount, MsFlags};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use nix::sys::stat::Mode;

use crate::error::Context;
use crate::{Error, Result};

/// Creates the pty (inside the container), sends its master over `socket`, makes the slave the
/// controlling terminal and stdio. `size` is (rows, cols) from `process.consoleSize`.
pub fn setup(socket: RawFd, size: Option<(u16, u16)>, bind_dev_console: bool) -> Result<()> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .ctx(|| "open /dev/ptmx".into())?;
    grantpt(&master).ctx(|| "grantpt".into())?;
    unlockpt(&master).ctx(|| "unlockpt".into())?;
    let slave_path = ptsname_r(&master).ctx(|| "ptsname".into())?;
    if let Some((rows, cols)) = size {
        crate::syscall::set_window_size(master.as_raw_fd(), rows, cols)
            .ctx(|| "set console size".into())?;
    }
    let slave = open(
        slave_path.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| format!("open {slave_path}"))?;
    if bind_dev_console {
        let console = std::path::Path::new("/dev/console");
        crate::rootfs::mounts::create_target(console, false)?;
        mount(
            Some(slave_path.as_str()),
            console,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .ctx(|| format!("bind {slave_path} on /dev/console"))?;
    }
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        socket,
        &[IoSlice::new(b"/dev/ptmx")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .ctx(|| "send pty master on console socket".into())?;
    drop(master);
    nix::unistd::dup2_stdin(&slave).ctx(|| "dup2 pty slave to stdin".into())?;
    nix::unistd::dup2_stdout(&slave).ctx(|| "dup2 pty slave to stdout".into())?;
    nix::unistd::dup2_stderr(&slave).ctx(|| "dup2 pty slave to stderr".into())?;
    crate::syscall::set_controlling_terminal(0).ctx(|| "ioctl TIOCSCTTY".into())
}

/// Receives a pty master sent by [`setup`] on `socket`.
pub fn recv_master(socket: RawFd) -> Result<OwnedFd> {
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        socket,
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .ctx(|| "receive pty master".into())?;
    for c in msg.cmsgs().map_err(|e| Error::Sys {
        context: "read pty master message".into(),
        source: e,
    })? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel just installed `fd` in our table for this message; nothing else owns it.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Err(Error::Init(
        "console socket message carried no pty master".into(),
    ))
}

/// Gives the process's user the stdio it will run with, as runc does before switching to it: a pty
/// slave (or any other stdio file) not already owned by `uid` is chowned to `uid`, keeping its
/// group (the devpts `gid=5`). /dev/null is left alone, and so is a file the kernel will not let
/// us chown (EINVAL: gid not mapped; EPERM: owner not mapped; EROFS): the process can still run.
pub fn fix_stdio_owner(uid: u32) -> Result<()> {
    use nix::sys::stat::{fstat, stat};
    let null = stat("/dev/null").ctx(|| "stat /dev/null".into())?;
    for fd in 0..3 {
        // SAFETY: 0, 1 and 2 are open for the life of the process; the borrow ends in this loop.
        let bfd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let st = match fstat(bfd) {
            Ok(st) => st,
            Err(nix::errno::Errno::EBADF) => continue,
            Err(e) => {
                return Err(Error::Sys {
                    context: format!("fstat stdio fd {fd}"),
                    source: e,
                })
            }
        };
        if st.st_uid == uid || (st.st_rdev == null.st_rdev && st.st_rdev != 0) {
            continue;
        }
        match nix::unistd::fchown(
            bfd,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(st.st_gid)),
        ) {
            Ok(()) => {}
            Err(
                nix::errno::Errno::EINVAL | nix::errno::Errno::EPERM | nix::errno::Errno::EROFS,
            ) => {}
            Err(e) => {
                return Err(Error::Sys {
                    context: format!("fchown stdio fd {fd} to uid {uid}"),
                    source: e,
                })
            }
        }
    }
    Ok(())
}

//! A process watched through a pidfd, whoever its parent is: the container init after its
//! monitor died (berthd and an adopting monitor both use this).
//!
//! A pidfd pins the process's identity (a reused pid is a different process), becomes readable
//! when the process exits, and yields its exit status in two ways: `waitid(P_PIDFD)` when we
//! are its parent (berthd is a child subreaper, so a dead monitor's orphans come to it), and
//! `PIDFD_GET_INFO` with `PIDFD_INFO_EXIT` (Linux ≥ 6.15) once whichever process is its parent
//! has reaped it.

use nix::errno::Errno;
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// How long to wait, after a watched process that is not our child exited, for its parent to
/// reap it so that the kernel hands out its status. pid 1 may reap orphans lazily; past this
/// the status is left unknown.
pub const REAP_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// How a watched process ended: exit code (128 + signal for a signal) and the signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// Exit code, or 128 + the signal number.
    pub code: i32,
    /// The signal that ended the process.
    pub signal: Option<i32>,
}

impl Exit {
    /// Decodes a raw wait status (as `waitpid` and `pidfd_info.exit_code` give it).
    pub fn from_wait_status(status: i32) -> Exit {
        if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            Exit {
                code: 128 + sig,
                signal: Some(sig),
            }
        } else {
            Exit {
                code: libc::WEXITSTATUS(status),
                signal: None,
            }
        }
    }
}

/// `struct pidfd_info` as of Linux 6.15 (`PIDFD_INFO_SIZE_VER0`, 64 bytes).
#[repr(C)]
#[derive(Default)]
struct PidfdInfo {
    mask: u64,
    cgroupid: u64,
    pid: u32,
    tgid: u32,
    ppid: u32,
    ruid: u32,
    rgid: u32,
    euid: u32,
    egid: u32,
    suid: u32,
    sgid: u32,
    fsuid: u32,
    fsgid: u32,
    exit_code: i32,
}

const PIDFD_INFO_EXIT: u64 = 1 << 3;
/// The `PIDFD_GET_INFO` ioctl wrapper (its generated fn cannot carry a doc comment).
mod ioctl {
    #![allow(missing_docs)]
    use super::PidfdInfo;
    nix::ioctl_readwrite!(pidfd_get_info, 0xFF, 11, PidfdInfo);
}
use ioctl::pidfd_get_info;

/// A pidfd on one process, checked to be the process that started at a known time.
#[derive(Debug)]
pub struct PidFd {
    fd: OwnedFd,
    pid: i32,
    /// Whoever holds a pidfd may reap the process through it: berthd's reaper of orphans
    /// leaves it alone (see `crate::children`). Released once reaped here: the pid may then
    /// be reused by a process the reaper must see.
    claim: std::sync::Mutex<Option<crate::children::Claim>>,
}

impl PidFd {
    /// Opens a pidfd on `pid`; `Ok(None)` when no such process exists (any more), or when
    /// `start_time` is given and the process with that pid started at another time (the pid
    /// was reused). A zombie can still be opened: its status is not collected yet.
    pub fn open(pid: i32, start_time: Option<u64>) -> io::Result<Option<PidFd>> {
        // Claimed before the open, so a zombie we open cannot be reaped by someone else first.
        let claim = crate::children::claim(pid);
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; no
        // memory is passed.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, libc::PIDFD_NONBLOCK) };
        if fd < 0 {
            let e = io::Error::last_os_error();
            return if e.raw_os_error() == Some(libc::ESRCH) {
                Ok(None)
            } else {
                Err(e)
            };
        }
        // SAFETY: the kernel returned a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        // Checked after opening: from now on the pidfd names this process whatever happens to
        // the pid, so a match here means the pidfd is the process that started then.
        if let Some(want) = start_time {
            if self::start_time(pid) != Some(want) {
                return Ok(None);
            }
        }
        Ok(Some(PidFd {
            fd,
            pid,
            claim: std::sync::Mutex::new(Some(claim)),
        }))
    }

    /// The pid (in our pid namespace).
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Whether the process has exited (the pidfd is readable), without blocking.
    pub fn exited(&self) -> bool {
        let mut fds = [nix::poll::PollFd::new(
            self.fd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        matches!(nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO), Ok(n) if n > 0)
    }

    /// Collects the exit status if we are the parent and the process has exited; `Ok(None)`
    /// while it runs, `Err(ECHILD)` when it is not our child.
    pub fn try_reap(&self) -> Result<Option<Exit>, Errno> {
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG;
        let reaped = |exit: Exit| {
            if let Ok(mut c) = self.claim.lock() {
                c.take();
            }
            Ok(Some(exit))
        };
        loop {
            match waitid(Id::PIDFd(self.fd.as_fd()), flags) {
                Ok(WaitStatus::Exited(_, code)) => return reaped(Exit { code, signal: None }),
                Ok(WaitStatus::Signaled(_, sig, _)) => {
                    let sig = sig as i32;
                    return reaped(Exit {
                        code: 128 + sig,
                        signal: Some(sig),
                    });
                }
                Ok(_) => return Ok(None),
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The exit status recorded by the kernel once the process was reaped by its parent
    /// (whoever that is); `None` before that or on kernels without `PIDFD_INFO_EXIT`.
    pub fn reaped_exit(&self) -> Option<Exit> {
        let mut info = PidfdInfo {
            mask: PIDFD_INFO_EXIT,
            ..PidfdInfo::default()
        };
        // SAFETY: PIDFD_GET_INFO reads and writes at most `sizeof(struct pidfd_info)` bytes of
        // the struct we pass, which has the kernel's version-0 layout and lives for the call.
        let r = unsafe { pidfd_get_info(self.fd.as_raw_fd(), &mut info) };
        (r.is_ok() && info.mask & PIDFD_INFO_EXIT != 0)
            .then(|| Exit::from_wait_status(info.exit_code))
    }

    /// The descriptor, for polling.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Gives up the descriptor (e.g. to register it with an event loop); the pid is no
    /// longer claimed.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }
}

/// Start time of `pid` (clock ticks after boot, field 22 of `/proc/<pid>/stat`): with the pid it
/// identifies a process across pid reuse, as runc's state does.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: fields after it start
    // after the last ')'. Field 3 (state) is the first of them, so field 22 is the 20th.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_status_decoding() {
        assert_eq!(
            Exit::from_wait_status(7 << 8),
            Exit {
                code: 7,
                signal: None
            }
        );
        assert_eq!(
            Exit::from_wait_status(libc::SIGKILL),
            Exit {
                code: 137,
                signal: Some(9)
            }
        );
    }

    #[test]
    fn own_child_is_reaped_with_its_code_and_start_time_guards_reuse() {
        let child = std::process::Command::new("sh")
            .args(["-c", "exit 5"])
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let started = start_time(pid).unwrap();
        assert!(PidFd::open(pid, Some(started + 1)).unwrap().is_none());
        let fd = PidFd::open(pid, Some(started)).unwrap().unwrap();
        let mut fds = [nix::poll::PollFd::new(
            fd.fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE).unwrap();
        assert!(fd.exited());
        assert_eq!(
            fd.try_reap().unwrap(),
            Some(Exit {
                code: 5,
                signal: None
            })
        );
        // The status was collected above: std's Child is not waited for.
        drop(child);
    }
}

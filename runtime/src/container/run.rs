//! `run`: create + start, and in the foreground wait for the init (a direct child thanks to
//! CLONE_PARENT), forwarding signals and, with a terminal but no console socket, proxying a pty.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::create::{create_with, CreateOptions};
use crate::error::Context;
use crate::{config, Result};

/// What a foreground run ended with.
#[derive(Debug)]
pub struct RunOutcome {
    /// The container's exit code (128+signal when a signal killed it); 0 when detached.
    pub exit_code: i32,
    /// Hook failures that do not fail the run (poststart, poststop).
    pub warnings: Vec<String>,
}

/// Gives the console `master` our terminal's size and puts our stdin in raw mode (run and exec
/// with a terminal, not detached); returns the settings for [`Restore`] to put back, `None` when
/// stdin is not a terminal.
pub(crate) fn raw_console(master: &OwnedFd) -> Option<Termios> {
    if let Ok((rows, cols)) = crate::syscall::window_size(0) {
        let _ = crate::syscall::set_window_size(master.as_raw_fd(), rows, cols);
    }
    let t = tcgetattr(std::io::stdin()).ok()?;
    let mut raw = t.clone();
    cfmakeraw(&mut raw);
    let _ = tcsetattr(std::io::stdin(), SetArg::TCSANOW, &raw);
    Some(t)
}

/// Restores the signal mask and terminal mode on every exit path.
pub(crate) struct Restore {
    pub(crate) mask: SigSet,
    pub(crate) termios: Option<Termios>,
}

impl Drop for Restore {
    fn drop(&mut self) {
        if let Some(t) = &self.termios {
            let _ = tcsetattr(std::io::stdin(), SetArg::TCSANOW, t);
        }
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.mask), None);
    }
}

/// Runs container `id`.
/// `warn` gets `create`'s warnings as they happen.
pub fn run(
    root: &Path,
    id: &str,
    opts: &CreateOptions,
    detach: bool,
    warn: &mut dyn FnMut(&str),
) -> Result<RunOutcome> {
    if detach {
        super::create(root, id, opts, warn)?;
        let warnings = super::start(root, id)?;
        return Ok(RunOutcome {
            exit_code: 0,
            warnings,
        });
    }
    // Block every signal before the init exists, so none is lost; the init resets its own mask.
    let mut all = SigSet::all();
    all.remove(Signal::SIGKILL);
    all.remove(Signal::SIGSTOP);
    let mut old = SigSet::empty();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&all), Some(&mut old))
        .ctx(|| "sigprocmask".into())?;
    let mut restore = Restore {
        mask: old,
        termios: None,
    };

    let bundle = config::load(&opts.bundle)?;
    let terminal = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let own_pty = terminal && opts.console_socket.is_none();
    let (ours, theirs) = if own_pty {
        let (a, b) = UnixStream::pair().ctx(|| "socketpair for console".into())?;
        (Some(a), Some(OwnedFd::from(b)))
    } else {
        (None, None)
    };
    let st = create_with(root, id, opts, &bundle, theirs, warn)?;
    let init = Pid::from_raw(st.init_pid);
    let master = match &ours {
        Some(sock) => match crate::console::recv_master(sock.as_raw_fd()) {
            Ok(m) => Some(m),
            Err(e) => {
                let _ = super::delete(root, id, true);
                return Err(e);
            }
        },
        None => None,
    };
    if let Some(t) = master.as_ref().and_then(raw_console) {
        restore.termios = Some(t);
    }
    let mut warnings = match super::start(root, id) {
        Ok(w) => w,
        Err(e) => {
            let _ = super::delete(root, id, true);
            return Err(e);
        }
    };
    let exit_code = wait_init(init, &all, master.as_ref())?;
    // `--keep` leaves the stopped container (state and cgroup) for a later `delete`, as runc.
    if !opts.keep {
        warnings.extend(super::delete(root, id, true)?);
    }
    drop(restore);
    Ok(RunOutcome {
        exit_code,
        warnings,
    })
}

/// Waits for the init, forwarding signals and copying between our stdio and the pty master.
pub(crate) fn wait_init(init: Pid, blocked: &SigSet, master: Option<&OwnedFd>) -> Result<i32> {
    let sfd = SignalFd::with_flags(blocked, SfdFlags::SFD_CLOEXEC).ctx(|| "signalfd".into())?;
    let stdin = std::io::stdin();
    let mut stdin_open = master.is_some();
    loop {
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if let Some(m) = master {
            fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r.ctx(|| "poll".into())?,
        };
        let ready: Vec<bool> = fds.iter().map(|f| f.any().unwrap_or(false)).collect();
        if let (Some(m), Some(true)) = (master, ready.get(1)) {
            if !copy(m.as_fd(), std::io::stdout().as_fd()) {
                // EIO: every slave fd is closed; the exit will show up as SIGCHLD.
            }
        }
        if let (Some(m), Some(true)) = (master, ready.get(2)) {
            if !copy(stdin.as_fd(), m.as_fd()) {
                stdin_open = false;
            }
        }
        if ready[0] {
            let Some(info) = sfd.read_signal().ctx(|| "read signalfd".into())? else {
                continue;
            };
            let sig = Signal::try_from(info.ssi_signo as i32).ok();
            match sig {
                Some(Signal::SIGCHLD) => {
                    if let Some(code) = reap(init)? {
                        if let Some(m) = master {
                            while copy(m.as_fd(), std::io::stdout().as_fd()) {}
                        }
                        return Ok(code);
                    }
                }
                Some(Signal::SIGWINCH) => {
                    if let (Some(m), Ok((r, c))) = (master, crate::syscall::window_size(0)) {
                        let _ = crate::syscall::set_window_size(m.as_raw_fd(), r, c);
                    }
                }
                Some(s) => {
                    let _ = kill(init, s);
                }
                None => {}
            }
        }
    }
}

/// Reaps exited children; returns the init's exit code once it has exited.
fn reap(init: Pid) -> Result<Option<i32>> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == init => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == init => {
                return Ok(Some(128 + sig as i32))
            }
            Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => return Ok(None),
            Ok(_) => continue,
            Err(e) => {
                return Err(crate::Error::Sys {
                    context: "waitpid".into(),
                    source: e,
                })
            }
        }
    }
}

/// Copies one chunk; false on EOF or error.
fn copy(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> bool {
    let mut buf = [0u8; 8192];
    let mut fds = [PollFd::new(from, PollFlags::POLLIN)];
    if !matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0) {
        return false;
    }
    match nix::unistd::read(from, &mut buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => nix::unistd::write(to, &buf[..n]).is_ok(),
    }
}

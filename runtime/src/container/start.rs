//! `start`: release the init blocked on the exec fifo, then run poststart hooks.

use std::os::fd::AsFd;
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::stat::Mode;

use crate::error::Context;
use crate::state_dir::{self, State, Status, EXEC_FIFO};
use crate::{hooks, Error, Result};

/// Starts container `id`; returns poststart hook failures as warnings (the container keeps running).
pub fn start(root: &Path, id: &str) -> Result<Vec<String>> {
    let st = State::load(root, id)?;
    let dir = state_dir::container_dir(root, id);
    match st.status(&dir) {
        Status::Created => {}
        Status::Stopped => {
            return Err(Error::WrongState(
                "cannot start a container that has stopped".into(),
            ))
        }
        Status::Running => {
            return Err(Error::WrongState(
                "cannot start an already running container".into(),
            ))
        }
        other @ (Status::Creating | Status::Paused) => {
            return Err(Error::WrongState(format!(
                "cannot start a container in the {other} state"
            )))
        }
    }
    let fifo_path = dir.join(EXEC_FIFO);
    // Non-blocking open: succeeds without a writer, so a dead init cannot hang us.
    let fifo = open(
        &fifo_path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| format!("open {}", fifo_path.display()))?;
    // The init writes one byte, then keeps the fifo open until its execve closes it: reading on
    // to EOF means the startContainer hooks ran and the process started before poststart.
    let mut released = false;
    loop {
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        let n = match poll(&mut fds, PollTimeout::from(20u8)) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r.ctx(|| "poll exec fifo".into())?,
        };
        if n > 0 {
            let mut buf = [0u8; 1];
            match nix::unistd::read(&fifo, &mut buf) {
                Ok(1) => released = true,
                Ok(_) if released => break,
                Ok(_) => {
                    return Err(Error::WrongState(
                        "cannot start a container that has stopped".into(),
                    ))
                }
                Err(nix::errno::Errno::EAGAIN) => {}
                Err(e) => {
                    return Err(Error::Sys {
                        context: "read exec fifo".into(),
                        source: e,
                    })
                }
            }
        }
        if !st.init_alive() {
            if released {
                break;
            }
            return Err(Error::WrongState(
                "cannot start a container that has stopped".into(),
            ));
        }
    }
    // The process has started; a short-lived one may already have exited and been deleted by
    // its manager (`delete` removes the whole state dir), so a fifo that is gone is not an error.
    match std::fs::remove_file(&fifo_path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        r => r.ctx(|| format!("remove {}", fifo_path.display()))?,
    }
    let mut warnings = Vec::new();
    if let Some(h) = st.hooks.as_ref().and_then(|h| h.poststart().as_deref()) {
        if let Err(e) = hooks::run("poststart", h, &st.hook_state(Status::Running)) {
            warnings.push(e.to_string());
        }
    }
    Ok(warnings)
}

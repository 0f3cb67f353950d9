//! `kill`: signal the init, or (`--all`) every process in the container's cgroup.

use std::path::Path;

use nix::sys::signal::{kill as sys_kill, Signal};

use crate::state_dir::{self, State, Status};
use crate::{Error, Result};

/// Sends `sig` to container `id`.
pub fn kill(root: &Path, id: &str, sig: Signal, all: bool) -> Result<()> {
    let st = State::load(root, id)?;
    let status = st.status(&state_dir::container_dir(root, id));
    if status == Status::Stopped {
        return Err(Error::WrongState("container not running".into()));
    }
    signal(&st, id, sig, all)?;
    // Frozen tasks do not act on SIGKILL until thawed (cgroup v1); runc thaws for SIGKILL only.
    if status == Status::Paused && sig == Signal::SIGKILL {
        if let Some(cg) = &st.cgroup {
            cg.thaw()?;
        }
    }
    Ok(())
}

fn signal(st: &State, id: &str, sig: Signal, all: bool) -> Result<()> {
    if all {
        let cg = st
            .cgroup
            .as_ref()
            .ok_or_else(|| Error::InvalidArgument(format!("container {id} has no cgroup")))?;
        for pid in cg.pids()? {
            match sys_kill(pid, sig) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(e) => {
                    return Err(Error::Sys {
                        context: format!("kill({pid}, {sig})"),
                        source: e,
                    })
                }
            }
        }
        return Ok(());
    }
    st.signal_init(sig)
}

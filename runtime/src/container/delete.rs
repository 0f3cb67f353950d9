//! `delete`: remove a stopped container (or, with `--force`, kill it first); poststop hooks run last.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::error::Context;
use crate::state_dir::{self, State, Status};
use crate::{hooks, Error, Result};

/// Deletes container `id`; returns poststop hook failures as warnings.
pub fn delete(root: &Path, id: &str, force: bool) -> Result<Vec<String>> {
    let dir = state_dir::container_dir(root, id);
    let st = match State::load(root, id) {
        Ok(st) => st,
        Err(Error::NotExist(_)) => {
            // An aborted create can leave a directory without state.json (runc removes it too);
            // with --force a missing container is not an error, as in runc.
            let _ = std::fs::remove_dir_all(&dir);
            return if force {
                Ok(Vec::new())
            } else {
                Err(Error::NotExist(id.to_string()))
            };
        }
        Err(e) => return Err(e),
    };
    let status = st.status(&dir);
    match status {
        Status::Stopped => {}
        // runc deletes a created container without --force: nothing of the user's has run yet.
        Status::Created => kill_all(&st)?,
        Status::Running | Status::Paused | Status::Creating if force => kill_all(&st)?,
        _ => {
            return Err(Error::WrongState(format!(
                "cannot delete container {id} that is not stopped: {status}"
            )))
        }
    }
    destroy(&st, &dir)
}

/// Removes the cgroup and state dir of a stopped container, then runs poststop hooks.
pub(crate) fn destroy(st: &State, dir: &Path) -> Result<Vec<String>> {
    if let Some(cg) = &st.cgroup {
        cg.destroy()?;
    }
    std::fs::remove_dir_all(dir).ctx(|| format!("remove state dir {}", dir.display()))?;
    let mut warnings = Vec::new();
    if let Some(h) = st.hooks.as_ref().and_then(|h| h.poststop().as_deref()) {
        if let Err(e) = hooks::run("poststop", h, &st.hook_state(Status::Stopped)) {
            warnings.push(e.to_string());
        }
    }
    Ok(warnings)
}

/// SIGKILLs every process of the container and waits until the init is gone.
fn kill_all(st: &State) -> Result<()> {
    if let Some(cg) = &st.cgroup {
        for pid in cg.pids()? {
            let _ = kill(pid, Signal::SIGKILL);
        }
        // A paused container's tasks only die once thawed.
        if st.frozen() {
            cg.thaw()?;
        }
    }
    if st.init_alive() {
        let _ = kill(Pid::from_raw(st.init_pid), Signal::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while st.init_alive() {
        if Instant::now() > deadline {
            return Err(Error::WrongState(format!(
                "container init {} did not die after SIGKILL",
                st.init_pid
            )));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

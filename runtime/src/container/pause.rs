//! `pause`: freeze every process of a created or running container (its cgroup freezer).

use std::path::Path;

use crate::cgroups::CgroupError;
use crate::state_dir::{self, State, Status};
use crate::{Error, Result};

/// How many times a freeze that timed out is tried again from a thawed cgroup.
const FREEZE_ATTEMPTS: u32 = 5;

/// Freezes container `id`; like runc, only a created or running container can be paused.
pub fn pause(root: &Path, id: &str) -> Result<()> {
    let st = State::load(root, id)?;
    match st.status(&state_dir::container_dir(root, id)) {
        Status::Created | Status::Running => {}
        _ => return Err(Error::WrongState("container not running".into())),
    }
    let cg = st
        .cgroup
        .as_ref()
        .ok_or_else(|| Error::InvalidArgument(format!("container {id} has no cgroup")))?;
    // A v1 freezer can stay in FREEZING while tasks fork; freeze() thaws after its wait, and a
    // fresh attempt after that thaw usually succeeds (runc also thaws and re-freezes).
    let mut attempt = 1;
    loop {
        match cg.freeze() {
            Ok(()) => return Ok(()),
            Err(CgroupError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::TimedOut && attempt < FREEZE_ATTEMPTS =>
            {
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

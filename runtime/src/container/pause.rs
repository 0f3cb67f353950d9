//! `pause`: freeze every process of a created or running container (its cgroup freezer).

use std::path::Path;

use crate::state::{self, State, Status};
use crate::{Error, Result};

/// Freezes container `id`; like runc, only a created or running container can be paused.
pub fn pause(root: &Path, id: &str) -> Result<()> {
    let st = State::load(root, id)?;
    match st.status(&state::container_dir(root, id)) {
        Status::Created | Status::Running => {}
        _ => return Err(Error::WrongState("container not running".into())),
    }
    let cg = st
        .cgroup
        .as_ref()
        .ok_or_else(|| Error::InvalidArgument(format!("container {id} has no cgroup")))?;
    cg.freeze()?;
    Ok(())
}

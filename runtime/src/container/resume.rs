//! `resume`: thaw a paused container.

use std::path::Path;

use crate::state_dir::{self, State, Status};
use crate::{Error, Result};

/// Thaws container `id`; like runc, only a paused container can be resumed.
pub fn resume(root: &Path, id: &str) -> Result<()> {
    let st = State::load(root, id)?;
    if st.status(&state_dir::container_dir(root, id)) != Status::Paused {
        return Err(Error::WrongState("container not paused".into()));
    }
    let cg = st
        .cgroup
        .as_ref()
        .ok_or_else(|| Error::InvalidArgument(format!("container {id} has no cgroup")))?;
    cg.thaw()?;
    Ok(())
}

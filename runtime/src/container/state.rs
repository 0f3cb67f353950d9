//! `state`: the runtime-spec state of one container.

use std::path::Path;

use crate::state_dir::{self, OciState, State};
use crate::Result;

/// The state of container `id`, as `runc state` prints it.
pub fn state(root: &Path, id: &str) -> Result<OciState> {
    let st = State::load(root, id)?;
    let status = st.status(&state_dir::container_dir(root, id));
    Ok(st.oci_state(status))
}

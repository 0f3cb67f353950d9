//! `list`: every container under the state root, sorted by id.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::Context;
use crate::state::{self, OciState, State};
use crate::Result;

/// One `list` row: the state plus the uid owning the state directory (runc's OWNER column).
#[derive(Debug, Clone)]
pub struct Entry {
    /// The container's state.
    pub state: OciState,
    /// Owner uid of the state directory.
    pub owner_uid: u32,
}

/// Lists containers; a missing root is an empty list, unreadable entries are skipped.
pub fn list(root: &Path) -> Result<Vec<Entry>> {
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).ctx(|| format!("read state root {}", root.display())),
    };
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let Some(id) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Ok(st) = State::load(root, &id) else {
            continue;
        };
        let dir = state::container_dir(root, &id);
        let owner_uid = std::fs::metadata(&dir).map(|m| m.uid()).unwrap_or(0);
        out.push(Entry {
            state: st.oci_state(st.status(&dir)),
            owner_uid,
        });
    }
    out.sort_by(|a, b| a.state.id.cmp(&b.state.id));
    Ok(out)
}

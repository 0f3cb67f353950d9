//! Disk usage of a directory tree.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::{SnapshotError, Usage};

/// Allocated bytes and inodes under `dir` (inclusive), hardlinked inodes counted once,
/// symlinks not followed.
pub fn disk_usage(dir: &Path) -> Result<Usage, SnapshotError> {
    let mut seen = HashSet::new();
    let mut u = Usage::default();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = std::fs::symlink_metadata(&p).map_err(|e| SnapshotError::io("lstat", &p, e))?;
        if seen.insert((m.dev(), m.ino())) {
            u.inodes += 1;
            u.size += m.blocks() * 512;
        }
        if m.is_dir() {
            for e in std::fs::read_dir(&p).map_err(|e| SnapshotError::io("readdir", &p, e))? {
                let e = e.map_err(|e| SnapshotError::io("readdir", &p, e))?;
                stack.push(e.path());
            }
        }
    }
    Ok(u)
}

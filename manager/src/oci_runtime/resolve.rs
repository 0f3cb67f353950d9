//! Finding the runtime binary: a path as given, else next to the current executable, else PATH.

use super::error::RuntimeError;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Resolves `name` (a bare name like `berth-runc` or a path) to an executable file.
pub fn resolve_binary(name: &str) -> Result<PathBuf, RuntimeError> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    if name.contains('/') {
        // Absolute, because the monitor runs it from another working directory.
        let p = std::path::absolute(name).unwrap_or_else(|_| PathBuf::from(name));
        if is_executable(&p) {
            return Ok(p);
        }
    } else {
        let candidates = std::iter::once(beside.clone()).chain(
            std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
                .unwrap_or_default(),
        );
        for dir in candidates {
            let p = dir.join(name);
            if is_executable(&p) {
                return Ok(p);
            }
        }
    }
    Err(RuntimeError::NotFound {
        name: name.to_string(),
        beside,
    })
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

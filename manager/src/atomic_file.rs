//! Replacing a file atomically: a reader sees the old content or the new one, never a part.
//!
//! The new content goes to a temporary file in the same directory, which is then renamed over
//! the target. Each writer gets a temporary file of its own (a random name, created `O_EXCL`),
//! so writers of one path that race never share one: with a fixed `<path>.tmp`, the second
//! writer truncated the first one's file, and after the first rename the second rename failed
//! with ENOENT (20 concurrent `berth run` writing the default network's conflist saw it).

use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Whether the new content must be on disk before the rename makes it visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync the file before the rename: after a crash the path holds the old or the new
    /// content, not an empty file.
    Fsync,
    /// No fsync (content that is rewritten from a record when it is missing or stale).
    None,
}

/// Replaces `path` with `data`, mode `mode` (exactly: no umask applies).
pub fn replace(path: &Path, data: &[u8], mode: u32, durability: Durability) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Hidden, and named after the target, so a leftover of a crash says what it was.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.write_all(data)?;
    if durability == Durability::Fsync {
        tmp.as_file().sync_all()?;
    }
    // On failure the temporary file is removed when `PersistError` drops it.
    tmp.persist(path).map(drop).map_err(|e| e.error)
}

/// [`replace`] on tokio's blocking pool, for async callers.
pub async fn replace_async(
    path: &Path,
    data: Vec<u8>,
    mode: u32,
    durability: Durability,
) -> io::Result<()> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || replace(&path, &data, mode, durability))
        .await
        .map_err(io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_writers_of_one_path_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("berth-bridge.conflist");
        let writers: Vec<_> = (0..16)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        replace(&path, format!("{i}").as_bytes(), 0o644, Durability::None)?;
                    }
                    Ok::<_, io::Error>(())
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap().unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.parse::<u32>().is_ok_and(|i| i < 16), "{text}");
        // Nothing but the target is left.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn the_mode_is_exact_and_the_content_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        replace(&path, b"old", 0o644, Durability::Fsync).unwrap();
        replace(&path, b"new", 0o600, Durability::Fsync).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600);
    }
}

//! Resolving a container path inside the rootfs: symlinks are followed as if the rootfs were `/`, and
//! `..` never climbs above it, so a mount destination cannot escape to the host.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use crate::{Error, Result};

/// Most symlinks followed while resolving one path (the kernel's limit for a whole lookup is 40).
const MAX_SYMLINKS: usize = 255;

/// Resolves `path` (absolute or relative, container view) to a host path under `root`.
///
/// Components that do not exist yet are appended as they are (the caller creates them).
pub fn secure_join(root: &Path, path: &Path) -> Result<PathBuf> {
    // Pending components, last component at the end so `pop` yields the next one to resolve.
    let mut pending: Vec<OsString> = components(path);
    pending.reverse();
    let mut resolved = PathBuf::new();
    let mut links = 0;
    while let Some(comp) = pending.pop() {
        if comp == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&comp);
        let full = root.join(&candidate);
        match std::fs::symlink_metadata(&full) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Error::InvalidArgument(format!(
                        "too many symlinks resolving {} in {}",
                        path.display(),
                        root.display()
                    )));
                }
                let target = std::fs::read_link(&full).map_err(|e| Error::Io {
                    context: format!("readlink {}", full.display()),
                    source: e,
                })?;
                if target.is_absolute() {
                    resolved = PathBuf::new();
                }
                let mut more = components(&target);
                more.reverse();
                pending.extend(more);
            }
            _ => resolved = candidate,
        }
    }
    Ok(root.join(resolved))
}

/// The normal and `..` components of `path` (root and `.` dropped).
fn components(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmp() -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("berth-sj-{}-{}", std::process::id(), rand_suffix()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn rand_suffix() -> u128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    }

    #[test]
    fn plain_and_dotdot_paths_stay_inside() {
        let root = tmp();
        assert_eq!(
            secure_join(&root, Path::new("/a/b")).unwrap(),
            root.join("a/b")
        );
        assert_eq!(
            secure_join(&root, Path::new("/../../etc")).unwrap(),
            root.join("etc")
        );
        assert_eq!(
            secure_join(&root, Path::new("a/../../x")).unwrap(),
            root.join("x")
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn symlinks_resolve_inside_root() {
        let root = tmp();
        std::fs::create_dir_all(root.join("real")).unwrap();
        symlink("/etc", root.join("abs")).unwrap();
        symlink("../../../../tmp", root.join("rel")).unwrap();
        symlink("real", root.join("inner")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        assert_eq!(
            secure_join(&root, Path::new("/abs/passwd")).unwrap(),
            root.join("etc/passwd")
        );
        assert_eq!(
            secure_join(&root, Path::new("/rel/x")).unwrap(),
            root.join("tmp/x")
        );
        assert_eq!(
            secure_join(&root, Path::new("/inner/y")).unwrap(),
            root.join("real/y")
        );
        assert!(secure_join(&root, Path::new("/loop")).is_err());
        std::fs::remove_dir_all(&root).unwrap();
    }
}

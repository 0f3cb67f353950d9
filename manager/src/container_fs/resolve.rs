//! A user's path inside a container root: normalised, with symlinks followed inside the root,
//! refused when it climbs above the root.

use super::CopyError;
use crate::rootfs_fs::{lstat_at, RelPath, Root};
use nix::sys::stat::SFlag;
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Linux's limit on symlinks followed in one lookup.
const MAX_LINKS: usize = 40;

/// Resolves `path` (as a user wrote it, absolute or relative to `/`) inside `root`: `..` steps
/// up within the root and symlinks are followed as the container would see them (absolute
/// targets start again at the container's `/`). A `..` that would go above the root, written
/// or found in a link, is refused with [`CopyError::Escape`]. Returns the path with every
/// symlink resolved; missing components are kept as written (the caller decides whether a
/// missing path is an error).
pub fn resolve(root: &Root, path: &str) -> Result<RelPath, CopyError> {
    let escape = || CopyError::Escape {
        path: path.to_string(),
    };
    let mut pending: VecDeque<OsString> = names(Path::new(path));
    let mut stack: Vec<OsString> = Vec::new();
    let mut links = 0;
    let mut missing = false;
    while let Some(c) = pending.pop_front() {
        if c == ".." {
            if stack.pop().is_none() {
                return Err(escape());
            }
            continue;
        }
        if missing {
            stack.push(c);
            continue;
        }
        let parent = rel(&stack)?;
        let dir = match root.open_dir(&parent) {
            Ok(d) => d,
            Err(e)
                if e.raw_os_error() == Some(libc::ENOENT)
                    || e.raw_os_error() == Some(libc::ENOTDIR) =>
            {
                missing = true;
                stack.push(c);
                continue;
            }
            Err(e) => return Err(CopyError::io("opening", parent.to_string())(e)),
        };
        let st = lstat_at(&dir, &c).map_err(CopyError::io("lstat", parent.join(&c).to_string()))?;
        match st {
            None => {
                missing = true;
                stack.push(c);
            }
            Some(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(CopyError::Loop {
                        path: path.to_string(),
                    });
                }
                let target = nix::fcntl::readlinkat(&dir, c.as_os_str()).map_err(|e| {
                    CopyError::io("readlink", parent.join(&c).to_string())(
                        std::io::Error::from_raw_os_error(e as i32),
                    )
                })?;
                let target = PathBuf::from(target);
                if target.is_absolute() {
                    stack.clear();
                }
                let mut next = names(&target);
                next.extend(pending);
                pending = next;
            }
            Some(_) => stack.push(c),
        }
    }
    rel(&stack)
}

/// Like [`resolve`], but a symlink named by the last component is kept, not followed (what
/// `cp` copies without `-L`: the link itself, as Docker resolves only the parent). A path
/// ending in `/`, `.` or `..` is resolved whole.
pub fn resolve_parent(root: &Root, path: &str) -> Result<RelPath, CopyError> {
    let literal = Path::new(path);
    // `components()` drops a trailing `.`: `/link/.` means the directory the link names.
    let whole = path.ends_with('/')
        || path.ends_with("/.")
        || path == "."
        || !matches!(literal.components().next_back(), Some(Component::Normal(_)));
    match (whole, literal.parent(), literal.file_name()) {
        (false, Some(parent), Some(name)) => {
            let parent = parent
                .to_str()
                .ok_or_else(|| CopyError::Archive(format!("bad path {path}")))?;
            Ok(resolve(root, if parent.is_empty() { "/" } else { parent })?.join(name))
        }
        _ => resolve(root, path),
    }
}

/// The components of a path, `.` and `/` dropped, `..` kept as "..".
fn names(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

fn rel(stack: &[OsString]) -> Result<RelPath, CopyError> {
    let p: PathBuf = stack.iter().collect();
    // Only plain names are ever on the stack, so this parses; an error would be a bug here.
    RelPath::parse(&p).ok_or_else(|| CopyError::Archive(format!("bad path {}", p.display())))
}

/// The last name of a path as the user wrote it (`None` for `/`).
pub fn base_name(path: &str) -> Option<&OsStr> {
    Path::new(path)
        .file_name()
        .filter(|n| n.as_bytes() != b"..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, Root) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir_all(p.join("etc")).unwrap();
        std::fs::write(p.join("etc/hostname"), "c\n").unwrap();
        std::os::unix::fs::symlink("/etc", p.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", p.join("etc/up")).unwrap();
        std::os::unix::fs::symlink("hostname", p.join("etc/rel")).unwrap();
        let root = Root::open(p).unwrap();
        (d, root)
    }

    fn shown(r: Result<RelPath, CopyError>) -> String {
        match r {
            Ok(p) => p.to_string(),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn paths_stay_inside_the_root() {
        let (_d, root) = tree();
        assert_eq!(shown(resolve(&root, "/etc/hostname")), "/etc/hostname");
        assert_eq!(shown(resolve(&root, "etc/./rel")), "/etc/hostname");
        assert_eq!(shown(resolve(&root, "/abs/hostname")), "/etc/hostname");
        assert_eq!(
            shown(resolve(&root, "/etc/../etc/hostname")),
            "/etc/hostname"
        );
        assert_eq!(shown(resolve(&root, "/nope/x")), "/nope/x");
        assert!(shown(resolve(&root, "/../etc/passwd")).contains("escapes"));
        assert!(shown(resolve(&root, "/etc/up/hostname")).contains("escapes"));
        assert_eq!(shown(resolve_parent(&root, "/etc/rel")), "/etc/rel");
        assert_eq!(shown(resolve_parent(&root, "/abs/rel")), "/etc/rel");
        assert_eq!(shown(resolve_parent(&root, "/abs")), "/abs");
        assert_eq!(shown(resolve_parent(&root, "/abs/")), "/etc");
        assert_eq!(shown(resolve_parent(&root, "/abs/.")), "/etc");
        assert!(shown(resolve_parent(&root, "/etc/up/x")).contains("escapes"));
        assert_eq!(base_name("/etc/hostname").unwrap(), "hostname");
        assert!(base_name("/").is_none());
    }
}

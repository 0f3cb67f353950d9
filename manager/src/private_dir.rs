//! Directories berthd keeps image and container data in, private to root.
//!
//! Unpacked layers hold setuid binaries and device nodes, containers hold their files, logs and
//! attach sockets: no other user may reach any of it. Every directory berthd makes under its root
//! and state dirs is made here, mode 0700. The root dir itself is 0700; the state dir is 0711
//! because the default socket lives in it (the socket's own 0660 mode decides who connects) and
//! everything else in it is 0700/0600. [`secure_top`] also tightens what an older berthd left with
//! wider modes, at startup.

use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Mode of every directory berthd creates for itself.
pub const PRIVATE: u32 = 0o700;

/// Mode of the state directory: others may only look up names in it (to reach the socket).
pub const TRAVERSE_ONLY: u32 = 0o711;

/// Clears group/other bits of an existing `path` (not following a symlink there), so a tree
/// made by an older berthd is closed too.
fn tighten(path: &Path, max: u32) -> io::Result<()> {
    let md = std::fs::symlink_metadata(path)?;
    if md.file_type().is_symlink() {
        return Ok(());
    }
    let mode = md.permissions().mode() & 0o7777;
    if mode & !max & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & max))?;
    }
    Ok(())
}

/// Creates `path` and its missing parents, each new one 0700; an existing `path` keeps no
/// group/other access.
pub fn create_all(path: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE)
        .create(path)?;
    tighten(path, PRIVATE)
}

/// Creates the single directory `path`, 0700; an existing one is an error (`AlreadyExists`),
/// which makes this a claim on the name.
pub fn create_new(path: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new().mode(PRIVATE).create(path)?;
    // mkdir applies the umask, which can only narrow 0700; set it exactly anyway.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(PRIVATE))
}

/// Makes sure the file `path` exists with mode 0600 (created empty if missing, an existing one
/// loses group/other access), for files a library creates itself with wider modes (the redb
/// databases).
pub fn private_file(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    tighten(path, 0o600)
}

/// Creates the top directory `path` (the root or state dir) with `mode`, sets that mode on an
/// existing one, and removes group/other access from every directory and regular file directly
/// in it (sockets keep their own mode; below the first level, the closed parents suffice).
pub fn secure_top(path: &Path, mode: u32) -> io::Result<()> {
    // Missing parents (`/var/lib`, …) are not berthd's: they get the usual modes.
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(mode).create(path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    for ent in std::fs::read_dir(path)? {
        let ent = ent?;
        let ft = ent.file_type()?;
        if ft.is_dir() {
            tighten(&ent.path(), PRIVATE)?;
        } else if ft.is_file() {
            tighten(&ent.path(), 0o600)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn creates_private_and_tightens_existing() {
        let t = tempfile::tempdir().unwrap();
        let deep = t.path().join("a/b/c");
        create_all(&deep).unwrap();
        for p in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode(&t.path().join(p)), 0o700, "{p}");
        }
        std::fs::set_permissions(&deep, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_all(&deep).unwrap();
        assert_eq!(mode(&deep), 0o700);
        let f = deep.join("db");
        std::fs::write(&f, "keep").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        private_file(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "keep");
        private_file(&deep.join("new")).unwrap();
        assert_eq!(mode(&deep.join("new")), 0o600);
        let e = create_new(&deep).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        create_new(&deep.join("d")).unwrap();
        assert_eq!(mode(&deep.join("d")), 0o700);
    }

    #[test]
    fn secure_top_fixes_an_old_tree() {
        let t = tempfile::tempdir().unwrap();
        // Parents keep the usual modes; only the top is closed.
        let parent = t.path().join("var/lib");
        secure_top(&parent.join("berth"), PRIVATE).unwrap();
        let usual = t.path().join("usual");
        std::fs::create_dir(&usual).unwrap();
        assert_eq!(mode(&parent), mode(&usual));
        assert_eq!(mode(&parent.join("berth")), 0o700);
        let top = t.path().join("root");
        std::fs::create_dir_all(top.join("snapshots/1/fs")).unwrap();
        std::fs::write(top.join("metadata.redb"), "x").unwrap();
        for (p, m) in [("", 0o755), ("snapshots", 0o755), ("metadata.redb", 0o644)] {
            std::fs::set_permissions(top.join(p), std::fs::Permissions::from_mode(m)).unwrap();
        }
        std::fs::set_permissions(
            top.join("snapshots/1/fs"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        secure_top(&top, PRIVATE).unwrap();
        assert_eq!(mode(&top), 0o700);
        assert_eq!(mode(&top.join("snapshots")), 0o700);
        assert_eq!(mode(&top.join("metadata.redb")), 0o600);
        // Image content keeps its own modes (a container's / must stay 0755 for its users).
        assert_eq!(mode(&top.join("snapshots/1/fs")), 0o755);
    }
}

//! Disk usage of a directory tree that a container can write to while it is walked.
//!
//! The walk is fd-relative: each directory is opened with `openat(O_NOFOLLOW | O_DIRECTORY)`
//! relative to the descriptor of its parent and each entry is looked at with
//! `fstatat(AT_SYMLINK_NOFOLLOW)`, so a container that swaps a directory for a symlink (or
//! renames one away) mid-walk can neither lead the walk out of the snapshot nor make it count
//! a host tree. Nothing but directories is ever opened (no FIFO or device can block it), other
//! file systems are not entered, and the depth is bounded (each level holds one descriptor).

use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstat, fstatat, FileStat, Mode, SFlag};

use super::{SnapshotError, Usage};

/// Deepest directory level the walk descends into: deeper trees are counted down to this level
/// only (a container can nest directories without end; the walk holds one fd per level).
pub const MAX_DEPTH: usize = 256;

fn is_dir(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
}

fn open_dir_at(parent: &impl AsFd, name: &OsStr) -> Result<OwnedFd, Errno> {
    nix::fcntl::openat(
        parent.as_fd(),
        name,
        OFlag::O_RDONLY
            | OFlag::O_DIRECTORY
            | OFlag::O_NOFOLLOW
            | OFlag::O_NONBLOCK
            | OFlag::O_NOCTTY
            | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// One directory being read: a descriptor for the `*at` calls and an iterator over a duplicate
/// (the iterator owns its `DIR`; both share the open directory).
struct Level {
    fd: OwnedFd,
    entries: nix::dir::OwningIter,
}

impl Level {
    fn new(fd: OwnedFd) -> Result<Level, Errno> {
        let dup = fd.try_clone().map_err(|_| Errno::EMFILE)?;
        Ok(Level {
            fd,
            entries: nix::dir::Dir::from_fd(dup)?.into_iter(),
        })
    }
}

/// Allocated bytes and inodes under `dir` (inclusive), hardlinked inodes counted once,
/// symlinks never followed, the walk never leaving `dir`'s file system or going deeper than
/// [`MAX_DEPTH`]. Entries that vanish while walked are skipped.
pub fn disk_usage(dir: &Path) -> Result<Usage, SnapshotError> {
    let io = |op, e: Errno| SnapshotError::io(op, dir, std::io::Error::from_raw_os_error(e as i32));
    let root = nix::fcntl::open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io("open", e))?;
    let st = fstat(root.as_fd()).map_err(|e| io("fstat", e))?;
    let dev = st.st_dev;
    let mut u = Usage::default();
    // Only inodes with more than one link can be met twice: remembering just those keeps the
    // memory bounded by the hard links, not by the file count.
    let mut seen = HashSet::new();
    let mut count = |st: &FileStat, u: &mut Usage| {
        if st.st_nlink > 1 && !is_dir(st) && !seen.insert((st.st_dev, st.st_ino)) {
            return;
        }
        u.inodes += 1;
        u.size += u64::try_from(st.st_blocks).unwrap_or(0) * 512;
    };
    count(&st, &mut u);
    let mut stack = vec![Level::new(root).map_err(|e| io("opendir", e))?];
    let mut truncated = false;
    loop {
        let depth = stack.len();
        let Some(top) = stack.last_mut() else {
            break;
        };
        let Some(ent) = top.entries.next() else {
            stack.pop();
            continue;
        };
        let ent = ent.map_err(|e| io("readdir", e))?;
        let name = OsStr::from_bytes(ent.file_name().to_bytes());
        if name == "." || name == ".." {
            continue;
        }
        let st = match fstatat(top.fd.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            // Removed or renamed away since readdir saw it.
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(io("fstatat", e)),
        };
        if st.st_dev != dev {
            // A mount point inside the tree: not this snapshot's space.
            continue;
        }
        count(&st, &mut u);
        if !is_dir(&st) {
            continue;
        }
        if depth >= MAX_DEPTH {
            truncated = true;
            continue;
        }
        let sub = match open_dir_at(&top.fd, name) {
            Ok(fd) => fd,
            // Replaced by a symlink or a file, or removed, since the fstatat: not counted below.
            Err(Errno::ENOENT | Errno::ELOOP | Errno::ENOTDIR) => continue,
            Err(e) => return Err(io("openat", e)),
        };
        // The directory opened must be the one just counted and still on this file system.
        match fstat(sub.as_fd()) {
            Ok(s) if s.st_dev == dev && s.st_ino == st.st_ino => {}
            Ok(_) => continue,
            Err(e) => return Err(io("fstat", e)),
        }
        stack.push(Level::new(sub).map_err(|e| io("opendir", e))?);
    }
    if truncated {
        tracing::warn!(
            dir = %dir.display(),
            max_depth = MAX_DEPTH,
            "directories nested deeper than the limit were not counted"
        );
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn counts_files_once_and_never_follows_links() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        // A big tree outside that a symlink points at: following it would count it.
        std::fs::write(outside.path().join("big"), vec![1u8; 1 << 20]).unwrap();
        let root = d.path().join("fs");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/f"), vec![1u8; 8192]).unwrap();
        std::fs::hard_link(root.join("a/b/f"), root.join("a/g")).unwrap();
        symlink(outside.path(), root.join("a/out")).unwrap();
        symlink("/", root.join("slash")).unwrap();
        nix::unistd::mkfifo(&root.join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();
        let u = disk_usage(&root).unwrap();
        // fs, a, a/b, f (once for two links), out, slash, fifo.
        assert_eq!(u.inodes, 7, "{u:?}");
        assert!(u.size < 1 << 20, "counted through a symlink: {u:?}");
        assert!(u.size >= 8192, "{u:?}");
    }

    #[test]
    fn a_directory_swapped_for_a_symlink_mid_walk_is_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        // The same names inside and outside: a walk that goes back to `fs/d/a` by path after
        // the swap lands in `outside/a`.
        std::fs::create_dir(outside.path().join("a")).unwrap();
        for i in 0..2000 {
            std::fs::write(outside.path().join("a").join(i.to_string()), b"x").unwrap();
        }
        let root = d.path().join("fs");
        std::fs::create_dir_all(root.join("d/a")).unwrap();
        std::fs::write(root.join("d/a/f"), b"x").unwrap();
        symlink(outside.path(), root.join("s")).unwrap();
        // What a container can do in its upper dir while system df walks it: swap a directory
        // and a symlink to elsewhere, atomically and without end.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let swapper = {
            let (stop, root) = (stop.clone(), root.clone());
            std::thread::spawn(move || {
                let fd =
                    nix::fcntl::open(&root, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty())
                        .unwrap();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    nix::fcntl::renameat2(
                        fd.as_fd(),
                        "d",
                        fd.as_fd(),
                        "s",
                        nix::fcntl::RenameFlags::RENAME_EXCHANGE,
                    )
                    .unwrap();
                }
            })
        };
        let mut worst = 0;
        for _ in 0..1000 {
            worst = worst.max(disk_usage(&root).unwrap().inodes);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        swapper.join().unwrap();
        // fs, d, s, a, f: a few more when readdir meets the directory under both names mid-swap
        // (and walks it twice). A walk by path went through the symlink and counted 2000 more.
        assert!(
            worst < 100,
            "the walk followed a swapped-in symlink: {worst} inodes"
        );
    }

    #[test]
    fn a_symlinked_root_is_refused() {
        let d = tempfile::tempdir().unwrap();
        symlink("/", d.path().join("fs")).unwrap();
        assert!(disk_usage(&d.path().join("fs")).is_err());
    }

    #[test]
    fn depth_is_bounded() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("fs");
        std::fs::create_dir(&root).unwrap();
        // Build deeper than MAX_DEPTH fd-relative (the path would exceed PATH_MAX).
        let mut fd =
            nix::fcntl::open(&root, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        for _ in 0..MAX_DEPTH + 20 {
            nix::sys::stat::mkdirat(
                fd.as_fd(),
                "dddddddddddddddddddd",
                Mode::from_bits_truncate(0o755),
            )
            .unwrap();
            fd = open_dir_at(&fd, OsStr::new("dddddddddddddddddddd")).unwrap();
        }
        let u = disk_usage(&root).unwrap();
        assert_eq!(u.inodes, MAX_DEPTH as u64 + 1, "{u:?}");
        std::mem::drop(fd);
        // tempdir's cleanup walks by path and cannot remove a tree this deep: remove it fd-relative.
        let r = nix::fcntl::open(
            d.path(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY,
            Mode::empty(),
        )
        .unwrap();
        crate::rootfs_fs::remove_all_at(&r, OsStr::new("fs")).unwrap();
    }
}

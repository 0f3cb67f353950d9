//! A tar into a container root (`berth cp ... CONTAINER:PATH`): every entry's parent is opened
//! inside the root, the entry itself created with `*at` calls that do not follow links, and an
//! existing symlink in its place is replaced rather than written through.

use super::CopyError;
use crate::rootfs_fs::{is_dir, lstat_at, remove_all_at, DirMeta, RelPath, Root};
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{mkdirat, Mode};
use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::AsFd;

/// Extracts `input` under `dest` inside `root`; with `rename_first`, each entry's first path
/// component is replaced by it (copying `a` to a new name `b`). Returns the number of entries.
pub fn extract_tar<R: Read>(
    root: &Root,
    dest: &RelPath,
    rename_first: Option<&OsStr>,
    input: R,
) -> Result<u64, CopyError> {
    let mut archive = tar::Archive::new(input);
    let mut count = 0;
    let entries = archive
        .entries()
        .map_err(|e| CopyError::Archive(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| CopyError::Archive(e.to_string()))?;
        let raw = entry
            .path()
            .map_err(|e| CopyError::Archive(e.to_string()))?
            .into_owned();
        let rel = RelPath::parse(&raw).ok_or_else(|| {
            CopyError::Archive(format!("entry {} leaves the destination", raw.display()))
        })?;
        let mut target = dest.clone();
        for (i, c) in rel.components().iter().enumerate() {
            match (i, rename_first) {
                (0, Some(n)) => target = target.join(n),
                _ => target = target.join(c),
            }
        }
        let Some((parent, name)) = target.split_last() else {
            continue;
        };
        let dir = root
            .mkdir_all(&parent, |_| DirMeta::default())
            .map_err(CopyError::io("creating", parent.to_string()))?;
        let mode = entry.header().mode().unwrap_or(0o644) & 0o7777;
        let existing = lstat_at(&dir, name).map_err(CopyError::io("lstat", target.to_string()))?;
        let shown = target.to_string();
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                if !existing.as_ref().is_some_and(is_dir) {
                    if existing.is_some() {
                        remove_all_at(&dir, name)
                            .map_err(CopyError::io("replacing", shown.clone()))?;
                    }
                    mkdirat(dir.as_fd(), name, Mode::from_bits_truncate(mode)).map_err(|e| {
                        CopyError::io("mkdir", shown.clone())(std::io::Error::from_raw_os_error(
                            e as i32,
                        ))
                    })?;
                }
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if existing.is_some() {
                    remove_all_at(&dir, name).map_err(CopyError::io("replacing", shown.clone()))?;
                }
                let fd = openat(
                    dir.as_fd(),
                    name,
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(mode),
                )
                .map_err(|e| {
                    CopyError::io("creating", shown.clone())(std::io::Error::from_raw_os_error(
                        e as i32,
                    ))
                })?;
                let mut f = std::fs::File::from(fd);
                std::io::copy(&mut entry, &mut f)
                    .map_err(CopyError::io("writing", shown.clone()))?;
            }
            tar::EntryType::Symlink => {
                let link = entry
                    .link_name()
                    .map_err(|e| CopyError::Archive(e.to_string()))?
                    .ok_or_else(|| CopyError::Archive(format!("symlink {shown} has no target")))?
                    .into_owned();
                if existing.is_some() {
                    remove_all_at(&dir, name).map_err(CopyError::io("replacing", shown.clone()))?;
                }
                nix::unistd::symlinkat(link.as_path(), dir.as_fd(), name).map_err(|e| {
                    CopyError::io("symlink", shown.clone())(std::io::Error::from_raw_os_error(
                        e as i32,
                    ))
                })?;
            }
            other => {
                return Err(CopyError::Archive(format!(
                    "{shown}: entries of type {other:?} cannot be copied into a container"
                )))
            }
        }
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_tar_round_trips_and_links_are_not_written_through() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("d/sub")).unwrap();
        std::fs::write(src.path().join("d/sub/f"), "data").unwrap();
        std::os::unix::fs::symlink("sub/f", src.path().join("d/l")).unwrap();
        let root = Root::open(src.path()).unwrap();
        let rel = RelPath::parse(Path::new("/d")).unwrap();
        let tar =
            super::super::archive::write_tar(&root, &rel, Path::new("d"), "/d", "c", Vec::new())
                .unwrap();

        let dst = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        // A link in the destination pointing out of the root: replaced, never followed.
        std::os::unix::fs::symlink(outside.path(), dst.path().join("e")).unwrap();
        let droot = Root::open(dst.path()).unwrap();
        let top = RelPath::parse(Path::new("/")).unwrap();
        let n = extract_tar(&droot, &top, Some(OsStr::new("e")), &tar[..]).unwrap();
        assert_eq!(n, 4);
        assert_eq!(
            std::fs::read_to_string(dst.path().join("e/sub/f")).unwrap(),
            "data"
        );
        assert_eq!(
            std::fs::read_link(dst.path().join("e/l")).unwrap(),
            Path::new("sub/f")
        );
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }
}

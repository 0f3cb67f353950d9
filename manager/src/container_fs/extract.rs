//! A tar into a container root (`berth cp ... CONTAINER:PATH`): every entry's parent is opened
//! inside the root, the entry itself created with `*at` calls that do not follow links, and an
//! existing symlink in its place is replaced rather than written through.

use super::CopyError;
use crate::rootfs_fs::{is_dir, lstat_at, remove_all_at, DirMeta, RelPath, Root};
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{mkdirat, Mode};
use nix::unistd::{Gid, Uid};
use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};

/// Who owns what is extracted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owners {
    /// The extracting process (root for berthd): Docker's `cp` without `-a`.
    Caller,
    /// The uid/gid in each entry's header (`cp -a`).
    FromArchive,
}

/// Gives the node open as `fd` the entry's owner, then its mode again: `chown` clears the
/// setuid and setgid bits, which an archive copy keeps.
fn own_fd(fd: impl AsFd + Copy, ids: (Uid, Gid), mode: u32, shown: &str) -> Result<(), CopyError> {
    let errno = |what: &'static str| {
        move |e: nix::Error| {
            CopyError::io(what, shown.to_string())(std::io::Error::from_raw_os_error(e as i32))
        }
    };
    nix::unistd::fchown(fd, Some(ids.0), Some(ids.1)).map_err(errno("chown"))?;
    if mode & 0o6000 != 0 {
        nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(mode)).map_err(errno("chmod"))?;
    }
    Ok(())
}

/// The uid/gid of an entry's header, refused when they do not fit a 32-bit id.
fn header_ids(h: &tar::Header, shown: &str) -> Result<(Uid, Gid), CopyError> {
    let bad = || CopyError::Archive(format!("{shown}: owner out of range"));
    let uid = u32::try_from(h.uid().map_err(|_| bad())?).map_err(|_| bad())?;
    let gid = u32::try_from(h.gid().map_err(|_| bad())?).map_err(|_| bad())?;
    Ok((Uid::from_raw(uid), Gid::from_raw(gid)))
}

/// The directory `parent` of entry `target`, created (as `mkdir -p`) where missing, refused
/// when it is on a kernel file system of the container: checked on the deepest directory that
/// exists before anything is created, so not even a directory (a cgroup, in cgroupfs) is made
/// there.
fn parent_dir(root: &Root, parent: &RelPath, target: &RelPath) -> Result<OwnedFd, CopyError> {
    let refused = || CopyError::KernelFs {
        path: target.to_string(),
    };
    let creating = |e| CopyError::io("creating", parent.to_string())(e);
    match root.open_dir(parent) {
        Ok(dir) if super::is_kernel_fs(&dir) => return Err(refused()),
        Ok(dir) => return Ok(dir),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        Err(e) => return Err(creating(e)),
    }
    for n in (0..parent.components().len()).rev() {
        match root.open_dir(&parent.prefix(n)) {
            Ok(dir) if super::is_kernel_fs(&dir) => return Err(refused()),
            Ok(_) => break,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(creating(e)),
        }
    }
    root.mkdir_all(parent, |_| DirMeta::default())
        .map_err(creating)
}

/// Extracts `input` under `dest` inside `root`; with `rename_first`, each entry's first path
/// component is replaced by it (copying `a` to a new name `b`). Returns the number of entries.
pub fn extract_tar<R: Read>(
    root: &Root,
    dest: &RelPath,
    rename_first: Option<&OsStr>,
    owners: Owners,
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
        let dir = parent_dir(root, &parent, &target)?;
        let mode = entry.header().mode().unwrap_or(0o644) & 0o7777;
        let existing = lstat_at(&dir, name).map_err(CopyError::io("lstat", target.to_string()))?;
        let shown = target.to_string();
        let ids = match owners {
            Owners::FromArchive => Some(header_ids(entry.header(), &shown)?),
            Owners::Caller => None,
        };
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
                if let Some(ids) = ids {
                    // Through a descriptor of the directory itself: a link put in its place
                    // since is refused (O_NOFOLLOW), never followed out of the root.
                    let fd = openat(
                        dir.as_fd(),
                        name,
                        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                        Mode::empty(),
                    )
                    .map_err(|e| {
                        CopyError::io("opening", shown.clone())(std::io::Error::from_raw_os_error(
                            e as i32,
                        ))
                    })?;
                    own_fd(&fd, ids, mode, &shown)?;
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
                if let Some(ids) = ids {
                    own_fd(&f, ids, mode, &shown)?;
                }
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
                if let Some((uid, gid)) = ids {
                    nix::unistd::fchownat(
                        dir.as_fd(),
                        name,
                        Some(uid),
                        Some(gid),
                        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                    )
                    .map_err(|e| {
                        CopyError::io("chown", shown.clone())(std::io::Error::from_raw_os_error(
                            e as i32,
                        ))
                    })?;
                }
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
        let n = extract_tar(
            &droot,
            &top,
            Some(OsStr::new("e")),
            Owners::Caller,
            &tar[..],
        )
        .unwrap();
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

    #[test]
    fn owners_come_from_the_archive_only_when_asked() {
        if !nix::unistd::geteuid().is_root() {
            return; // chown needs root; the CI runs as root
        }
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o2755);
        h.set_uid(1234);
        h.set_gid(2345);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, "f", &b"x\n"[..]).unwrap();
        let tar = b.into_inner().unwrap();
        let top = RelPath::parse(Path::new("/")).unwrap();
        for (owners, want) in [
            (Owners::Caller, (0, 0)),
            (Owners::FromArchive, (1234, 2345)),
        ] {
            let dst = tempfile::tempdir().unwrap();
            let root = Root::open(dst.path()).unwrap();
            extract_tar(&root, &top, None, owners, &tar[..]).unwrap();
            let md = std::fs::metadata(dst.path().join("f")).unwrap();
            use std::os::unix::fs::MetadataExt;
            assert_eq!((md.uid(), md.gid()), want, "{owners:?}");
            if owners == Owners::FromArchive {
                assert_eq!(md.mode() & 0o7777, 0o2755, "setgid lost in the chown");
            }
        }
    }
}

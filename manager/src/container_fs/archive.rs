//! A tar of a path inside a container root (`berth cp CONTAINER:PATH ...`). The walk opens every
//! file relative to its directory without following links, never opens FIFOs or devices (their
//! headers are written without data), and stores symlinks as links.

use super::CopyError;
use crate::rootfs_fs::{list_dir, lstat_at, RelPath, Root};
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{Mode, SFlag};
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// Writes a tar of `rel` (already resolved, see [`super::resolve`]) into `out`, its top entry
/// named `name`. [`CopyError::NotFound`] (with `shown` as the path) when there is nothing there.
pub fn write_tar<W: Write>(
    root: &Root,
    rel: &RelPath,
    name: &Path,
    shown: &str,
    container: &str,
    out: W,
) -> Result<W, CopyError> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    let not_found = || CopyError::NotFound {
        path: shown.to_string(),
        container: container.to_string(),
    };
    match rel.split_last() {
        None => {
            let dir = root.open_dir(rel).map_err(CopyError::io("opening", "/"))?;
            add_dir_children(&mut b, &dir, name)?;
        }
        Some((parent, last)) => {
            let dir = match root.open_dir(&parent) {
                Ok(d) => d,
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                    return Err(not_found())
                }
                Err(e) => return Err(CopyError::io("opening", parent.to_string())(e)),
            };
            if super::is_kernel_fs(&dir) {
                return Err(CopyError::KernelFs {
                    path: shown.to_string(),
                });
            }
            if lstat_at(&dir, last)
                .map_err(CopyError::io("lstat", rel.to_string()))?
                .is_none()
            {
                return Err(not_found());
            }
            add_entry(&mut b, &dir, last, name)?;
        }
    }
    b.into_inner()
        .map_err(|e| CopyError::Archive(format!("finishing the tar: {e}")))
}

fn tar_err(path: &Path) -> impl FnOnce(std::io::Error) -> CopyError + '_ {
    move |e| CopyError::Archive(format!("{}: {e}", path.display()))
}

fn add_dir_children<W: Write>(
    b: &mut tar::Builder<W>,
    dir: &OwnedFd,
    name: &Path,
) -> Result<(), CopyError> {
    let mut names = list_dir(dir).map_err(CopyError::io("listing", name))?;
    names.sort();
    for n in names {
        add_entry(b, dir, &n, &name.join(&n))?;
    }
    Ok(())
}

fn add_entry<W: Write>(
    b: &mut tar::Builder<W>,
    dir: &OwnedFd,
    entry: &OsStr,
    path: &Path,
) -> Result<(), CopyError> {
    let Some(st) = lstat_at(dir, entry).map_err(CopyError::io("lstat", path))? else {
        // Removed while we walked: nothing to copy.
        return Ok(());
    };
    let mut h = tar::Header::new_gnu();
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid.into());
    h.set_gid(st.st_gid.into());
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    let open = |flags: OFlag| {
        openat(
            dir.as_fd(),
            entry,
            flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| CopyError::io("opening", path)(std::io::Error::from_raw_os_error(e as i32)))
    };
    if kind == SFlag::S_IFDIR {
        h.set_entry_type(tar::EntryType::Directory);
        b.append_data(&mut h, path, std::io::empty())
            .map_err(tar_err(path))?;
        let sub = open(OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
        // A kernel file system mounted there (the container's /proc, /sys) is copied as the
        // empty directory `docker cp` shows.
        if !super::is_kernel_fs(&sub) {
            add_dir_children(b, &sub, path)?;
        }
    } else if kind == SFlag::S_IFREG {
        // O_NONBLOCK: if the file was swapped for a FIFO since the lstat, opening cannot hang.
        let f = std::fs::File::from(open(OFlag::O_RDONLY | OFlag::O_NONBLOCK)?);
        let meta = f.metadata().map_err(CopyError::io("fstat", path))?;
        if !meta.is_file() || super::is_kernel_fs(&f) {
            return Ok(());
        }
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(meta.len());
        b.append_data(&mut h, path, f.take(meta.len()))
            .map_err(tar_err(path))?;
    } else if kind == SFlag::S_IFLNK {
        let target = nix::fcntl::readlinkat(dir, entry).map_err(|e| {
            CopyError::io("readlink", path)(std::io::Error::from_raw_os_error(e as i32))
        })?;
        h.set_entry_type(tar::EntryType::Symlink);
        b.append_link(&mut h, path, Path::new(&target))
            .map_err(tar_err(path))?;
    } else if kind == SFlag::S_IFIFO || kind == SFlag::S_IFCHR || kind == SFlag::S_IFBLK {
        h.set_entry_type(if kind == SFlag::S_IFIFO {
            tar::EntryType::Fifo
        } else if kind == SFlag::S_IFCHR {
            tar::EntryType::Char
        } else {
            tar::EntryType::Block
        });
        let (major, minor) = (libc::major(st.st_rdev), libc::minor(st.st_rdev));
        h.set_device_major(major)
            .and_then(|()| h.set_device_minor(minor))
            .map_err(tar_err(path))?;
        b.append_data(&mut h, path, std::io::empty())
            .map_err(tar_err(path))?;
    }
    // Sockets cannot be archived; Docker skips them too.
    Ok(())
}

//! Copying a directory tree with everything a rootfs needs kept: modes, owners, times, xattrs,
//! symlinks, hardlinks and device nodes. Used by the copying snapshotter. The source is one of
//! our own snapshot directories; symlinks are copied as symlinks, never followed.

use std::collections::HashMap;
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use filetime::FileTime;
use nix::sys::stat::{Mode, SFlag};

use super::SnapshotError;

struct Copier {
    /// (dev, ino) of multiply-linked files already copied → their copy.
    links: HashMap<(u64, u64), PathBuf>,
    /// Directory times, set last because filling a directory changes them.
    dir_times: Vec<(PathBuf, Metadata)>,
}

/// Copies the contents and metadata of `src` into the existing directory `dst`.
pub fn copy_tree(src: &Path, dst: &Path) -> Result<(), SnapshotError> {
    let mut c = Copier {
        links: HashMap::new(),
        dir_times: Vec::new(),
    };
    let m = fs::symlink_metadata(src).map_err(|e| SnapshotError::io("lstat", src, e))?;
    c.dir(src, dst)?;
    c.meta(src, dst, &m)?;
    c.dir_times.push((dst.to_path_buf(), m));
    for (p, m) in c.dir_times.iter().rev() {
        times(p, m)?;
    }
    Ok(())
}

fn times(p: &Path, m: &Metadata) -> Result<(), SnapshotError> {
    filetime::set_symlink_file_times(
        p,
        FileTime::from_last_access_time(m),
        FileTime::from_last_modification_time(m),
    )
    .map_err(|e| SnapshotError::io("utimensat", p, e))
}

impl Copier {
    fn dir(&mut self, src: &Path, dst: &Path) -> Result<(), SnapshotError> {
        for ent in fs::read_dir(src).map_err(|e| SnapshotError::io("readdir", src, e))? {
            let ent = ent.map_err(|e| SnapshotError::io("readdir", src, e))?;
            let s = ent.path();
            let d = dst.join(ent.file_name());
            let m = fs::symlink_metadata(&s).map_err(|e| SnapshotError::io("lstat", &s, e))?;
            let ft = m.file_type();
            if ft.is_dir() {
                fs::create_dir(&d).map_err(|e| SnapshotError::io("mkdir", &d, e))?;
                self.dir(&s, &d)?;
                self.meta(&s, &d, &m)?;
                self.dir_times.push((d, m));
                continue;
            }
            if m.nlink() > 1 {
                if let Some(first) = self.links.get(&(m.dev(), m.ino())) {
                    fs::hard_link(first, &d).map_err(|e| SnapshotError::io("link", &d, e))?;
                    continue;
                }
                self.links.insert((m.dev(), m.ino()), d.clone());
            }
            if ft.is_file() {
                // lstat said regular; open so that a swap since cannot make it anything else.
                let mut from = fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                    .open(&s)
                    .map_err(|e| SnapshotError::io("open", &s, e))?;
                let mut to = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&d)
                    .map_err(|e| SnapshotError::io("create", &d, e))?;
                io::copy(&mut from, &mut to).map_err(|e| SnapshotError::io("copy", &d, e))?;
            } else if ft.is_symlink() {
                let t = fs::read_link(&s).map_err(|e| SnapshotError::io("readlink", &s, e))?;
                std::os::unix::fs::symlink(&t, &d)
                    .map_err(|e| SnapshotError::io("symlink", &d, e))?;
            } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
                let kind = SFlag::from_bits_truncate(m.mode()) & SFlag::S_IFMT;
                nix::sys::stat::mknod(&d, kind, Mode::from_bits_truncate(0o600), m.rdev())
                    .map_err(|e| SnapshotError::io("mknod", &d, e.into()))?;
            } else {
                // Sockets belong to running processes, not to a filesystem image.
                continue;
            }
            self.meta(&s, &d, &m)?;
            times(&d, &m)?;
        }
        Ok(())
    }

    /// Owner, mode (after chown, which clears set-id bits), then xattrs (after chown, which
    /// clears security.capability).
    fn meta(&self, src: &Path, dst: &Path, m: &Metadata) -> Result<(), SnapshotError> {
        std::os::unix::fs::lchown(dst, Some(m.uid()), Some(m.gid()))
            .map_err(|e| SnapshotError::io("lchown", dst, e))?;
        let symlink = m.file_type().is_symlink();
        if !symlink {
            fs::set_permissions(dst, fs::Permissions::from_mode(m.mode() & 0o7777))
                .map_err(|e| SnapshotError::io("chmod", dst, e))?;
        }
        let names = match xattr::list(src) {
            Ok(n) => n,
            Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(()),
            Err(e) => return Err(SnapshotError::io("llistxattr", src, e)),
        };
        for n in names {
            let Some(v) =
                xattr::get(src, &n).map_err(|e| SnapshotError::io("lgetxattr", src, e))?
            else {
                continue;
            };
            match xattr::set(dst, &n, &v) {
                Ok(()) => {}
                // Symlinks cannot carry user.* xattrs; some filesystems have no xattrs at all.
                Err(e) if symlink || e.raw_os_error() == Some(libc::ENOTSUP) => {}
                Err(e) => return Err(SnapshotError::io("lsetxattr", dst, e)),
            }
        }
        Ok(())
    }
}

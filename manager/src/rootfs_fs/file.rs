//! Regular files inside a [`Root`]: found without following the last component, type-checked
//! on an `O_PATH` descriptor, then reopened for I/O through that descriptor, so the file used is
//! exactly the one checked and nothing but a regular file is ever opened for reading or writing.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, FileStat, Mode, SFlag};

use super::{RelPath, Root};

/// Size limit for the account and host files read from an image (`/etc/passwd`, `/etc/group`):
/// real ones are a few KiB; glibc's own readers have no use for more.
pub const MAX_ETC_FILE: u64 = 4 * 1024 * 1024;

/// Why a file inside a rootfs could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The path names a symlink; files inside a rootfs are never followed out of their place.
    #[error("{path} in {root} is a symbolic link, which is not followed")]
    Symlink {
        /// The path inside the root.
        path: String,
        /// The root (host path).
        root: PathBuf,
    },
    /// The path names a FIFO, device, socket or directory.
    #[error("{path} in {root} is a {kind}, not a regular file")]
    NotRegular {
        /// The path inside the root.
        path: String,
        /// The root (host path).
        root: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// The file is larger than the caller's limit.
    #[error("{path} in {root} is {size} bytes, more than the {limit} bytes allowed")]
    TooLarge {
        /// The path inside the root.
        path: String,
        /// The root (host path).
        root: PathBuf,
        /// Its size (at least; a file growing while read reports what was seen).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A system call failed.
    #[error("{op} {path} in {root}: {source}")]
    Io {
        /// The operation.
        op: &'static str,
        /// The path inside the root.
        path: String,
        /// The root (host path).
        root: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// What a `stat` describes when it is not a regular file (`None` for a regular file).
pub fn kind_of(st: &FileStat) -> Option<&'static str> {
    match SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT {
        SFlag::S_IFREG => None,
        SFlag::S_IFLNK => Some("symbolic link"),
        SFlag::S_IFDIR => Some("directory"),
        SFlag::S_IFIFO => Some("FIFO"),
        SFlag::S_IFCHR => Some("character device"),
        SFlag::S_IFBLK => Some("block device"),
        SFlag::S_IFSOCK => Some("socket"),
        _ => Some("special file"),
    }
}

impl Root {
    fn file_err(&self, op: &'static str, rel: &RelPath, e: impl Into<std::io::Error>) -> FileError {
        FileError::Io {
            op,
            path: rel.to_string(),
            root: self.path().to_path_buf(),
            source: e.into(),
        }
    }

    /// Finds `rel` without following its last component and checks it is a regular file;
    /// `None` when nothing is there. Returns the `O_PATH` descriptor and its `fstat`.
    fn find_regular(&self, rel: &RelPath) -> Result<Option<(OwnedFd, FileStat)>, FileError> {
        // O_PATH opens nothing: no FIFO blocks, no device driver runs, no symlink is followed.
        let fd = match self.open_at(rel, OFlag::O_PATH | OFlag::O_NOFOLLOW) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
            Err(e) => return Err(self.file_err("open", rel, e)),
        };
        let st = fstat(fd.as_fd()).map_err(|e| self.file_err("fstat", rel, e))?;
        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK {
            return Err(FileError::Symlink {
                path: rel.to_string(),
                root: self.path().to_path_buf(),
            });
        }
        match kind_of(&st) {
            None => Ok(Some((fd, st))),
            Some(kind) => Err(FileError::NotRegular {
                path: rel.to_string(),
                root: self.path().to_path_buf(),
                kind,
            }),
        }
    }

    /// Opens the very inode behind the `O_PATH` descriptor `fd` for I/O (`O_NONBLOCK` too, in
    /// case it is not what fstat said a moment ago: that cannot happen for one inode, but a
    /// blocking open in the daemon must be impossible whatever happens).
    fn reopen(&self, rel: &RelPath, fd: &OwnedFd, flags: OFlag) -> Result<File, FileError> {
        let proc_path = format!("/proc/self/fd/{}", fd.as_raw_fd());
        let f = nix::fcntl::open(
            proc_path.as_str(),
            flags | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| self.file_err("reopen", rel, e))?;
        let st = fstat(f.as_fd()).map_err(|e| self.file_err("fstat", rel, e))?;
        if let Some(kind) = kind_of(&st) {
            return Err(FileError::NotRegular {
                path: rel.to_string(),
                root: self.path().to_path_buf(),
                kind,
            });
        }
        Ok(File::from(f))
    }

    /// Reads the regular file `rel` if it is at most `limit` bytes; `None` when it does not exist.
    /// A symlink, FIFO, device, socket or directory there is an error, and so is a larger file
    /// (refused from its size before anything is read).
    pub fn read_regular(&self, rel: &RelPath, limit: u64) -> Result<Option<Vec<u8>>, FileError> {
        let Some((fd, st)) = self.find_regular(rel)? else {
            return Ok(None);
        };
        let too_large = |size: u64| FileError::TooLarge {
            path: rel.to_string(),
            root: self.path().to_path_buf(),
            size,
            limit,
        };
        let size = u64::try_from(st.st_size).unwrap_or(u64::MAX);
        if size > limit {
            return Err(too_large(size));
        }
        let f = self.reopen(rel, &fd, OFlag::O_RDONLY)?;
        let mut buf = Vec::with_capacity(size as usize);
        // The file may grow after the fstat: never read past the limit.
        f.take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(|e| self.file_err("read", rel, e))?;
        if buf.len() as u64 > limit {
            return Err(too_large(buf.len() as u64));
        }
        Ok(Some(buf))
    }

    /// Opens the regular file `rel` for reading (symlink, FIFO, device, socket or directory
    /// refused, as [`Root::read_regular`] does); `None` when it does not exist. Returns the file
    /// and its size, for callers that stream it.
    pub fn open_regular(&self, rel: &RelPath) -> Result<Option<(File, u64)>, FileError> {
        let Some((fd, st)) = self.find_regular(rel)? else {
            return Ok(None);
        };
        let f = self.reopen(rel, &fd, OFlag::O_RDONLY)?;
        Ok(Some((f, u64::try_from(st.st_size).unwrap_or(u64::MAX))))
    }

    /// Makes sure a regular file exists at `rel` (its parent directory must exist), creating an
    /// empty one with `mode` if nothing is there. Anything else there (symlink, FIFO, device,
    /// directory) is an error and is left untouched.
    pub fn ensure_regular(&self, rel: &RelPath, mode: u32) -> Result<(), FileError> {
        if self.find_regular(rel)?.is_some() {
            return Ok(());
        }
        // O_EXCL: never opens something that appeared meanwhile (nor follows a new symlink).
        let created = self.open_at_mode(
            rel,
            OFlag::O_CREAT
                | OFlag::O_EXCL
                | OFlag::O_WRONLY
                | OFlag::O_NOFOLLOW
                | OFlag::O_NONBLOCK
                | OFlag::O_NOCTTY,
            Mode::from_bits_truncate(mode),
        );
        match created {
            Ok(fd) => {
                nix::sys::stat::fchmod(fd.as_fd(), Mode::from_bits_truncate(mode))
                    .map_err(|e| self.file_err("fchmod", rel, e))?;
                Ok(())
            }
            // Someone made it between the two steps: check what it is.
            Err(e) if e.raw_os_error() == Some(Errno::EEXIST as i32) => {
                self.find_regular(rel).map(|_| ())
            }
            Err(e) => Err(self.file_err("create", rel, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn rel(p: &str) -> RelPath {
        RelPath::parse(Path::new(p)).unwrap()
    }

    fn root() -> (tempfile::TempDir, Root) {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        let r = Root::open(d.path()).unwrap();
        (d, r)
    }

    #[test]
    fn reads_regular_and_missing() {
        let (d, r) = root();
        std::fs::write(d.path().join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        let got = r.read_regular(&rel("/etc/passwd"), MAX_ETC_FILE).unwrap();
        assert_eq!(got.as_deref(), Some(&b"root:x:0:0::/root:/bin/sh\n"[..]));
        assert!(r
            .read_regular(&rel("/etc/group"), MAX_ETC_FILE)
            .unwrap()
            .is_none());
    }

    #[test]
    fn refuses_fifo_without_blocking() {
        let (d, r) = root();
        nix::unistd::mkfifo(
            &d.path().join("etc/passwd"),
            Mode::from_bits_truncate(0o644),
        )
        .unwrap();
        let e = r
            .read_regular(&rel("/etc/passwd"), MAX_ETC_FILE)
            .unwrap_err();
        assert!(
            matches!(e, FileError::NotRegular { kind: "FIFO", .. }),
            "{e}"
        );
        let e = r.ensure_regular(&rel("/etc/passwd"), 0o644).unwrap_err();
        assert!(
            matches!(e, FileError::NotRegular { kind: "FIFO", .. }),
            "{e}"
        );
    }

    #[test]
    fn refuses_symlinks_even_inside_the_root() {
        let (d, r) = root();
        std::fs::write(d.path().join("etc/real"), "x").unwrap();
        std::os::unix::fs::symlink("real", d.path().join("etc/passwd")).unwrap();
        std::os::unix::fs::symlink("/../../../../etc/shadow", d.path().join("etc/group")).unwrap();
        for f in ["/etc/passwd", "/etc/group"] {
            let e = r.read_regular(&rel(f), MAX_ETC_FILE).unwrap_err();
            assert!(matches!(e, FileError::Symlink { .. }), "{e}");
            let e = r.ensure_regular(&rel(f), 0o644).unwrap_err();
            assert!(matches!(e, FileError::Symlink { .. }), "{e}");
        }
    }

    #[test]
    fn intermediate_symlinks_stay_inside() {
        let (d, r) = root();
        std::fs::create_dir(d.path().join("real")).unwrap();
        std::fs::write(d.path().join("real/f"), "inside").unwrap();
        std::os::unix::fs::symlink("/../../real", d.path().join("up")).unwrap();
        let got = r.read_regular(&rel("/up/f"), 100).unwrap();
        assert_eq!(got.as_deref(), Some(&b"inside"[..]));
    }

    #[test]
    fn size_limit_is_checked_before_reading() {
        let (d, r) = root();
        let f = std::fs::File::create(d.path().join("etc/passwd")).unwrap();
        // Sparse: 1 GiB of apparent size costs nothing on disk, and reading it would show.
        f.set_len(1 << 30).unwrap();
        let e = r
            .read_regular(&rel("/etc/passwd"), MAX_ETC_FILE)
            .unwrap_err();
        assert!(
            matches!(e, FileError::TooLarge { size, .. } if size == 1 << 30),
            "{e}"
        );
    }

    #[test]
    fn ensure_creates_and_keeps() {
        let (d, r) = root();
        r.ensure_regular(&rel("/etc/hosts"), 0o644).unwrap();
        let p = d.path().join("etc/hosts");
        assert!(std::fs::symlink_metadata(&p).unwrap().is_file());
        std::fs::write(&p, "keep").unwrap();
        r.ensure_regular(&rel("/etc/hosts"), 0o644).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "keep");
        std::fs::create_dir(d.path().join("etc/dir")).unwrap();
        assert!(matches!(
            r.ensure_regular(&rel("/etc/dir"), 0o644),
            Err(FileError::NotRegular {
                kind: "directory",
                ..
            })
        ));
    }
}

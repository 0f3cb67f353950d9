//! Path resolution confined to a directory tree (a layer being unpacked, a container rootfs).
//!
//! Every lookup goes through `openat2(RESOLVE_IN_ROOT)`: the kernel resolves `..` and symlinks
//! (absolute or relative, including ones created moments earlier by the same layer) as if the
//! directory were `/`, so nothing can land outside it. Final components are only ever touched
//! with `*at` calls that do not follow symlinks.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat2, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstatat, mkdirat, Mode, SFlag};
use nix::unistd::UnlinkatFlags;

/// A relative path split into plain components (no `.`, `..` or root).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RelPath(Vec<OsString>);

impl RelPath {
    /// Normalises a path from an archive or a config: leading `/` and `.` are dropped; `..` is
    /// refused (`None`) because no legitimate layer entry needs it.
    pub fn parse(p: &Path) -> Option<RelPath> {
        let mut out = Vec::new();
        for c in p.components() {
            match c {
                Component::Normal(s) => out.push(s.to_os_string()),
                Component::RootDir | Component::CurDir => {}
                Component::ParentDir | Component::Prefix(_) => return None,
            }
        }
        Some(RelPath(out))
    }

    /// The components, outermost first.
    pub fn components(&self) -> &[OsString] {
        &self.0
    }

    /// True for the root itself.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Splits into the parent path and the final name (`None` for the root).
    pub fn split_last(&self) -> Option<(RelPath, &OsStr)> {
        let (last, parent) = self.0.split_last()?;
        Some((RelPath(parent.to_vec()), last.as_os_str()))
    }

    /// The parent joined with one more name.
    pub fn join(&self, name: &OsStr) -> RelPath {
        let mut v = self.0.clone();
        v.push(name.to_os_string());
        RelPath(v)
    }

    /// The prefix made of the first `n` components.
    pub fn prefix(&self, n: usize) -> RelPath {
        RelPath(self.0[..n].to_vec())
    }

    /// As a relative `PathBuf` (`.` for the root).
    pub fn to_path(&self) -> PathBuf {
        if self.0.is_empty() {
            return PathBuf::from(".");
        }
        self.0.iter().collect()
    }
}

impl std::fmt::Display for RelPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "/{}", self.to_path().display())
    }
}

/// An open directory treated as the root of every lookup made through it.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

fn errno_io(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

impl Root {
    /// Opens `path` (which must be a directory) as a root.
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno_io)?;
        Ok(Root {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Takes the directory descriptor `fd` (opened by the caller, e.g. after checking what a
    /// user-given path is) as a root; `path` is used in messages only.
    pub fn from_fd(fd: OwnedFd, path: &Path) -> Root {
        Root {
            fd,
            path: path.to_path_buf(),
        }
    }

    /// The host path of the root (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `rel` inside the root with `flags`, resolving symlinks within the root.
    pub fn open_at(&self, rel: &RelPath, flags: OFlag) -> io::Result<OwnedFd> {
        self.open_at_mode(rel, flags, Mode::empty())
    }

    /// [`Root::open_at`] with the permission bits for a file that `O_CREAT` makes.
    pub fn open_at_mode(&self, rel: &RelPath, flags: OFlag, mode: Mode) -> io::Result<OwnedFd> {
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .mode(mode)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let p = rel.to_path();
        match openat2(self.fd.as_fd(), &p, how) {
            Ok(fd) => Ok(fd),
            Err(Errno::ENOSYS) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "openat2 is not available (Linux 5.6 or later is required)",
            )),
            Err(e) => Err(errno_io(e)),
        }
    }

    /// Opens the directory `rel` inside the root.
    pub fn open_dir(&self, rel: &RelPath) -> io::Result<OwnedFd> {
        self.open_at(rel, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
    }

    /// Opens the directory `rel`, creating missing components with `mkdirat`. `meta` gives the
    /// mode/owner for each directory created (it receives the directory's path).
    pub fn mkdir_all(
        &self,
        rel: &RelPath,
        mut meta: impl FnMut(&RelPath) -> DirMeta,
    ) -> io::Result<OwnedFd> {
        match self.open_dir(rel) {
            Ok(fd) => return Ok(fd),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let mut parent = self.open_dir(&rel.prefix(0))?;
        for i in 1..=rel.components().len() {
            let here = rel.prefix(i);
            match self.open_dir(&here) {
                Ok(fd) => parent = fd,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    let name = &rel.components()[i - 1];
                    let m = meta(&here);
                    mkdirat(
                        parent.as_fd(),
                        name.as_os_str(),
                        Mode::from_bits_truncate(0o700),
                    )
                    .map_err(errno_io)?;
                    let fd = self.open_dir(&here)?;
                    nix::unistd::fchown(
                        fd.as_fd(),
                        Some(nix::unistd::Uid::from_raw(m.uid)),
                        Some(nix::unistd::Gid::from_raw(m.gid)),
                    )
                    .map_err(errno_io)?;
                    nix::sys::stat::fchmod(fd.as_fd(), Mode::from_bits_truncate(m.mode))
                        .map_err(errno_io)?;
                    parent = fd;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(parent)
    }
}

impl AsFd for Root {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Mode and owner for a directory created implicitly.
#[derive(Debug, Clone, Copy)]
pub struct DirMeta {
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

impl Default for DirMeta {
    fn default() -> Self {
        DirMeta {
            mode: 0o755,
            uid: 0,
            gid: 0,
        }
    }
}

/// `lstat` of `name` in `dir`; `None` when it does not exist.
pub fn lstat_at(dir: &impl AsFd, name: &OsStr) -> io::Result<Option<nix::sys::stat::FileStat>> {
    match fstatat(dir.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(errno_io(e)),
    }
}

/// True when the `st_mode` is a directory.
pub fn is_dir(st: &nix::sys::stat::FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
}

/// Removes `name` in `dir` whatever it is (a directory recursively); missing is fine.
pub fn remove_all_at(dir: &impl AsFd, name: &OsStr) -> io::Result<()> {
    let Some(st) = lstat_at(dir, name)? else {
        return Ok(());
    };
    if is_dir(&st) {
        let sub = nix::fcntl::openat(
            dir.as_fd(),
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno_io)?;
        clear_dir(&sub)?;
        nix::unistd::unlinkat(dir.as_fd(), name, UnlinkatFlags::RemoveDir).map_err(errno_io)?;
    } else {
        nix::unistd::unlinkat(dir.as_fd(), name, UnlinkatFlags::NoRemoveDir).map_err(errno_io)?;
    }
    Ok(())
}

/// Names in the directory `dir` (without `.` and `..`).
pub fn list_dir(dir: &impl AsFd) -> io::Result<Vec<OsString>> {
    let dup = nix::fcntl::openat(
        dir.as_fd(),
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno_io)?;
    let mut d = nix::dir::Dir::from_fd(dup).map_err(errno_io)?;
    let mut names = Vec::new();
    for ent in d.iter() {
        let ent = ent.map_err(errno_io)?;
        let n = ent.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    Ok(names)
}

/// Removes everything inside the directory `dir`, keeping `dir` itself.
pub fn clear_dir(dir: &impl AsFd) -> io::Result<()> {
    for n in list_dir(dir)? {
        remove_all_at(dir, &n)?;
    }
    Ok(())
}

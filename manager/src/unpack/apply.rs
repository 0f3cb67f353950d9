//! Writing the entries of one tar stream into the target directory.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fchmodat, mknodat, utimensat, FchmodatFlags, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, linkat, symlinkat, Gid, Uid};
use tar::{Archive, EntryType};

use super::{ApplyTarget, UnpackError, WhiteoutMode};
use crate::rootfs_fs::{self as in_root, DirMeta, RelPath, Root};

const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// Layers may not set overlayfs' own xattrs: they would forge whiteouts, redirects or metacopy.
const OVERLAY_XATTR_PREFIX: &[u8] = b"trusted.overlay.";

/// Mode, owner, times and xattrs of one entry.
struct EntryMeta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    xattrs: Vec<(OsString, Vec<u8>)>,
}

impl EntryMeta {
    fn read<R: Read>(e: &mut tar::Entry<R>) -> Result<EntryMeta, UnpackError> {
        let h = e.header();
        // Like Go's archive/tar (which wrote most layers), an empty numeric field reads as 0.
        let mut m = EntryMeta {
            mode: h.mode().unwrap_or(0) & 0o7777,
            uid: h.uid().unwrap_or(0) as u32,
            gid: h.gid().unwrap_or(0) as u32,
            mtime: h.mtime().unwrap_or(0) as i64,
            xattrs: Vec::new(),
        };
        if let Some(exts) = e.pax_extensions().map_err(UnpackError::Tar)? {
            for ext in exts {
                let ext = ext.map_err(UnpackError::Tar)?;
                let key = ext.key_bytes();
                let val = ext.value_bytes();
                let num = || {
                    std::str::from_utf8(val)
                        .ok()
                        .and_then(|s| s.split('.').next())
                        .and_then(|s| s.parse::<i64>().ok())
                };
                match key {
                    b"uid" => m.uid = num().unwrap_or(m.uid as i64) as u32,
                    b"gid" => m.gid = num().unwrap_or(m.gid as i64) as u32,
                    b"mtime" => m.mtime = num().unwrap_or(m.mtime),
                    _ => {
                        if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                            if !name.starts_with(OVERLAY_XATTR_PREFIX) {
                                m.xattrs
                                    .push((OsStr::from_bytes(name).to_os_string(), val.to_vec()));
                            }
                        }
                    }
                }
            }
        }
        Ok(m)
    }
}

struct Applier<'a> {
    target: &'a ApplyTarget,
    root: Root,
    lowers: Vec<Root>,
    /// Paths written by this layer: whiteouts only hide what lower layers have.
    created: HashSet<RelPath>,
    /// Directory mtimes, set at the end because creating children changes them.
    dir_times: Vec<(RelPath, i64)>,
    /// Bytes of paths kept in `created` and `dir_times`: bounded, so a layer of millions of
    /// entries with long names cannot exhaust memory.
    tracked: usize,
    /// Bytes written to regular files so far, and the most allowed: a sparse entry expands
    /// without reading more of the stream, so the stream's own bound is not enough.
    written: u64,
    budget: u64,
}

/// Most bytes of entry paths remembered while applying one layer (about 4 million typical paths).
pub(super) const MAX_TRACKED_PATHS: usize = 256 * 1024 * 1024;

fn path_bytes(rel: &RelPath) -> usize {
    rel.components().iter().map(|c| c.len() + 1).sum::<usize>() + 32
}

/// Applies every entry of the tar stream `r`, writing at most `budget` bytes of file data;
/// returns the number of entries.
pub(super) fn apply_tar(
    r: &mut impl Read,
    target: &ApplyTarget,
    budget: u64,
) -> Result<u64, UnpackError> {
    let root = Root::open(&target.dir).map_err(|e| UnpackError::Io {
        op: "open",
        path: "/".into(),
        target: target.dir.clone(),
        source: e,
    })?;
    let mut lowers = Vec::new();
    for l in &target.lowers {
        lowers.push(Root::open(l).map_err(|e| UnpackError::Io {
            op: "open lower",
            path: l.display().to_string(),
            target: target.dir.clone(),
            source: e,
        })?);
    }
    let mut a = Applier {
        target,
        root,
        lowers,
        created: HashSet::new(),
        dir_times: Vec::new(),
        tracked: 0,
        written: 0,
        budget,
    };
    let mut archive = Archive::new(r);
    let mut n = 0;
    for entry in archive.entries().map_err(UnpackError::Tar)? {
        let mut entry = entry.map_err(UnpackError::Tar)?;
        a.entry(&mut entry)?;
        n += 1;
    }
    a.finish()?;
    Ok(n)
}

fn unsafe_entry(display: &str, reason: impl Into<String>) -> UnpackError {
    UnpackError::UnsafeEntry {
        entry: display.to_string(),
        reason: reason.into(),
    }
}

fn ts(secs: i64) -> TimeSpec {
    TimeSpec::new(secs, 0)
}

impl Applier<'_> {
    fn err(&self, op: &'static str, path: &str, e: impl Into<io::Error>) -> UnpackError {
        let e: io::Error = e.into();
        match e.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => UnpackError::NoSpace {
                path: path.to_string(),
                target: self.target.dir.clone(),
            },
            _ => UnpackError::Io {
                op,
                path: path.to_string(),
                target: self.target.dir.clone(),
                source: e,
            },
        }
    }

    /// Mode and owner for a directory the layer needs but does not list: copied from the
    /// nearest lower layer that has it, so the implicit upper dir does not change them.
    fn implicit_meta(&self, rel: &RelPath) -> DirMeta {
        for l in &self.lowers {
            if let Ok(fd) = l.open_at(rel, OFlag::O_PATH | OFlag::O_DIRECTORY) {
                if let Ok(st) = nix::sys::stat::fstat(fd.as_fd()) {
                    return DirMeta {
                        mode: st.st_mode & 0o7777,
                        uid: st.st_uid,
                        gid: st.st_gid,
                    };
                }
            }
        }
        DirMeta::default()
    }

    fn parent_dir(&self, parent: &RelPath, display: &str) -> Result<OwnedFd, UnpackError> {
        self.root
            .mkdir_all(parent, |p| self.implicit_meta(p))
            .map_err(|e| self.err("open parent directory", display, e))
    }

    fn entry<R: Read>(&mut self, e: &mut tar::Entry<R>) -> Result<(), UnpackError> {
        let raw: PathBuf = e.path().map_err(UnpackError::Tar)?.into_owned();
        let display = raw.display().to_string();
        let rel = RelPath::parse(&raw)
            .ok_or_else(|| unsafe_entry(&display, "path contains a `..` component"))?;
        let Some((parent, name)) = rel.split_last() else {
            // The layer's root itself: the snapshot root keeps its own mode and owner.
            return Ok(());
        };
        let name = name.to_os_string();
        if let Some(rest) = name.as_bytes().strip_prefix(b".wh.") {
            if rest == b".wh..opq" {
                return self.opaque(&parent, &display);
            }
            if rest.starts_with(b".wh.") {
                // AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not image content.
                return Ok(());
            }
            if rest.is_empty() {
                return Err(unsafe_entry(&display, "whiteout without a name"));
            }
            return self.whiteout(&parent, OsStr::from_bytes(rest), &display);
        }
        let kind = e.header().entry_type();
        let meta = EntryMeta::read(e)?;
        let pfd = self.parent_dir(&parent, &display)?;
        match kind {
            EntryType::Directory => self.directory(&pfd, &name, &rel, &meta, &display)?,
            EntryType::Regular | EntryType::Continuous => {
                self.regular(&pfd, &name, e, &meta, &display)?
            }
            // The tar crate reads a sparse file's holes back as zeros, so a header alone could
            // make us write terabytes that no layer size limit counts. No OCI image tool
            // writes them (Go's archive/tar cannot).
            EntryType::GNUSparse => {
                return Err(unsafe_entry(&display, "GNU sparse files are not supported"))
            }
            EntryType::Symlink => {
                let target = e
                    .link_name()
                    .map_err(UnpackError::Tar)?
                    .ok_or_else(|| unsafe_entry(&display, "symlink without a target"))?
                    .into_owned();
                self.replace(&pfd, &name, &display)?;
                symlinkat(&target, pfd.as_fd(), name.as_os_str())
                    .map_err(|e| self.err("symlinkat", &display, e))?;
                self.owner_and_time(&pfd, &name, &meta, false, &display)?;
            }
            EntryType::Link => self.hardlink(&pfd, &name, e, &display)?,
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let sflag = match kind {
                    EntryType::Char => SFlag::S_IFCHR,
                    EntryType::Block => SFlag::S_IFBLK,
                    _ => SFlag::S_IFIFO,
                };
                let h = e.header();
                let major = h.device_major().ok().flatten().unwrap_or(0);
                let minor = h.device_minor().ok().flatten().unwrap_or(0);
                self.replace(&pfd, &name, &display)?;
                mknodat(
                    pfd.as_fd(),
                    name.as_os_str(),
                    sflag,
                    Mode::from_bits_truncate(0o600),
                    libc::makedev(major, minor),
                )
                .map_err(|e| self.err("mknodat", &display, e))?;
                self.owner_and_time(&pfd, &name, &meta, true, &display)?;
            }
            EntryType::XGlobalHeader | EntryType::XHeader => return Ok(()),
            other => {
                return Err(unsafe_entry(
                    &display,
                    format!("unsupported tar entry type {other:?}"),
                ))
            }
        }
        self.track(&rel)?;
        self.created.insert(rel);
        Ok(())
    }

    fn track(&mut self, rel: &RelPath) -> Result<(), UnpackError> {
        self.tracked += path_bytes(rel);
        if self.tracked > MAX_TRACKED_PATHS {
            return Err(UnpackError::TooManyEntries {
                limit: MAX_TRACKED_PATHS as u64,
            });
        }
        Ok(())
    }

    /// Removes whatever is at `name` so a new entry can take its place.
    fn replace(&self, pfd: &OwnedFd, name: &OsStr, display: &str) -> Result<(), UnpackError> {
        in_root::remove_all_at(pfd, name).map_err(|e| self.err("remove existing", display, e))
    }

    fn directory(
        &mut self,
        pfd: &OwnedFd,
        name: &OsStr,
        rel: &RelPath,
        meta: &EntryMeta,
        display: &str,
    ) -> Result<(), UnpackError> {
        let existing = in_root::lstat_at(pfd, name).map_err(|e| self.err("lstat", display, e))?;
        match existing {
            Some(st) if in_root::is_dir(&st) => {}
            Some(_) => {
                self.replace(pfd, name, display)?;
                self.mkdir(pfd, name, display)?;
            }
            None => self.mkdir(pfd, name, display)?,
        }
        let fd = openat(
            pfd.as_fd(),
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| self.err("open directory", display, e))?;
        let f = std::fs::File::from(fd);
        self.fd_meta(&f, meta, display)?;
        self.track(rel)?;
        self.dir_times.push((rel.clone(), meta.mtime));
        Ok(())
    }

    fn mkdir(&self, pfd: &OwnedFd, name: &OsStr, display: &str) -> Result<(), UnpackError> {
        nix::sys::stat::mkdirat(pfd.as_fd(), name, Mode::from_bits_truncate(0o700))
            .map_err(|e| self.err("mkdirat", display, e))
    }

    /// Owner, then mode (chown clears set-id bits), then xattrs (chown clears
    /// security.capability), on an open file or directory.
    fn fd_meta(&self, f: &std::fs::File, m: &EntryMeta, display: &str) -> Result<(), UnpackError> {
        nix::unistd::fchown(
            f.as_fd(),
            Some(Uid::from_raw(m.uid)),
            Some(Gid::from_raw(m.gid)),
        )
        .map_err(|e| self.err("fchown", display, e))?;
        nix::sys::stat::fchmod(f.as_fd(), Mode::from_bits_truncate(m.mode))
            .map_err(|e| self.err("fchmod", display, e))?;
        for (k, v) in &m.xattrs {
            xattr::FileExt::set_xattr(f, k, v).map_err(|e| self.err("fsetxattr", display, e))?;
        }
        Ok(())
    }

    fn regular<R: Read>(
        &mut self,
        pfd: &OwnedFd,
        name: &OsStr,
        e: &mut tar::Entry<R>,
        meta: &EntryMeta,
        display: &str,
    ) -> Result<(), UnpackError> {
        self.replace(pfd, name, display)?;
        let fd = openat(
            pfd.as_fd(),
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| self.err("create", display, e))?;
        let mut f = std::fs::File::from(fd);
        let mut buf = vec![0u8; 128 * 1024];
        loop {
            let n = e.read(&mut buf).map_err(UnpackError::Tar)?;
            if n == 0 {
                break;
            }
            self.written += n as u64;
            if self.written > self.budget {
                return Err(UnpackError::TooLarge {
                    limit: self.budget,
                    limits: Default::default(),
                    compressed: 0,
                });
            }
            f.write_all(&buf[..n])
                .map_err(|err| self.err("write", display, err))?;
        }
        self.fd_meta(&f, meta, display)?;
        let t = ts(meta.mtime);
        nix::sys::stat::futimens(f.as_fd(), &t, &t).map_err(|e| self.err("futimens", display, e))
    }

    fn hardlink<R: Read>(
        &self,
        pfd: &OwnedFd,
        name: &OsStr,
        e: &mut tar::Entry<R>,
        display: &str,
    ) -> Result<(), UnpackError> {
        let link = e
            .link_name()
            .map_err(UnpackError::Tar)?
            .ok_or_else(|| unsafe_entry(display, "hardlink without a target"))?
            .into_owned();
        let trel = RelPath::parse(&link)
            .ok_or_else(|| unsafe_entry(display, "hardlink target contains `..`"))?;
        let (tparent, tname) = trel
            .split_last()
            .ok_or_else(|| unsafe_entry(display, "hardlink to the root directory"))?;
        // The target's directory is resolved inside the root; its last component is linked
        // as is (linkat does not follow it), so a link can only ever name a file in the tree.
        let tfd = self
            .root
            .open_dir(&tparent)
            .map_err(|e| self.err("open hardlink target directory", display, e))?;
        self.replace(pfd, name, display)?;
        linkat(tfd.as_fd(), tname, pfd.as_fd(), name, AtFlags::empty())
            .map_err(|e| self.err("linkat", display, e))
    }

    /// Metadata for entries we cannot open (symlinks, devices, fifos).
    fn owner_and_time(
        &self,
        pfd: &OwnedFd,
        name: &OsStr,
        m: &EntryMeta,
        set_mode: bool,
        display: &str,
    ) -> Result<(), UnpackError> {
        fchownat(
            pfd.as_fd(),
            name,
            Some(Uid::from_raw(m.uid)),
            Some(Gid::from_raw(m.gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| self.err("fchownat", display, e))?;
        if set_mode {
            // Only called for nodes this applier just created, never for a symlink.
            fchmodat(
                pfd.as_fd(),
                name,
                Mode::from_bits_truncate(m.mode),
                FchmodatFlags::FollowSymlink,
            )
            .map_err(|e| self.err("fchmodat", display, e))?;
            let via_proc = PathBuf::from(format!("/proc/self/fd/{}", pfd.as_raw_fd())).join(name);
            for (k, v) in &m.xattrs {
                xattr::set(&via_proc, k, v).map_err(|e| self.err("lsetxattr", display, e))?;
            }
        }
        let t = ts(m.mtime);
        utimensat(pfd.as_fd(), name, &t, &t, UtimensatFlags::NoFollowSymlink)
            .map_err(|e| self.err("utimensat", display, e))
    }

    fn whiteout(
        &mut self,
        parent: &RelPath,
        name: &OsStr,
        display: &str,
    ) -> Result<(), UnpackError> {
        if self.created.contains(&parent.join(name)) {
            // A whiteout hides lower layers only, never what this layer wrote.
            return Ok(());
        }
        match self.target.whiteouts {
            WhiteoutMode::Overlay => {
                let pfd = self.parent_dir(parent, display)?;
                self.replace(&pfd, name, display)?;
                mknodat(pfd.as_fd(), name, SFlag::S_IFCHR, Mode::empty(), 0)
                    .map_err(|e| self.err("mknodat whiteout", display, e))?;
            }
            WhiteoutMode::Delete => match self.root.open_dir(parent) {
                Ok(pfd) => self.replace(&pfd, name, display)?,
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR)) => {}
                Err(e) => return Err(self.err("open whiteout directory", display, e)),
            },
        }
        Ok(())
    }

    fn opaque(&mut self, dir: &RelPath, display: &str) -> Result<(), UnpackError> {
        match self.target.whiteouts {
            WhiteoutMode::Overlay => {
                let fd = self.parent_dir(dir, display)?;
                let f = std::fs::File::from(fd);
                xattr::FileExt::set_xattr(&f, OVERLAY_OPAQUE_XATTR, b"y")
                    .map_err(|e| self.err("fsetxattr trusted.overlay.opaque", display, e))?;
            }
            WhiteoutMode::Delete => {
                let fd = match self.root.open_dir(dir) {
                    Ok(fd) => fd,
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
                    Err(e) => return Err(self.err("open opaque directory", display, e)),
                };
                let names = in_root::list_dir(&fd).map_err(|e| self.err("readdir", display, e))?;
                for n in names {
                    if !self.created.contains(&dir.join(&n)) {
                        self.replace(&fd, &n, display)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), UnpackError> {
        for (rel, mtime) in self.dir_times.iter().rev() {
            let Some((parent, name)) = rel.split_last() else {
                continue;
            };
            let display = rel.to_string();
            let pfd = match self.root.open_dir(&parent) {
                Ok(fd) => fd,
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR)) => {
                    continue
                }
                Err(e) => return Err(self.err("open", &display, e)),
            };
            let t = ts(*mtime);
            match utimensat(pfd.as_fd(), name, &t, &t, UtimensatFlags::NoFollowSymlink) {
                Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
                Err(e) => return Err(self.err("utimensat", &display, e)),
            }
        }
        Ok(())
    }
}

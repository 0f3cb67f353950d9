//! Files of a container's root filesystem as `berth cp` reaches them: user paths resolved
//! inside the container root (never on the host), a tar of a path out of it, a tar into it.
//!
//! Every open goes through [`crate::rootfs_fs::Root`] (`openat2(RESOLVE_IN_ROOT)`), so the
//! kernel keeps `..` and symlinks inside the root whatever the tree holds. On top of that,
//! [`resolve::resolve`] refuses a path that tries to climb above the root (through `..` in the
//! path or in a symlink's target) with a clear error instead of silently clamping it.
//!
//! While the container's init runs, the root is the container's own view of its file system
//! ([`open_root`]): volumes, tmpfs and every other mount in it are reached as the container sees
//! them, as `docker cp` reaches volumes.

pub mod archive;
pub mod extract;
pub mod resolve;
pub mod stream;

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use crate::rootfs_fs::Root;

/// Errors of copying files in or out of a container root.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The path climbs above the container root.
    #[error("{path}: the path escapes the container's root filesystem (through '..' or a symlink); refused")]
    Escape {
        /// The path as given.
        path: String,
    },
    /// Nothing at the path.
    #[error("Could not find the file {path} in container {container}")]
    NotFound {
        /// The path as given.
        path: String,
        /// Container name or id.
        container: String,
    },
    /// Too many symlinks.
    #[error("{path}: too many levels of symbolic links")]
    Loop {
        /// The path as given.
        path: String,
    },
    /// A file system call failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// The call.
        what: &'static str,
        /// Where (inside the root, or on the host for the client).
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The path is on a kernel file system (proc, sysfs, cgroup, ...) of the container.
    #[error("{path}: on a kernel file system (proc, sysfs, cgroup, ...) of the container; berth cp does not copy in or out of it")]
    KernelFs {
        /// The path as given, or the entry's path inside the root.
        path: String,
    },
    /// The archive sent in was not a valid tar or had an entry that cannot be written.
    #[error("archive: {0}")]
    Archive(String),
}

impl CopyError {
    /// A failed call on `path`.
    pub fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| CopyError::Io { what, path, source }
    }
}

/// The root a copy works in, for container `id` whose root file system berthd mounted at
/// `rootfs`. With the pid of its running (or paused) init, the init's root
/// (`/proc/<init>/root`): the mounts of the container's mount namespace (bind-mounted volumes,
/// tmpfs) are crossed there as inside the container. It is used only when it is the very
/// directory at `rootfs` (same device and inode), which also tells that `init` is still that
/// container's process and not a reused pid; otherwise, and for a stopped container, the
/// rootfs directory itself (which has none of the container's mounts).
pub fn open_root(id: &str, rootfs: &Path, init: Option<u32>) -> Result<Root, CopyError> {
    let host = Root::open(rootfs).map_err(CopyError::io("opening the rootfs of", id))?;
    let Some(pid) = init else {
        return Ok(host);
    };
    let proc_root = PathBuf::from(format!("/proc/{pid}/root"));
    let Ok(theirs) = Root::open(&proc_root) else {
        return Ok(host);
    };
    let same = match (
        nix::sys::stat::fstat(host.as_fd()),
        nix::sys::stat::fstat(theirs.as_fd()),
    ) {
        (Ok(a), Ok(b)) => a.st_dev == b.st_dev && a.st_ino == b.st_ino,
        _ => false,
    };
    Ok(if same { theirs } else { host })
}

/// True when `fd` is on one of the kernel's pseudo file systems (proc, sysfs, cgroup, debugfs,
/// ...), as a running container's root has them mounted. `berth cp` neither reads nor writes
/// through them: `docker cp` never sees them either, their sizes are not their contents (a
/// privileged container's /proc/kcore), and what is not namespaced in a privileged container's
/// /proc/sys or /sys is the host's.
pub fn is_kernel_fs(fd: impl AsFd) -> bool {
    use nix::sys::statfs::{
        fstatfs, BPF_FS_MAGIC, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC, DEBUGFS_MAGIC,
        DEVPTS_SUPER_MAGIC, PROC_SUPER_MAGIC, SECURITYFS_MAGIC, SYSFS_MAGIC, TRACEFS_MAGIC,
    };
    let Ok(st) = fstatfs(fd) else {
        // Unknown: treated as one, so nothing is read or written through it.
        return true;
    };
    [
        PROC_SUPER_MAGIC,
        SYSFS_MAGIC,
        CGROUP_SUPER_MAGIC,
        CGROUP2_SUPER_MAGIC,
        DEBUGFS_MAGIC,
        TRACEFS_MAGIC,
        SECURITYFS_MAGIC,
        BPF_FS_MAGIC,
        DEVPTS_SUPER_MAGIC,
    ]
    .contains(&st.filesystem_type())
}

//! Files of a container's root filesystem as `berth cp` reaches them: user paths resolved
//! inside the container root (never on the host), a tar of a path out of it, a tar into it.
//!
//! Every open goes through [`crate::rootfs_fs::Root`] (`openat2(RESOLVE_IN_ROOT)`), so the
//! kernel keeps `..` and symlinks inside the root whatever the tree holds. On top of that,
//! [`resolve::resolve`] refuses a path that tries to climb above the root (through `..` in the
//! path or in a symlink's target) with a clear error instead of silently clamping it.
//!
//! Kept apart from the hardening work's `rootfs_fs` module so the two can be merged; the opens
//! here use only the `Root` that is already on main.

pub mod archive;
pub mod extract;
pub mod resolve;
pub mod stream;

use std::path::PathBuf;

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

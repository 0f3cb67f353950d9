//! The library's error type: every variant names the container, file or syscall involved.

use std::path::PathBuf;

use crate::cgroups::CgroupError;

/// Result alias used throughout the runtime library.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in a container operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No state directory exists for this id.
    #[error("container \"{0}\" does not exist")]
    NotExist(String),
    /// A container with this id already exists under the state root.
    #[error("container with id exists: {0}")]
    Exists(String),
    /// The id is empty, too long, or contains characters other than `[A-Za-z0-9_+.-]`.
    #[error("invalid container ID format: {0:?}")]
    InvalidId(String),
    /// The operation is not allowed in the container's current state.
    #[error("{0}")]
    WrongState(String),
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the file.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A syscall failed.
    #[error("{context}: {source}")]
    Sys {
        /// What was being done, naming the syscall and its target.
        context: String,
        /// The underlying errno.
        source: nix::Error,
    },
    /// config.json is unreadable, malformed or asks for something invalid.
    #[error("{path}: {msg}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong with it.
        msg: String,
    },
    /// The config asks for a feature this runtime does not implement.
    #[error("{0} is not supported yet by berth-runc")]
    Unsupported(String),
    /// An invalid argument (signal name, flag value) was given.
    #[error("{0}")]
    InvalidArgument(String),
    /// Placing the container in its cgroup failed.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// A seccomp profile is invalid, or its filter could not be built, loaded or handed over.
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),
    /// A lifecycle hook failed.
    #[error("{0}")]
    Hook(String),
    /// The container's init reported an error while setting the container up.
    #[error("unable to start container process: {0}")]
    Init(String),
}

/// Adds a description (naming the file or syscall) to low-level errors.
pub trait Context<T> {
    /// Wraps the error with `context`.
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, std::io::Error> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Io {
            context: context(),
            source,
        })
    }
}

impl<T> Context<T> for std::result::Result<T, nix::Error> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Sys {
            context: context(),
            source,
        })
    }
}

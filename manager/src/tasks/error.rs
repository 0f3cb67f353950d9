//! Errors of the task manager.

use crate::oci_runtime::RuntimeError;

/// A task operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// No task with this id.
    #[error("task {0} not found")]
    NotFound(String),
    /// A task with this id already exists.
    #[error("task {0} already exists")]
    AlreadyExists(String),
    /// The id cannot name a task (empty, `/`, `..`, too long, …).
    #[error(
        "invalid task id {0:?}: use 1-64 characters from [A-Za-z0-9_.-], not starting with '.'"
    )]
    InvalidId(String),
    /// The operation needs a stopped task.
    #[error("task {0} is not stopped (stop it first or force)")]
    NotStopped(String),
    /// The operation needs a live task.
    #[error("task {0} is not running")]
    NotRunning(String),
    /// The bundle cannot be used as asked (e.g. its terminal setting contradicts the stdio).
    #[error("bundle for task {id}: {message}")]
    Bundle {
        /// Task id.
        id: String,
        /// What is wrong, naming the file.
        message: String,
    },
    /// The runtime failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The monitor failed to create the container or to report.
    #[error("monitor for task {id}: {message}")]
    Monitor {
        /// Task id.
        id: String,
        /// What went wrong (the runtime's error text for a failed create).
        message: String,
    },
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, naming the file or task.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The attach connection carried something unexpected.
    #[error("attach to task {id}: {message}")]
    Protocol {
        /// Task id.
        id: String,
        /// What was wrong.
        message: String,
    },
}

/// Builds a closure mapping an io::Error into [`TaskError::Io`] with context.
pub(crate) fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> TaskError {
    let what = what.into();
    move |source| TaskError::Io { what, source }
}

impl TaskError {
    /// For a create that failed because the container's command could not be executed, the
    /// exit code a shell (and Docker) reports: 127 when it was not found, 126 when it is not
    /// executable. `None` for every other error.
    pub fn exec_failure_code(&self) -> Option<i32> {
        let TaskError::Monitor { message, .. } = self else {
            return None;
        };
        let m = message.to_ascii_lowercase();
        if !m.contains("exec") {
            return None;
        }
        if m.contains("executable file not found") || m.contains("no such file or directory") {
            Some(127)
        } else if m.contains("permission denied") {
            Some(126)
        } else {
            None
        }
    }
}

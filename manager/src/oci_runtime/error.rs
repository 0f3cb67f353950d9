//! Errors from runtime calls.

use std::path::PathBuf;

/// A runtime call that failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The runtime binary could not be found.
    #[error("runtime {name:?} not found on PATH or next to {}", beside.display())]
    NotFound {
        /// Name or path that was looked up.
        name: String,
        /// Directory of the current executable that was also searched.
        beside: PathBuf,
    },
    /// The runtime could not be started.
    #[error("spawn {} {op} for {id}: {source}", binary.display())]
    Spawn {
        /// Runtime binary.
        binary: PathBuf,
        /// Operation (start, kill, …).
        op: &'static str,
        /// Container id.
        id: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The runtime exited with an error.
    #[error("{} {op} {id}: {message}", binary.display())]
    Failed {
        /// Runtime binary.
        binary: PathBuf,
        /// Operation.
        op: &'static str,
        /// Container id.
        id: String,
        /// The runtime's error message (last `error` log line, or stderr, or exit status).
        message: String,
    },
    /// The runtime did not finish in time and was killed.
    #[error("{} {op} {id} did not finish within {secs}s; killed it", binary.display())]
    Timeout {
        /// Runtime binary.
        binary: PathBuf,
        /// Operation.
        op: &'static str,
        /// Container id.
        id: String,
        /// The limit in seconds.
        secs: u64,
    },
    /// `state` printed something that is not the expected JSON.
    #[error("runtime state of {id}: {message}")]
    BadState {
        /// Container id.
        id: String,
        /// Parse error.
        message: String,
    },
}

impl RuntimeError {
    /// Whether the runtime said the container does not exist.
    pub fn is_not_found(&self) -> bool {
        match self {
            RuntimeError::Failed { message, .. } => {
                let m = message.to_ascii_lowercase();
                m.contains("does not exist") || m.contains("not found") || m.contains("no such")
            }
            _ => false,
        }
    }
}

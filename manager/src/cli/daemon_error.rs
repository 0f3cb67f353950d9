//! gRPC errors from berthd shown the way Docker shows daemon errors.

/// Wraps a daemon status as `Error response from daemon: …`.
pub fn daemon_error(status: tonic::Status) -> anyhow::Error {
    if status.code() == tonic::Code::Unavailable {
        return anyhow::anyhow!(
            "Cannot connect to the berth daemon: {}. Is berthd running?",
            status.message()
        );
    }
    anyhow::anyhow!("Error response from daemon: {}", status.message())
}

/// An error that carries the exit code the CLI must end with (Docker's 125/126/127 rules).
#[derive(Debug)]
pub struct ExitCodeError {
    /// Process exit code.
    pub code: i32,
    /// Message printed to stderr.
    pub message: String,
}

impl std::fmt::Display for ExitCodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExitCodeError {}

/// The exit code for a failed command: the one an [`ExitCodeError`] carries, else `default`.
pub fn exit_code_of(err: &anyhow::Error, default: i32) -> i32 {
    err.downcast_ref::<ExitCodeError>()
        .map(|e| e.code)
        .unwrap_or(default)
}

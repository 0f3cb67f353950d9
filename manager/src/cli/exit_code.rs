//! Exit codes of container commands: Docker's 125/126/127 for start failures, and the
//! container's own code for `run`, `start -a`.

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

/// The command finished and `berth` must exit with this code without printing anything more
/// (e.g. `run` returning the container's exit code).
#[derive(Debug, thiserror::Error)]
#[error("exit status {0}")]
pub struct ExitStatus(pub i32);

/// Turns a container command's exit code into the CLI's result: 0 is success, anything else an
/// [`ExitStatus`] for `main` to exit with.
pub fn finish(result: anyhow::Result<i32>) -> anyhow::Result<()> {
    match result? {
        0 => Ok(()),
        code => Err(ExitStatus(code).into()),
    }
}

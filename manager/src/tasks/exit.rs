//! Learning that a monitor has exited (pidfd) and reading the exit record it left.
//! (Opening pidfds: `crate::monitor::pidfd`.)

use super::error::{io_err, TaskError};
use super::types::ExitStatus;
use crate::monitor::layout::EXIT_FILE;
use serde::Deserialize;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::SystemTime;
use tokio::io::unix::AsyncFd;

#[derive(Deserialize)]
struct ExitJson {
    code: i32,
    signal: Option<i32>,
    exited_at: String,
    oom: bool,
}

/// Parses an exit record (the `exit.json` format, also the attach `EXIT` frame payload).
pub fn parse_exit_record(bytes: &[u8]) -> Result<ExitStatus, String> {
    let j: ExitJson = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let exited_at = chrono::DateTime::parse_from_rfc3339(&j.exited_at)
        .map(SystemTime::from)
        .map_err(|e| format!("exited_at {:?}: {e}", j.exited_at))?;
    Ok(ExitStatus {
        code: Some(j.code),
        signal: j.signal,
        exited_at: Some(exited_at),
        oom: j.oom,
    })
}

/// Reads `<dir>/exit.json`: `Ok(None)` when the monitor has not written it.
pub async fn read_exit_file(dir: &Path) -> Result<Option<ExitStatus>, TaskError> {
    let path = dir.join(EXIT_FILE);
    match tokio::fs::read(&path).await {
        Ok(bytes) => parse_exit_record(&bytes)
            .map(Some)
            .map_err(|message| TaskError::Io {
                what: format!("parse {}", path.display()),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, message),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(format!("read {}", path.display()))(e)),
    }
}

/// Waits until the process behind `pidfd` has exited.
pub async fn wait_pidfd(pidfd: OwnedFd) -> std::io::Result<()> {
    // SAFETY: the OwnedFd moved into the AsyncFd keeps the descriptor open and unchanged for
    // the AsyncFd's whole life.
    let afd = unsafe { AsyncFd::register(pidfd) }?;
    let _ready = afd.readable().await?;
    Ok(())
}

/// Whether `pid` is the monitor of the task whose state dir is `dir` (guards against pid reuse).
pub fn is_monitor_of(pid: u32, dir: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let want = dir.as_os_str().as_encoded_bytes();
    cmdline
        .split(|&b| b == 0)
        .collect::<Vec<_>>()
        .windows(2)
        .any(|w| w[0] == b"--state-dir" && w[1] == want)
}

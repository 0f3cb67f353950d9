//! Starting a monitor and reading its `created`/`error` report from the sync pipe.

use super::error::{io_err, TaskError};
use crate::monitor::args::MonitorArgs;
use nix::fcntl::OFlag;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Descriptor number on which the monitor finds the sync pipe.
const SYNC_FD: i32 = 3;

/// What the monitor reported after `runtime create`.
pub struct Report {
    /// Pid of the container init.
    pub init_pid: u32,
    /// Pid of the detached monitor.
    pub monitor_pid: u32,
}

/// Runs `monitor` with `args`, waits for its report (at most `timeout`).
pub async fn spawn_monitor(
    monitor: &Path,
    args: &MonitorArgs,
    timeout: Duration,
) -> Result<Report, TaskError> {
    let id = args.id.clone();
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| TaskError::Io {
        what: format!("pipe2 for monitor of {id}"),
        source: e.into(),
    })?;
    let mut args = args.clone();
    args.sync_fd = SYNC_FD;
    let mut cmd = tokio::process::Command::new(monitor);
    cmd.args(args.to_args())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let raw = write.as_raw_fd();
    // SAFETY: between fork and exec the closure only calls dup2 and fcntl, which are
    // async-signal-safe, on descriptors that exist in the child.
    unsafe {
        cmd.pre_exec(move || move_to_sync_fd(raw));
    }
    let (mut child, _claim) = crate::children::spawn(&mut cmd)
        .map_err(io_err(format!("spawn {} for {id}", monitor.display())))?;
    // Our copy of the write end must close so the pipe reaches EOF when the monitor closes it.
    drop(write);
    let mut stderr = child.stderr.take();
    let launcher = async {
        let status = child.wait().await;
        let mut err = String::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_string(&mut err).await;
        }
        (status, err)
    };
    let report = read_report(read);
    let (launch, report) =
        match tokio::time::timeout(timeout, async { tokio::join!(launcher, report) }).await {
            Ok(r) => r,
            Err(_) => {
                return Err(TaskError::Monitor {
                    id,
                    message: format!("no report within {}s", timeout.as_secs()),
                })
            }
        };
    let (status, stderr_text) = launch;
    let status = status.map_err(io_err(format!("wait for {}", monitor.display())))?;
    let text = report.map_err(io_err(format!("read report of monitor for {id}")))?;
    let parsed = parse_report(&id, &text);
    if parsed.is_err() {
        if let Some(pid) = launched_pid(&text) {
            // It exits after a failed create: reap it (it is berthd's child, see orphan).
            tokio::spawn(super::orphan::reap_when_gone(pid));
        }
    }
    parsed.map_err(|message| {
        let message = if message.is_empty() {
            format!(
                "monitor exited ({status}) without reporting: {}",
                stderr_text.trim()
            )
        } else {
            message
        };
        TaskError::Monitor {
            id: id.clone(),
            message,
        }
    })
}

fn move_to_sync_fd(raw: i32) -> std::io::Result<()> {
    if raw == SYNC_FD {
        // dup2 onto itself would keep close-on-exec set.
        // SAFETY: fcntl on a descriptor we own; async-signal-safe.
        if unsafe { libc::fcntl(raw, libc::F_SETFD, 0) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    } else {
        // SAFETY: dup2 between two descriptor numbers; async-signal-safe.
        if unsafe { libc::dup2(raw, SYNC_FD) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

async fn read_report(read: OwnedFd) -> std::io::Result<String> {
    let mut rx = tokio::net::unix::pipe::Receiver::from_owned_fd(read)?;
    let mut buf = Vec::new();
    rx.read_to_end(&mut buf).await?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// The pid in the launcher's `monitor <pid>` line: the detached monitor's.
fn launched_pid(text: &str) -> Option<u32> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("monitor "))
        .and_then(|p| p.parse().ok())
}

/// Parses `created|adopted <init pid> <monitor pid>` or `error <message>` (skipping the
/// launcher's `monitor <pid>` line); `Err("")` for no report.
fn parse_report(id: &str, text: &str) -> Result<Report, String> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.starts_with("monitor "))
        .unwrap_or("");
    // An adopting monitor (`--adopt`) reports `adopted <init pid> <monitor pid>`.
    if let Some(rest) = line
        .strip_prefix("created ")
        .or_else(|| line.strip_prefix("adopted "))
    {
        let mut it = rest.split_whitespace().map(str::parse::<u32>);
        if let (Some(Ok(init_pid)), Some(Ok(monitor_pid))) = (it.next(), it.next()) {
            return Ok(Report {
                init_pid,
                monitor_pid,
            });
        }
        return Err(format!("malformed report for {id}: {line:?}"));
    }
    if let Some(msg) = line.strip_prefix("error ") {
        return Err(msg.to_string());
    }
    if line.is_empty() {
        return Err(String::new());
    }
    Err(format!("malformed report for {id}: {line:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports() {
        let r = parse_report("c", "created 10 20\n").unwrap();
        assert_eq!((r.init_pid, r.monitor_pid), (10, 20));
        let r = parse_report("c", "monitor 20\ncreated 10 20\n").unwrap();
        assert_eq!((r.init_pid, r.monitor_pid), (10, 20));
        assert_eq!(
            parse_report("c", "error boom\nmonitor 20\n").err().unwrap(),
            "boom"
        );
        assert_eq!(launched_pid("error boom\nmonitor 20\n"), Some(20));
        assert_eq!(parse_report("c", "monitor 20\n").err().unwrap(), "");
        let r = parse_report("c", "adopted 10 30\n").unwrap();
        assert_eq!((r.init_pid, r.monitor_pid), (10, 30));
        assert_eq!(parse_report("c", "error boom\n").err().unwrap(), "boom");
        assert_eq!(parse_report("c", "").err().unwrap(), "");
        assert!(parse_report("c", "created x").is_err());
    }
}

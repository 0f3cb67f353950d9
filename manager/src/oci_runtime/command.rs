//! Running one runtime command with a timeout and turning its failure into a clean message.

use super::error::RuntimeError;
use super::log::last_error;
use super::Runtime;
use std::process::Stdio;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::process::Command;

/// Runs `<binary> --root R --log L --log-format json ARGS…`; returns its stdout.
pub async fn run(
    rt: &Runtime,
    op: &'static str,
    id: &str,
    args: &[&str],
) -> Result<Vec<u8>, RuntimeError> {
    let log_start = tokio::fs::metadata(&rt.log)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    let mut child = Command::new(&rt.binary)
        .arg("--root")
        .arg(&rt.root)
        .arg("--log")
        .arg(&rt.log)
        .args(["--log-format", "json"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| RuntimeError::Spawn {
            binary: rt.binary.clone(),
            op,
            id: id.to_string(),
            source,
        })?;
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let collect = async {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let read_out = async {
            if let Some(s) = stdout.as_mut() {
                let _ = s.read_to_end(&mut out).await;
            }
        };
        let read_err = async {
            if let Some(s) = stderr.as_mut() {
                let _ = s.read_to_end(&mut err).await;
            }
        };
        tokio::join!(read_out, read_err);
        let status = child.wait().await;
        (status, out, err)
    };
    let (status, out, err) = match tokio::time::timeout(rt.timeout, collect).await {
        Ok(r) => r,
        Err(_) => {
            // Dropping the future dropped the child handle: kill_on_drop kills exactly the
            // process we started; tokio reaps it in the background.
            return Err(RuntimeError::Timeout {
                binary: rt.binary.clone(),
                op,
                id: id.to_string(),
                secs: rt.timeout.as_secs(),
            });
        }
    };
    let status = status.map_err(|source| RuntimeError::Spawn {
        binary: rt.binary.clone(),
        op,
        id: id.to_string(),
        source,
    })?;
    if status.success() {
        return Ok(out);
    }
    let logged = read_log_from(&rt.log, log_start).await;
    let message = last_error(&logged)
        .or_else(|| {
            let e = String::from_utf8_lossy(&err).trim().to_string();
            (!e.is_empty()).then_some(e)
        })
        .unwrap_or_else(|| format!("exited with {status}"));
    Err(RuntimeError::Failed {
        binary: rt.binary.clone(),
        op,
        id: id.to_string(),
        message,
    })
}

async fn read_log_from(path: &std::path::Path, start: u64) -> String {
    let mut s = String::new();
    if let Ok(mut f) = tokio::fs::File::open(path).await {
        if f.seek(std::io::SeekFrom::Start(start)).await.is_ok() {
            let _ = f.read_to_string(&mut s).await;
        }
    }
    s
}

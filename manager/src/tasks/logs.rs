//! Reading a task's container log (format in [`crate::monitor`]'s log writer, docs/monitor.md).

use super::error::{io_err, TaskError};
use super::manager::TaskManager;
use super::types::{LogLine, LogOptions, LogStream};
use crate::monitor::layout::CONTAINER_LOG;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

/// How often a follower looks for new output.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// Parses one log entry line (without its newline).
pub fn parse_entry(line: &[u8], timestamps: bool) -> Option<LogLine> {
    let mut parts = line.splitn(4, |&b| b == b' ');
    let time = parts.next()?;
    let stream = match parts.next()? {
        b"stdout" => LogStream::Stdout,
        b"stderr" => LogStream::Stderr,
        _ => return None,
    };
    let partial = match parts.next()? {
        b"F" => false,
        b"P" => true,
        _ => return None,
    };
    let text = parts.next().unwrap_or_default().to_vec();
    Some(LogLine {
        time: timestamps.then(|| String::from_utf8_lossy(time).into_owned()),
        stream,
        partial,
        text,
    })
}

impl TaskManager {
    /// Streams the task's log. Without `follow` the channel closes at the end of the file;
    /// with it, reading goes on until the task has exited and its last output is read.
    pub async fn logs(
        &self,
        id: &str,
        opts: LogOptions,
    ) -> Result<mpsc::Receiver<Result<LogLine, TaskError>>, TaskError> {
        let e = self.lookup(id)?;
        let path = e.info.state_dir.join(CONTAINER_LOG);
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(io_err(format!("open {}", path.display())))?;
        let mut exit = e.exit.subscribe();
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(async move {
            let mut reader = BufReader::new(file);
            let mut pending: Vec<u8> = Vec::new();
            let mut tail: Option<VecDeque<LogLine>> = opts.tail.map(|_| VecDeque::new());
            let mut at_start = true;
            loop {
                // Seeing the exit before reading to EOF guarantees the final output is read.
                let exited = exit.borrow_and_update().is_some();
                let mut buf = Vec::new();
                let n = match reader.read_until(b'\n', &mut buf).await {
                    Ok(n) => n,
                    Err(err) => {
                        let _ = tx
                            .send(Err(io_err(format!("read {}", path.display()))(err)))
                            .await;
                        return;
                    }
                };
                if n > 0 {
                    pending.extend_from_slice(&buf);
                    if pending.last() != Some(&b'\n') {
                        // The monitor is mid-write: wait for the rest of the entry.
                        continue;
                    }
                    pending.pop();
                    let line = std::mem::take(&mut pending);
                    let Some(entry) = parse_entry(&line, opts.timestamps) else {
                        continue;
                    };
                    match (&mut tail, at_start) {
                        (Some(t), true) => {
                            t.push_back(entry);
                            if t.len() > opts.tail.unwrap_or(0) {
                                t.pop_front();
                            }
                        }
                        _ => {
                            if tx.send(Ok(entry)).await.is_err() {
                                return;
                            }
                        }
                    }
                    continue;
                }
                if at_start {
                    at_start = false;
                    for entry in tail.take().unwrap_or_default() {
                        if tx.send(Ok(entry)).await.is_err() {
                            return;
                        }
                    }
                }
                if !opts.follow || exited {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(FOLLOW_POLL) => {}
                    _ = exit.changed() => {}
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries() {
        let l = parse_entry(b"2026-01-01T00:00:00.000000001Z stdout F hello world", true).unwrap();
        assert_eq!(l.stream, LogStream::Stdout);
        assert!(!l.partial);
        assert_eq!(l.text, b"hello world");
        assert_eq!(l.time.as_deref(), Some("2026-01-01T00:00:00.000000001Z"));
        let p = parse_entry(b"t stderr P ", false).unwrap();
        assert!(p.partial && p.text.is_empty() && p.time.is_none());
        assert_eq!(p.bytes(), b"");
        assert!(parse_entry(b"t bogus F x", false).is_none());
    }
}

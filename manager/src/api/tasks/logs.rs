//! `Tasks.Logs`: the container's archived log, then its live task's log (each with its rotated
//! files, oldest first), optionally followed across rotations until the task stops and the log
//! is drained.

use super::BoxStream;
use crate::containers::{logs, Containers};
use berth_proto::v1 as pb;
use std::sync::Arc;
use std::time::Duration;
use tonic::Status;

/// The entries `r` asks for, as a stream.
pub(super) async fn stream(
    containers: &Arc<Containers>,
    r: pb::LogsRequest,
) -> Result<BoxStream<pb::LogsResponse>, Status> {
    let rec = containers.resolve(&r.container_id)?;
    let tail = (!r.tail_all).then_some(r.tail as usize);
    let read_err = |p: &std::path::Path, e: std::io::Error| {
        Status::internal(format!("reading {}: {e}", p.display()))
    };
    let (mut first, _) = logs::read_chain(&rec.log_path).map_err(|e| read_err(&rec.log_path, e))?;
    let path = containers.task(&rec.id).await?.and_then(|t| t.log_path);
    let mut follower = None;
    if let Some(live) = &path {
        let (entries, f) = logs::read_chain(live).map_err(|e| read_err(live, e))?;
        first.extend(entries);
        follower = Some(f);
    }
    let window = Window {
        since: r.since.as_ref().map(ts_nanos),
        until: r.until.as_ref().map(ts_nanos),
    };
    first.retain(|e| window.keeps(e));
    if let Some(t) = tail {
        let skip = first.len().saturating_sub(t);
        first.drain(..skip);
    }
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    let containers = Arc::clone(containers);
    let id = rec.id.clone();
    tokio::spawn(async move {
        for entry in first {
            if tx.send(Ok(entry)).await.is_err() {
                return;
            }
        }
        let (Some(path), Some(mut follower)) = (path.filter(|_| r.follow), follower) else {
            return;
        };
        // Follow: poll the log chain until the task is no longer live and the log is drained.
        loop {
            // Read once more after the task is seen stopped so its last output is sent.
            let live = containers.is_live(&id).await.unwrap_or(false);
            match follower.poll() {
                Ok(entries) => {
                    for entry in entries.into_iter().filter(|e| window.keeps(e)) {
                        if tx.send(Ok(entry)).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    let _ = tx
                        .send(Err(Status::internal(format!(
                            "reading {}: {e}",
                            path.display()
                        ))))
                        .await;
                    return;
                }
            }
            if !live || tx.is_closed() || window.passed() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
}

/// `--since` / `--until` as nanoseconds since the epoch.
#[derive(Debug, Clone, Copy)]
struct Window {
    since: Option<i128>,
    until: Option<i128>,
}

fn ts_nanos(t: &prost_types::Timestamp) -> i128 {
    i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos)
}

impl Window {
    /// Whether the entry's time is inside the window (entries without a time are kept).
    fn keeps(&self, e: &pb::LogsResponse) -> bool {
        let Some(t) = e.timestamp.as_ref().map(ts_nanos) else {
            return true;
        };
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u)
    }

    /// Whether `until` is in the past (following can stop).
    fn passed(&self) -> bool {
        self.until
            .is_some_and(|u| ts_nanos(&crate::events::now_timestamp()) > u)
    }
}

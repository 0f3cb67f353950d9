//! Container logs at the path kubelet gives. The monitor already writes kubelet's CRI format
//! (`<RFC3339Nano> stdout|stderr F|P <line>`) to the task's log in berthd's state directory;
//! this module appends its complete lines to the CRI log path, remembering the copied offset in
//! the container's record so a restarted berthd neither repeats nor loses lines. Opening the
//! path for every copy is what makes ReopenContainerLog work: after kubelet renames the file,
//! the next copy creates a new one.

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tonic::Status;

use super::store::CriStore;
use super::CriContext;
use crate::metadata::cri::CriContainerRecord;

/// How often running containers' output is copied.
const COPY_INTERVAL: Duration = Duration::from_millis(200);
/// At most this much is copied per container and pass (bounded memory).
const MAX_CHUNK: u64 = 4 << 20;

fn open_log(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Creates the (empty) log file before the container starts, so `crictl logs` finds it.
pub fn create_file(c: &CriContainerRecord) -> Result<(), Status> {
    if c.log_path.is_empty() {
        return Ok(());
    }
    open_log(Path::new(&c.log_path))
        .map(|_| ())
        .map_err(|e| Status::internal(format!("creating log file {}: {e}", c.log_path)))
}

/// Appends the complete lines of `live` after `offset` to `dest`; returns the new offset.
fn copy_lines(live: &Path, offset: u64, dest: &Path) -> std::io::Result<u64> {
    let mut src = match std::fs::File::open(live) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(offset),
        Err(e) => return Err(e),
    };
    let len = src.metadata()?.len();
    if len <= offset {
        return Ok(offset);
    }
    src.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::new();
    src.take((len - offset).min(MAX_CHUNK))
        .read_to_end(&mut buf)?;
    let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
        return Ok(offset);
    };
    open_log(dest)?.write_all(&buf[..=end])?;
    Ok(offset + end as u64 + 1)
}

async fn live_log(ctx: &CriContext, id: &str) -> Option<PathBuf> {
    ctx.containers.task(id).await.ok().flatten()?.log_path
}

/// Copies what the monitor wrote since the last copy (errors are logged: a full log disk must
/// not fail ContainerStatus).
pub async fn flush(ctx: &CriContext, store: &CriStore, id: &str) {
    let _guard = store.log_lock.lock().await;
    let Ok(mut c) = store.container(id) else {
        return;
    };
    if c.log_path.is_empty() {
        return;
    }
    let Some(live) = live_log(ctx, &c.id).await else {
        return;
    };
    let dest = PathBuf::from(&c.log_path);
    let offset = c.log_offset;
    let copied = tokio::task::spawn_blocking(move || {
        let mut off = offset;
        loop {
            let next = copy_lines(&live, off, &dest)?;
            if next == off {
                return Ok::<u64, std::io::Error>(off);
            }
            off = next;
        }
    })
    .await;
    match copied {
        Ok(Ok(off)) if off != c.log_offset => {
            c.log_offset = off;
            if let Err(e) = store.put_container(&c) {
                tracing::warn!(container = %c.id, error = %e, "recording the log offset");
            }
        }
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::warn!(container = %c.id, path = %c.log_path, error = %e, "copying container log")
        }
        Err(e) => tracing::warn!(container = %c.id, error = %e, "log copy task failed"),
    }
}

/// Copies every running container's new output, forever (one task per daemon).
pub fn spawn_copier(ctx: CriContext, store: CriStore) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(COPY_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Ok(all) = store.containers() else {
                continue;
            };
            for c in all.iter().filter(|c| !c.log_path.is_empty()) {
                flush(&ctx, &store, &c.id).await;
            }
        }
    });
}

/// ReopenContainerLog: the container must run; its next output goes to a new file at the path.
pub async fn reopen(ctx: &CriContext, store: &CriStore, q: &str) -> Result<(), Status> {
    let c = store.container(q)?;
    if !super::containers::is_running(ctx, &c.id).await {
        return Err(Status::failed_precondition(format!(
            "container {} is not running",
            c.id
        )));
    }
    flush(ctx, store, &c.id).await;
    create_file(&c)
}

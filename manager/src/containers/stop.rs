//! Stopping a task: the stop signal, the grace period, then SIGKILL to every process of the task,
//! all through the OCI runtime's `kill` (which works whether or not the task's monitor lives).
//! It returns only once the exit is known; a process that outlives even SIGKILL is an error,
//! never a quiet success.

use super::backend::{BackendError, ExitInfo, TaskBackend};
use std::time::Duration;

/// How long to wait for the exit after SIGKILL: the exit of an init whose monitor died may only
/// be known once its parent reaped it (see `tasks::orphan`), so this outlasts that wait.
const KILL_WAIT: Duration = Duration::from_secs(90);
/// How long to wait for the exit when the runtime refused a signal (the process may have just
/// exited on its own).
const REFUSED_WAIT: Duration = Duration::from_secs(10);

/// Stops task `id` (resumed first if `paused`): `signal`, up to `grace` for it to exit, then
/// SIGKILL to all its processes. Returns the exit.
pub async fn stop_task(
    tasks: &dyn TaskBackend,
    id: &str,
    signal: i32,
    grace: Duration,
    paused: bool,
) -> Result<ExitInfo, BackendError> {
    if paused {
        tasks.resume(id).await?;
    }
    if let Err(refused) = tasks.kill(id, signal, false).await {
        return wait_bounded(tasks, id, REFUSED_WAIT).await?.ok_or(refused);
    }
    if let Some(exit) = wait_bounded(tasks, id, grace).await? {
        return Ok(exit);
    }
    tracing::info!(container = id, "stop timeout expired; sending SIGKILL");
    kill_task(tasks, id, false).await
}

/// SIGKILLs every process of task `id` (resumed first if `paused`) and returns the exit. An
/// init that exits on its own between the caller's look and the kill (the runtime then refuses
/// the signal: "container not running") is what the kill wanted, not an error.
pub async fn kill_task(
    tasks: &dyn TaskBackend,
    id: &str,
    paused: bool,
) -> Result<ExitInfo, BackendError> {
    if paused {
        tasks.resume(id).await?;
    }
    if let Err(refused) = tasks.kill(id, libc::SIGKILL, true).await {
        return wait_bounded(tasks, id, REFUSED_WAIT).await?.ok_or(refused);
    }
    wait_bounded(tasks, id, KILL_WAIT).await?.ok_or_else(|| {
        BackendError::internal(format!(
            "container {id} did not exit within {}s of SIGKILL",
            KILL_WAIT.as_secs()
        ))
    })
}

/// The exit if it is known within `limit`.
async fn wait_bounded(
    tasks: &dyn TaskBackend,
    id: &str,
    limit: Duration,
) -> Result<Option<ExitInfo>, BackendError> {
    match tokio::time::timeout(limit, tasks.wait(id)).await {
        Ok(exit) => exit.map(Some),
        Err(_) => Ok(None),
    }
}

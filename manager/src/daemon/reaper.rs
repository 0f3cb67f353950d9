//! Reaping the orphans that come to berthd as a child subreaper and that nobody waits for.

use tokio::signal::unix::{signal, SignalKind};

use super::DaemonError;

/// A backstop for a SIGCHLD that arrived while the zombie was still claimed and whose claim
/// was released without a wake-up reaching us.
const SWEEP: std::time::Duration = std::time::Duration::from_secs(30);

/// Starts the reaper: on every SIGCHLD, released claim or sweep it reaps each zombie child
/// that no owner claims (see [`crate::children`]).
pub fn start() -> Result<tokio::task::JoinHandle<()>, DaemonError> {
    // Installed here, before any child exists, so that no SIGCHLD is missed.
    let mut sigchld = signal(SignalKind::child()).map_err(DaemonError::Signals)?;
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = sigchld.recv() => {}
                _ = crate::children::released() => {}
                _ = tokio::time::sleep(SWEEP) => {}
            }
            let reaped = match tokio::task::spawn_blocking(crate::children::reap_unclaimed).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "orphan reaper failed");
                    continue;
                }
            };
            if !reaped.is_empty() {
                tracing::debug!(pids = ?reaped, "reaped orphans no one waits for");
            }
        }
    }))
}

//! Shutdown on SIGTERM or SIGINT.

use tokio::signal::unix::{signal, SignalKind};

use super::DaemonError;

/// A future that resolves when SIGTERM or SIGINT arrives. Handlers are installed immediately, so a
/// signal that arrives before the future is polled is not lost.
pub fn shutdown_signal() -> Result<impl std::future::Future<Output = &'static str>, DaemonError> {
    let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    })
}

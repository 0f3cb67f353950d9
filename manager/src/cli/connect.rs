//! Connecting the CLI to berthd over its unix socket.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};

/// berthd cannot be reached.
#[derive(Debug, thiserror::Error)]
#[error("Cannot connect to the Berth daemon at unix://{}. Is berthd running? Start it with: berthd &", .0.display())]
pub struct DaemonUnreachable(pub PathBuf);

/// Opens a gRPC channel to the daemon at `socket`. Fails with [`DaemonUnreachable`] when nothing listens
/// there.
pub async fn connect(socket: &Path) -> Result<Channel, DaemonUnreachable> {
    let started = Instant::now();
    let channel = connect_untimed(socket).await?;
    // Only the first connection of the process is the "client -> daemon" step.
    let _ = FIRST_CONNECT.set(started.elapsed());
    Ok(channel)
}

/// How long the process's first connection to berthd took (`run --explain`).
pub fn first_connect() -> Option<Duration> {
    FIRST_CONNECT.get().copied()
}

static FIRST_CONNECT: OnceLock<Duration> = OnceLock::new();

async fn connect_untimed(socket: &Path) -> Result<Channel, DaemonUnreachable> {
    let path = socket.to_path_buf();
    // The URI is required by the API but unused: the connector below always dials the socket.
    let endpoint = Endpoint::from_static("http://berthd.local");
    let p = path.clone();
    endpoint
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let p = p.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(p).await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        }))
        .await
        .map_err(|_| DaemonUnreachable(path))
}

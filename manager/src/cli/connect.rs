//! Connecting the CLI to berthd over its unix socket.

use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};

/// berthd cannot be reached.
#[derive(Debug, thiserror::Error)]
#[error("Cannot connect to the Berth daemon at unix://{}. Is berthd running? Start it with: berthd &", .0.display())]
pub struct DaemonUnreachable(pub PathBuf);

/// Opens a gRPC channel to the daemon at `socket`. Fails with [`DaemonUnreachable`] when nothing listens
/// there.
pub async fn connect(socket: &Path) -> Result<Channel, DaemonUnreachable> {
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

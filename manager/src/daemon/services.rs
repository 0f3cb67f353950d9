//! Registration of every gRPC service on the daemon's server. A new service is one more
//! `.add_service(...)` line here.

use berth_proto::v1::content_server::ContentServer;
use berth_proto::v1::gc_server::GcServer;
use berth_proto::v1::images_server::ImagesServer;
use berth_proto::v1::snapshots_server::SnapshotsServer;
use berth_proto::v1::version_server::VersionServer;
use tonic::service::Routes;

use super::context::Context;
use super::version::VersionApi;
use crate::content::service::ContentApi;
use crate::gc::service::GcApi;
use crate::images::service::ImagesApi;
use crate::snapshots::service::SnapshotsService;

/// The CRI server on its own socket; [`CriServer::stop`] ends it and removes the socket.
pub struct CriServer {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
    _socket: super::socket::SocketGuard,
}

impl CriServer {
    /// Stops serving (in-flight calls get the same grace as the main socket's).
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(super::SHUTDOWN_GRACE, &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

/// Starts the CRI v1 server on `[cri] socket` (default `<state>/cri.sock`) unless `[cri]`
/// disables it.
pub fn serve_cri(ctx: &Context) -> Result<Option<CriServer>, super::DaemonError> {
    if !ctx.config.cri.enable {
        return Ok(None);
    }
    let path = ctx.config.cri_socket();
    let (listener, guard) = super::socket::bind(&path)?;
    let stream_addr = std::net::SocketAddr::new(
        ctx.config.cri.stream_server_address,
        ctx.config.cri.stream_server_port,
    );
    let (runtime, images) = crate::cri::services(
        ctx.containers
            .cri_context(&ctx.config, &ctx.metadata, &ctx.images),
        stream_addr,
    )?;
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(runtime)
            .add_service(images)
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::UnixListenerStream::new(listener),
                async {
                    let _ = stop_rx.await;
                },
            ),
    );
    tracing::info!(address = %path.display(), "CRI v1 server serving");
    Ok(Some(CriServer {
        stop,
        task,
        _socket: guard,
    }))
}

/// Builds the routes of every service berthd serves.
pub fn routes(ctx: &Context) -> Routes {
    let mut b = Routes::builder();
    b.add_service(VersionServer::new(VersionApi::new(ctx.clone())))
        .add_service(ImagesServer::new(ImagesApi::new(
            ctx.images.clone(),
            ctx.containers.events.clone(),
        )))
        .add_service(ContentServer::new(ContentApi::new(ctx.content.clone())))
        .add_service(ctx.containers.containers_service())
        .add_service(ctx.containers.tasks_service())
        .add_service(ctx.containers.events_service())
        .add_service(ctx.containers.networks_service())
        .add_service(ctx.containers.observe_service())
        .add_service(ctx.containers.files_service())
        .add_service(SnapshotsServer::new(SnapshotsService::new(
            ctx.snapshotter.clone(),
        )))
        .add_service(GcServer::new(GcApi::new(ctx.collector.clone())));
    b.routes()
}

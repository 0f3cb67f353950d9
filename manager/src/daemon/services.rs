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

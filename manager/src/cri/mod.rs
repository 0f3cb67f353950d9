//! The Kubernetes CRI v1 front door (`runtime.v1` RuntimeService and ImageService) on its own
//! unix socket, beside the `berth.v1` API of [`crate::api`]: one daemon, two front doors, as
//! containerd does with its CRI plug-in. It shares berthd's image service (content store, image
//! records, registry config) and container manager (snapshots, monitor, OCI runtime); handlers
//! only translate CRI messages, the rules live in [`crate::images`] and [`crate::containers`].
//!
//! - [`runtime`]: the RuntimeService trait, dispatching to the concept modules;
//! - [`images`]: ImageService over [`crate::images::ImageService`];
//! - [`status`]: Version and Status (RuntimeReady / NetworkReady conditions);
//! - [`sandboxes`]: pod sandboxes (the pause container and the pod's namespaces);
//! - [`containers`]: containers of a pod; [`logs`]: their CRI-format logs; [`exec`]: ExecSync;
//! - [`streaming`]: the streaming server of Exec, Attach and PortForward (SPDY/3.1);
//! - [`security`]: the security context (users, capabilities, seccomp, …); [`resources`]: CPU
//!   and memory limits; [`stats`]: container and pod counters;
//! - [`pause`]: the project-built pause image; [`store`]: CRI records in the metadata database.

mod containers;
mod exec;
mod images;
mod logs;
pub mod pause;
mod resources;
mod runtime;
mod sandboxes;
mod security;
mod stats;
mod status;
mod store;
pub mod streaming;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use k8s_cri::v1::image_service_server::ImageServiceServer;
use k8s_cri::v1::runtime_service_server::RuntimeServiceServer;

use crate::containers::Containers;
use crate::network::Networks;

pub use images::CriImages;
pub use runtime::CriRuntime;

/// The CRI API version this server implements (`VersionResponse.runtime_api_version`).
pub const CRI_API_VERSION: &str = "v1";

/// Label on berth containers made through CRI: `sandbox` or `container`.
pub const KIND_LABEL: &str = "io.berth.cri.kind";
/// Label on a CRI container's berth container: its sandbox's id.
pub const SANDBOX_LABEL: &str = "io.berth.cri.sandbox";

/// What the CRI services share with the rest of berthd.
#[derive(Clone)]
pub struct CriContext {
    /// Image records and pulls (the same service `berth pull` uses).
    pub images: crate::images::ImageService,
    /// The container manager (the same one `berth run` uses).
    pub containers: Arc<Containers>,
    /// Container networking (CNI).
    pub networks: Arc<Networks>,
    /// berthd's root directory (image filesystem usage is reported for it).
    pub root: PathBuf,
    /// The OCI runtime containers run with (reported by verbose Status).
    pub runtime: String,
    /// The runtime binary the task manager runs (ExecSync uses it too).
    pub runtime_binary: PathBuf,
    /// The runtime's `--root`.
    pub runtime_root: PathBuf,
    /// The metadata database (CRI's own tables).
    pub metadata: crate::metadata::Metadata,
    /// The runtime version string reported by Version.
    pub version: String,
}

/// The `info` map of a verbose status answer (ContainerStatus, PodSandboxStatus, ImageStatus):
/// `details` as JSON under `info`, where crictl inspect looks; empty without details.
fn verbose_info(details: Option<serde_json::Value>) -> HashMap<String, String> {
    details
        .map(|d| ("info".to_string(), d.to_string()))
        .into_iter()
        .collect()
}

/// The two CRI gRPC services over one context, and the streaming server on `stream_addr`
/// (which must be bound inside the tokio runtime).
pub fn services(
    ctx: CriContext,
    stream_addr: std::net::SocketAddr,
) -> Result<
    (
        RuntimeServiceServer<CriRuntime>,
        ImageServiceServer<CriImages>,
    ),
    streaming::BindError,
> {
    let store = store::CriStore::new(ctx.metadata.clone());
    let streams = streaming::StreamServer::start(ctx.clone(), stream_addr)?;
    logs::spawn_copier(ctx.clone(), store.clone());
    Ok((
        RuntimeServiceServer::new(CriRuntime::new(ctx.clone(), store, streams)),
        ImageServiceServer::new(CriImages::new(ctx)),
    ))
}

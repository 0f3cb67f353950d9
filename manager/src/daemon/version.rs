//! The Version gRPC service: Version and Info.

use berth_proto::v1 as pb;
use berth_proto::v1::version_server::Version;
use tonic::{Request, Response, Status};

use super::context::Context;
use super::host;

/// Version of this build.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Source revision, when the build set `BERTH_REVISION`.
pub const REVISION: &str = match option_env!("BERTH_REVISION") {
    Some(r) => r,
    None => "",
};
/// Storage driver of container root filesystems.
pub const STORAGE_DRIVER: &str = "overlayfs";

/// gRPC adapter for Version and Info.
pub struct VersionApi {
    ctx: Context,
}

impl VersionApi {
    /// Serves facts about `ctx`.
    pub fn new(ctx: Context) -> Self {
        VersionApi { ctx }
    }
}

#[tonic::async_trait]
impl Version for VersionApi {
    async fn version(
        &self,
        _req: Request<pb::VersionRequest>,
    ) -> Result<Response<pb::VersionResponse>, Status> {
        Ok(Response::new(pb::VersionResponse {
            version: VERSION.to_string(),
            revision: REVISION.to_string(),
            api_version: "v1".to_string(),
            platform: crate::images::host_platform(),
        }))
    }

    async fn info(
        &self,
        _req: Request<pb::InfoRequest>,
    ) -> Result<Response<pb::InfoResponse>, Status> {
        let c = &self.ctx.config;
        let images = self
            .ctx
            .images
            .count()
            .map_err(crate::images::service::status)?;
        let blobs = self
            .ctx
            .content
            .list()
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        let h = host::facts();
        let mut warnings = host::Probe::host().warnings();
        // Berth's own: what would make every bridge-network `run` fail, said before one does.
        let cni = crate::network::cni::Cni {
            plugin_dirs: c.network.plugin_dirs.clone(),
            timeout: std::time::Duration::from_secs(c.network.plugin_timeout_secs),
        };
        for plugin in ["bridge", "host-local", "portmap", "loopback"] {
            if let Err(e) = cni.find(plugin) {
                warnings.push(format!("WARNING: bridge networks will not work: {e}"));
            }
        }
        Ok(Response::new(pb::InfoResponse {
            version: VERSION.to_string(),
            root: c.root.display().to_string(),
            state: c.state.display().to_string(),
            address: c.address.display().to_string(),
            runtime: c.runtime.clone(),
            cgroup_version: h.cgroup_version.to_string(),
            storage_driver: STORAGE_DRIVER.to_string(),
            images: images as u64,
            content_blobs: blobs.len() as u64,
            content_bytes: blobs.iter().map(|b| b.size).sum(),
            platform: crate::images::host_platform(),
            kernel_version: h.kernel,
            cpus: h.cpus,
            memory_bytes: h.memory_bytes,
            log_level: c.log_level.clone(),
            warnings,
        }))
    }
}

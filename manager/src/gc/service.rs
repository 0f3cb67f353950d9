//! The Gc gRPC service over a [`Collector`].

use berth_proto::v1 as pb;
use berth_proto::v1::gc_server::Gc;
use tonic::{Request, Response, Status};

use super::Collector;

/// gRPC adapter over the collector.
#[derive(Clone)]
pub struct GcApi {
    collector: Collector,
}

impl GcApi {
    /// Serves `collector`.
    pub fn new(collector: Collector) -> Self {
        GcApi { collector }
    }
}

#[tonic::async_trait]
impl Gc for GcApi {
    async fn collect(
        &self,
        _req: Request<pb::GcCollectRequest>,
    ) -> Result<Response<pb::GcCollectResponse>, Status> {
        let r = self
            .collector
            .collect()
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(pb::GcCollectResponse {
            deleted_blobs: r.blobs.iter().map(ToString::to_string).collect(),
            deleted_snapshots: r.snapshots,
            reclaimed_bytes: r.reclaimed,
        }))
    }

    async fn usage(
        &self,
        _req: Request<pb::GcUsageRequest>,
    ) -> Result<Response<pb::GcUsageResponse>, Status> {
        let u = self
            .collector
            .usage()
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(pb::GcUsageResponse {
            snapshots: u.snapshots,
            snapshots_in_use: u.snapshots_in_use,
            snapshot_bytes: u.snapshot_bytes,
            snapshot_reclaimable_bytes: u.snapshot_reclaimable,
            blobs: u.blobs,
            blob_bytes: u.blob_bytes,
            blob_reclaimable_bytes: u.blob_reclaimable,
        }))
    }
}

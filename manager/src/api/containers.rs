//! The `berth.v1.Containers` gRPC service over [`Containers`].

use crate::containers::Containers;
use crate::explain;
use berth_proto::v1::{self as pb, containers_server};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// gRPC front of the container manager.
pub struct ContainersService {
    inner: Arc<Containers>,
}

impl ContainersService {
    /// Serves `inner`.
    pub fn new(inner: Arc<Containers>) -> Self {
        Self { inner }
    }
}

#[tonic::async_trait]
impl containers_server::Containers for ContainersService {
    async fn create(
        &self,
        request: Request<pb::CreateContainerRequest>,
    ) -> Result<Response<pb::CreateContainerResponse>, Status> {
        let (container, steps) = explain::collect(self.inner.create(request.into_inner())).await;
        Ok(Response::new(pb::CreateContainerResponse {
            container: Some(container?),
            steps: steps_proto(steps),
        }))
    }

    async fn get(
        &self,
        request: Request<pb::GetContainerRequest>,
    ) -> Result<Response<pb::GetContainerResponse>, Status> {
        let container = self.inner.get(&request.into_inner().id).await?;
        Ok(Response::new(pb::GetContainerResponse {
            container: Some(container),
        }))
    }

    async fn list(
        &self,
        request: Request<pb::ListContainersRequest>,
    ) -> Result<Response<pb::ListContainersResponse>, Status> {
        let containers = self.inner.list(request.into_inner().all).await?;
        Ok(Response::new(pb::ListContainersResponse { containers }))
    }

    async fn delete(
        &self,
        request: Request<pb::DeleteContainerRequest>,
    ) -> Result<Response<pb::DeleteContainerResponse>, Status> {
        let r = request.into_inner();
        let id = self.inner.delete(&r.id, r.force).await?;
        Ok(Response::new(pb::DeleteContainerResponse { id }))
    }

    async fn prune(
        &self,
        _request: Request<pb::PruneContainersRequest>,
    ) -> Result<Response<pb::PruneContainersResponse>, Status> {
        let (deleted, reclaimed_bytes) = self.inner.prune().await?;
        Ok(Response::new(pb::PruneContainersResponse {
            deleted,
            reclaimed_bytes,
        }))
    }

    async fn rename(
        &self,
        request: Request<pb::RenameContainerRequest>,
    ) -> Result<Response<pb::RenameContainerResponse>, Status> {
        let r = request.into_inner();
        self.inner.rename(&r.id, &r.new_name).await?;
        Ok(Response::new(pb::RenameContainerResponse {}))
    }

    async fn update(
        &self,
        request: Request<pb::UpdateContainerRequest>,
    ) -> Result<Response<pb::UpdateContainerResponse>, Status> {
        let r = request.into_inner();
        let limits = r.resources.as_ref().map(|res| {
            crate::containers::record::RunOptions::from(&pb::RunOptions {
                resources: Some(res.clone()),
                ..Default::default()
            })
            .resources
        });
        let id = self
            .inner
            .update(&r.id, &r.restart_policy, limits.as_ref())
            .await?;
        Ok(Response::new(pb::UpdateContainerResponse { id }))
    }

    async fn usage(
        &self,
        _request: Request<pb::ContainersUsageRequest>,
    ) -> Result<Response<pb::ContainersUsageResponse>, Status> {
        let containers = self.inner.usage().await?;
        Ok(Response::new(pb::ContainersUsageResponse { containers }))
    }
}

/// Measured steps as the API sends them.
pub fn steps_proto(steps: Vec<explain::Step>) -> Vec<pb::Step> {
    steps
        .into_iter()
        .map(|s| pb::Step {
            name: s.name,
            detail: s.detail,
            micros: u64::try_from(s.elapsed.as_micros()).unwrap_or(u64::MAX),
        })
        .collect()
}

//! The `berth.v1.Observe` gRPC service: `stats` and `top` of running containers, read from the
//! host by [`crate::observe`] for the pid [`Containers`] knows.

use crate::containers::Containers;
use crate::events::now_timestamp;
use crate::observe;
use berth_proto::v1::{self as pb, observe_server};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// gRPC front of container observation.
pub struct ObserveService {
    containers: Arc<Containers>,
}

impl ObserveService {
    /// Observes the containers of `containers`.
    pub fn new(containers: Arc<Containers>) -> Self {
        Self { containers }
    }
}

fn observe_error(id: &str, e: observe::ObserveError) -> Status {
    Status::internal(format!("reading counters of container {id}: {e}"))
}

#[tonic::async_trait]
impl observe_server::Observe for ObserveService {
    async fn stats(
        &self,
        request: Request<pb::StatsRequest>,
    ) -> Result<Response<pb::StatsResponse>, Status> {
        let (id, name, pid) = self
            .containers
            .running_pid(&request.into_inner().container_id)
            .await?;
        let mut stats = pb::ContainerStats {
            id: id.clone(),
            name,
            read_at: Some(now_timestamp()),
            ..Default::default()
        };
        if let Some(pid) = pid {
            let sample = tokio::task::spawn_blocking(move || observe::sample(pid))
                .await
                .map_err(|e| Status::internal(e.to_string()))?;
            match sample {
                Ok(s) => {
                    stats.running = true;
                    stats.cpu_total_ns = s.cpu_total_ns;
                    stats.system_cpu_ns = s.system_cpu_ns;
                    stats.online_cpus = s.online_cpus;
                    stats.memory_usage = s.memory_usage;
                    stats.memory_limit = s.memory_limit;
                    stats.net_rx = s.net_rx;
                    stats.net_tx = s.net_tx;
                    stats.block_read = s.block_read;
                    stats.block_write = s.block_write;
                    stats.pids = s.pids;
                    stats.cgroup_version = s.cgroup_version.into();
                }
                // The process exited between the lookup and the read: a stopped container.
                Err(observe::ObserveError::Read { ref path, .. })
                    if path.starts_with(format!("/proc/{pid}")) => {}
                Err(e) => return Err(observe_error(&id, e)),
            }
        }
        Ok(Response::new(pb::StatsResponse { stats: Some(stats) }))
    }

    async fn top(
        &self,
        request: Request<pb::TopRequest>,
    ) -> Result<Response<pb::TopResponse>, Status> {
        let r = request.into_inner();
        let (id, _, pid) = self.containers.running_pid(&r.container_id).await?;
        let Some(pid) = pid else {
            return Err(Status::failed_precondition(format!(
                "container {id} is not running"
            )));
        };
        let p = observe::top::top(pid, &r.ps_args)
            .await
            .map_err(|e| observe_error(&id, e))?;
        Ok(Response::new(pb::TopResponse {
            titles: p.titles,
            processes: p
                .rows
                .into_iter()
                .map(|cells| pb::TopRow { cells })
                .collect(),
        }))
    }
}

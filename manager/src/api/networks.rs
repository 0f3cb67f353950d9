//! The `berth.v1.Networks` gRPC service over [`Networks`].

use crate::containers::Containers;
use crate::network::store::NetworkRecord;
use crate::network::{NetworkMode, Networks};
use berth_proto::v1::{self as pb, networks_server};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// gRPC front of the network subsystem.
pub struct NetworksService {
    networks: Arc<Networks>,
    containers: Arc<Containers>,
}

impl NetworksService {
    /// Serves `networks`; `containers` tells which containers use a network.
    pub fn new(networks: Arc<Networks>, containers: Arc<Containers>) -> Self {
        Self {
            networks,
            containers,
        }
    }

    fn users(&self, name: &str) -> Result<Vec<String>, Status> {
        Ok(self
            .containers
            .records()?
            .into_iter()
            .filter(|r| {
                matches!(r.options.network_plan.as_ref().map(|p| &p.mode),
                    Some(NetworkMode::Network(n)) if n == name)
            })
            .map(|r| r.id)
            .collect())
    }

    fn to_proto(&self, rec: &NetworkRecord, detail: bool) -> Result<pb::Network, Status> {
        let mut n = pb::Network {
            id: rec.id.clone(),
            name: rec.name.clone(),
            driver: rec.driver.clone(),
            bridge: rec.bridge.clone(),
            subnet: rec.subnet.clone(),
            gateway: rec.gateway.clone(),
            created_at: Some(crate::containers::record::ts(rec.created_at)),
            builtin: rec.builtin,
            containers: Vec::new(),
            users: self.users(&rec.name)?,
        };
        if detail {
            n.containers = self
                .networks
                .endpoints_on(&rec.name)?
                .into_iter()
                .map(|e| pb::NetworkContainer {
                    id: e.container_id,
                    ipv4_address: format!("{}/{}", e.ip, e.prefix_len),
                    mac_address: e.mac,
                })
                .collect();
        }
        Ok(n)
    }
}

#[tonic::async_trait]
impl networks_server::Networks for NetworksService {
    async fn create(
        &self,
        request: Request<pb::CreateNetworkRequest>,
    ) -> Result<Response<pb::CreateNetworkResponse>, Status> {
        let r = request.into_inner();
        let rec = self
            .networks
            .create_network(&r.name, &r.subnet, &r.gateway)?;
        Ok(Response::new(pb::CreateNetworkResponse {
            network: Some(self.to_proto(&rec, false)?),
        }))
    }

    async fn list(
        &self,
        _request: Request<pb::ListNetworksRequest>,
    ) -> Result<Response<pb::ListNetworksResponse>, Status> {
        let networks = self
            .networks
            .networks()?
            .iter()
            .map(|n| self.to_proto(n, false))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Response::new(pb::ListNetworksResponse { networks }))
    }

    async fn get(
        &self,
        request: Request<pb::GetNetworkRequest>,
    ) -> Result<Response<pb::GetNetworkResponse>, Status> {
        let rec = self.networks.network(&request.into_inner().name)?;
        Ok(Response::new(pb::GetNetworkResponse {
            network: Some(self.to_proto(&rec, true)?),
        }))
    }

    async fn remove(
        &self,
        request: Request<pb::RemoveNetworkRequest>,
    ) -> Result<Response<pb::RemoveNetworkResponse>, Status> {
        let rec = self.networks.network(&request.into_inner().name)?;
        let users = self.users(&rec.name)?;
        let name = self.networks.remove_network(&rec.name, &users)?;
        Ok(Response::new(pb::RemoveNetworkResponse { name }))
    }

    async fn prune(
        &self,
        _request: Request<pb::PruneNetworksRequest>,
    ) -> Result<Response<pb::PruneNetworksResponse>, Status> {
        let mut deleted = Vec::new();
        for n in self.networks.networks()? {
            if n.builtin {
                continue;
            }
            let users = self.users(&n.name)?;
            if users.is_empty() && self.networks.remove_network(&n.name, &users).is_ok() {
                deleted.push(n.name);
            }
        }
        Ok(Response::new(pb::PruneNetworksResponse { deleted }))
    }
}

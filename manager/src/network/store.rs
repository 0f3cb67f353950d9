//! Networks and endpoints in the metadata database: table `networks` (name → [`NetworkRecord`])
//! and table `endpoints` (container id → [`Endpoint`], present from a successful CNI ADD until
//! its DEL succeeded, with the cached ADD result DEL and CHECK need).

use super::ports::PortMapping;
use crate::metadata::{Metadata, MetadataError, Table};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A network berthd manages (a Linux bridge with its own subnet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    /// 64-hex id.
    pub id: String,
    /// Unique name (`bridge` for the default network).
    pub name: String,
    /// Driver (always `bridge`).
    pub driver: String,
    /// Linux bridge interface.
    pub bridge: String,
    /// IPv4 subnet in CIDR form.
    pub subnet: String,
    /// Gateway address (on the bridge).
    pub gateway: String,
    /// Creation time, unix nanoseconds.
    pub created_at: i64,
    /// The default network (from config.toml; cannot be removed).
    #[serde(default)]
    pub builtin: bool,
}

/// A container attached to a network: what CNI ADD gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Container id.
    pub container_id: String,
    /// Network name; empty for `--network none` (loopback only).
    pub network: String,
    /// The pinned namespace.
    pub netns: PathBuf,
    /// Interface in the container.
    pub ifname: String,
    /// Container address (no prefix); empty for none.
    pub ip: String,
    /// Prefix length.
    pub prefix_len: u8,
    /// Gateway.
    pub gateway: String,
    /// MAC of the container interface.
    pub mac: String,
    /// Published ports, host ports resolved.
    pub ports: Vec<PortMapping>,
    /// Names other containers on the network resolve to this one (its name, hostname).
    pub aliases: Vec<String>,
    /// The cached result of the network's ADD (CNI's `prevResult` for DEL and CHECK).
    pub result: serde_json::Value,
    /// The cached result of the loopback ADD.
    pub loopback_result: serde_json::Value,
}

/// Network records by name.
pub const NETWORKS: Table<NetworkRecord> = Table::new("networks");
/// Endpoints by container id.
pub const ENDPOINTS: Table<Endpoint> = Table::new("endpoints");

/// Typed access to both tables.
#[derive(Clone)]
pub struct NetworkStore {
    md: Metadata,
}

impl NetworkStore {
    /// The tables in `md`.
    pub fn new(md: Metadata) -> Self {
        Self { md }
    }

    /// A network by name.
    pub fn network(&self, name: &str) -> Result<Option<NetworkRecord>, MetadataError> {
        self.md.read(|tx| NETWORKS.get(tx, name))
    }

    /// Every network, by name.
    pub fn networks(&self) -> Result<Vec<NetworkRecord>, MetadataError> {
        Ok(self
            .md
            .read(|tx| NETWORKS.list(tx))?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }

    /// Inserts or replaces a network.
    pub fn put_network(&self, rec: &NetworkRecord) -> Result<(), MetadataError> {
        self.md
            .write(|tx| NETWORKS.put(tx, &rec.name, rec).map(|_| ()))
    }

    /// Removes a network record.
    pub fn remove_network(&self, name: &str) -> Result<(), MetadataError> {
        self.md.write(|tx| NETWORKS.remove(tx, name).map(|_| ()))
    }

    /// The endpoint of a container.
    pub fn endpoint(&self, id: &str) -> Result<Option<Endpoint>, MetadataError> {
        self.md.read(|tx| ENDPOINTS.get(tx, id))
    }

    /// Every endpoint.
    pub fn endpoints(&self) -> Result<Vec<Endpoint>, MetadataError> {
        Ok(self
            .md
            .read(|tx| ENDPOINTS.list(tx))?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }

    /// Stores an endpoint.
    pub fn put_endpoint(&self, ep: &Endpoint) -> Result<(), MetadataError> {
        self.md
            .write(|tx| ENDPOINTS.put(tx, &ep.container_id, ep).map(|_| ()))
    }

    /// Forgets an endpoint.
    pub fn remove_endpoint(&self, id: &str) -> Result<(), MetadataError> {
        self.md.write(|tx| ENDPOINTS.remove(tx, id).map(|_| ()))
    }
}

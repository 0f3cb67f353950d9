//! Networks and endpoints in the metadata database: table `networks` (name → [`NetworkRecord`])
//! and table `endpoints` (container id → [`Endpoint`], present from a successful CNI ADD until
//! its DEL succeeded, with the cached ADD result DEL and CHECK need).

pub use crate::metadata::networks::{Endpoint, NetworkRecord, ENDPOINTS, NETWORKS};
use crate::metadata::{Metadata, MetadataError};

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
        self.md.get(&NETWORKS, name)
    }

    /// Every network, by name.
    pub fn networks(&self) -> Result<Vec<NetworkRecord>, MetadataError> {
        self.md.values(&NETWORKS)
    }

    /// Inserts or replaces a network.
    pub fn put_network(&self, rec: &NetworkRecord) -> Result<(), MetadataError> {
        self.md.put(&NETWORKS, &rec.name, rec)
    }

    /// Removes a network record.
    pub fn remove_network(&self, name: &str) -> Result<(), MetadataError> {
        self.md.remove(&NETWORKS, name)
    }

    /// The endpoint of a container.
    pub fn endpoint(&self, id: &str) -> Result<Option<Endpoint>, MetadataError> {
        self.md.get(&ENDPOINTS, id)
    }

    /// Every endpoint.
    pub fn endpoints(&self) -> Result<Vec<Endpoint>, MetadataError> {
        self.md.values(&ENDPOINTS)
    }

    /// Stores an endpoint.
    pub fn put_endpoint(&self, ep: &Endpoint) -> Result<(), MetadataError> {
        self.md.put(&ENDPOINTS, &ep.container_id, ep)
    }

    /// Forgets an endpoint.
    pub fn remove_endpoint(&self, id: &str) -> Result<(), MetadataError> {
        self.md.remove(&ENDPOINTS, id)
    }
}

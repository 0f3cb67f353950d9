//! The garbage collector's side of image removal: removing a name frees what only it kept.
//! berthd plugs in its collector (`crate::gc`), which knows snapshots and containers too.

use crate::content::Digest;

/// What a collection removed.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    /// Blobs deleted.
    pub blobs: Vec<Digest>,
    /// Snapshot keys removed.
    pub snapshots: Vec<String>,
}

/// Runs a garbage collection of blobs and snapshots.
#[tonic::async_trait]
pub trait ImageGc: Send + Sync + 'static {
    /// Removes everything no image, container or lease refers to.
    async fn collect(&self) -> Result<Collected, String>;
}

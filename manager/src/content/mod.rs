//! The content-addressable store: every manifest, config and layer blob, stored once by digest.
//!
//! Layout under the daemon root: `blobs/sha256/<hex>` for committed blobs and `ingest/` for writes in
//! progress. A blob only ever appears under its digest after its size and SHA-256 were verified and it
//! was fsynced (temp file + rename), so a crash, kill or bad download never leaves a corrupt blob under
//! a real digest. [`ContentStore::open`] deletes whatever a previous run left in `ingest/`.
//!
//! # Use from a puller
//!
//! ```no_run
//! # async fn f(store: berth_manager::content::ContentStore, d: berth_manager::content::Digest,
//! #            chunks: Vec<Vec<u8>>) -> Result<(), berth_manager::content::ContentError> {
//! let _guard = store.lock(&d).await;        // dedup concurrent pulls of one blob in this process
//! if !store.exists(&d).await {
//!     let mut w = store.writer(&d, Some(1234)).await?;
//!     for chunk in chunks { w.write_all(&chunk).await?; }
//!     w.commit().await?;                     // verifies size + digest, fsync, rename
//! }                                          // on error, dropping `w` removes the temp file
//! # Ok(()) }
//! ```
//!
//! Read with [`ContentStore::read_all`] (small JSON documents), [`ContentStore::reader`] (streaming) or
//! [`ContentStore::blob_path`] (for tools that want a path). [`ContentStore::list`] and
//! [`ContentStore::delete`] serve the Content gRPC service and garbage collection.

mod digest;
mod locks;
pub mod service;
mod store;
mod writer;

use std::time::SystemTime;

pub use digest::{Digest, InvalidDigest};
pub use locks::DigestGuard;
pub use store::ContentStore;
pub use writer::ContentWriter;

/// Facts about one stored blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentInfo {
    /// The blob's digest.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// When the blob was committed (file modification time).
    pub committed_at: SystemTime,
}

impl ContentInfo {
    fn from_metadata(digest: Digest, meta: &std::fs::Metadata) -> Self {
        ContentInfo {
            digest,
            size: meta.len(),
            committed_at: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        }
    }
}

/// Content store failures.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// No blob with this digest is stored.
    #[error("content {0} not found")]
    NotFound(Digest),
    /// A blob read whole (a manifest, index or config) is larger than [`MAX_DOCUMENT_SIZE`].
    #[error("content {digest}: {size} bytes is more than the {limit}-byte limit for a manifest, index or config")]
    TooLarge {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The written data hashed to a different digest.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// Digest the writer was created for.
        expected: Digest,
        /// Digest of the data actually written.
        actual: Digest,
    },
    /// The written data had a different size than announced.
    #[error("size mismatch for {digest}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// Digest of the blob.
        digest: Digest,
        /// Announced size.
        expected: u64,
        /// Bytes written (so far).
        actual: u64,
    },
    /// A file system operation failed.
    #[error("content store: {op} {path}: {source}")]
    Io {
        /// What was attempted.
        op: &'static str,
        /// File or directory involved.
        path: std::path::PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}

/// Largest blob read whole into memory (manifests, indexes, configs): layers are streamed.
pub const MAX_DOCUMENT_SIZE: u64 = 8 * 1024 * 1024;

#[cfg(test)]
mod tests;

//! What the registry code needs from a content store. The daemon's `ContentStore` implements it;
//! keeping it a trait lets pulls be tested against any store and keeps the dependency one-way.

use std::error::Error as StdError;
use std::future::Future;

/// A store error, boxed so any store implementation fits.
pub type StoreError = Box<dyn StdError + Send + Sync>;

/// A content-addressed blob store with verifying writers and a per-digest lock.
pub trait BlobStore: Send + Sync {
    /// An in-progress write of one blob.
    type Writer: BlobWriter;
    /// Held while one task fetches a digest, so concurrent pulls share the work.
    type Guard: Send;

    /// Whether a committed blob with this digest exists.
    fn exists(&self, digest: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Takes the per-digest lock (waits while another task holds it); fails for digests the
    /// store cannot hold.
    fn lock(&self, digest: &str) -> impl Future<Output = Result<Self::Guard, StoreError>> + Send;
    /// Starts writing a blob that must hash to `digest` and be `size` bytes long.
    fn writer(
        &self,
        digest: &str,
        size: u64,
    ) -> impl Future<Output = Result<Self::Writer, StoreError>> + Send;
    /// Reads a whole committed blob (manifests and configs; never layers).
    fn read_all(&self, digest: &str) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;
}

/// Writes one blob; dropping it without `commit` must leave nothing behind.
pub trait BlobWriter: Send {
    /// Appends bytes (hashing them as they go).
    fn write(&mut self, chunk: &[u8]) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Verifies size and digest and makes the blob visible.
    fn commit(self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Reads a whole committed blob, a failure naming its digest.
pub async fn read_blob<S: BlobStore>(
    store: &S,
    digest: &str,
) -> Result<Vec<u8>, crate::registry::RegistryError> {
    store
        .read_all(digest)
        .await
        .map_err(|source| crate::registry::RegistryError::Store {
            digest: digest.to_string(),
            source,
        })
}

/// Writes `data` as one blob unless it is already there.
pub async fn put_bytes<S: BlobStore>(
    store: &S,
    digest: &str,
    data: &[u8],
) -> Result<(), crate::registry::RegistryError> {
    let wrap = |source| crate::registry::RegistryError::Store {
        digest: digest.to_string(),
        source,
    };
    let _guard = store.lock(digest).await.map_err(wrap)?;
    if store.exists(digest).await.map_err(wrap)? {
        return Ok(());
    }
    let mut writer = store
        .writer(digest, data.len() as u64)
        .await
        .map_err(wrap)?;
    writer.write(data).await.map_err(wrap)?;
    writer.commit().await.map_err(wrap)
}

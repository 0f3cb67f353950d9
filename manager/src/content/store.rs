//! `ContentStore`: blobs under `<root>/blobs/sha256/<hex>`, written through `<root>/ingest/`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use super::locks::{DigestGuard, DigestLocks};
use super::{ContentError, ContentInfo, ContentWriter, Digest};

/// Handle on the content-addressable store; cheap to clone and share between tasks.
#[derive(Debug, Clone)]
pub struct ContentStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    blobs: PathBuf,
    ingest: PathBuf,
    locks: DigestLocks,
    next_temp: AtomicU64,
}

impl ContentStore {
    /// Opens (creating if needed) the store under `root` and removes ingest files left by an earlier
    /// crash or kill. Call once per process, before any writer exists.
    pub fn open(root: &Path) -> Result<Self, ContentError> {
        let blobs = root.join("blobs").join("sha256");
        let ingest = root.join("ingest");
        for dir in [&blobs, &ingest] {
            crate::private_dir::create_all(dir).map_err(|source| ContentError::Io {
                op: "create directory",
                path: dir.clone(),
                source,
            })?;
        }
        let entries = std::fs::read_dir(&ingest).map_err(|source| ContentError::Io {
            op: "read directory",
            path: ingest.clone(),
            source,
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            match removed {
                Ok(()) => tracing::info!(path = %path.display(), "removed stale ingest file"),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove stale ingest file")
                }
            }
        }
        Ok(ContentStore {
            inner: Arc::new(Inner {
                blobs,
                ingest,
                locks: DigestLocks::default(),
                next_temp: AtomicU64::new(0),
            }),
        })
    }

    /// Path where the blob for `digest` lives (whether or not it exists). Readers such as the layer
    /// unpacker may open it directly; never write to it.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.inner.blobs.join(digest.hex())
    }

    /// Waits for and takes this process's lock on `digest`. Hold it around "exists? else download and
    /// commit" so that concurrent pulls of one blob download it once; the second waiter then sees
    /// `exists() == true`.
    pub async fn lock(&self, digest: &Digest) -> DigestGuard {
        self.inner.locks.lock(digest).await
    }

    /// Starts writing a blob that must hash to `expected` (and be `expected_size` bytes, if given).
    /// Writers of the same digest may run concurrently: each has its own temp file and the first
    /// commit wins.
    pub async fn writer(
        &self,
        expected: &Digest,
        expected_size: Option<u64>,
    ) -> Result<ContentWriter, ContentError> {
        let n = self.inner.next_temp.fetch_add(1, Ordering::Relaxed);
        let temp_path =
            self.inner
                .ingest
                .join(format!("{}.{}.{}", expected.hex(), std::process::id(), n));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp_path)
            .await
            .map_err(|source| ContentError::Io {
                op: "create",
                path: temp_path.clone(),
                source,
            })?;
        Ok(ContentWriter {
            expected: expected.clone(),
            expected_size,
            temp_path,
            final_path: self.blob_path(expected),
            file: Some(file),
            hasher: Sha256::new(),
            written: 0,
        })
    }

    /// Stores `data` under its own digest and returns its info (a no-op if it is already stored).
    pub async fn put(&self, data: &[u8]) -> Result<ContentInfo, ContentError> {
        let digest = Digest::of(data);
        if let Ok(info) = self.info(&digest).await {
            return Ok(info);
        }
        let mut w = self.writer(&digest, Some(data.len() as u64)).await?;
        w.write_all(data).await?;
        w.commit().await
    }

    /// True if the blob is stored.
    pub async fn exists(&self, digest: &Digest) -> bool {
        tokio::fs::metadata(self.blob_path(digest)).await.is_ok()
    }

    /// Size and commit time of a stored blob.
    pub async fn info(&self, digest: &Digest) -> Result<ContentInfo, ContentError> {
        let path = self.blob_path(digest);
        match tokio::fs::metadata(&path).await {
            Ok(meta) => Ok(ContentInfo::from_metadata(digest.clone(), &meta)),
            Err(e) => Err(self.not_found_or(digest, "stat", path, e)),
        }
    }

    /// Reads a whole blob into memory (for manifests and configs, not layers); refuses one larger
    /// than [`super::MAX_DOCUMENT_SIZE`] without reading it.
    pub async fn read_all(&self, digest: &Digest) -> Result<Vec<u8>, ContentError> {
        use tokio::io::AsyncReadExt;
        let path = self.blob_path(digest);
        let err = |e| self.not_found_or(digest, "read", path.clone(), e);
        let file = tokio::fs::File::open(&path).await.map_err(err)?;
        let limit = super::MAX_DOCUMENT_SIZE;
        let mut out = Vec::new();
        // take(limit + 1): a file that grows between a stat and the read is caught too.
        file.take(limit + 1)
            .read_to_end(&mut out)
            .await
            .map_err(err)?;
        if out.len() as u64 > limit {
            let size = tokio::fs::metadata(&path)
                .await
                .map(|m| m.len())
                .unwrap_or(out.len() as u64);
            return Err(ContentError::TooLarge {
                digest: digest.clone(),
                size,
                limit,
            });
        }
        Ok(out)
    }

    /// Opens a blob for streaming reads.
    pub async fn reader(&self, digest: &Digest) -> Result<tokio::fs::File, ContentError> {
        let path = self.blob_path(digest);
        tokio::fs::File::open(&path)
            .await
            .map_err(|e| self.not_found_or(digest, "open", path, e))
    }

    /// Lists every stored blob, sorted by digest. Files whose names are not digests are skipped.
    pub async fn list(&self) -> Result<Vec<ContentInfo>, ContentError> {
        let dir = &self.inner.blobs;
        let io = |op: &'static str| {
            let path = dir.clone();
            move |source| ContentError::Io { op, path, source }
        };
        let mut rd = tokio::fs::read_dir(dir)
            .await
            .map_err(io("read directory"))?;
        let mut out = Vec::new();
        while let Some(entry) = rd.next_entry().await.map_err(io("read directory"))? {
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let Ok(digest) = Digest::parse(&format!("sha256:{name}")) else {
                continue;
            };
            if let Ok(meta) = entry.metadata().await {
                out.push(ContentInfo::from_metadata(digest, &meta));
            }
        }
        out.sort_by(|a, b| a.digest.cmp(&b.digest));
        Ok(out)
    }

    /// Deletes a blob. `NotFound` if it is not stored.
    pub async fn delete(&self, digest: &Digest) -> Result<(), ContentError> {
        let path = self.blob_path(digest);
        tokio::fs::remove_file(&path)
            .await
            .map_err(|e| self.not_found_or(digest, "remove", path, e))
    }

    fn not_found_or(
        &self,
        digest: &Digest,
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    ) -> ContentError {
        if source.kind() == std::io::ErrorKind::NotFound {
            ContentError::NotFound(digest.clone())
        } else {
            ContentError::Io { op, path, source }
        }
    }
}

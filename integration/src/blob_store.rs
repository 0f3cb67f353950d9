//! A small content store for registry tests that run without the daemon: `blobs/sha256/<hex>`
//! plus `ingest/` temp files, with the same contract as the daemon's store (hash while writing,
//! verify on commit, nothing left behind when a writer is dropped).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use berth_manager::registry::store::{BlobStore, BlobWriter, StoreError};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// A directory-backed test store.
pub struct DirStore {
    root: PathBuf,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    // The temp dir of a store made by `DirStore::temp`, removed when the store is dropped.
    _tmp: Option<tempfile::TempDir>,
}

impl DirStore {
    /// A store rooted at `root` (created if missing).
    pub fn new(root: &Path) -> Self {
        std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
        std::fs::create_dir_all(root.join("ingest")).unwrap();
        DirStore {
            root: root.to_path_buf(),
            locks: Mutex::new(HashMap::new()),
            _tmp: None,
        }
    }

    /// An empty store in a fresh temp dir of its own, removed with the store.
    pub fn temp() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let store = DirStore::new(tmp.path());
        DirStore {
            _tmp: Some(tmp),
            ..store
        }
    }

    fn path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.root.join("blobs/sha256").join(hex)
    }

    /// Digests of all committed blobs.
    pub fn blobs(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.root.join("blobs/sha256"))
            .unwrap()
            .map(|e| format!("sha256:{}", e.unwrap().file_name().to_string_lossy()))
            .collect();
        v.sort();
        v
    }

    /// Names of files left in ingest/ (must be empty after any pull, failed or not).
    pub fn ingest_leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.root.join("ingest"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }
}

/// A write in progress into `ingest/`.
pub struct DirWriter {
    temp: PathBuf,
    dest: PathBuf,
    file: Option<tokio::fs::File>,
    hasher: Sha256,
    written: u64,
    digest: String,
    size: u64,
}

impl Drop for DirWriter {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.temp);
    }
}

impl BlobWriter for DirWriter {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        self.hasher.update(chunk);
        self.written += chunk.len() as u64;
        let file = self.file.as_mut().ok_or("writer already committed")?;
        file.write_all(chunk).await?;
        Ok(())
    }

    async fn commit(mut self) -> Result<(), StoreError> {
        if let Some(mut f) = self.file.take() {
            f.flush().await?;
        }
        if self.written != self.size {
            return Err(format!("size {} != expected {}", self.written, self.size).into());
        }
        let got = format!("sha256:{}", hex::encode(self.hasher.clone().finalize()));
        if got != self.digest {
            return Err(format!("digest mismatch: got {got}").into());
        }
        tokio::fs::rename(&self.temp, &self.dest).await?;
        Ok(())
    }
}

impl BlobStore for DirStore {
    type Writer = DirWriter;
    type Guard = tokio::sync::OwnedMutexGuard<()>;

    async fn exists(&self, digest: &str) -> Result<bool, StoreError> {
        Ok(self.path(digest).exists())
    }

    async fn lock(&self, digest: &str) -> Result<Self::Guard, StoreError> {
        let m = self
            .locks
            .lock()
            .unwrap()
            .entry(digest.to_string())
            .or_default()
            .clone();
        Ok(m.lock_owned().await)
    }

    async fn writer(&self, digest: &str, size: u64) -> Result<DirWriter, StoreError> {
        let hex = digest.strip_prefix("sha256:").ok_or("only sha256")?;
        let temp = self.root.join("ingest").join(format!(
            "{hex}.{}.{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let file = tokio::fs::File::create(&temp).await?;
        Ok(DirWriter {
            dest: self.path(digest),
            temp,
            file: Some(file),
            hasher: Sha256::new(),
            written: 0,
            digest: digest.to_string(),
            size,
        })
    }

    async fn read_all(&self, digest: &str) -> Result<Vec<u8>, StoreError> {
        Ok(tokio::fs::read(self.path(digest)).await?)
    }
}

//! `ContentWriter`: streams one blob into `<root>/ingest/`, hashing as it goes, and commits it under
//! its digest only after size and digest are verified and the data is on disk.

use std::path::PathBuf;

use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;

use super::{ContentError, ContentInfo, Digest};

/// Writes one blob. Nothing appears under the digest until [`ContentWriter::commit`] succeeds; dropping
/// the writer (error, cancelled pull) removes the temp file.
#[derive(Debug)]
pub struct ContentWriter {
    pub(super) expected: Digest,
    pub(super) expected_size: Option<u64>,
    pub(super) temp_path: PathBuf,
    pub(super) final_path: PathBuf,
    pub(super) file: Option<tokio::fs::File>,
    pub(super) hasher: Sha256,
    pub(super) written: u64,
}

impl ContentWriter {
    /// The digest this writer must produce.
    pub fn digest(&self) -> &Digest {
        &self.expected
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Appends data. Fails as soon as more than the expected size has been written.
    pub async fn write_all(&mut self, data: &[u8]) -> Result<(), ContentError> {
        let new_len = self.written + data.len() as u64;
        if let Some(size) = self.expected_size {
            if new_len > size {
                return Err(ContentError::SizeMismatch {
                    digest: self.expected.clone(),
                    expected: size,
                    actual: new_len,
                });
            }
        }
        let Some(file) = self.file.as_mut() else {
            return Err(self.closed());
        };
        file.write_all(data)
            .await
            .map_err(|source| ContentError::Io {
                op: "write",
                path: self.temp_path.clone(),
                source,
            })?;
        self.hasher.update(data);
        self.written = new_len;
        Ok(())
    }

    /// Verifies size and digest, syncs the data to disk and moves the blob into place. If another
    /// writer committed the same digest first, this one's data is discarded and the stored blob wins.
    pub async fn commit(mut self) -> Result<ContentInfo, ContentError> {
        let mut file = self.file.take().ok_or_else(|| self.closed())?;
        if let Some(size) = self.expected_size {
            if self.written != size {
                return Err(ContentError::SizeMismatch {
                    digest: self.expected.clone(),
                    expected: size,
                    actual: self.written,
                });
            }
        }
        let actual = Digest::from_sha256(&std::mem::take(&mut self.hasher).finalize());
        if actual != self.expected {
            return Err(ContentError::DigestMismatch {
                expected: self.expected.clone(),
                actual,
            });
        }
        let io = |op: &'static str, path: &PathBuf| {
            let path = path.clone();
            move |source| ContentError::Io { op, path, source }
        };
        file.flush().await.map_err(io("flush", &self.temp_path))?;
        file.sync_all()
            .await
            .map_err(io("fsync", &self.temp_path))?;
        drop(file);
        tokio::fs::rename(&self.temp_path, &self.final_path)
            .await
            .map_err(io("rename", &self.temp_path))?;
        if let Some(dir) = self.final_path.parent() {
            // The rename is only durable once the directory entry is on disk.
            let d = tokio::fs::File::open(dir)
                .await
                .map_err(io("open", &dir.to_path_buf()))?;
            d.sync_all()
                .await
                .map_err(io("fsync", &dir.to_path_buf()))?;
        }
        let meta = tokio::fs::metadata(&self.final_path)
            .await
            .map_err(io("stat", &self.final_path))?;
        Ok(ContentInfo::from_metadata(self.expected.clone(), &meta))
    }

    fn closed(&self) -> ContentError {
        ContentError::Io {
            op: "write",
            path: self.temp_path.clone(),
            source: std::io::Error::other("writer already finished"),
        }
    }
}

impl Drop for ContentWriter {
    fn drop(&mut self) {
        // After a successful commit the temp path no longer exists; otherwise it is garbage.
        if self.file.is_some() || self.temp_path.exists() {
            let _ = std::fs::remove_file(&self.temp_path);
        }
    }
}

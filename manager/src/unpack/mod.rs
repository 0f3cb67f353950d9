//! Applying an OCI layer (a tar, maybe compressed) to a directory.
//!
//! The stream is decompressed and hashed as it is read, and the uncompressed digest is checked
//! against the layer's diffID once the whole stream has been consumed. Entries are written through
//! [`crate::rootfs_fs::Root`], so no entry can land outside the target whatever its path, symlinks or
//! hardlinks say. Whiteouts are applied as the target needs them ([`WhiteoutMode`]).
//! On error the target is left partially written: the caller removes it (the snapshot helpers do).

mod apply;
pub mod compression;

use std::io::{self, Read};
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};

pub use compression::Compression;

/// How OCI whiteouts (`.wh.<name>`, `.wh..wh..opq`) are recorded in the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhiteoutMode {
    /// The target is an overlayfs upper/layer dir: a whiteout becomes a 0/0 character device and
    /// an opaque directory gets `trusted.overlay.opaque=y`.
    Overlay,
    /// The target holds the full merged tree (copying snapshotter): whiteouts delete.
    Delete,
}

/// Where and how to apply a layer.
#[derive(Debug, Clone)]
pub struct ApplyTarget {
    /// The directory the entries are written into.
    pub dir: PathBuf,
    /// How whiteouts are recorded.
    pub whiteouts: WhiteoutMode,
    /// Lower layers' directories, top first (overlay mode): a directory the layer needs but does
    /// not list is created with the mode and owner it has in the nearest lower that has it.
    pub lowers: Vec<PathBuf>,
}

/// What an application did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyStats {
    /// Number of tar entries processed.
    pub entries: u64,
    /// Uncompressed size of the layer stream in bytes.
    pub uncompressed_size: u64,
    /// The verified diffID (`sha256:<hex>`).
    pub diff_id: String,
}

/// Failures while applying a layer.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The layer's media type is not a tar layer we can decompress.
    #[error("unsupported layer media type {0:?}")]
    UnsupportedMediaType(String),
    /// The expected diffID is not a `sha256:<64 hex>` digest.
    #[error("invalid diffID {0:?}: only sha256 digests are supported")]
    InvalidDiffId(String),
    /// The decompressor could not be set up.
    #[error("starting decompression: {0}")]
    Decompress(io::Error),
    /// Reading or parsing the (decompressed) tar stream failed.
    #[error("reading layer tar stream: {0}")]
    Tar(io::Error),
    /// An entry tried to escape the target or is otherwise malformed.
    #[error("layer entry {entry:?} refused: {reason}")]
    UnsafeEntry {
        /// The entry's path as written in the tar.
        entry: String,
        /// Why it was refused.
        reason: String,
    },
    /// The uncompressed content does not hash to the diffID from the image config.
    #[error("layer content does not match its diffID: expected {expected}, got {actual}")]
    DigestMismatch {
        /// diffID from the image config.
        expected: String,
        /// Digest of what was read.
        actual: String,
    },
    /// The filesystem is full.
    #[error("no space left on device while writing {path} under {target}")]
    NoSpace {
        /// The entry being written.
        path: String,
        /// The target directory.
        target: PathBuf,
    },
    /// A filesystem operation failed.
    #[error("{op} {path} under {target}: {source}")]
    Io {
        /// The operation (syscall-ish name).
        op: &'static str,
        /// The entry path inside the target.
        path: String,
        /// The target directory.
        target: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// A reader that hashes and counts everything read through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Checks `d` is `sha256:` followed by 64 lowercase hex digits.
pub fn is_sha256_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Applies the layer read from `blob` (compressed as `media_type` says) to `target`, and checks
/// the uncompressed stream hashes to `expected_diff_id`.
pub fn apply_layer(
    blob: impl Read,
    media_type: &str,
    expected_diff_id: &str,
    target: &ApplyTarget,
) -> Result<ApplyStats, UnpackError> {
    if !is_sha256_digest(expected_diff_id) {
        return Err(UnpackError::InvalidDiffId(expected_diff_id.to_string()));
    }
    let compression = Compression::from_media_type(media_type)?;
    let decoded = compression.decoder(blob)?;
    let mut hashing = HashingReader {
        inner: decoded,
        hasher: Sha256::new(),
        count: 0,
    };
    let entries = apply::apply_tar(&mut hashing, target)?;
    // The diffID covers the whole stream, including the padding after the end-of-archive marker.
    io::copy(&mut hashing, &mut io::sink()).map_err(UnpackError::Tar)?;
    let actual = format!("sha256:{}", hex::encode(hashing.hasher.finalize()));
    if actual != expected_diff_id {
        return Err(UnpackError::DigestMismatch {
            expected: expected_diff_id.to_string(),
            actual,
        });
    }
    Ok(ApplyStats {
        entries,
        uncompressed_size: hashing.count,
        diff_id: actual,
    })
}

/// Convenience for tests and tools: the diffID of an uncompressed tar held in memory.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

#[cfg(test)]
mod tests;

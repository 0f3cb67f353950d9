//! Applying an OCI layer (a tar, maybe compressed) to a directory.
//!
//! The stream is decompressed and hashed as it is read, and the uncompressed digest is checked
//! against the layer's diffID once the whole stream has been consumed. Entries are written through
//! [`crate::rootfs_fs::Root`], so no entry can land outside the target whatever its path, symlinks or
//! hardlinks say. Whiteouts are applied as the target needs them ([`WhiteoutMode`]).
//! On error the target is left partially written: the caller removes it (the snapshot helpers do).

mod apply;
pub mod compression;
pub mod limits;

use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

pub use compression::Compression;
pub use limits::UnpackLimits;

use limits::{CountingReader, LayerGuard};

/// The layer blob being applied, as its descriptor and the image config describe it.
#[derive(Debug, Clone, Copy)]
pub struct LayerBlob<'a> {
    /// The descriptor's media type (says the compression).
    pub media_type: &'a str,
    /// The descriptor's size: the blob may not be longer, and the ratio limit divides by it.
    pub size: u64,
    /// The diffID from the image config: the digest of the uncompressed stream.
    pub diff_id: &'a str,
}

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
    /// The uncompressed layer is larger than the configured budget (a decompression bomb, or a
    /// layer larger than `unpack.max_layer_size`).
    #[error("layer expands past the limit of {limit} bytes (unpack.max_layer_size {max}, unpack.max_layer_ratio {ratio} x {compressed} compressed bytes)", max = .limits.max_layer_size, ratio = .limits.max_layer_ratio)]
    TooLarge {
        /// The budget that was exceeded.
        limit: u64,
        /// The configured limits.
        limits: UnpackLimits,
        /// The compressed size.
        compressed: u64,
    },
    /// A GNU long name or PAX header is larger than the tar reader is allowed to buffer.
    #[error("{what} of {size} bytes exceeds the limit of {limit} bytes")]
    HeaderTooLarge {
        /// Which kind of extension header.
        what: &'static str,
        /// Its declared size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The layer has more entries than can be tracked (their paths are remembered for whiteouts).
    #[error("layer lists too many entries (their paths exceed {limit} bytes)")]
    TooManyEntries {
        /// Bytes of paths allowed.
        limit: u64,
    },
    /// The compressed blob is longer than its descriptor says.
    #[error("layer blob is longer than its descriptor's size of {size} bytes")]
    BlobTooLong {
        /// The descriptor's size.
        size: u64,
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

/// Applies the layer read from `blob` (compressed as `layer.media_type` says) to `target`,
/// within `limits`, and checks the uncompressed stream hashes to `layer.diff_id`. The stream is
/// never held in memory: a bomb fails as soon as it passes its budget.
pub fn apply_layer(
    blob: impl Read,
    layer: &LayerBlob<'_>,
    limits: &UnpackLimits,
    target: &ApplyTarget,
) -> Result<ApplyStats, UnpackError> {
    let expected_diff_id = layer.diff_id;
    if !is_sha256_digest(expected_diff_id) {
        return Err(UnpackError::InvalidDiffId(expected_diff_id.to_string()));
    }
    let compression = Compression::from_media_type(layer.media_type)?;
    let compressed = Arc::new(AtomicU64::new(0));
    let counted = CountingReader {
        inner: blob,
        count: compressed.clone(),
        limit: layer.size,
    };
    let decoded = compression.decoder(counted)?;
    let budget = limits.budget(layer.size);
    let mut hashing = HashingReader {
        inner: LayerGuard::new(decoded, budget),
        hasher: Sha256::new(),
        count: 0,
    };
    // A limit hit inside a reader surfaces as whatever error the tar or decompression code made
    // of it; report the limit itself.
    let typed = |hashing: &mut HashingReader<LayerGuard<_>>, e: UnpackError| {
        let e = match hashing.inner.violation.take() {
            Some(v) => v,
            None if compressed.load(Ordering::Relaxed) > layer.size => {
                return UnpackError::BlobTooLong { size: layer.size }
            }
            None => e,
        };
        match e {
            UnpackError::TooLarge { limit, .. } => UnpackError::TooLarge {
                limit,
                limits: limits.clone(),
                compressed: layer.size,
            },
            other => other,
        }
    };
    let entries = match apply::apply_tar(&mut hashing, target, budget) {
        Ok(n) => n,
        Err(e) => return Err(typed(&mut hashing, e)),
    };
    // The diffID covers the whole stream, including the padding after the end-of-archive marker.
    if let Err(e) = io::copy(&mut hashing, &mut io::sink()) {
        return Err(typed(&mut hashing, UnpackError::Tar(e)));
    }
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

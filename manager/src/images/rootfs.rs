//! From an image manifest to a container's writable rootfs snapshot.
//!
//! [`prepare_image_rootfs`] reads the manifest and config from content, unpacks every layer
//! that has no committed snapshot yet — bottom to top, each chain ID once even when several
//! callers race (a per-chain lock, then a re-check) — and prepares the container's active
//! snapshot on the top layer. A failed unpack removes its partial snapshot.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};

use oci_spec::image::{Arch, ImageConfiguration, ImageIndex, ImageManifest};

use super::oci;
use super::platform::Platform;
use crate::content::MAX_DOCUMENT_SIZE;
use crate::snapshots::{chain_ids, Kind, Labels, Mount, SnapshotError, Snapshotter};
use crate::unpack::{apply_layer, ApplyStats, LayerBlob, UnpackError, UnpackLimits};

/// Label on committed layer snapshots: the layer's uncompressed digest.
pub const LABEL_DIFF_ID: &str = "berth.io/diff-id";
/// Label on committed layer snapshots: the (compressed) blob the layer came from.
pub const LABEL_LAYER_DIGEST: &str = "berth.io/layer-digest";

/// Read access to blobs by digest (the content store implements it).
pub trait BlobSource {
    /// Opens the blob `digest` (`sha256:<hex>`) for reading.
    fn open_blob(&self, digest: &str) -> std::io::Result<Box<dyn Read + '_>>;
}

/// Blobs are files in the content store; reading them directly keeps unpacking (which runs on
/// a blocking thread) free of the store's async API.
impl BlobSource for crate::content::ContentStore {
    fn open_blob(&self, digest: &str) -> std::io::Result<Box<dyn Read + '_>> {
        let d = crate::content::Digest::parse(digest)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        Ok(Box::new(std::io::BufReader::new(std::fs::File::open(
            self.blob_path(&d),
        )?)))
    }
}

/// Failures preparing an image's rootfs.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// A blob could not be read from content.
    #[error("reading blob {digest}: {source}")]
    Blob {
        /// The blob.
        digest: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The manifest is not a usable image manifest.
    #[error("image manifest {digest}: {reason}")]
    Manifest {
        /// The manifest digest.
        digest: String,
        /// Why.
        reason: String,
    },
    /// The image config is not usable.
    #[error("image config {digest}: {reason}")]
    Config {
        /// The config digest.
        digest: String,
        /// Why.
        reason: String,
    },
    /// A layer failed to unpack (its partial snapshot was removed).
    #[error("unpacking layer {index} ({digest}): {source}")]
    Unpack {
        /// Position in the manifest, 0 = bottom.
        index: usize,
        /// The layer blob.
        digest: String,
        /// The cause.
        source: UnpackError,
    },
    /// A snapshot operation failed.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

/// An image's manifest and config, and the chain IDs of its layers (bottom first).
#[derive(Debug, Clone)]
pub struct ImageLayers {
    /// The manifest.
    pub manifest: ImageManifest,
    /// The config (runtime defaults, diffIDs).
    pub config: ImageConfiguration,
    /// Chain ID of each layer, bottom first; the last names the image's top snapshot.
    pub chain_ids: Vec<String>,
}

impl ImageLayers {
    /// The chain ID of the top layer (`None` for an image without layers).
    pub fn top(&self) -> Option<&str> {
        self.chain_ids.last().map(String::as_str)
    }
}

/// What [`prepare_image_rootfs`] made.
#[derive(Debug, Clone)]
pub struct PreparedRootfs {
    /// The image it was made from.
    pub image: ImageLayers,
    /// Key of the container's active snapshot.
    pub key: String,
    /// Mounts that make the rootfs (see [`crate::snapshots::mount_all`]).
    pub mounts: Vec<Mount>,
}

/// The OCI architecture name of this host (`amd64`, `arm64`, …), from the one platform table.
pub fn host_arch() -> Arch {
    Arch::from(Platform::host().architecture.as_str())
}

pub use super::oci::MAX_INDEX_DEPTH;

/// Picks the linux/<host arch> entry of the image index `index_digest` (`raw`): its digest and size.
pub fn select_in_index(raw: &[u8], index_digest: &str) -> Result<(String, u64), RootfsError> {
    let index = ImageIndex::from_reader(raw).map_err(|e| RootfsError::Manifest {
        digest: index_digest.into(),
        reason: format!("not an image index: {e}"),
    })?;
    oci::select_platform(&index, &Platform::host())
        .map(|m| (m.digest().to_string(), m.size()))
        .map_err(|_| RootfsError::Manifest {
            digest: index_digest.into(),
            reason: format!("the index has no manifest for linux/{}", host_arch()),
        })
}

/// Reads the manifest `manifest_digest` and its config from `content`. An image index is
/// accepted too: its linux/<host arch> manifest is used, through at most [`MAX_INDEX_DEPTH`]
/// indexes. Every document read is bounded and must have the size its descriptor gives.
pub fn read_image(
    content: &dyn BlobSource,
    manifest_digest: &str,
) -> Result<ImageLayers, RootfsError> {
    let blob = |d: &str| {
        content.open_blob(d).map_err(|source| RootfsError::Blob {
            digest: d.to_string(),
            source,
        })
    };
    let mut digest = manifest_digest.to_string();
    let mut expected = None;
    let mut visited: Vec<String> = Vec::new();
    let mraw = loop {
        let raw = read_all(blob(&digest)?, &digest, expected)?;
        let kind = oci::detect_media_type(None, &raw).ok_or_else(|| RootfsError::Manifest {
            digest: digest.clone(),
            reason: "not a JSON manifest or index".into(),
        })?;
        if !matches!(kind.as_str(), oci::OCI_INDEX | oci::DOCKER_MANIFEST_LIST) {
            break raw;
        }
        visited.push(digest.clone());
        let (chosen, size) = select_in_index(&raw, &digest)?;
        if visited.contains(&chosen) {
            return Err(RootfsError::Manifest {
                digest: manifest_digest.into(),
                reason: format!("index {digest} lists {chosen}, which leads back to itself"),
            });
        }
        if visited.len() >= MAX_INDEX_DEPTH {
            return Err(RootfsError::Manifest {
                digest: manifest_digest.into(),
                reason: format!("indexes nest more than {MAX_INDEX_DEPTH} deep"),
            });
        }
        digest = chosen;
        expected = Some(size);
    };
    let manifest_digest = digest.as_str();
    let manifest = ImageManifest::from_reader(&mraw[..]).map_err(|e| RootfsError::Manifest {
        digest: manifest_digest.into(),
        reason: e.to_string(),
    })?;
    if manifest.layers().len() > oci::MAX_LAYERS {
        return Err(RootfsError::Manifest {
            digest: manifest_digest.into(),
            reason: format!(
                "{} layers, more than the {} an image may have",
                manifest.layers().len(),
                oci::MAX_LAYERS
            ),
        });
    }
    let cdigest = manifest.config().digest().to_string();
    let craw = read_all(blob(&cdigest)?, &cdigest, Some(manifest.config().size()))?;
    let config = ImageConfiguration::from_reader(&craw[..]).map_err(|e| RootfsError::Config {
        digest: cdigest.clone(),
        reason: e.to_string(),
    })?;
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != manifest.layers().len() {
        return Err(RootfsError::Config {
            digest: cdigest,
            reason: format!(
                "{} diffIDs for {} layers in the manifest",
                diff_ids.len(),
                manifest.layers().len()
            ),
        });
    }
    let chain_ids = chain_ids(diff_ids);
    Ok(ImageLayers {
        manifest,
        config,
        chain_ids,
    })
}

/// Reads a manifest, index or config: at most [`MAX_DOCUMENT_SIZE`] bytes, and exactly the
/// descriptor's size when one is known.
fn read_all(
    r: Box<dyn Read + '_>,
    digest: &str,
    expected: Option<u64>,
) -> Result<Vec<u8>, RootfsError> {
    let mut v = Vec::new();
    r.take(MAX_DOCUMENT_SIZE + 1)
        .read_to_end(&mut v)
        .map_err(|source| RootfsError::Blob {
            digest: digest.to_string(),
            source,
        })?;
    let bad = |reason: String| RootfsError::Blob {
        digest: digest.to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, reason),
    };
    if v.len() as u64 > MAX_DOCUMENT_SIZE {
        return Err(bad(format!(
            "larger than the {MAX_DOCUMENT_SIZE}-byte limit for a manifest, index or config"
        )));
    }
    if let Some(n) = expected.filter(|n| *n != v.len() as u64) {
        return Err(bad(format!(
            "the descriptor says {n} bytes, the blob has {}",
            v.len()
        )));
    }
    Ok(v)
}

static EXTRACT_SEQ: AtomicU64 = AtomicU64::new(0);

/// Key prefix of the temporary snapshots layers are unpacked into.
const EXTRACT_PREFIX: &str = "extract-";

/// Removes unpack snapshots left by an earlier berthd process that stopped mid-unpack (their
/// key carries that process's pid). Returns the keys removed. Call at daemon startup.
pub fn remove_stale_extractions(
    snapshotter: &dyn Snapshotter,
) -> Result<Vec<String>, SnapshotError> {
    let me = std::process::id().to_string();
    let mut removed = Vec::new();
    for info in snapshotter.list()? {
        let Some(rest) = info.key.strip_prefix(EXTRACT_PREFIX) else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or_default();
        if info.kind == Kind::Active && pid != me {
            snapshotter.remove(&info.key)?;
            removed.push(info.key);
        }
    }
    Ok(removed)
}

/// Makes sure every layer of the image has a committed snapshot named by its chain ID,
/// unpacking the missing ones bottom to top. Safe to call concurrently for the same image.
pub fn unpack_image(
    content: &dyn BlobSource,
    snapshotter: &dyn Snapshotter,
    manifest_digest: &str,
    limits: &UnpackLimits,
) -> Result<ImageLayers, RootfsError> {
    let image = read_image(content, manifest_digest)?;
    let diff_ids = image.config.rootfs().diff_ids().clone();
    for (i, layer) in image.manifest.layers().iter().enumerate() {
        let chain = &image.chain_ids[i];
        let parent = (i > 0).then(|| image.chain_ids[i - 1].as_str());
        let _held = snapshotter.locks().lock(chain);
        match snapshotter.stat(chain) {
            Ok(info) if info.kind == Kind::Committed => continue,
            Ok(info) => {
                return Err(SnapshotError::FailedPrecondition {
                    key: chain.clone(),
                    reason: format!("a layer key names a {} snapshot", info.kind),
                }
                .into())
            }
            Err(SnapshotError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let digest = layer.digest().to_string();
        let key = format!(
            "{EXTRACT_PREFIX}{}-{}-{}",
            std::process::id(),
            EXTRACT_SEQ.fetch_add(1, Ordering::Relaxed),
            chain
        );
        snapshotter.prepare(&key, parent, Labels::new())?;
        let blob = LayerBlob {
            media_type: layer.media_type().as_ref(),
            size: layer.size(),
            diff_id: &diff_ids[i],
        };
        let done = unpack_one(content, snapshotter, &key, &digest, &blob, limits)
            .map_err(|e| match e {
                RootfsError::Unpack { source, .. } => RootfsError::Unpack {
                    index: i,
                    digest: digest.clone(),
                    source,
                },
                other => other,
            })
            .and_then(|_| {
                let labels = Labels::from([
                    (LABEL_DIFF_ID.to_string(), diff_ids[i].clone()),
                    (LABEL_LAYER_DIGEST.to_string(), digest.clone()),
                ]);
                snapshotter
                    .commit(chain, &key, labels)
                    .map_err(RootfsError::from)
            });
        if let Err(e) = done {
            if let Err(re) = snapshotter.remove(&key) {
                tracing::warn!(key, error = %re, "removing a failed layer snapshot");
            }
            return Err(e);
        }
    }
    Ok(image)
}

fn unpack_one(
    content: &dyn BlobSource,
    snapshotter: &dyn Snapshotter,
    key: &str,
    digest: &str,
    layer: &LayerBlob<'_>,
    limits: &UnpackLimits,
) -> Result<ApplyStats, RootfsError> {
    let target = snapshotter.apply_target(key)?;
    let blob = content
        .open_blob(digest)
        .map_err(|source| RootfsError::Blob {
            digest: digest.to_string(),
            source,
        })?;
    apply_layer(blob, layer, limits, &target).map_err(|source| RootfsError::Unpack {
        index: 0,
        digest: digest.to_string(),
        source,
    })
}

/// Unpacks the image `manifest_digest` (missing layers only) and prepares the active snapshot
/// `container_key` on its top layer. Mount the returned mounts on the bundle's `rootfs`.
pub fn prepare_image_rootfs(
    content: &dyn BlobSource,
    snapshotter: &dyn Snapshotter,
    manifest_digest: &str,
    container_key: &str,
    labels: Labels,
    limits: &UnpackLimits,
) -> Result<PreparedRootfs, RootfsError> {
    let image = unpack_image(content, snapshotter, manifest_digest, limits)?;
    let mounts = snapshotter.prepare(container_key, image.top(), labels)?;
    Ok(PreparedRootfs {
        image,
        key: container_key.to_string(),
        mounts,
    })
}

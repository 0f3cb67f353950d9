//! `pull`: resolve a reference on the registry (or its mirrors), choose the platform's
//! manifest, and stream every blob it needs into the content store, verified.

use futures_util::{StreamExt, TryStreamExt};
use oci_client::RegistryOperation;
use tokio::sync::mpsc::Sender;

use super::client::{RawManifest, Session};
use super::error::RegistryError;
use super::hosts::RegistryContext;
use super::progress::{PullEvent, PullStatus};
use super::store::{put_bytes, read_blob, BlobStore, BlobWriter};
use crate::images::oci::{self as manifest, Descriptor, Document, ImageManifest as Manifest};
use crate::images::platform::Platform;
use crate::reference::Reference;

/// Emit at most one "Downloading" event per this many bytes (plus the last one).
const PROGRESS_STEP: u64 = 512 * 1024;
/// Bytes collected from the network before one write to the store.
const WRITE_BATCH: usize = 1024 * 1024;

/// What the caller can choose about a pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// The platform to pick from an index; the host's platform when `None`.
    pub platform: Option<Platform>,
    /// Credentials for the registry (from `berth login` / `~/.docker/config.json`).
    pub credentials: Option<super::Credentials>,
}

/// The result of a pull: what the name now refers to and what was stored.
#[derive(Debug, Clone)]
pub struct PulledImage {
    /// The fully qualified reference that was pulled.
    pub reference: Reference,
    /// What the reference resolved to (an index or a manifest); image records point here.
    pub target: Descriptor,
    /// The manifest chosen for the platform (equal to `target` for single-platform images).
    pub manifest: Descriptor,
    /// The image config blob.
    pub config: Descriptor,
    /// The layers, base first.
    pub layers: Vec<Descriptor>,
    /// The host the content came from (a mirror or the registry).
    pub served_by: String,
    /// How many blobs were downloaded (0 means everything was already present).
    pub downloaded: usize,
}

impl PulledImage {
    /// Docker's last line of a pull, given what the name pointed at before the pull.
    pub fn status_line(&self, previous_target: Option<&str>) -> String {
        if previous_target == Some(self.target.digest().as_ref()) {
            format!(
                "Status: Image is up to date for {}",
                self.reference.familiar()
            )
        } else {
            format!(
                "Status: Downloaded newer image for {}",
                self.reference.familiar()
            )
        }
    }

    /// Docker's `Digest: sha256:…` line.
    pub fn digest_line(&self) -> String {
        format!("Digest: {}", self.target.digest())
    }
}

/// Docker's first line of a pull: `latest: Pulling from library/busybox` (repository path only,
/// for every registry).
pub fn pulling_from_line(reference: &Reference) -> String {
    format!(
        "{}: Pulling from {}",
        reference.manifest_reference(),
        reference.repository()
    )
}

/// Pulls `reference` into `store`, reporting per-layer progress on `progress`.
pub async fn pull<S: BlobStore>(
    ctx: &RegistryContext,
    reference: &Reference,
    opts: &PullOptions,
    store: &S,
    progress: Sender<PullEvent>,
) -> Result<PulledImage, RegistryError> {
    let (session, top) = resolve(ctx, reference, opts).await?;
    let target = manifest::descriptor(&top.media_type, &top.digest, top.body.len() as u64)?;
    let mut parents: Vec<(Descriptor, Vec<u8>)> = Vec::new();
    let (manifest_desc, manifest_doc, manifest_body) =
        match manifest::parse(&top.digest, &top.media_type, &top.body)? {
            Document::Manifest(m) => (target.clone(), m, top.body),
            Document::Index(index) => {
                let wanted = opts.platform.clone().unwrap_or_else(Platform::host);
                let chosen = manifest::select_platform(&index, &wanted)?.clone();
                if chosen.size() > manifest::MAX_MANIFEST_SIZE {
                    return Err(RegistryError::ManifestTooLarge {
                        reference: chosen.digest().to_string(),
                        size: chosen.size(),
                        limit: manifest::MAX_MANIFEST_SIZE,
                    });
                }
                let child = session.fetch_manifest(chosen.digest().as_ref()).await?;
                let doc = match manifest::parse(
                    chosen.digest().as_ref(),
                    &child.media_type,
                    &child.body,
                )? {
                    Document::Manifest(m) => m,
                    Document::Index(_) => {
                        return Err(RegistryError::BadManifest {
                            what: chosen.digest().to_string(),
                            message: "an index entry for a platform points at another index".into(),
                        })
                    }
                };
                parents.push((target.clone(), top.body));
                let mut desc = chosen;
                desc.set_media_type(child.media_type.as_str().into());
                (desc, doc, child.body)
            }
        };
    let downloaded = fetch_blobs(ctx, &session, &manifest_doc, store, &progress).await?;
    if let (Some(wanted), true) = (&opts.platform, parents.is_empty()) {
        check_config_platform(
            store,
            reference,
            manifest_doc.config().digest().as_ref(),
            wanted,
        )
        .await?;
    }
    // Parents after children: a stored manifest implies its config and layers are stored.
    put_bytes(store, manifest_desc.digest().as_ref(), &manifest_body).await?;
    for (desc, body) in parents {
        put_bytes(store, desc.digest().as_ref(), &body).await?;
    }
    Ok(PulledImage {
        reference: reference.clone(),
        target,
        manifest: manifest_desc,
        config: manifest_doc.config().clone(),
        layers: manifest_doc.layers().clone(),
        served_by: session.endpoint().host.clone(),
        downloaded,
    })
}

/// For a single-platform image pulled with `--platform`, the config must say that platform.
async fn check_config_platform<S: BlobStore>(
    store: &S,
    reference: &Reference,
    config_digest: &str,
    wanted: &Platform,
) -> Result<(), RegistryError> {
    let bytes = read_blob(store, config_digest).await?;
    let actual: Platform =
        serde_json::from_slice(&bytes).map_err(|e| RegistryError::BadManifest {
            what: config_digest.to_string(),
            message: format!("image config has no platform: {e}"),
        })?;
    if actual.os == wanted.os && actual.architecture == wanted.architecture {
        return Ok(());
    }
    Err(RegistryError::PlatformMismatch {
        reference: reference.familiar(),
        wanted: wanted.to_string(),
        actual: actual.to_string(),
    })
}

/// Finds the first endpoint (mirrors, then the registry) that serves the reference.
pub(crate) async fn resolve(
    ctx: &RegistryContext,
    reference: &Reference,
    opts: &PullOptions,
) -> Result<(Session, RawManifest), RegistryError> {
    let mut mirror_errors = Vec::new();
    for endpoint in ctx.endpoints(reference.registry()) {
        // Credentials are for the registry itself; mirrors are asked anonymously.
        let credentials = if endpoint.mirror {
            None
        } else {
            opts.credentials.as_ref()
        };
        let attempt = async {
            let session = Session::open(
                ctx,
                &endpoint,
                reference.repository(),
                credentials,
                RegistryOperation::Pull,
            )
            .await?;
            let top = session
                .fetch_manifest(reference.manifest_reference())
                .await?;
            Ok::<_, RegistryError>((session, top))
        };
        match attempt.await {
            Ok(found) => return Ok(found),
            Err(e) if endpoint.mirror => {
                tracing::warn!(mirror = %endpoint.host, error = %e, "mirror failed, trying next");
                mirror_errors.push(e.to_string());
            }
            Err(e) if mirror_errors.is_empty() => return Err(e),
            Err(e) => {
                return Err(RegistryError::Transport {
                    host: reference.registry().to_string(),
                    message: format!("{e} (mirrors: {})", mirror_errors.join("; ")),
                })
            }
        }
    }
    Err(RegistryError::Transport {
        host: reference.registry().to_string(),
        message: "no endpoint configured".into(),
    })
}

/// Downloads the config and every missing layer; returns how many blobs were fetched.
async fn fetch_blobs<S: BlobStore>(
    ctx: &RegistryContext,
    session: &Session,
    manifest: &Manifest,
    store: &S,
    progress: &Sender<PullEvent>,
) -> Result<usize, RegistryError> {
    let wrap = |digest: &str| {
        let digest = digest.to_string();
        move |source| RegistryError::Store { digest, source }
    };
    let mut missing = Vec::new();
    for layer in manifest.layers() {
        if missing
            .iter()
            .any(|d: &&Descriptor| d.digest() == layer.digest())
        {
            continue;
        }
        if store
            .exists(layer.digest().as_ref())
            .await
            .map_err(wrap(layer.digest().as_ref()))?
        {
            emit(progress, layer.digest().as_ref(), PullStatus::AlreadyExists).await;
        } else {
            emit(
                progress,
                layer.digest().as_ref(),
                PullStatus::PullingFsLayer,
            )
            .await;
            missing.push(layer);
        }
    }
    let limit = ctx.max_concurrent_transfers.max(1);
    for layer in missing.iter().skip(limit) {
        emit(progress, layer.digest().as_ref(), PullStatus::Waiting).await;
    }
    // The config is read whole later (bundles, `images`): refuse a huge one before downloading.
    if manifest.config().size() > crate::content::MAX_DOCUMENT_SIZE {
        return Err(RegistryError::BadManifest {
            what: manifest.config().digest().to_string(),
            message: format!(
                "image config of {} bytes exceeds the {}-byte limit",
                manifest.config().size(),
                crate::content::MAX_DOCUMENT_SIZE
            ),
        });
    }
    let config_fetched = fetch_blob(session, store, manifest.config(), None).await?;
    // Built eagerly: a lazy `map` closure over borrowed descriptors makes the future !Send.
    let downloads: Vec<_> = missing
        .into_iter()
        .map(|layer| fetch_blob(session, store, layer, Some(progress)))
        .collect();
    let layers_fetched: usize = futures_util::stream::iter(downloads)
        .buffer_unordered(limit)
        .try_fold(0, |n, fetched| async move { Ok(n + usize::from(fetched)) })
        .await?;
    Ok(layers_fetched + usize::from(config_fetched))
}

/// Streams one blob into the store unless it is there; true if it was downloaded.
async fn fetch_blob<S: BlobStore>(
    session: &Session,
    store: &S,
    desc: &Descriptor,
    progress: Option<&Sender<PullEvent>>,
) -> Result<bool, RegistryError> {
    let digest = desc.digest().as_ref();
    let wrap = |source| RegistryError::Store {
        digest: digest.to_string(),
        source,
    };
    let say = |status: PullStatus| async move {
        if let Some(p) = progress {
            emit(p, digest, status).await;
        }
    };
    // Whoever holds the lock downloads; everyone else then finds the blob present.
    let _guard = store.lock(digest).await.map_err(wrap)?;
    if store.exists(digest).await.map_err(wrap)? {
        say(PullStatus::AlreadyExists).await;
        return Ok(false);
    }
    let mut stream = session.blob_stream(digest).await?;
    let mut writer = store.writer(digest, desc.size()).await.map_err(wrap)?;
    let mut current = 0u64;
    let mut reported = 0u64;
    let mut pending = Vec::with_capacity(WRITE_BATCH);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        current += chunk.len() as u64;
        if current > desc.size() {
            return Err(RegistryError::Verification {
                digest: digest.to_string(),
                message: format!(
                    "registry sent more than the {} bytes the manifest announces",
                    desc.size()
                ),
            });
        }
        // Network chunks are small; the store's writes are file system calls: batch them.
        pending.extend_from_slice(&chunk);
        if pending.len() >= WRITE_BATCH {
            writer.write(&pending).await.map_err(wrap)?;
            pending.clear();
        }
        if let Some(p) = progress {
            if current - reported >= PROGRESS_STEP || current == desc.size() {
                reported = current;
                // Progress may be dropped if the client is slow; state changes never are.
                let _ = p.try_send(PullEvent::new(
                    digest,
                    PullStatus::Downloading {
                        current,
                        total: desc.size(),
                    },
                ));
            }
        }
    }
    if !pending.is_empty() {
        writer.write(&pending).await.map_err(wrap)?;
    }
    if current != desc.size() {
        return Err(RegistryError::Verification {
            digest: digest.to_string(),
            message: format!("truncated download: got {current} of {} bytes", desc.size()),
        });
    }
    say(PullStatus::VerifyingChecksum).await;
    writer
        .commit()
        .await
        .map_err(|source| RegistryError::Verification {
            digest: digest.to_string(),
            message: format!("content store rejected the blob: {source}"),
        })?;
    say(PullStatus::DownloadComplete).await;
    say(PullStatus::PullComplete).await;
    Ok(true)
}

async fn emit(progress: &Sender<PullEvent>, digest: &str, status: PullStatus) {
    // A client that went away does not stop the pull.
    let _ = progress.send(PullEvent::new(digest, status)).await;
}

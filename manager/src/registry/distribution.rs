//! The registry code behind the Images service's [`Distribution`] seam, over the daemon's
//! [`ContentStore`].

use std::path::Path;

use tokio::sync::mpsc;

use super::store::{BlobStore, BlobWriter, StoreError};
use super::{Credentials, HostConfig, Platform, PullEvent, RegistryContext, RegistryError};
use crate::config::Config;
use crate::content::{ContentStore, ContentWriter, Digest, DigestGuard};
use crate::gc::lease;
use crate::images::distribution::{
    self as dist, Distribution, DistributionError, DistributionErrorKind as Kind, LoginOutcome,
    PushedImage, ResolvedImage,
};
use crate::images::progress::Progress;
use crate::metadata::images::{Descriptor as RecordDescriptor, ImageRecord};
use crate::reference::{Reference, DEFAULT_REGISTRY};

/// Events buffered between the registry code and the gRPC progress stream.
const PROGRESS_BUFFER: usize = 256;

// Pulls and loads run inside a lease's scope (`gc::lease::scope`): every blob they ask about or
// write becomes a root of that lease before the store answers, so a blob found present stays
// present until the image record refers to it.
impl BlobStore for ContentStore {
    type Writer = ContentWriter;
    type Guard = DigestGuard;

    async fn exists(&self, digest: &str) -> Result<bool, StoreError> {
        let digest = Digest::parse(digest)?;
        lease::note_blob(digest.as_str()).await;
        Ok(ContentStore::exists(self, &digest).await)
    }

    async fn lock(&self, digest: &str) -> Result<DigestGuard, StoreError> {
        let digest = Digest::parse(digest)?;
        lease::note_blob(digest.as_str()).await;
        Ok(ContentStore::lock(self, &digest).await)
    }

    async fn writer(&self, digest: &str, size: u64) -> Result<ContentWriter, StoreError> {
        let digest = Digest::parse(digest)?;
        lease::note_blob(digest.as_str()).await;
        Ok(ContentStore::writer(self, &digest, Some(size)).await?)
    }

    async fn read_all(&self, digest: &str) -> Result<Vec<u8>, StoreError> {
        Ok(ContentStore::read_all(self, &Digest::parse(digest)?).await?)
    }
}

impl BlobWriter for ContentWriter {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        Ok(self.write_all(chunk).await?)
    }

    async fn commit(self) -> Result<(), StoreError> {
        ContentWriter::commit(self).await?;
        Ok(())
    }
}

/// Pull, push, load and login for berthd, configured from `[registries."…"]`.
pub struct RegistryDistribution {
    ctx: RegistryContext,
    store: ContentStore,
}

impl RegistryDistribution {
    /// Builds the registry context from the daemon config; bad mirror URLs are reported here.
    pub fn new(config: &Config, store: ContentStore) -> Result<Self, String> {
        let ctx = RegistryContext {
            hosts: config
                .registries
                .iter()
                .map(|(host, r)| {
                    let hc = HostConfig {
                        mirrors: r.mirrors.clone(),
                        plain_http: r.plain_http,
                    };
                    (host.clone(), hc)
                })
                .collect(),
            ..RegistryContext::default()
        };
        ctx.validate()?;
        Ok(RegistryDistribution { ctx, store })
    }
}

fn kind_of(err: &RegistryError) -> Kind {
    match err {
        RegistryError::Reference(_) | RegistryError::BadPlatform(_) => Kind::InvalidArgument,
        RegistryError::Layout { .. } => Kind::InvalidArgument,
        RegistryError::NotFound { .. }
        | RegistryError::NoMatchingPlatform { .. }
        | RegistryError::PlatformMismatch { .. } => Kind::NotFound,
        RegistryError::Unauthorized { .. } => Kind::Unauthenticated,
        RegistryError::Transport { .. } => Kind::Unavailable,
        RegistryError::ManifestTooLarge { .. }
        | RegistryError::BadManifest { .. }
        | RegistryError::Verification { .. }
        | RegistryError::Store { .. } => Kind::Internal,
    }
}

fn to_dist(err: RegistryError) -> DistributionError {
    DistributionError::new(kind_of(&err), err.to_string())
}

fn credentials(c: Option<dist::Credentials>) -> Result<Option<Credentials>, DistributionError> {
    match c {
        None => Ok(None),
        Some(c) if c.username.is_empty() && c.password.is_empty() => {
            if c.identity_token.is_empty() {
                Ok(None)
            } else {
                Err(DistributionError::new(
                    Kind::InvalidArgument,
                    "identity tokens are not supported: log in with a username and password",
                ))
            }
        }
        Some(c) => Ok(Some(Credentials {
            username: c.username,
            password: c.password,
        })),
    }
}

fn record_descriptor(d: &super::Descriptor) -> Result<RecordDescriptor, DistributionError> {
    let digest = Digest::parse(d.digest().as_ref())
        .map_err(|e| DistributionError::new(Kind::Internal, e.to_string()))?;
    Ok(RecordDescriptor {
        media_type: d.media_type().to_string(),
        digest,
        size: d.size(),
    })
}

/// Runs `op` with a progress sender, forwarding its events to the Images service's `progress`.
async fn with_progress<T>(
    progress: &Progress,
    op: impl std::future::Future<Output = T>,
    mut rx: mpsc::Receiver<PullEvent>,
) -> T {
    // `op` owns the only sender, so the forwarding loop ends when `op` does.
    let forward = async {
        while let Some(ev) = rx.recv().await {
            let (status, current, total) = ev.status.label();
            if let Ok(digest) = Digest::parse(&ev.digest) {
                progress.blob(&digest, status, current, total).await;
            }
        }
    };
    let (out, ()) = tokio::join!(op, forward);
    out
}

#[tonic::async_trait]
impl Distribution for RegistryDistribution {
    async fn pull(
        &self,
        opts: dist::PullOptions,
        progress: Progress,
    ) -> Result<ResolvedImage, DistributionError> {
        let reference = Reference::parse(&opts.reference).map_err(|e| to_dist(e.into()))?;
        let platform = match opts.platform.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => Some(Platform::parse(p).map_err(|e| to_dist(e.into()))?),
            None => None,
        };
        let pull_opts = super::PullOptions {
            platform,
            credentials: credentials(opts.credentials)?,
        };
        let (tx, rx) = mpsc::channel(PROGRESS_BUFFER);
        let op = super::pull(&self.ctx, &reference, &pull_opts, &self.store, tx);
        let pulled = with_progress(&progress, op, rx).await.map_err(to_dist)?;
        Ok(ResolvedImage {
            name: pulled.reference.to_string(),
            target: record_descriptor(&pulled.target)?,
        })
    }

    async fn push(
        &self,
        image: &ImageRecord,
        credentials_in: Option<dist::Credentials>,
        progress: Progress,
    ) -> Result<PushedImage, DistributionError> {
        let reference = Reference::parse(&image.name).map_err(|e| to_dist(e.into()))?;
        let target = crate::images::oci::descriptor(
            &image.target.media_type,
            &image.target.digest.to_string(),
            image.target.size,
        )
        .map_err(|e| to_dist(e.into()))?;
        let creds = credentials(credentials_in)?;
        let (tx, rx) = mpsc::channel(PROGRESS_BUFFER);
        let op = super::push(
            &self.ctx,
            &reference,
            &target,
            creds.as_ref(),
            &self.store,
            tx,
        );
        with_progress(&progress, op, rx).await.map_err(to_dist)?;
        Ok(PushedImage {
            name: reference.to_string(),
            digest: image.target.digest.clone(),
            size: image.target.size,
        })
    }

    async fn load(&self, path: &Path) -> Result<Vec<ResolvedImage>, DistributionError> {
        let loaded = super::load_layout(path, &self.store)
            .await
            .map_err(to_dist)?;
        let mut out = Vec::new();
        for image in loaded {
            let Some(reference) = image.reference else {
                return Err(DistributionError::new(
                    Kind::InvalidArgument,
                    format!(
                        "{}: index.json entry {} has no image name (needs annotation io.containerd.image.name or a full org.opencontainers.image.ref.name; ref.name is {:?})",
                        path.display(),
                        image.target.digest(),
                        image.ref_name.unwrap_or_default()
                    ),
                ));
            };
            out.push(ResolvedImage {
                name: reference.to_string(),
                target: record_descriptor(&image.target)?,
            });
        }
        Ok(out)
    }

    async fn login(
        &self,
        server: &str,
        creds: dist::Credentials,
    ) -> Result<LoginOutcome, DistributionError> {
        let host = server
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or("");
        let registry = match host {
            "" | "index.docker.io" | "registry-1.docker.io" => DEFAULT_REGISTRY,
            other => other,
        };
        let Some(creds) = credentials(Some(creds))? else {
            return Err(DistributionError::new(
                Kind::InvalidArgument,
                "login needs a username and password",
            ));
        };
        super::login(&self.ctx, registry, &creds)
            .await
            .map_err(to_dist)?;
        Ok(LoginOutcome {
            status: "Login Succeeded".into(),
            identity_token: None,
        })
    }
}

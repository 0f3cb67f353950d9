//! `ImageService`: the image logic behind the Images gRPC service.

use std::path::Path;
use std::sync::{Arc, RwLock};

use chrono::Utc;

use super::distribution::{
    Credentials, Distribution, DistributionError, LoginOutcome, PullOptions, PushedImage,
    ResolvedImage,
};
use super::manifest::{self, ImageFacts};
use super::naming;
use super::progress::Progress;
use super::usage::ImageUsage;
use crate::content::{ContentError, ContentStore, Digest};
use crate::gc::{lease, Collector, GcError, Leases};
use crate::metadata::images::{ImageRecord, IMAGES};
use crate::metadata::{Metadata, MetadataError};

/// Image operation failures.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// No image matches the name or ID.
    #[error("No such image: {0}")]
    NotFound(String),
    /// The name is not a valid reference.
    #[error(transparent)]
    InvalidName(#[from] naming::InvalidName),
    /// Removal refused; the message says why (in use, several names).
    #[error("{0}")]
    Conflict(String),
    /// The registry code is not part of this build.
    #[error("{0} is not available: this berthd was built without registry support")]
    Unsupported(&'static str),
    /// A pull, push, load or login failed.
    #[error(transparent)]
    Distribution(#[from] DistributionError),
    /// The metadata store failed.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// The content store failed.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// Garbage collection after a removal failed.
    #[error(transparent)]
    Gc(#[from] GcError),
}

/// An image record with the facts computed from its blobs.
#[derive(Debug, Clone)]
pub struct ImageView {
    /// The stored record.
    pub record: ImageRecord,
    /// Facts from manifest and config for the host platform.
    pub facts: ImageFacts,
}

/// Result of a pull.
#[derive(Debug, Clone)]
pub struct PullOutcome {
    /// The image after the pull.
    pub image: ImageView,
    /// True if the name now points at a different target than before.
    pub downloaded_newer: bool,
}

/// Result of a remove.
#[derive(Debug, Clone, Default)]
pub struct RemoveOutcome {
    /// Full names removed.
    pub untagged: Vec<String>,
    /// Blobs deleted from the content store.
    pub deleted: Vec<Digest>,
    /// Snapshots (unpacked layers) removed.
    pub snapshots: Vec<String>,
}

/// Image logic shared by the gRPC service and other daemon parts. Cheap to clone.
#[derive(Clone)]
pub struct ImageService {
    inner: Arc<Inner>,
}

struct Inner {
    metadata: Metadata,
    content: ContentStore,
    distribution: RwLock<Option<Arc<dyn Distribution>>>,
    usage: RwLock<Option<Arc<dyn ImageUsage>>>,
    // Pulls and loads run under a lease: what they write or find present is a root for the
    // collector until their image record exists.
    leases: Leases,
    // Set once the snapshotter exists; before that, collections cover blobs only.
    collector: RwLock<Option<Collector>>,
}

fn is_id_prefix(s: &str) -> Option<&str> {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    let ok = (4..=64).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then_some(hex)
}

impl ImageService {
    /// Creates the service over the daemon's stores, without registry support until
    /// [`ImageService::set_distribution`] is called.
    pub fn new(metadata: Metadata, content: ContentStore) -> Self {
        ImageService {
            inner: Arc::new(Inner {
                metadata,
                content,
                distribution: RwLock::new(None),
                usage: RwLock::new(None),
                leases: Leases::default(),
                collector: RwLock::new(None),
            }),
        }
    }

    /// Plugs in the registry implementation for pull, push, load and login.
    pub fn set_distribution(&self, d: Arc<dyn Distribution>) {
        *self
            .inner
            .distribution
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(d);
    }

    /// Plugs in the containers' "who uses this image" check for removal.
    pub fn set_usage(&self, u: Arc<dyn ImageUsage>) {
        *self.inner.usage.write().unwrap_or_else(|p| p.into_inner()) = Some(u);
    }

    /// Plugs in the collector (with the snapshotter) that removals run.
    pub fn set_collector(&self, c: Collector) {
        *self
            .inner
            .collector
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(c);
    }

    /// The leases pulls, loads and container creates hold.
    pub fn leases(&self) -> &Leases {
        &self.inner.leases
    }

    /// The collector removals run (blobs only until [`ImageService::set_collector`]).
    pub fn collector(&self) -> Collector {
        self.inner
            .collector
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_else(|| {
                Collector::new(
                    self.inner.metadata.clone(),
                    self.inner.content.clone(),
                    None,
                    self.inner.leases.clone(),
                )
            })
    }

    /// The content store images live in.
    pub fn content(&self) -> &ContentStore {
        &self.inner.content
    }

    fn distribution(&self, what: &'static str) -> Result<Arc<dyn Distribution>, ImageError> {
        self.inner
            .distribution
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(ImageError::Unsupported(what))
    }

    async fn view(&self, record: ImageRecord) -> ImageView {
        let facts = manifest::resolve(&self.inner.content, &record.target).await;
        ImageView { record, facts }
    }

    /// Every image, sorted by name.
    pub async fn list(&self) -> Result<Vec<ImageView>, ImageError> {
        let records = self.inner.metadata.read(|tx| IMAGES.list(tx))?;
        let mut out = Vec::with_capacity(records.len());
        for (_, r) in records {
            out.push(self.view(r).await);
        }
        Ok(out)
    }

    /// Number of image records.
    pub fn count(&self) -> Result<usize, ImageError> {
        Ok(self.inner.metadata.read(|tx| IMAGES.list(tx))?.len())
    }

    /// Records matching a name (exact after normalization) or else an image ID prefix / digest.
    pub async fn find(&self, name_or_id: &str) -> Result<Vec<ImageView>, ImageError> {
        if let Ok(full) = naming::normalize(name_or_id) {
            if let Some(r) = self.inner.metadata.read(|tx| IMAGES.get(tx, &full))? {
                return Ok(vec![self.view(r).await]);
            }
        }
        let Some(hex) = is_id_prefix(name_or_id) else {
            return Err(ImageError::NotFound(name_or_id.to_string()));
        };
        let mut out = Vec::new();
        for v in self.list().await? {
            let hit = |d: &Option<Digest>| d.as_ref().is_some_and(|d| d.hex().starts_with(hex));
            if hit(&v.facts.config_digest) || v.record.target.digest.hex().starts_with(hex) {
                out.push(v);
            }
        }
        if out.is_empty() {
            return Err(ImageError::NotFound(name_or_id.to_string()));
        }
        Ok(out)
    }

    /// One image by name or ID (the first name, if an ID matches several).
    pub async fn get(&self, name_or_id: &str) -> Result<ImageView, ImageError> {
        let mut found = self.find(name_or_id).await?;
        Ok(found.remove(0))
    }

    /// Full names of every other record pointing at the same target as `view`.
    pub async fn other_names(&self, view: &ImageView) -> Result<Vec<String>, ImageError> {
        let all = self.inner.metadata.read(|tx| IMAGES.list(tx))?;
        Ok(all
            .into_iter()
            .filter(|(k, r)| *k != view.record.name && r.target.digest == view.record.target.digest)
            .map(|(k, _)| k)
            .collect())
    }

    /// Points `resolved.name` at `resolved.target`, returning the record and whether it changed.
    pub fn record(&self, resolved: &ResolvedImage) -> Result<(ImageRecord, bool), ImageError> {
        let name = naming::normalize(&resolved.name)?;
        let now = Utc::now();
        Ok(self.inner.metadata.write(|tx| {
            let old = IMAGES.get(tx, &name)?;
            let changed = old.as_ref().is_none_or(|o| o.target != resolved.target);
            let rec = match old {
                Some(o) if !changed => o,
                Some(o) => ImageRecord {
                    target: resolved.target.clone(),
                    updated_at: now,
                    ..o
                },
                None => ImageRecord {
                    name: name.clone(),
                    target: resolved.target.clone(),
                    created_at: now,
                    updated_at: now,
                    labels: Default::default(),
                },
            };
            if changed {
                IMAGES.put(tx, &name, &rec)?;
            }
            Ok((rec, changed))
        })?)
    }

    /// Gives `source` the additional name `target` (replacing whatever `target` named).
    pub async fn tag(&self, source: &str, target: &str) -> Result<ImageView, ImageError> {
        let src = self.get(source).await?;
        let resolved = ResolvedImage {
            name: naming::normalize(target)?,
            target: src.record.target.clone(),
        };
        let (rec, _) = self.record(&resolved)?;
        Ok(self.view(rec).await)
    }

    /// Removes an image name (or every name of an image ID with `force`) and deletes blobs no
    /// remaining image references.
    pub async fn remove(&self, name_or_id: &str, force: bool) -> Result<RemoveOutcome, ImageError> {
        let by_name = naming::normalize(name_or_id).ok().and_then(|full| {
            self.inner
                .metadata
                .read(|tx| IMAGES.get(tx, &full))
                .ok()
                .flatten()
        });
        let victims: Vec<ImageRecord> = match by_name {
            Some(r) => vec![r],
            None => {
                let found = self.find(name_or_id).await?;
                let mut targets: Vec<_> = found.iter().map(|v| &v.record.target.digest).collect();
                targets.dedup();
                if found.len() > 1 && !force {
                    let id = found[0].facts.config_digest.as_ref().unwrap_or(targets[0]);
                    return Err(ImageError::Conflict(format!(
                        "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                        id.short()
                    )));
                }
                found.into_iter().map(|v| v.record).collect()
            }
        };
        self.check_users(&victims, force)?;
        let names: Vec<String> = victims.iter().map(|r| r.name.clone()).collect();
        self.inner.metadata.write(|tx| {
            for n in &names {
                IMAGES.remove(tx, n)?;
            }
            Ok(())
        })?;
        // Whatever only these images kept (blobs, unpacked layers) goes now.
        let report = self.collector().collect().await?;
        let deleted = report.blobs;
        let snapshots = report.snapshots;
        Ok(RemoveOutcome {
            untagged: names,
            deleted,
            snapshots,
        })
    }

    fn check_users(&self, victims: &[ImageRecord], force: bool) -> Result<(), ImageError> {
        let Some(usage) = self
            .inner
            .usage
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        else {
            return Ok(());
        };
        for r in victims {
            let users = usage.users(&r.name).map_err(ImageError::Conflict)?;
            let display = naming::display(&r.name).full;
            if let Some(u) = users.iter().find(|u| u.running) {
                return Err(ImageError::Conflict(format!(
                    "conflict: unable to remove repository reference \"{display}\" - container {} is running",
                    short_id(&u.container_id)
                )));
            }
            if let (Some(u), false) = (users.first(), force) {
                return Err(ImageError::Conflict(format!(
                    "conflict: unable to remove repository reference \"{display}\" (must force) - container {} is using its referenced image",
                    short_id(&u.container_id)
                )));
            }
        }
        Ok(())
    }

    /// Pulls an image through the registry code and records its name.
    pub async fn pull(
        &self,
        opts: PullOptions,
        progress: Progress,
    ) -> Result<PullOutcome, ImageError> {
        let dist = self.distribution("pull")?;
        let lease = self.inner.leases.create("pull", lease::DEFAULT_TTL);
        let resolved = lease::scope(lease.clone(), dist.pull(opts, progress)).await?;
        let (rec, changed) = self.record(&resolved)?;
        drop(lease);
        Ok(PullOutcome {
            image: self.view(rec).await,
            downloaded_newer: changed,
        })
    }

    /// Pushes an image through the registry code.
    pub async fn push(
        &self,
        name: &str,
        credentials: Option<Credentials>,
        progress: Progress,
    ) -> Result<PushedImage, ImageError> {
        let dist = self.distribution("push")?;
        let image = self.get(name).await?;
        Ok(dist.push(&image.record, credentials, progress).await?)
    }

    /// Loads images from a path on the daemon host and records their names.
    pub async fn load(&self, path: &Path) -> Result<Vec<String>, ImageError> {
        let dist = self.distribution("load")?;
        let lease = self.inner.leases.create("load", lease::DEFAULT_TTL);
        let loaded = lease::scope(lease.clone(), dist.load(path)).await;
        let resolved = match loaded {
            Ok(r) => r,
            Err(e) => {
                // A hostile or broken archive must leave nothing: the blobs stored before the
                // failure are referenced by no record, and without the lease a collection
                // removes them (pulls and loads in flight keep theirs through their leases).
                drop(lease);
                if let Err(ge) = self.collector().collect().await {
                    tracing::warn!(error = %ge, "collecting after a failed load");
                }
                return Err(e.into());
            }
        };
        let mut names = Vec::new();
        for resolved in resolved {
            let (rec, _) = self.record(&resolved)?;
            names.push(rec.name);
        }
        drop(lease);
        Ok(names)
    }

    /// Checks credentials against a registry.
    pub async fn login(
        &self,
        server: &str,
        credentials: Credentials,
    ) -> Result<LoginOutcome, ImageError> {
        Ok(self
            .distribution("login")?
            .login(server, credentials)
            .await?)
    }
}

fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;

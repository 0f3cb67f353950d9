//! Garbage collection of content blobs and snapshots (containerd's mark and sweep).
//!
//! Roots: every image record (its index, manifests, configs and layers, and the chain IDs of
//! its layers as snapshot keys), every container record (its rootfs snapshot), every live
//! [`lease::Lease`], and the layer unpacks this process has in flight (`extract-<pid>-…`). A
//! snapshot kept keeps its parents. Everything else is swept: snapshots children first, then
//! blobs. `rmi`, `image prune` and `system prune` run a collection; `system df` shows what one
//! would reclaim ([`Collector::usage`]).

pub mod lease;
pub mod service;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;

use crate::content::{ContentError, ContentStore, Digest};
use crate::metadata::containers::{ContainerRecord, CONTAINERS};
use crate::metadata::images::IMAGES;
use crate::metadata::{Metadata, MetadataError};
use crate::snapshots::{chain_ids, Info, Kind, SnapshotError, Snapshotter};

pub use lease::{Lease, Leases};

/// Collection failures.
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    /// Reading the roots failed.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// Listing the content store failed.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// Listing snapshots failed.
    #[error(transparent)]
    Snapshots(#[from] SnapshotError),
    /// A blocking task failed.
    #[error("garbage collection task: {0}")]
    Task(String),
}

/// What a collection removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Blobs deleted.
    pub blobs: Vec<Digest>,
    /// Snapshot keys removed.
    pub snapshots: Vec<String>,
    /// Bytes freed (blob sizes plus snapshot usage).
    pub reclaimed: u64,
}

/// Disk use split by whether a collection would keep it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// Number of snapshots.
    pub snapshots: u64,
    /// Snapshots something refers to.
    pub snapshots_in_use: u64,
    /// Bytes of all snapshots.
    pub snapshot_bytes: u64,
    /// Bytes of snapshots a collection would remove.
    pub snapshot_reclaimable: u64,
    /// Number of blobs.
    pub blobs: u64,
    /// Bytes of all blobs.
    pub blob_bytes: u64,
    /// Bytes of blobs a collection would remove.
    pub blob_reclaimable: u64,
}

/// The collector over the daemon's stores. Cheap to clone.
#[derive(Clone)]
pub struct Collector {
    metadata: Metadata,
    content: ContentStore,
    snapshotter: Option<Arc<dyn Snapshotter>>,
    leases: Leases,
}

/// The result of the mark phase.
struct Marked {
    blobs: HashSet<String>,
    snapshots: HashSet<String>,
    all_snapshots: Vec<Info>,
}

/// Blobs an image keeps and the snapshot keys (chain IDs) of its layers, for every platform
/// whose manifest and config are stored.
async fn image_roots(content: &ContentStore, target: &Digest) -> (Vec<String>, Vec<String>) {
    let mut blobs = Vec::new();
    let mut chains = Vec::new();
    let mut queue = vec![target.clone()];
    let mut seen = HashSet::new();
    while let Some(d) = queue.pop() {
        if !seen.insert(d.to_string()) {
            continue;
        }
        blobs.push(d.to_string());
        // read_all is bounded; a layer (large) fails it and is a leaf anyway.
        let Ok(raw) = content.read_all(&d).await else {
            continue;
        };
        let Ok(doc) = serde_json::from_slice::<Value>(&raw) else {
            continue;
        };
        let digest_of = |v: &Value| {
            v.get("digest")
                .and_then(Value::as_str)
                .and_then(|s| Digest::parse(s).ok())
        };
        for m in doc
            .get("manifests")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            queue.extend(digest_of(m));
        }
        for l in doc
            .get("layers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            blobs.extend(digest_of(l).map(|d| d.to_string()));
        }
        if let Some(cd) = doc.get("config").and_then(digest_of) {
            blobs.push(cd.to_string());
            if let Ok(craw) = content.read_all(&cd).await {
                if let Ok(cfg) = serde_json::from_slice::<Value>(&craw) {
                    let diff_ids: Vec<String> = cfg
                        .pointer("/rootfs/diff_ids")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect();
                    chains.extend(chain_ids(&diff_ids));
                }
            }
        }
    }
    (blobs, chains)
}

/// Adds the parent chain of every kept snapshot (a layer keeps the layers below it).
fn close_over_parents(keep: &mut HashSet<String>, all: &[Info]) {
    let parent: HashMap<&str, Option<&str>> = all
        .iter()
        .map(|i| (i.key.as_str(), i.parent.as_deref()))
        .collect();
    let start: Vec<String> = keep.iter().cloned().collect();
    for k in start {
        let mut next = parent.get(k.as_str()).copied().flatten();
        while let Some(p) = next {
            if !keep.insert(p.to_string()) {
                break;
            }
            next = parent.get(p).copied().flatten();
        }
    }
}

fn depth(key: &str, all: &HashMap<&str, Option<&str>>) -> usize {
    let mut d = 0;
    let mut next = all.get(key).copied().flatten();
    while let Some(p) = next {
        d += 1;
        if d > all.len() {
            break;
        }
        next = all.get(p).copied().flatten();
    }
    d
}

impl Collector {
    /// A collector over these stores; without a snapshotter only blobs are collected.
    pub fn new(
        metadata: Metadata,
        content: ContentStore,
        snapshotter: Option<Arc<dyn Snapshotter>>,
        leases: Leases,
    ) -> Self {
        Collector {
            metadata,
            content,
            snapshotter,
            leases,
        }
    }

    /// The leases this collector honours.
    pub fn leases(&self) -> &Leases {
        &self.leases
    }

    async fn snapshots(&self) -> Result<Vec<Info>, GcError> {
        let Some(s) = self.snapshotter.clone() else {
            return Ok(Vec::new());
        };
        tokio::task::spawn_blocking(move || s.list())
            .await
            .map_err(|e| GcError::Task(e.to_string()))?
            .map_err(GcError::from)
    }

    async fn mark(&self) -> Result<Marked, GcError> {
        let roots = self.leases.roots();
        let mut blobs = roots.blobs;
        let mut snapshots = roots.snapshots;
        let images = self.metadata.read(|tx| IMAGES.list(tx))?;
        for (_, r) in &images {
            let (b, c) = image_roots(&self.content, &r.target.digest).await;
            blobs.extend(b);
            snapshots.extend(c);
        }
        let containers: Vec<(String, ContainerRecord)> =
            self.metadata.read(|tx| CONTAINERS.list(tx))?;
        snapshots.extend(
            containers
                .into_iter()
                .map(|(_, c)| c.snapshot_key)
                .filter(|k| !k.is_empty()),
        );
        let all_snapshots = self.snapshots().await?;
        let in_flight = format!("extract-{}-", std::process::id());
        snapshots.extend(
            all_snapshots
                .iter()
                .filter(|i| i.kind == Kind::Active && i.key.starts_with(&in_flight))
                .map(|i| i.key.clone()),
        );
        close_over_parents(&mut snapshots, &all_snapshots);
        Ok(Marked {
            blobs,
            snapshots,
            all_snapshots,
        })
    }

    /// Removes every blob and snapshot nothing refers to.
    pub async fn collect(&self) -> Result<GcReport, GcError> {
        let _sweep = self.leases.begin_sweep().await;
        let marked = self.mark().await?;
        let mut report = GcReport::default();
        if let Some(s) = self.snapshotter.clone() {
            let parents: HashMap<&str, Option<&str>> = marked
                .all_snapshots
                .iter()
                .map(|i| (i.key.as_str(), i.parent.as_deref()))
                .collect();
            let mut victims: Vec<(usize, String, Kind)> = marked
                .all_snapshots
                .iter()
                .filter(|i| !marked.snapshots.contains(&i.key))
                .map(|i| (depth(&i.key, &parents), i.key.clone(), i.kind))
                .collect();
            // Children before parents: a snapshot with children cannot go.
            victims.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            let (removed, bytes) = tokio::task::spawn_blocking(move || {
                let mut removed = Vec::new();
                let mut bytes = 0;
                for (_, key, kind) in victims {
                    // An unpack of this chain ID holds its lock while it checks and commits.
                    let _held = (kind == Kind::Committed).then(|| s.locks().lock(&key));
                    let size = s.usage(&key).map(|u| u.size).unwrap_or(0);
                    match s.remove(&key) {
                        Ok(()) => {
                            tracing::info!(snapshot = key, "garbage collected");
                            bytes += size;
                            removed.push(key);
                        }
                        Err(SnapshotError::NotFound(_)) => {}
                        Err(e) => tracing::warn!(snapshot = key, error = %e, "cannot collect"),
                    }
                }
                (removed, bytes)
            })
            .await
            .map_err(|e| GcError::Task(e.to_string()))?;
            report.snapshots = removed;
            report.reclaimed += bytes;
        }
        for info in self.content.list().await? {
            if marked.blobs.contains(&info.digest.to_string()) {
                continue;
            }
            match self.content.delete(&info.digest).await {
                Ok(()) => {
                    tracing::info!(digest = %info.digest, "garbage collected");
                    report.reclaimed += info.size;
                    report.blobs.push(info.digest);
                }
                Err(ContentError::NotFound(_)) => {}
                Err(e) => tracing::warn!(digest = %info.digest, error = %e, "cannot collect"),
            }
        }
        report.blobs.sort();
        Ok(report)
    }

    /// What the stores hold and what a collection would reclaim.
    pub async fn usage(&self) -> Result<DiskUsage, GcError> {
        let marked = self.mark().await?;
        let mut u = DiskUsage::default();
        if let Some(s) = self.snapshotter.clone() {
            let all = marked.all_snapshots.clone();
            let keep = marked.snapshots.clone();
            let sizes = tokio::task::spawn_blocking(move || {
                all.iter()
                    .map(|i| {
                        let size = s.usage(&i.key).map(|u| u.size).unwrap_or(0);
                        (keep.contains(&i.key), size)
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .map_err(|e| GcError::Task(e.to_string()))?;
            for (kept, size) in sizes {
                u.snapshots += 1;
                u.snapshot_bytes += size;
                if kept {
                    u.snapshots_in_use += 1;
                } else {
                    u.snapshot_reclaimable += size;
                }
            }
        }
        for info in self.content.list().await? {
            u.blobs += 1;
            u.blob_bytes += info.size;
            if !marked.blobs.contains(&info.digest.to_string()) {
                u.blob_reclaimable += info.size;
            }
        }
        Ok(u)
    }
}

#[cfg(test)]
mod tests;

//! Leases: extra garbage-collection roots for work in flight (containerd's model).
//!
//! A pull writes blobs before any image record refers to them, and a container's rootfs snapshot
//! exists before its container record does; a collection in between would delete them. A lease
//! names such resources; the collector keeps everything a live lease names. Leases expire (a
//! leaked one cannot pin content forever) and are deleted when their [`Lease`] handle drops,
//! unless detached.
//!
//! Code that writes blobs does not carry a lease around: [`scope`] makes a lease current for a
//! task (like containerd's lease in a context), and the content store adds every blob it is asked
//! about or writes to the current lease ([`note_blob`]) before it answers, so the blob is a root
//! before the caller relies on it.
//!
//! Adding to a lease waits while a collection sweeps, so a resource is either added before the
//! collector looked at the leases (and kept) or after it finished (and found gone, so the caller
//! writes it again).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a lease lives unless deleted first.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60 * 60);

#[derive(Debug)]
struct Record {
    expires: Instant,
    blobs: HashSet<String>,
    snapshots: HashSet<String>,
}

#[derive(Debug, Default)]
struct Inner {
    table: Mutex<HashMap<String, Record>>,
    /// Held exclusively by a collection for its whole mark and sweep; additions hold it shared.
    sweep: tokio::sync::RwLock<()>,
    next: AtomicU64,
}

/// The daemon's leases; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Leases {
    inner: Arc<Inner>,
}

/// Everything live leases keep.
#[derive(Debug, Default, Clone)]
pub struct Roots {
    /// Blob digests.
    pub blobs: HashSet<String>,
    /// Snapshot keys.
    pub snapshots: HashSet<String>,
}

/// Held by a collection: no lease gains resources meanwhile.
pub struct SweepGuard<'a>(#[allow(dead_code)] tokio::sync::RwLockWriteGuard<'a, ()>);

impl Leases {
    fn table(&self) -> MutexGuard<'_, HashMap<String, Record>> {
        // Inserts and removes only: a panic cannot leave the map inconsistent.
        self.inner.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates a lease `<prefix>-<n>` that expires after `ttl`.
    pub fn create(&self, prefix: &str, ttl: Duration) -> Lease {
        let n = self.inner.next.fetch_add(1, Ordering::Relaxed);
        self.create_named(&format!("{prefix}-{n}"), ttl)
    }

    /// Creates (or renews, keeping its resources) the lease `id`.
    pub fn create_named(&self, id: &str, ttl: Duration) -> Lease {
        let expires = Instant::now() + ttl;
        self.table()
            .entry(id.to_string())
            .and_modify(|r| r.expires = expires)
            .or_insert_with(|| Record {
                expires,
                blobs: HashSet::new(),
                snapshots: HashSet::new(),
            });
        Lease(Arc::new(Handle {
            id: id.to_string(),
            leases: self.clone(),
            detached: Mutex::new(false),
        }))
    }

    /// Deletes the lease `id` (absent is fine).
    pub fn delete(&self, id: &str) {
        self.table().remove(id);
    }

    /// Ids of the live leases.
    pub fn list(&self) -> Vec<String> {
        let now = Instant::now();
        let mut ids: Vec<String> = self
            .table()
            .iter()
            .filter(|(_, r)| r.expires > now)
            .map(|(k, _)| k.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Starts a collection: waits for additions in progress, blocks new ones until dropped.
    pub async fn begin_sweep(&self) -> SweepGuard<'_> {
        SweepGuard(self.inner.sweep.write().await)
    }

    /// The resources of every lease that has not expired; expired ones are deleted.
    pub fn roots(&self) -> Roots {
        let now = Instant::now();
        let mut t = self.table();
        t.retain(|_, r| r.expires > now);
        let mut roots = Roots::default();
        for r in t.values() {
            roots.blobs.extend(r.blobs.iter().cloned());
            roots.snapshots.extend(r.snapshots.iter().cloned());
        }
        roots
    }

    fn add(&self, id: &str, blob: Option<&str>, snapshot: Option<&str>) {
        if let Some(r) = self.table().get_mut(id) {
            r.blobs.extend(blob.map(str::to_string));
            r.snapshots.extend(snapshot.map(str::to_string));
        }
    }
}

#[derive(Debug)]
struct Handle {
    id: String,
    leases: Leases,
    detached: Mutex<bool>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        if !*self.detached.lock().unwrap_or_else(|e| e.into_inner()) {
            self.leases.delete(&self.id);
        }
    }
}

/// A handle on one lease; the lease is deleted when the last clone drops (unless detached).
#[derive(Debug, Clone)]
pub struct Lease(Arc<Handle>);

impl Lease {
    /// The lease id.
    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// Keeps the lease after the handle drops, until it expires or is deleted by id.
    pub fn detach(self) {
        *self.0.detached.lock().unwrap_or_else(|e| e.into_inner()) = true;
    }

    /// Adds a blob (waits while a collection sweeps).
    pub async fn add_blob(&self, digest: &str) {
        let _g = self.0.leases.inner.sweep.read().await;
        self.0.leases.add(&self.0.id, Some(digest), None);
    }

    /// Adds a blob from blocking code (not from inside an async task).
    pub fn add_blob_blocking(&self, digest: &str) {
        let _g = self.0.leases.inner.sweep.blocking_read();
        self.0.leases.add(&self.0.id, Some(digest), None);
    }

    /// Adds a snapshot key from blocking code (not from inside an async task).
    pub fn add_snapshot_blocking(&self, key: &str) {
        let _g = self.0.leases.inner.sweep.blocking_read();
        self.0.leases.add(&self.0.id, None, Some(key));
    }
}

tokio::task_local! {
    static CURRENT: Lease;
}

/// Runs `f` with `lease` as the current lease of this task.
pub async fn scope<F: std::future::Future>(lease: Lease, f: F) -> F::Output {
    CURRENT.scope(lease, f).await
}

/// Adds `digest` to the current task's lease, if it has one.
pub async fn note_blob(digest: &str) {
    if let Ok(lease) = CURRENT.try_with(Lease::clone) {
        lease.add_blob(digest).await;
    }
}

//! Snapshots: the filesystem trees containers run on, built layer by layer.
//!
//! Like containerd's snapshotters: a snapshot is *committed* (an immutable layer, keyed by its
//! chain ID), *active* (writable, e.g. a container's rootfs) or a *view* (read-only). Two
//! implementations of [`Snapshotter`]: [`overlay::OverlaySnapshotter`] (one directory per layer,
//! stacked with overlayfs) and [`copying::CopyingSnapshotter`] (each snapshot a full copy, for
//! hosts without overlayfs). [`open`] probes overlayfs once and picks one.

mod base;
pub mod chain;
mod copy_tree;
pub mod copying;
pub mod locks;
pub mod mount;
pub mod overlay;
pub mod service;
mod store;
mod usage;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use base::Base;
pub use chain::chain_ids;
pub use locks::{KeyGuard, KeyLocks};
pub use mount::{mount_all, Mount, MountGuard};

use crate::unpack::ApplyTarget;

/// Labels attached to a snapshot.
pub type Labels = BTreeMap<String, String>;

/// What a snapshot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Writable; becomes committed with [`Snapshotter::commit`].
    Active,
    /// Read-only view of a committed parent.
    View,
    /// Immutable; may be the parent of others.
    Committed,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Active => "active",
            Kind::View => "view",
            Kind::Committed => "committed",
        })
    }
}

/// Public facts about a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// The key (a chain ID for image layers, a container id for rootfs snapshots).
    pub key: String,
    /// The committed snapshot it is based on.
    pub parent: Option<String>,
    /// Active, view or committed.
    pub kind: Kind,
    /// Labels.
    pub labels: Labels,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// When it was last changed (committed, relabelled).
    pub updated: DateTime<Utc>,
}

/// Disk used by one snapshot's own directory (not its parents).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Bytes allocated (st_blocks * 512, each inode counted once).
    pub size: u64,
    /// Number of inodes.
    pub inodes: u64,
}

/// Snapshot failures.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// No snapshot with this key.
    #[error("snapshot {0:?} not found")]
    NotFound(String),
    /// The key is taken.
    #[error("snapshot {0:?} already exists")]
    AlreadyExists(String),
    /// The operation does not fit the snapshot's state (e.g. committing a view).
    #[error("snapshot {key:?}: {reason}")]
    FailedPrecondition {
        /// The snapshot.
        key: String,
        /// Why.
        reason: String,
    },
    /// The snapshot metadata database failed.
    #[error("snapshot metadata {path}: {message}")]
    Metadata {
        /// The database file.
        path: PathBuf,
        /// The database's error.
        message: String,
    },
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A mount or unmount failed.
    #[error("{op} {target}: {source}")]
    Mount {
        /// mount/umount.
        op: &'static str,
        /// The mount point.
        target: PathBuf,
        /// The cause.
        source: nix::errno::Errno,
    },
    /// The mounts cannot be expressed (e.g. too many layers for one overlay mount).
    #[error("invalid mount for {target}: {reason}")]
    InvalidMount {
        /// The mount point.
        target: PathBuf,
        /// Why.
        reason: String,
    },
}

impl SnapshotError {
    pub(crate) fn io(op: &'static str, path: &Path, source: std::io::Error) -> Self {
        SnapshotError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The snapshotter interface (containerd's Prepare / View / Commit / Mounts / Remove / Stat /
/// Walk / Usage). Methods block on filesystem work: async callers use `spawn_blocking`.
pub trait Snapshotter: Send + Sync + std::fmt::Debug {
    /// The implementation's name: `overlayfs` or `copying`.
    fn name(&self) -> &'static str;
    /// Records a snapshot of `kind` (active or view) on the committed `parent` and makes its
    /// directories; returns its mounts.
    fn create(
        &self,
        key: &str,
        kind: Kind,
        parent: Option<&str>,
        labels: Labels,
    ) -> Result<Vec<Mount>, SnapshotError>;
    /// Creates an active (writable) snapshot on top of the committed `parent`; returns its mounts.
    fn prepare(
        &self,
        key: &str,
        parent: Option<&str>,
        labels: Labels,
    ) -> Result<Vec<Mount>, SnapshotError> {
        self.create(key, Kind::Active, parent, labels)
    }
    /// Creates a read-only view of the committed `parent`; returns its mounts.
    fn view(
        &self,
        key: &str,
        parent: Option<&str>,
        labels: Labels,
    ) -> Result<Vec<Mount>, SnapshotError> {
        self.create(key, Kind::View, parent, labels)
    }
    /// The mounts of an active snapshot or view.
    fn mounts(&self, key: &str) -> Result<Vec<Mount>, SnapshotError>;
    /// Where (and how) to unpack a layer into the active snapshot `key`.
    fn apply_target(&self, key: &str) -> Result<ApplyTarget, SnapshotError>;
    /// The records and directories every implementation keeps the same way; the methods
    /// below work on it alone, so that the implementations differ only in their mounts.
    fn base(&self) -> &Base;

    /// Turns the active snapshot `key` into the committed snapshot `name` (labels are merged).
    fn commit(&self, name: &str, key: &str, labels: Labels) -> Result<(), SnapshotError> {
        self.base().commit(name, key, labels)
    }
    /// Removes a snapshot and its files; refused while other snapshots have it as parent.
    fn remove(&self, key: &str) -> Result<(), SnapshotError> {
        self.base().remove(key)
    }
    /// Facts about one snapshot.
    fn stat(&self, key: &str) -> Result<Info, SnapshotError> {
        self.base().stat(key)
    }
    /// Every snapshot, sorted by key.
    fn list(&self) -> Result<Vec<Info>, SnapshotError> {
        self.base().list()
    }
    /// Disk used by the snapshot's own files.
    fn usage(&self, key: &str) -> Result<Usage, SnapshotError> {
        self.base().usage(key)
    }
    /// Replaces the snapshot's labels; returns the updated info.
    fn update_labels(&self, key: &str, labels: Labels) -> Result<Info, SnapshotError> {
        self.base().update_labels(key, labels)
    }
    /// Per-key locks, used to unpack each chain ID once even under concurrent pulls/runs.
    fn locks(&self) -> &KeyLocks {
        &self.base().locks
    }
}

/// Which snapshotter [`open`] should use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// overlayfs when a probe mount works, else copying.
    Auto,
    /// overlayfs (error if it does not work).
    Overlay,
    /// The copying snapshotter.
    Copying,
}

/// Snapshotters already open in this process, by state root: the metadata database can be
/// opened once per process, and per-chain locks only work if everyone shares them.
static OPEN: Mutex<Vec<(PathBuf, Weak<dyn Snapshotter>)>> = Mutex::new(Vec::new());

/// Opens the snapshotter under `<state_root>/snapshots/<name>/` as chosen. Opening the same
/// root again while the first is alive returns the same instance (so the daemon's services
/// share one); an explicit choice that differs from it is an error.
pub fn open(state_root: &Path, choice: Choice) -> Result<Arc<dyn Snapshotter>, SnapshotError> {
    let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
    open.retain(|(_, w)| w.strong_count() > 0);
    if let Some(s) = open
        .iter()
        .find(|(p, _)| p == state_root)
        .and_then(|(_, w)| w.upgrade())
    {
        let wanted = match choice {
            Choice::Auto => None,
            Choice::Overlay => Some("overlayfs"),
            Choice::Copying => Some("copying"),
        };
        if wanted.is_some_and(|w| w != s.name()) {
            return Err(SnapshotError::FailedPrecondition {
                key: state_root.display().to_string(),
                reason: format!("the {} snapshotter is already open on this root", s.name()),
            });
        }
        return Ok(s);
    }
    let s = open_new(state_root, choice)?;
    open.push((state_root.to_path_buf(), Arc::downgrade(&s)));
    Ok(s)
}

fn open_new(state_root: &Path, choice: Choice) -> Result<Arc<dyn Snapshotter>, SnapshotError> {
    let dir = state_root.join("snapshots");
    crate::private_dir::create_all(&dir).map_err(|e| SnapshotError::io("create", &dir, e))?;
    let use_overlay = match choice {
        Choice::Overlay => true,
        Choice::Copying => false,
        Choice::Auto => match mount::probe_overlay(&dir) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "overlayfs unavailable, using the copying snapshotter");
                false
            }
        },
    };
    Ok(if use_overlay {
        Arc::new(overlay::OverlaySnapshotter::open(&dir.join("overlay"))?)
    } else {
        Arc::new(copying::CopyingSnapshotter::open(&dir.join("copying"))?)
    })
}

#[cfg(test)]
mod tests;

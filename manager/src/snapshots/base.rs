//! What both snapshotters share: the metadata store, the directory per snapshot, locks.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use super::store::{Record, Store};
use super::usage::disk_usage;
use super::{Info, KeyLocks, Kind, Labels, SnapshotError, Usage};

/// The part every snapshotter shares: `<root>/metadata.redb` and `<root>/snapshots/<id>/`.
#[derive(Debug)]
pub struct Base {
    root: PathBuf,
    pub(super) store: Store,
    pub(super) locks: KeyLocks,
    /// Creating a snapshot on a parent holds it shared, removing a committed snapshot (a possible
    /// parent) exclusively: the children check and the removal of its files are one step.
    parents: RwLock<()>,
}

impl Base {
    pub(super) fn open(root: &Path) -> Result<Base, SnapshotError> {
        let dirs = root.join("snapshots");
        crate::private_dir::create_all(&dirs).map_err(|e| SnapshotError::io("create", &dirs, e))?;
        let store = Store::open(&root.join("metadata.redb"))?;
        let b = Base {
            root: root.to_path_buf(),
            store,
            locks: KeyLocks::default(),
            parents: RwLock::new(()),
        };
        b.remove_orphans()?;
        Ok(b)
    }

    /// Directories without a record are left by a crash between the two steps of create or
    /// remove; nothing can refer to them.
    fn remove_orphans(&self) -> Result<(), SnapshotError> {
        let known: HashSet<String> = self
            .store
            .list()?
            .into_iter()
            .map(|(_, r)| r.id.to_string())
            .collect();
        let dirs = self.root.join("snapshots");
        for ent in std::fs::read_dir(&dirs).map_err(|e| SnapshotError::io("readdir", &dirs, e))? {
            let ent = ent.map_err(|e| SnapshotError::io("readdir", &dirs, e))?;
            if !known.contains(&ent.file_name().to_string_lossy().to_string()) {
                let p = ent.path();
                tracing::info!(path = %p.display(), "removing orphaned snapshot directory");
                std::fs::remove_dir_all(&p).map_err(|e| SnapshotError::io("remove", &p, e))?;
            }
        }
        Ok(())
    }

    /// The directory of snapshot `id`.
    pub(super) fn dir(&self, id: u64) -> PathBuf {
        self.root.join("snapshots").join(id.to_string())
    }

    /// The tree (overlay layer or full copy) of snapshot `id`.
    pub(super) fn fs(&self, id: u64) -> PathBuf {
        self.dir(id).join("fs")
    }

    /// Records a new snapshot and lets `make` fill its directory (given the directory and the
    /// ids of the parent chain, nearest first); undoes both if `make` fails.
    pub(super) fn create(
        &self,
        key: &str,
        kind: Kind,
        parent: Option<&str>,
        labels: Labels,
        make: impl FnOnce(&Path, &[u64]) -> Result<(), SnapshotError>,
    ) -> Result<(Record, Vec<u64>), SnapshotError> {
        if kind == Kind::Committed {
            // Committed snapshots come only from commit(), after their content is complete.
            return Err(SnapshotError::FailedPrecondition {
                key: key.into(),
                reason: "a snapshot is created active or as a view, then committed".into(),
            });
        }
        let _parents = parent.map(|_| self.parents.read().unwrap_or_else(|e| e.into_inner()));
        let rec = self.store.create(key, kind, parent, labels)?;
        let dir = self.dir(rec.id);
        let made = self.store.ancestry(parent).and_then(|anc| {
            crate::private_dir::create_new(&dir)
                .map_err(|e| SnapshotError::io("create", &dir, e))?;
            make(&dir, &anc)?;
            Ok(anc)
        });
        match made {
            Ok(anc) => Ok((rec, anc)),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                let _ = self.store.remove(key);
                Err(e)
            }
        }
    }

    /// A record and its parent chain's ids.
    pub(super) fn get_with_ancestry(&self, key: &str) -> Result<(Record, Vec<u64>), SnapshotError> {
        let rec = self.store.get(key)?;
        let anc = self.store.ancestry(rec.parent.as_deref())?;
        Ok((rec, anc))
    }

    pub(super) fn commit(
        &self,
        name: &str,
        key: &str,
        labels: Labels,
    ) -> Result<(), SnapshotError> {
        let rec = self.store.get(key)?;
        let usage = disk_usage(&self.fs(rec.id))?;
        self.store.commit(name, key, labels, usage)
    }

    /// Removes the files first, then the record: deleting files needs no space and frees it, so
    /// a snapshot that failed on a full disk can always go, whatever state the metadata
    /// database is in. A record left without its directory (the database still failing) is
    /// harmless and goes with the next remove or garbage collection.
    pub(super) fn remove(&self, key: &str) -> Result<(), SnapshotError> {
        let rec = self.store.get(key)?;
        let _parents = (rec.kind == Kind::Committed)
            .then(|| self.parents.write().unwrap_or_else(|e| e.into_inner()));
        let children = self.store.children(key)?;
        if !children.is_empty() {
            return Err(SnapshotError::FailedPrecondition {
                key: key.to_string(),
                reason: format!("has children: {}", children.join(", ")),
            });
        }
        let dir = self.dir(rec.id);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(SnapshotError::io("remove", &dir, e)),
        }
        // One retry: the first failure reopens a database that had an I/O error.
        let removed = match self.store.remove(key) {
            Err(SnapshotError::Metadata { .. }) => self.store.remove(key),
            other => other,
        };
        match removed {
            Ok(_) | Err(SnapshotError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub(super) fn stat(&self, key: &str) -> Result<Info, SnapshotError> {
        Ok(self.store.get(key)?.info(key))
    }

    pub(super) fn list(&self) -> Result<Vec<Info>, SnapshotError> {
        Ok(self.store.list()?.iter().map(|(k, r)| r.info(k)).collect())
    }

    pub(super) fn usage(&self, key: &str) -> Result<Usage, SnapshotError> {
        let rec = self.store.get(key)?;
        match rec.usage {
            Some(u) if rec.kind == Kind::Committed => Ok(u),
            _ => disk_usage(&self.fs(rec.id)),
        }
    }

    pub(super) fn update_labels(&self, key: &str, labels: Labels) -> Result<Info, SnapshotError> {
        Ok(self.store.set_labels(key, labels)?.info(key))
    }

    /// The error for asking mounts of a committed snapshot.
    pub(super) fn not_mountable(key: &str) -> SnapshotError {
        SnapshotError::FailedPrecondition {
            key: key.to_string(),
            reason: "committed snapshots have no mounts; prepare or view one on top".into(),
        }
    }

    pub(super) fn require_active(rec: &Record, key: &str) -> Result<(), SnapshotError> {
        if rec.kind != Kind::Active {
            return Err(SnapshotError::FailedPrecondition {
                key: key.to_string(),
                reason: format!(
                    "layers are unpacked into active snapshots, this one is {}",
                    rec.kind
                ),
            });
        }
        Ok(())
    }
}

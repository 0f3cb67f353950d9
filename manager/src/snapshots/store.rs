//! Snapshot metadata in a redb database (`metadata.redb` in the snapshotter's directory).
//!
//! One table maps a key to a JSON record; the record's numeric `id` names the snapshot's
//! directory, so committing (renaming a key) never moves files.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicBool, Ordering};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::metadata::db::{is_io_error, Db};
use serde::{Deserialize, Serialize};

use super::{Info, Kind, Labels, SnapshotError, Usage};

const SNAPSHOTS: TableDefinition<&str, &[u8]> = TableDefinition::new("snapshots");
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");
const NEXT_ID: &str = "next_id";

/// What is stored per snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// Directory name under `snapshots/`.
    pub id: u64,
    /// Active, view or committed.
    pub kind: Kind,
    /// Key of the committed parent.
    pub parent: Option<String>,
    /// Labels.
    pub labels: Labels,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Last change (commit, relabel).
    pub updated: DateTime<Utc>,
    /// Measured at commit time (committed snapshots never change).
    pub usage: Option<Usage>,
}

impl Record {
    /// The public view of this record under `key`.
    pub fn info(&self, key: &str) -> Info {
        Info {
            key: key.to_string(),
            parent: self.parent.clone(),
            kind: self.kind,
            labels: self.labels.clone(),
            created: self.created,
            updated: self.updated,
        }
    }
}

/// The metadata database.
#[derive(Debug)]
pub struct Store {
    db: Db,
    path: PathBuf,
    /// Set by [`Store::err`] when redb failed with an I/O error: the handle must be reopened.
    saw_io: AtomicBool,
}

impl Store {
    fn err(&self, e: impl Into<redb::Error>) -> SnapshotError {
        let e = e.into();
        if is_io_error(&e) {
            self.saw_io.store(true, Ordering::Relaxed);
        }
        SnapshotError::Metadata {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Runs `f` on the database, reopening it after an I/O error so the next call works again.
    fn with<R>(
        &self,
        f: impl FnOnce(&Database) -> Result<R, SnapshotError>,
    ) -> Result<R, SnapshotError> {
        self.db.run(
            f,
            |_| self.saw_io.swap(false, Ordering::Relaxed),
            |e| SnapshotError::Metadata {
                path: self.path.clone(),
                message: redb::Error::from(e).to_string(),
            },
        )
    }

    fn decode(&self, key: &str, raw: &[u8]) -> Result<Record, SnapshotError> {
        serde_json::from_slice(raw).map_err(|e| SnapshotError::Metadata {
            path: self.path.clone(),
            message: format!("record {key:?}: {e}"),
        })
    }

    fn encode(&self, r: &Record) -> Result<Vec<u8>, SnapshotError> {
        serde_json::to_vec(r).map_err(|e| SnapshotError::Metadata {
            path: self.path.clone(),
            message: format!("encoding record: {e}"),
        })
    }

    /// Reads one record inside a transaction (the guard is released before returning).
    fn read(
        &self,
        t: &impl ReadableTable<&'static str, &'static [u8]>,
        key: &str,
    ) -> Result<Record, SnapshotError> {
        let raw = t.get(key).map_err(|e| self.err(e))?;
        match raw {
            Some(v) => self.decode(key, v.value()),
            None => Err(SnapshotError::NotFound(key.to_string())),
        }
    }

    /// Opens or creates the database at `path`.
    pub fn open(path: &Path) -> Result<Store, SnapshotError> {
        // redb would create it 0644.
        crate::private_dir::private_file(path).map_err(|e| SnapshotError::io("create", path, e))?;
        let db = Db::open(path).map_err(|e| SnapshotError::Metadata {
            path: path.to_path_buf(),
            message: redb::Error::from(e).to_string(),
        })?;
        let s = Store {
            db,
            path: path.to_path_buf(),
            saw_io: AtomicBool::new(false),
        };
        s.with(|db| {
            let tx = db.begin_write().map_err(|e| s.err(e))?;
            {
                tx.open_table(SNAPSHOTS).map_err(|e| s.err(e))?;
                tx.open_table(COUNTERS).map_err(|e| s.err(e))?;
            }
            tx.commit().map_err(|e| s.err(e))
        })?;
        Ok(s)
    }

    /// One record.
    pub fn get(&self, key: &str) -> Result<Record, SnapshotError> {
        self.with(|db| {
            let tx = db.begin_read().map_err(|e| self.err(e))?;
            let t = tx.open_table(SNAPSHOTS).map_err(|e| self.err(e))?;
            let v = t.get(key).map_err(|e| self.err(e))?;
            match v {
                Some(v) => self.decode(key, v.value()),
                None => Err(SnapshotError::NotFound(key.to_string())),
            }
        })
    }

    /// Every record, sorted by key.
    pub fn list(&self) -> Result<Vec<(String, Record)>, SnapshotError> {
        self.with(|db| {
            let tx = db.begin_read().map_err(|e| self.err(e))?;
            let t = tx.open_table(SNAPSHOTS).map_err(|e| self.err(e))?;
            let mut out = Vec::new();
            for item in t.iter().map_err(|e| self.err(e))? {
                let (k, v) = item.map_err(|e| self.err(e))?;
                let key = k.value().to_string();
                let rec = self.decode(&key, v.value())?;
                out.push((key, rec));
            }
            Ok(out)
        })
    }

    /// The ids of `parent` and its ancestors, nearest first.
    pub fn ancestry(&self, parent: Option<&str>) -> Result<Vec<u64>, SnapshotError> {
        let mut ids = Vec::new();
        let mut next = parent.map(str::to_string);
        while let Some(k) = next {
            let r = self.get(&k)?;
            ids.push(r.id);
            next = r.parent;
        }
        Ok(ids)
    }

    /// Adds a snapshot of `kind` on `parent` (which must be committed).
    pub fn create(
        &self,
        key: &str,
        kind: Kind,
        parent: Option<&str>,
        labels: Labels,
    ) -> Result<Record, SnapshotError> {
        self.with(|db| {
            if key.is_empty() {
                return Err(SnapshotError::FailedPrecondition {
                    key: key.into(),
                    reason: "empty snapshot key".into(),
                });
            }
            let tx = db.begin_write().map_err(|e| self.err(e))?;
            let rec;
            {
                let mut t = tx.open_table(SNAPSHOTS).map_err(|e| self.err(e))?;
                if t.get(key).map_err(|e| self.err(e))?.is_some() {
                    return Err(SnapshotError::AlreadyExists(key.to_string()));
                }
                if let Some(p) = parent {
                    let raw = t.get(p).map_err(|e| self.err(e))?;
                    let Some(raw) = raw else {
                        return Err(SnapshotError::NotFound(p.to_string()));
                    };
                    let prec = self.decode(p, raw.value())?;
                    if prec.kind != Kind::Committed {
                        return Err(SnapshotError::FailedPrecondition {
                            key: p.to_string(),
                            reason: format!("parent is {}, not committed", prec.kind),
                        });
                    }
                }
                let mut c = tx.open_table(COUNTERS).map_err(|e| self.err(e))?;
                let id = c
                    .get(NEXT_ID)
                    .map_err(|e| self.err(e))?
                    .map(|v| v.value())
                    .unwrap_or(1);
                c.insert(NEXT_ID, id + 1).map_err(|e| self.err(e))?;
                let now = Utc::now();
                rec = Record {
                    id,
                    kind,
                    parent: parent.map(str::to_string),
                    labels,
                    created: now,
                    updated: now,
                    usage: None,
                };
                t.insert(key, self.encode(&rec)?.as_slice())
                    .map_err(|e| self.err(e))?;
            }
            tx.commit().map_err(|e| self.err(e))?;
            Ok(rec)
        })
    }

    /// Renames active `key` to committed `name`, merging labels and recording usage.
    pub fn commit(
        &self,
        name: &str,
        key: &str,
        labels: Labels,
        usage: Usage,
    ) -> Result<(), SnapshotError> {
        self.with(|db| {
            let tx = db.begin_write().map_err(|e| self.err(e))?;
            {
                let mut t = tx.open_table(SNAPSHOTS).map_err(|e| self.err(e))?;
                let mut rec = self.read(&t, key)?;
                if rec.kind != Kind::Active {
                    return Err(SnapshotError::FailedPrecondition {
                        key: key.to_string(),
                        reason: format!(
                            "only active snapshots can be committed, this one is {}",
                            rec.kind
                        ),
                    });
                }
                if t.get(name).map_err(|e| self.err(e))?.is_some() {
                    return Err(SnapshotError::AlreadyExists(name.to_string()));
                }
                rec.kind = Kind::Committed;
                rec.labels.extend(labels);
                rec.updated = Utc::now();
                rec.usage = Some(usage);
                t.remove(key).map_err(|e| self.err(e))?;
                t.insert(name, self.encode(&rec)?.as_slice())
                    .map_err(|e| self.err(e))?;
            }
            tx.commit().map_err(|e| self.err(e))
        })
    }

    /// Replaces the labels.
    pub fn set_labels(&self, key: &str, labels: Labels) -> Result<Record, SnapshotError> {
        self.with(|db| {
            let tx = db.begin_write().map_err(|e| self.err(e))?;
            let rec;
            {
                let mut t = tx.open_table(SNAPSHOTS).map_err(|e| self.err(e))?;
                let mut r = self.read(&t, key)?;
                r.labels = labels;
                r.updated = Utc::now();
                t.insert(key, self.encode(&r)?.as_slice())
                    .map_err(|e| self.err(e))?;
                rec = r;
            }
            tx.commit().map_err(|e| self.err(e))?;
            Ok(rec)
        })
    }

    /// Keys of the snapshots whose parent is `key`.
    pub fn children(&self, key: &str) -> Result<Vec<String>, SnapshotError> {
        Ok(self
            .list()?
            .into_iter()
            .filter(|(_, r)| r.parent.as_deref() == Some(key))
            .map(|(k, _)| k)
            .collect())
    }

    /// Deletes the record of `key` if nothing has it as parent; returns it.
    pub fn remove(&self, key: &str) -> Result<Record, SnapshotError> {
        self.with(|db| {
            let tx = db.begin_write().map_err(|e| self.err(e))?;
            let rec;
            {
                let mut t = tx.open_table(SNAPSHOTS).map_err(|e| self.err(e))?;
                rec = self.read(&t, key)?;
                let mut children = Vec::new();
                for item in t.iter().map_err(|e| self.err(e))? {
                    let (k, v) = item.map_err(|e| self.err(e))?;
                    let r = self.decode(k.value(), v.value())?;
                    if r.parent.as_deref() == Some(key) {
                        children.push(k.value().to_string());
                    }
                }
                if !children.is_empty() {
                    return Err(SnapshotError::FailedPrecondition {
                        key: key.to_string(),
                        reason: format!("has children: {}", children.join(", ")),
                    });
                }
                t.remove(key).map_err(|e| self.err(e))?;
            }
            tx.commit().map_err(|e| self.err(e))?;
            Ok(rec)
        })
    }
}

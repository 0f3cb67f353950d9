//! The metadata store: one embedded transactional database (redb, `<root>/metadata.redb`) holding
//! every record berthd keeps besides blobs: images now; containers, snapshots and leases later.
//!
//! Each record kind is one module with a [`Table`] constant and its record type, e.g.
//! [`images::IMAGES`]. Records are stored as JSON so fields can be added with `#[serde(default)]`
//! without migrations. To add a table: write `metadata/<kind>.rs` with
//! `pub const THINGS: Table<ThingRecord> = Table::new("things");` and list its name in [`TABLES`]
//! so it exists before the first read.
//!
//! ```no_run
//! # fn f(md: &berth_manager::metadata::Metadata) -> Result<(), berth_manager::metadata::MetadataError> {
//! use berth_manager::metadata::images::IMAGES;
//! let names: Vec<String> = md.read(|tx| Ok(IMAGES.list(tx)?.into_iter().map(|(k, _)| k).collect()))?;
//! md.write(|tx| { IMAGES.remove(tx, "docker.io/library/busybox:latest")?; Ok(()) })?;
//! # Ok(()) }
//! ```

pub mod containers;
pub mod cri;
pub(crate) mod db;
pub mod images;
pub mod networks;
mod table;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::ReadableDatabase;
use serde::de::DeserializeOwned;
use serde::Serialize;

use db::Db;

pub use table::{ReadTx, Table, Txn, WriteTx};

/// Every table, created when the database is opened.
pub const TABLES: &[&str] = &[
    images::IMAGES.name(),
    containers::CONTAINERS.name(),
    networks::NETWORKS.name(),
    networks::ENDPOINTS.name(),
    cri::CRI_SANDBOXES.name(),
    cri::CRI_CONTAINERS.name(),
];

/// `t` in unix nanoseconds, the form records keep times in (times before 1970 become 0).
pub fn unix_nanos(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// The current time in unix nanoseconds, the form records keep times in.
pub fn now_nanos() -> i64 {
    unix_nanos(std::time::SystemTime::now())
}

/// Metadata store failures.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// The database file could not be opened or created.
    #[error("cannot open metadata database {path}: {source}")]
    Open {
        /// Database file.
        path: PathBuf,
        /// Underlying error.
        source: Box<redb::DatabaseError>,
    },
    /// A database operation failed.
    #[error("metadata database: {0}")]
    Db(#[from] Box<redb::Error>),
    /// A stored record could not be decoded or a record could not be encoded.
    #[error("metadata record {table}/{key}: {source}")]
    Codec {
        /// Table name.
        table: &'static str,
        /// Record key.
        key: String,
        /// Underlying error.
        source: serde_json::Error,
    },
    /// A record that must exist does not.
    #[error("{table} {key:?} not found")]
    NotFound {
        /// Table name.
        table: &'static str,
        /// Record key.
        key: String,
    },
    /// A record that must not exist does.
    #[error("{table} {key:?} already exists")]
    AlreadyExists {
        /// Table name.
        table: &'static str,
        /// Record key.
        key: String,
    },
}

/// Converts any redb error into a [`MetadataError`].
pub(crate) fn db_err(e: impl Into<redb::Error>) -> MetadataError {
    MetadataError::Db(Box::new(e.into()))
}

/// Handle on the metadata database; cheap to clone. Operations are synchronous and short (one fsync per
/// write transaction); call them from async code directly or via `spawn_blocking` for big batches.
#[derive(Clone)]
pub struct Metadata {
    db: Arc<Db>,
    path: PathBuf,
}

impl std::fmt::Debug for Metadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metadata")
            .field("path", &self.path)
            .finish()
    }
}

impl Metadata {
    /// Opens (creating if needed) the database at `path` and makes sure every table exists.
    pub fn open(path: &Path) -> Result<Self, MetadataError> {
        // redb would create it 0644.
        crate::private_dir::private_file(path).map_err(|e| MetadataError::Open {
            path: path.to_path_buf(),
            source: Box::new(redb::DatabaseError::Storage(redb::StorageError::Io(e))),
        })?;
        let db = Db::open(path).map_err(|e| MetadataError::Open {
            path: path.to_path_buf(),
            source: Box::new(e),
        })?;
        let md = Metadata {
            db: Arc::new(db),
            path: path.to_path_buf(),
        };
        md.write(|tx| {
            for name in TABLES {
                tx.ensure_table(name)?;
            }
            Ok(())
        })?;
        Ok(md)
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn run<R>(
        &self,
        f: impl FnOnce(&redb::Database) -> Result<R, MetadataError>,
    ) -> Result<R, MetadataError> {
        self.db.run(
            f,
            |e| matches!(e, MetadataError::Db(b) if db::is_io_error(b)),
            |source| MetadataError::Open {
                path: self.path.clone(),
                source: Box::new(source),
            },
        )
    }

    /// Runs `f` in a read transaction (a consistent snapshot; does not block writers).
    pub fn read<R>(
        &self,
        f: impl FnOnce(&ReadTx) -> Result<R, MetadataError>,
    ) -> Result<R, MetadataError> {
        self.run(|db| {
            let tx = ReadTx(db.begin_read().map_err(db_err)?);
            f(&tx)
        })
    }

    /// The record under `key` in `table`, read in a transaction of its own.
    pub fn get<T: Serialize + DeserializeOwned>(
        &self,
        table: &Table<T>,
        key: &str,
    ) -> Result<Option<T>, MetadataError> {
        self.read(|tx| table.get(tx, key))
    }

    /// Every record of `table`, in key order, read in a transaction of its own.
    pub fn values<T: Serialize + DeserializeOwned>(
        &self,
        table: &Table<T>,
    ) -> Result<Vec<T>, MetadataError> {
        let all = self.read(|tx| table.list(tx))?;
        Ok(all.into_iter().map(|(_, v)| v).collect())
    }

    /// Stores `value` under `key` in `table` (replacing any record there), in a transaction of
    /// its own.
    pub fn put<T: Serialize + DeserializeOwned>(
        &self,
        table: &Table<T>,
        key: &str,
        value: &T,
    ) -> Result<(), MetadataError> {
        self.write(|tx| table.put(tx, key, value).map(|_| ()))
    }

    /// Removes `key` from `table` (absent is not an error), in a transaction of its own.
    pub fn remove<T: Serialize + DeserializeOwned>(
        &self,
        table: &Table<T>,
        key: &str,
    ) -> Result<(), MetadataError> {
        self.write(|tx| table.remove(tx, key).map(|_| ()))
    }

    /// Runs `f` in a write transaction, committing when it returns `Ok` and rolling back on `Err`.
    /// Write transactions are serialized. A failed commit (e.g. a full disk) reopens the database
    /// so that later calls work again once the cause is gone.
    pub fn write<R>(
        &self,
        f: impl FnOnce(&mut WriteTx) -> Result<R, MetadataError>,
    ) -> Result<R, MetadataError> {
        self.run(|db| {
            let mut tx = WriteTx(db.begin_write().map_err(db_err)?);
            match f(&mut tx) {
                Ok(r) => {
                    tx.0.commit().map_err(db_err)?;
                    Ok(r)
                }
                Err(e) => {
                    if let Err(abort) = tx.0.abort() {
                        tracing::warn!(error = %abort, "metadata: rollback failed");
                    }
                    Err(e)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests;

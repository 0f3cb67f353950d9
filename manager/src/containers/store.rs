//! Container records in the daemon's redb metadata database (table `containers`, id → JSON).

use super::record::ContainerRecord;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::sync::Arc;

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("containers");

/// Errors of the container store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("container metadata database: {0}")]
    Db(#[from] redb::Error),
    /// A record could not be (de)serialised.
    #[error("container record {id}: {source}")]
    Codec {
        /// Container id.
        id: String,
        /// Cause.
        source: serde_json::Error,
    },
}

impl<E: Into<redb::Error>> From<DbErr<E>> for StoreError {
    fn from(e: DbErr<E>) -> Self {
        StoreError::Db(e.0.into())
    }
}

/// Wrapper to convert redb's many error types in one `?`.
struct DbErr<E>(E);

fn dbe<T, E>(r: Result<T, E>) -> Result<T, DbErr<E>> {
    r.map_err(DbErr)
}

/// Durable map of container records.
#[derive(Clone)]
pub struct ContainerStore {
    db: Arc<Database>,
}

impl ContainerStore {
    /// Opens (and creates if needed) the `containers` table in `db`.
    pub fn new(db: Arc<Database>) -> Result<Self, StoreError> {
        let txn = dbe(db.begin_write())?;
        dbe(txn.open_table(TABLE))?;
        dbe(txn.commit())?;
        Ok(Self { db })
    }

    /// Inserts or replaces a record.
    pub fn put(&self, rec: &ContainerRecord) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(rec).map_err(|source| StoreError::Codec {
            id: rec.id.clone(),
            source,
        })?;
        let txn = dbe(self.db.begin_write())?;
        {
            let mut t = dbe(txn.open_table(TABLE))?;
            dbe(t.insert(rec.id.as_str(), bytes.as_slice()))?;
        }
        dbe(txn.commit())?;
        Ok(())
    }

    /// Removes a record; absent is not an error.
    pub fn remove(&self, id: &str) -> Result<(), StoreError> {
        let txn = dbe(self.db.begin_write())?;
        {
            let mut t = dbe(txn.open_table(TABLE))?;
            dbe(t.remove(id))?;
        }
        dbe(txn.commit())?;
        Ok(())
    }

    /// One record by full id.
    pub fn get(&self, id: &str) -> Result<Option<ContainerRecord>, StoreError> {
        let txn = dbe(self.db.begin_read())?;
        let t = dbe(txn.open_table(TABLE))?;
        let Some(v) = dbe(t.get(id))? else {
            return Ok(None);
        };
        let rec = serde_json::from_slice(v.value()).map_err(|source| StoreError::Codec {
            id: id.to_string(),
            source,
        })?;
        Ok(Some(rec))
    }

    /// Every record, newest first.
    pub fn list(&self) -> Result<Vec<ContainerRecord>, StoreError> {
        let txn = dbe(self.db.begin_read())?;
        let t = dbe(txn.open_table(TABLE))?;
        let mut out = Vec::new();
        for entry in dbe(t.iter())? {
            let (k, v) = dbe(entry)?;
            let rec: ContainerRecord =
                serde_json::from_slice(v.value()).map_err(|source| StoreError::Codec {
                    id: k.value().to_string(),
                    source,
                })?;
            out.push(rec);
        }
        out.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        Ok(out)
    }
}

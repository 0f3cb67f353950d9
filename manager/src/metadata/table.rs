//! Typed tables over redb: string keys, JSON-encoded records, usable from read and write transactions.

use std::marker::PhantomData;

use redb::{ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{db_err, MetadataError};

/// A read transaction.
pub struct ReadTx(pub(super) redb::ReadTransaction);

/// A write transaction; changes become visible when [`super::Metadata::write`] commits it.
pub struct WriteTx(pub(super) redb::WriteTransaction);

type Def<'a> = TableDefinition<'a, &'static str, &'static [u8]>;

/// Read access shared by both transaction kinds.
pub trait Txn {
    /// Raw value of `key` in table `name`.
    fn get_raw(&self, name: &str, key: &str) -> Result<Option<Vec<u8>>, MetadataError>;
    /// Every (key, raw value) of table `name`, sorted by key.
    fn list_raw(&self, name: &str) -> Result<Vec<(String, Vec<u8>)>, MetadataError>;
}

fn collect<T: ReadableTable<&'static str, &'static [u8]>>(
    t: &T,
) -> Result<Vec<(String, Vec<u8>)>, MetadataError> {
    let mut out = Vec::new();
    for item in t.iter().map_err(db_err)? {
        let (k, v) = item.map_err(db_err)?;
        out.push((k.value().to_string(), v.value().to_vec()));
    }
    Ok(out)
}

impl ReadTx {
    // A table no write has created yet (e.g. one not listed in TABLES) reads as empty.
    fn open(
        &self,
        name: &str,
    ) -> Result<Option<redb::ReadOnlyTable<&'static str, &'static [u8]>>, MetadataError> {
        match self.0.open_table(Def::new(name)) {
            Ok(t) => Ok(Some(t)),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(db_err(e)),
        }
    }
}

impl Txn for ReadTx {
    fn get_raw(&self, name: &str, key: &str) -> Result<Option<Vec<u8>>, MetadataError> {
        let Some(t) = self.open(name)? else {
            return Ok(None);
        };
        Ok(t.get(key).map_err(db_err)?.map(|v| v.value().to_vec()))
    }
    fn list_raw(&self, name: &str) -> Result<Vec<(String, Vec<u8>)>, MetadataError> {
        match self.open(name)? {
            Some(t) => collect(&t),
            None => Ok(Vec::new()),
        }
    }
}

impl Txn for WriteTx {
    fn get_raw(&self, name: &str, key: &str) -> Result<Option<Vec<u8>>, MetadataError> {
        let t = self.0.open_table(Def::new(name)).map_err(db_err)?;
        let v = t.get(key).map_err(db_err)?.map(|v| v.value().to_vec());
        Ok(v)
    }
    fn list_raw(&self, name: &str) -> Result<Vec<(String, Vec<u8>)>, MetadataError> {
        collect(&self.0.open_table(Def::new(name)).map_err(db_err)?)
    }
}

impl WriteTx {
    /// Creates table `name` if it does not exist yet.
    pub(super) fn ensure_table(&mut self, name: &str) -> Result<(), MetadataError> {
        self.0.open_table(Def::new(name)).map_err(db_err)?;
        Ok(())
    }

    fn put_raw(
        &mut self,
        name: &str,
        key: &str,
        value: &[u8],
    ) -> Result<Option<Vec<u8>>, MetadataError> {
        let mut t = self.0.open_table(Def::new(name)).map_err(db_err)?;
        let old = t
            .insert(key, value)
            .map_err(db_err)?
            .map(|v| v.value().to_vec());
        Ok(old)
    }

    fn remove_raw(&mut self, name: &str, key: &str) -> Result<Option<Vec<u8>>, MetadataError> {
        let mut t = self.0.open_table(Def::new(name)).map_err(db_err)?;
        let old = t.remove(key).map_err(db_err)?.map(|v| v.value().to_vec());
        Ok(old)
    }
}

/// A table of `T` records keyed by string.
pub struct Table<T> {
    name: &'static str,
    _record: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> Table<T> {
    /// Declares a table; its name must be listed in [`super::TABLES`].
    pub const fn new(name: &'static str) -> Self {
        Table {
            name,
            _record: PhantomData,
        }
    }

    /// The table's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    fn decode(&self, key: &str, raw: &[u8]) -> Result<T, MetadataError> {
        serde_json::from_slice(raw).map_err(|source| MetadataError::Codec {
            table: self.name,
            key: key.to_string(),
            source,
        })
    }

    /// The record under `key`, if any.
    pub fn get(&self, tx: &impl Txn, key: &str) -> Result<Option<T>, MetadataError> {
        tx.get_raw(self.name, key)?
            .map(|raw| self.decode(key, &raw))
            .transpose()
    }

    /// Every record, sorted by key.
    pub fn list(&self, tx: &impl Txn) -> Result<Vec<(String, T)>, MetadataError> {
        tx.list_raw(self.name)?
            .into_iter()
            .map(|(k, raw)| {
                let v = self.decode(&k, &raw)?;
                Ok((k, v))
            })
            .collect()
    }

    /// Stores `value` under `key`, returning the record it replaced.
    pub fn put(&self, tx: &mut WriteTx, key: &str, value: &T) -> Result<Option<T>, MetadataError> {
        let raw = serde_json::to_vec(value).map_err(|source| MetadataError::Codec {
            table: self.name,
            key: key.to_string(),
            source,
        })?;
        tx.put_raw(self.name, key, &raw)?
            .map(|old| self.decode(key, &old))
            .transpose()
    }

    /// Stores `value` under `key`; `AlreadyExists` if the key is taken.
    pub fn create(&self, tx: &mut WriteTx, key: &str, value: &T) -> Result<(), MetadataError> {
        if tx.get_raw(self.name, key)?.is_some() {
            return Err(MetadataError::AlreadyExists {
                table: self.name,
                key: key.to_string(),
            });
        }
        self.put(tx, key, value)?;
        Ok(())
    }

    /// Removes `key`, returning the record it held.
    pub fn remove(&self, tx: &mut WriteTx, key: &str) -> Result<Option<T>, MetadataError> {
        tx.remove_raw(self.name, key)?
            .map(|old| self.decode(key, &old))
            .transpose()
    }
}

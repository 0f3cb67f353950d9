//! Container records in the daemon's metadata database (table `containers`, id → JSON record).

use super::record::ContainerRecord;
use crate::metadata::containers::CONTAINERS;
use crate::metadata::{Metadata, MetadataError};

/// Errors of the container store.
pub type StoreError = MetadataError;

/// Durable map of container records.
#[derive(Clone)]
pub struct ContainerStore {
    md: Metadata,
}

impl ContainerStore {
    /// Container records in `md` (its `containers` table exists once it is opened).
    pub fn new(md: Metadata) -> Result<Self, StoreError> {
        Ok(Self { md })
    }

    /// Inserts or replaces a record.
    pub fn put(&self, rec: &ContainerRecord) -> Result<(), StoreError> {
        self.md.put(&CONTAINERS, &rec.id, rec)
    }

    /// Removes a record; absent is not an error.
    pub fn remove(&self, id: &str) -> Result<(), StoreError> {
        self.md.remove(&CONTAINERS, id)
    }

    /// One record by full id.
    pub fn get(&self, id: &str) -> Result<Option<ContainerRecord>, StoreError> {
        self.md.get(&CONTAINERS, id)
    }

    /// Every record, newest first.
    pub fn list(&self) -> Result<Vec<ContainerRecord>, StoreError> {
        let mut out = self.md.values(&CONTAINERS)?;
        out.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        Ok(out)
    }
}

//! The copying snapshotter, for hosts without overlayfs: each active snapshot is a full copy
//! of its parent's tree, mounted with a bind mount. Slower and bigger, but works anywhere.

use std::path::Path;

use super::base::Base;
use super::copy_tree::copy_tree;
use super::mount::Mount;
use super::{Kind, Labels, SnapshotError, Snapshotter};
use crate::unpack::{ApplyTarget, WhiteoutMode};

/// Snapshots as full directory copies.
#[derive(Debug)]
pub struct CopyingSnapshotter {
    base: Base,
}

impl CopyingSnapshotter {
    /// Opens (creating) the snapshotter rooted at `root` (e.g. `<state>/snapshots/copying`).
    pub fn open(root: &Path) -> Result<Self, SnapshotError> {
        Ok(CopyingSnapshotter {
            base: Base::open(root)?,
        })
    }

    fn mounts_for(
        &self,
        key: &str,
        kind: Kind,
        id: u64,
        ancestry: &[u64],
    ) -> Result<Vec<Mount>, SnapshotError> {
        match kind {
            Kind::Committed => Err(Base::not_mountable(key)),
            Kind::Active => Ok(vec![Mount::bind(&self.base.fs(id), false)]),
            // A view needs no copy: the parent is immutable, so a read-only bind of it will do.
            Kind::View => Ok(vec![Mount::bind(
                &self.base.fs(ancestry.first().copied().unwrap_or(id)),
                true,
            )]),
        }
    }
}

impl Snapshotter for CopyingSnapshotter {
    fn name(&self) -> &'static str {
        "copying"
    }

    /// An active snapshot starts as a copy of its parent; a view needs none (see mounts_for).
    fn create(
        &self,
        key: &str,
        kind: Kind,
        parent: Option<&str>,
        labels: Labels,
    ) -> Result<Vec<Mount>, SnapshotError> {
        let (rec, anc) = self.base.create(key, kind, parent, labels, |dir, anc| {
            let fs = dir.join("fs");
            std::fs::create_dir(&fs).map_err(|e| SnapshotError::io("create", &fs, e))?;
            match anc.first() {
                Some(p) if kind == Kind::Active => copy_tree(&self.base.fs(*p), &fs),
                _ => Ok(()),
            }
        })?;
        self.mounts_for(key, rec.kind, rec.id, &anc)
    }

    fn mounts(&self, key: &str) -> Result<Vec<Mount>, SnapshotError> {
        let (rec, anc) = self.base.get_with_ancestry(key)?;
        self.mounts_for(key, rec.kind, rec.id, &anc)
    }

    fn apply_target(&self, key: &str) -> Result<ApplyTarget, SnapshotError> {
        let rec = self.base.store.get(key)?;
        Base::require_active(&rec, key)?;
        Ok(ApplyTarget {
            dir: self.base.fs(rec.id),
            whiteouts: WhiteoutMode::Delete,
            lowers: vec![],
        })
    }

    fn base(&self) -> &Base {
        &self.base
    }
}

//! The overlayfs snapshotter: each snapshot is one directory (`<id>/fs`, plus `<id>/work` for
//! active ones); an active snapshot is mounted as overlay with its parents as lower dirs.

use std::path::Path;

use super::base::Base;
use super::mount::Mount;
use super::store::Record;
use super::{Kind, Labels, SnapshotError, Snapshotter};
use crate::unpack::{ApplyTarget, WhiteoutMode};

/// Snapshots stacked with overlayfs; layers are shared between every image that has them.
#[derive(Debug)]
pub struct OverlaySnapshotter {
    base: Base,
}

impl OverlaySnapshotter {
    /// Opens (creating) the snapshotter rooted at `root` (e.g. `<state>/snapshots/overlay`).
    pub fn open(root: &Path) -> Result<Self, SnapshotError> {
        Ok(OverlaySnapshotter {
            base: Base::open(root)?,
        })
    }

    fn mounts_for(
        &self,
        key: &str,
        rec: &Record,
        ancestry: &[u64],
    ) -> Result<Vec<Mount>, SnapshotError> {
        let lower = || {
            ancestry
                .iter()
                .map(|id| self.base.fs(*id).display().to_string())
                .collect::<Vec<_>>()
                .join(":")
        };
        match rec.kind {
            Kind::Committed => Err(Base::not_mountable(key)),
            Kind::Active if ancestry.is_empty() => {
                Ok(vec![Mount::bind(&self.base.fs(rec.id), false)])
            }
            Kind::Active => Ok(vec![Mount {
                typ: "overlay".into(),
                source: "overlay".into(),
                options: vec![
                    format!("lowerdir={}", lower()),
                    format!("upperdir={}", self.base.fs(rec.id).display()),
                    format!("workdir={}", self.base.dir(rec.id).join("work").display()),
                ],
            }]),
            Kind::View => match ancestry {
                [] => Ok(vec![Mount::bind(&self.base.fs(rec.id), true)]),
                [only] => Ok(vec![Mount::bind(&self.base.fs(*only), true)]),
                _ => Ok(vec![Mount {
                    typ: "overlay".into(),
                    source: "overlay".into(),
                    options: vec!["ro".into(), format!("lowerdir={}", lower())],
                }]),
            },
        }
    }
}

impl Snapshotter for OverlaySnapshotter {
    fn name(&self) -> &'static str {
        "overlayfs"
    }

    fn create(
        &self,
        key: &str,
        kind: Kind,
        parent: Option<&str>,
        labels: Labels,
    ) -> Result<Vec<Mount>, SnapshotError> {
        let (rec, anc) = self.base.create(key, kind, parent, labels, |dir, _| {
            for d in ["fs", "work"] {
                let p = dir.join(d);
                std::fs::create_dir(&p).map_err(|e| SnapshotError::io("create", &p, e))?;
            }
            Ok(())
        })?;
        self.mounts_for(key, &rec, &anc)
    }

    fn mounts(&self, key: &str) -> Result<Vec<Mount>, SnapshotError> {
        let (rec, anc) = self.base.get_with_ancestry(key)?;
        self.mounts_for(key, &rec, &anc)
    }

    fn apply_target(&self, key: &str) -> Result<ApplyTarget, SnapshotError> {
        let (rec, anc) = self.base.get_with_ancestry(key)?;
        Base::require_active(&rec, key)?;
        Ok(ApplyTarget {
            dir: self.base.fs(rec.id),
            whiteouts: WhiteoutMode::Overlay,
            lowers: anc.iter().map(|id| self.base.fs(*id)).collect(),
        })
    }

    fn base(&self) -> &Base {
        &self.base
    }
}

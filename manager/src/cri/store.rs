//! CRI records in the metadata database (tables of [`crate::metadata::cri`]) and lookups by id
//! or unique id prefix, as crictl passes truncated ids.

use tonic::Status;

use crate::metadata::cri::{CriContainerRecord, SandboxRecord, CRI_CONTAINERS, CRI_SANDBOXES};
use crate::metadata::{Metadata, MetadataError};

/// Reads and writes sandbox and container records.
#[derive(Clone)]
pub struct CriStore {
    md: Metadata,
    /// Serialises log copies (the copier task and ContainerStatus both copy).
    pub log_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
}

fn internal(e: MetadataError) -> Status {
    Status::internal(e.to_string())
}

/// The one record whose id starts with `q` (NotFound when none, or several, match).
fn by_prefix<T: Clone>(all: Vec<(String, T)>, q: &str, what: &str) -> Result<T, Status> {
    if q.is_empty() {
        return Err(Status::invalid_argument(format!("{what} id is required")));
    }
    let hits: Vec<T> = all
        .into_iter()
        .filter(|(k, _)| k.starts_with(q))
        .map(|(_, v)| v)
        .collect();
    match hits.len() {
        1 => Ok(hits[0].clone()),
        0 => Err(Status::not_found(format!("{what} {q:?} not found"))),
        _ => Err(Status::not_found(format!(
            "{what} id prefix {q:?} is ambiguous"
        ))),
    }
}

impl CriStore {
    /// Over the daemon's database.
    pub fn new(md: Metadata) -> Self {
        CriStore {
            md,
            log_lock: Default::default(),
        }
    }

    /// Every sandbox.
    pub fn sandboxes(&self) -> Result<Vec<SandboxRecord>, Status> {
        let all = self
            .md
            .read(|tx| CRI_SANDBOXES.list(tx))
            .map_err(internal)?;
        Ok(all.into_iter().map(|(_, v)| v).collect())
    }

    /// The sandbox `q` names (id or unique prefix).
    pub fn sandbox(&self, q: &str) -> Result<SandboxRecord, Status> {
        let all = self
            .md
            .read(|tx| CRI_SANDBOXES.list(tx))
            .map_err(internal)?;
        by_prefix(all, q, "pod sandbox")
    }

    /// Stores a sandbox.
    pub fn put_sandbox(&self, r: &SandboxRecord) -> Result<(), Status> {
        self.md
            .write(|tx| CRI_SANDBOXES.put(tx, &r.id, r).map(|_| ()))
            .map_err(internal)
    }

    /// Forgets a sandbox.
    pub fn remove_sandbox(&self, id: &str) -> Result<(), Status> {
        self.md
            .write(|tx| CRI_SANDBOXES.remove(tx, id).map(|_| ()))
            .map_err(internal)
    }

    /// Every container.
    pub fn containers(&self) -> Result<Vec<CriContainerRecord>, Status> {
        let all = self
            .md
            .read(|tx| CRI_CONTAINERS.list(tx))
            .map_err(internal)?;
        Ok(all.into_iter().map(|(_, v)| v).collect())
    }

    /// The container `q` names (id or unique prefix).
    pub fn container(&self, q: &str) -> Result<CriContainerRecord, Status> {
        let all = self
            .md
            .read(|tx| CRI_CONTAINERS.list(tx))
            .map_err(internal)?;
        by_prefix(all, q, "container")
    }

    /// Stores a container.
    pub fn put_container(&self, r: &CriContainerRecord) -> Result<(), Status> {
        self.md
            .write(|tx| CRI_CONTAINERS.put(tx, &r.id, r).map(|_| ()))
            .map_err(internal)
    }

    /// Forgets a container.
    pub fn remove_container(&self, id: &str) -> Result<(), Status> {
        self.md
            .write(|tx| CRI_CONTAINERS.remove(tx, id).map(|_| ()))
            .map_err(internal)
    }
}

/// Whether `labels` has every `key=value` of `selector`.
pub fn matches_labels(
    labels: &std::collections::BTreeMap<String, String>,
    selector: &std::collections::HashMap<String, String>,
) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

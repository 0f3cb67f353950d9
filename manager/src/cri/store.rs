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
fn by_prefix<T>(all: Vec<T>, id: impl Fn(&T) -> &str, q: &str, what: &str) -> Result<T, Status> {
    if q.is_empty() {
        return Err(Status::invalid_argument(format!("{what} id is required")));
    }
    let mut hits: Vec<T> = all.into_iter().filter(|r| id(r).starts_with(q)).collect();
    match hits.len() {
        1 => Ok(hits.remove(0)),
        0 => Err(Status::not_found(format!("{what} {q:?} not found"))),
        _ => Err(Status::not_found(format!(
            "{what} id prefix {q:?} is ambiguous"
        ))),
    }
}

/// `found`, with NotFound as `None`: CRI's stops and removals succeed on what is not there
/// (kubelet retries them; CRI's idempotence rule).
pub fn absent_as_none<T>(found: Result<T, Status>) -> Result<Option<T>, Status> {
    match found {
        Ok(r) => Ok(Some(r)),
        Err(s) if s.code() == tonic::Code::NotFound => Ok(None),
        Err(s) => Err(s),
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
        self.md.values(&CRI_SANDBOXES).map_err(internal)
    }

    /// The sandbox `q` names (id or unique prefix).
    pub fn sandbox(&self, q: &str) -> Result<SandboxRecord, Status> {
        by_prefix(self.sandboxes()?, |r| &r.id, q, "pod sandbox")
    }

    /// Stores a sandbox.
    pub fn put_sandbox(&self, r: &SandboxRecord) -> Result<(), Status> {
        self.md.put(&CRI_SANDBOXES, &r.id, r).map_err(internal)
    }

    /// Forgets a sandbox.
    pub fn remove_sandbox(&self, id: &str) -> Result<(), Status> {
        self.md.remove(&CRI_SANDBOXES, id).map_err(internal)
    }

    /// Every container.
    pub fn containers(&self) -> Result<Vec<CriContainerRecord>, Status> {
        self.md.values(&CRI_CONTAINERS).map_err(internal)
    }

    /// The container `q` names (id or unique prefix).
    pub fn container(&self, q: &str) -> Result<CriContainerRecord, Status> {
        by_prefix(self.containers()?, |r| &r.id, q, "container")
    }

    /// Stores a container.
    pub fn put_container(&self, r: &CriContainerRecord) -> Result<(), Status> {
        self.md.put(&CRI_CONTAINERS, &r.id, r).map_err(internal)
    }

    /// Forgets a container.
    pub fn remove_container(&self, id: &str) -> Result<(), Status> {
        self.md.remove(&CRI_CONTAINERS, id).map_err(internal)
    }
}

/// Whether `labels` has every `key=value` of `selector`.
pub fn matches_labels(
    labels: &std::collections::BTreeMap<String, String>,
    selector: &std::collections::HashMap<String, String>,
) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

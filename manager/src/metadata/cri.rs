//! The CRI front door's tables: pod sandboxes and the containers in them. The processes and
//! filesystems are ordinary berth containers (table `containers`); these records hold what only
//! CRI knows (pod metadata, annotations, log paths), so a SIGKILLed berthd answers kubelet's next
//! ListPodSandbox/ListContainers from them.

use super::Table;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Sandboxes keyed by id (the id of the berth container running the pause process).
pub const CRI_SANDBOXES: Table<SandboxRecord> = Table::new("cri_sandboxes");
/// CRI containers keyed by id (the berth container's id).
pub const CRI_CONTAINERS: Table<CriContainerRecord> = Table::new("cri_containers");

/// A pod sandbox.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SandboxRecord {
    /// 64-hex id.
    pub id: String,
    /// Pod name.
    pub name: String,
    /// Pod uid.
    pub uid: String,
    /// Pod namespace.
    pub namespace: String,
    /// Attempt number.
    pub attempt: u32,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Creation time, unix nanoseconds.
    pub created_at: i64,
    /// False once StopPodSandbox ran (it stays NotReady until removed).
    pub ready: bool,
    /// `hostNetwork`: the pod shares the host's network namespace.
    pub host_network: bool,
    /// `hostPID`.
    pub host_pid: bool,
    /// `hostIPC`.
    pub host_ipc: bool,
    /// The sandbox is privileged (only then may its containers be).
    pub privileged: bool,
    /// Directory container log paths are relative to.
    pub log_directory: String,
    /// The pod cgroup parent (cgroupfs path), empty for berthd's default.
    pub cgroup_parent: String,
    /// Runtime handler asked for.
    pub runtime_handler: String,
}

/// A container of a pod.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CriContainerRecord {
    /// 64-hex id.
    pub id: String,
    /// Its sandbox.
    pub sandbox_id: String,
    /// Container name in the pod.
    pub name: String,
    /// Attempt number.
    pub attempt: u32,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Image as asked for.
    pub image: String,
    /// Image id (config digest).
    pub image_ref: String,
    /// Absolute path of the CRI-format log, empty for none.
    pub log_path: String,
    /// Bytes of the monitor's log already copied to `log_path`.
    pub log_offset: u64,
    /// Creation time, unix nanoseconds.
    pub created_at: i64,
    /// Mounts as asked for: (host path, container path, readonly).
    pub mounts: Vec<(String, String, bool)>,
    /// CRI `MountPropagation` of the mounts that asked for one, by container path.
    pub propagation: BTreeMap<String, i32>,
}

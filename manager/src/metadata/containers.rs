//! The `containers` table: container id → its record. The records are plain data; their API
//! conversions live in `crate::containers::record`.

use super::Table;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::limits::ResourceLimits;

/// Container records keyed by 64-hex id.
pub const CONTAINERS: Table<ContainerRecord> = Table::new("containers");

/// A bind mount as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindMount {
    /// Host path.
    pub source: PathBuf,
    /// Path in the container.
    pub destination: String,
    /// Read-only.
    pub readonly: bool,
}

/// Run options as stored (mirror of `pb::RunOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOptions {
    /// `--entrypoint` replacement.
    pub entrypoint: Vec<String>,
    /// Command replacement.
    pub cmd: Vec<String>,
    /// Extra `KEY=VALUE` environment.
    pub env: Vec<String>,
    /// Bind mounts.
    pub mounts: Vec<BindMount>,
    /// User spec.
    pub user: String,
    /// Working directory.
    pub workdir: String,
    /// Hostname.
    pub hostname: String,
    /// Allocate a tty.
    pub tty: bool,
    /// Keep stdin open.
    pub open_stdin: bool,
    /// Remove when the task exits.
    pub auto_remove: bool,
    /// `-p` values as given.
    #[serde(default)]
    pub publish: Vec<String>,
    /// `-P`.
    #[serde(default)]
    pub publish_all: bool,
    /// `--network` as given (empty: the default network).
    #[serde(default)]
    pub network: String,
    /// `--dns`.
    #[serde(default)]
    pub dns: Vec<String>,
    /// `--dns-search`.
    #[serde(default)]
    pub dns_search: Vec<String>,
    /// `--add-host`.
    #[serde(default)]
    pub extra_hosts: Vec<String>,
    /// `--memory`, `--cpus`, `--ulimit`, ….
    #[serde(default)]
    pub resources: ResourceLimits,
    /// `--cap-add`.
    #[serde(default)]
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    #[serde(default)]
    pub cap_drop: Vec<String>,
    /// `--privileged`.
    #[serde(default)]
    pub privileged: bool,
    /// `--read-only`.
    #[serde(default)]
    pub read_only: bool,
    /// `--security-opt`.
    #[serde(default)]
    pub security_opt: Vec<String>,
    /// `--group-add`.
    #[serde(default)]
    pub group_add: Vec<u32>,
    /// `--group-add` names.
    #[serde(default)]
    pub group_add_names: Vec<String>,
    /// `--tmpfs` values.
    #[serde(default)]
    pub tmpfs: Vec<String>,
    /// `--device` values.
    #[serde(default)]
    pub devices: Vec<String>,
    /// `--init`.
    #[serde(default)]
    pub init: bool,
    /// `--log-opt` values (`max-size`, `max-file`), the daemon's `[logs]` defaults filled in at
    /// create when none were given.
    #[serde(default)]
    pub log_opts: BTreeMap<String, String>,
    /// Docker's default seccomp profile applies unless `security_opt` or `privileged` says
    /// otherwise: set by berth.v1 creates, not by CRI ones (their security context decides),
    /// and absent on records made before the profile existed (their bundles have none).
    #[serde(default)]
    pub default_seccomp: bool,
    /// `--restart` as given (empty: `no`).
    #[serde(default)]
    pub restart_policy: String,
    /// The network decided at create from the options above (not part of the API's options;
    /// absent on records made without networking).
    #[serde(default)]
    pub network_plan: Option<super::networks::ContainerNetwork>,
    /// Settings of containers in a CRI pod (not part of the berth.v1 API's options).
    #[serde(default)]
    pub pod: PodOptions,
}

/// What a CRI pod's containers need beyond Docker-style options: the sandbox's namespaces
/// joined by path, the pod's cgroup parent, a read-only rootfs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PodOptions {
    /// Namespaces to enter instead of creating: (`ipc` | `uts` | `pid`, path); an empty path
    /// means the host's.
    pub join_namespaces: Vec<(String, PathBuf)>,
    /// The OCI `cgroupsPath` (default `/berth/<id>`).
    pub cgroups_path: Option<String>,
    /// Mount the root filesystem read-only.
    pub read_only: bool,
    /// `linux.sysctl` entries (the pod's sysctls, on its sandbox).
    pub sysctls: Vec<(String, String)>,
    /// Host devices: (host path, container path, cgroup permissions `rwm`).
    pub devices: Vec<(String, String, String)>,
    /// Replaces the default masked paths when set.
    pub masked_paths: Option<Vec<String>>,
    /// Replaces the default read-only paths when set.
    pub readonly_paths: Option<Vec<String>>,
    /// The seccomp filter.
    pub seccomp: PodSeccomp,
    /// Bind mount propagation by destination: (path, `rprivate` | `rslave` | `rshared`).
    pub propagation: Vec<(String, String)>,
    /// resolv.conf `options` (the pod's DNS options, e.g. `ndots:5`).
    pub dns_options: Vec<String>,
    /// Ambient capabilities (`CAP_` names), also raised in the other sets.
    pub ambient_capabilities: Vec<String>,
}

/// A CRI pod member's seccomp filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PodSeccomp {
    /// berth's default for every container.
    #[default]
    Default,
    /// No filter.
    Unconfined,
    /// This OCI `linux.seccomp` object, as JSON text.
    Profile(String),
    /// CRI's RuntimeDefault: Docker's default profile resolved against the container's final
    /// capabilities when the bundle is written (as containerd's RuntimeDefault).
    RuntimeDefault,
}

/// How the container's last process ended, kept on the record after its task is deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastRun {
    /// Start time, unix nanoseconds.
    pub started_at: Option<i64>,
    /// Exit time, unix nanoseconds.
    pub finished_at: Option<i64>,
    /// Exit code; `None` when it could not be recovered (never invented).
    pub exit_code: Option<i32>,
    /// Killed by the OOM killer.
    pub oom_killed: bool,
    /// Start error message, if the start failed.
    pub error: String,
    /// Times the restart policy started the container again.
    #[serde(default)]
    pub restart_count: u32,
    /// `stop` suspended the restart policy (until the next `start`).
    #[serde(default)]
    pub manually_stopped: bool,
    /// The restart policy's last back-off delay in milliseconds, so that a restarted berthd
    /// goes on doubling it instead of starting again at 100 ms; cleared by `start` and `stop`.
    #[serde(default)]
    pub restart_delay_ms: Option<u64>,
}

/// A container record as stored in the metadata database (JSON value keyed by id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// 64-hex id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Normalised image reference.
    pub image: String,
    /// Manifest digest of the image.
    pub image_digest: String,
    /// Resolved process arguments.
    pub args: Vec<String>,
    /// Creation time, unix nanoseconds.
    pub created_at: i64,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// Options given at creation.
    pub options: RunOptions,
    /// Snapshot key of the writable layer.
    pub snapshot_key: String,
    /// Bundle directory.
    pub bundle_dir: PathBuf,
    /// Log file written by the monitor.
    pub log_path: PathBuf,
    /// OCI runtime binary name.
    pub runtime: String,
    /// The last run's outcome, if it ever ran.
    pub last_run: Option<LastRun>,
}

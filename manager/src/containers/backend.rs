//! The narrow interfaces the container service needs from the rest of the daemon: images and
//! rootfs/bundle preparation (`RootfsBackend`) and running processes (`TaskBackend`). The daemon
//! wires the real image store, snapshotter, bundle generator and task manager in (see
//! `daemon/wiring.rs`); unit tests use fakes.

use super::record::RunOptions;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// An error from a backend, already worded for users, with the gRPC code it maps to.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct BackendError {
    /// How the API should report it.
    pub code: tonic::Code,
    /// The message, naming what failed.
    pub message: String,
}

impl BackendError {
    /// An internal failure.
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            code: tonic::Code::Internal,
            message: message.into(),
        }
    }

    /// Something named does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            code: tonic::Code::NotFound,
            message: message.into(),
        }
    }

    /// The operation is not valid in the current state.
    pub fn precondition(message: impl Into<String>) -> Self {
        Self {
            code: tonic::Code::FailedPrecondition,
            message: message.into(),
        }
    }
}

impl From<BackendError> for tonic::Status {
    fn from(e: BackendError) -> Self {
        tonic::Status::new(e.code, e.message)
    }
}

/// A local image a container can be created from.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    /// Normalised name, e.g. "docker.io/library/busybox:latest".
    pub name: String,
    /// Manifest digest.
    pub digest: String,
    /// The config's `ExposedPorts` keys (`80/tcp`), for `-P`.
    pub exposed_ports: Vec<String>,
}

/// What creating a container's filesystem produced.
#[derive(Debug, Clone)]
pub struct PreparedRootfs {
    /// Snapshot key of the writable layer.
    pub snapshot_key: String,
    /// The process arguments the bundle runs (image entrypoint/cmd with overrides applied).
    pub args: Vec<String>,
}

/// Images, snapshots and bundles.
#[tonic::async_trait]
pub trait RootfsBackend: Send + Sync {
    /// Finds a local image; `NotFound` with "No such image: REF" when absent.
    async fn resolve_image(&self, reference: &str) -> Result<ImageInfo, BackendError>;
    /// Prepares the writable snapshot `id` from the image and writes the OCI bundle into
    /// `bundle_dir` (config.json from image config + options). On error nothing is left behind.
    async fn prepare(
        &self,
        id: &str,
        image: &ImageInfo,
        options: &RunOptions,
        bundle_dir: &Path,
    ) -> Result<PreparedRootfs, BackendError>;
    /// Unmounts and removes the snapshot (absent is not an error).
    async fn remove(&self, snapshot_key: &str, bundle_dir: &Path) -> Result<(), BackendError>;
    /// Bytes used by the snapshot's writable layer.
    async fn usage(&self, snapshot_key: &str) -> Result<u64, BackendError>;
}

/// A process's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitInfo {
    /// Exit code (128+signal); `None` when it could not be recovered.
    pub code: Option<i32>,
    /// When it exited; `None` when nobody saw the exit (never made up).
    pub exited_at: Option<SystemTime>,
    /// OOM-killed.
    pub oom: bool,
    /// Pid it had.
    pub pid: u32,
}

/// Live state of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Created, not started.
    Created,
    /// Running.
    Running,
    /// Frozen.
    Paused,
    /// Exited (see `TaskInfo::exit`).
    Stopped,
}

/// One task as the task manager knows it.
#[derive(Debug, Clone)]
pub struct TaskInfo {
    /// Container id.
    pub id: String,
    /// Init pid (0 if none).
    pub pid: u32,
    /// State.
    pub state: TaskState,
    /// When the program started.
    pub started_at: Option<SystemTime>,
    /// The exit, when stopped.
    pub exit: Option<ExitInfo>,
    /// The log file the task's monitor is writing, if any.
    pub log_path: Option<PathBuf>,
}

/// How to create a task.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    /// Container id.
    pub id: String,
    /// OCI bundle directory.
    pub bundle_dir: PathBuf,
    /// Allocate a pty.
    pub tty: bool,
    /// Keep stdin open.
    pub open_stdin: bool,
    /// Where the monitor writes the container's output.
    pub log_path: PathBuf,
    /// How the monitor rotates that log (`--log-opt max-size/max-file`).
    pub log: crate::monitor::LogRotation,
}

/// Output of a task for an attach client.
#[derive(Debug, Clone)]
pub enum AttachOutput {
    /// stdout (or tty) bytes.
    Stdout(Vec<u8>),
    /// stderr bytes.
    Stderr(Vec<u8>),
    /// The task exited.
    Exit(ExitInfo),
}

/// Input for an attached task.
#[derive(Debug, Clone)]
pub enum AttachInput {
    /// Bytes for stdin.
    Stdin(Vec<u8>),
    /// Close stdin.
    CloseStdin,
    /// Resize the pty (cols, rows).
    Resize(u16, u16),
}

/// An open attach connection.
pub struct AttachIo {
    /// Send stdin/resizes.
    pub input: tokio::sync::mpsc::Sender<AttachInput>,
    /// Receive output and the exit.
    pub output: tokio::sync::mpsc::Receiver<AttachOutput>,
}

/// How to run an extra process in a task's container.
#[derive(Debug, Clone)]
pub struct ExecSpec {
    /// Exec id (unique within the container).
    pub exec_id: String,
    /// The OCI `process` object to run.
    pub process: serde_json::Value,
    /// Allocate a pty.
    pub tty: bool,
    /// Keep stdin open.
    pub stdin: bool,
    /// Do not attach.
    pub detach: bool,
}

/// A started exec'd process.
pub struct ExecIo {
    /// Its host pid.
    pub pid: u32,
    /// Its stdio and exit (`None` when detached).
    pub io: Option<AttachIo>,
}

/// An exit observed by the task manager.
#[derive(Debug, Clone)]
pub struct ExitEvent {
    /// Container id.
    pub id: String,
    /// How it ended.
    pub exit: ExitInfo,
}

/// The task manager (monitors + runtime).
#[tonic::async_trait]
pub trait TaskBackend: Send + Sync {
    /// Spawns the monitor and runs `runtime create`.
    async fn create(&self, spec: &TaskSpec) -> Result<u32, BackendError>;
    /// Runs `runtime start`.
    async fn start(&self, id: &str) -> Result<u32, BackendError>;
    /// The task, if one exists.
    async fn get(&self, id: &str) -> Result<Option<TaskInfo>, BackendError>;
    /// Every task.
    async fn list(&self) -> Result<Vec<TaskInfo>, BackendError>;
    /// Waits for the exit.
    async fn wait(&self, id: &str) -> Result<ExitInfo, BackendError>;
    /// Sends a signal.
    async fn kill(&self, id: &str, signal: i32, all: bool) -> Result<(), BackendError>;
    /// Removes an exited task (runtime delete, monitor gone); returns its exit.
    async fn delete(&self, id: &str) -> Result<Option<ExitInfo>, BackendError>;
    /// Freezes.
    async fn pause(&self, id: &str) -> Result<(), BackendError>;
    /// Thaws.
    async fn resume(&self, id: &str) -> Result<(), BackendError>;
    /// Connects to the task's stdio.
    async fn attach(&self, id: &str, stdin: bool) -> Result<AttachIo, BackendError>;
    /// Resizes the pty.
    async fn resize(&self, id: &str, cols: u16, rows: u16) -> Result<(), BackendError>;
    /// Applies new cgroup limits (an OCI `linux.resources` object) to the live task.
    async fn update(&self, id: &str, resources: &serde_json::Value) -> Result<(), BackendError> {
        let _ = resources;
        Err(BackendError::precondition(format!(
            "update is not supported by this task backend (container {id})"
        )))
    }
    /// Runs an extra process in the task's running container. A program that cannot be
    /// executed fails with FAILED_PRECONDITION and the runtime's words.
    async fn exec(&self, id: &str, spec: &ExecSpec) -> Result<ExecIo, BackendError> {
        let _ = spec;
        Err(BackendError::precondition(format!(
            "exec is not supported by this task backend (container {id})"
        )))
    }
    /// Waits until exec `exec_id` of task `id` has ended; `code: None` when its exit cannot
    /// be learned (its monitor died, or the task was deleted).
    async fn wait_exec(&self, id: &str, exec_id: &str) -> Result<ExitInfo, BackendError> {
        let _ = exec_id;
        Err(BackendError::precondition(format!(
            "exec is not supported by this task backend (container {id})"
        )))
    }
    /// The exec'd processes of task `id` that still run.
    async fn live_execs(&self, id: &str) -> Result<Vec<crate::tasks::LiveExec>, BackendError> {
        let _ = id;
        Ok(Vec::new())
    }
    /// Exit events, including exits that happened while berthd was down (found at recovery).
    fn subscribe_exits(&self) -> tokio::sync::broadcast::Receiver<ExitEvent>;
}

//! Containers: durable records (id, name, image, options, snapshot, bundle, logs) and the rules
//! of their tasks' lifecycle. `Containers` is the logic; its gRPC fronts are in `crate::api`.

pub mod backend;
mod create;
mod delete;
pub mod exec;
mod exec_events;
pub mod exit_code;
mod explain_bundle;
mod limits;
pub mod log_opts;
pub mod logs;
pub mod names;
pub mod record;
mod rename;
pub use rename::CopyTarget;
pub mod resolve;
pub mod restart;
pub mod rootfs_backend;
mod stop;
pub mod store;
pub mod task_backend;
mod task_lifecycle;
#[cfg(test)]
mod tests;

use crate::events::EventBus;
use backend::{BackendError, ExitInfo, RootfsBackend, TaskBackend, TaskState};
use berth_proto::v1 as pb;
use record::{ContainerRecord, LastRun};
use resolve::ResolveError;
use std::path::PathBuf;
use std::sync::Arc;
use store::{ContainerStore, StoreError};

/// Errors of container operations, each mapped to a gRPC code.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// Name/id did not resolve.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// Metadata store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Bad request.
    #[error("{0}")]
    Invalid(String),
    /// Name in use.
    #[error("{0}")]
    Conflict(String),
    /// Wrong state for the operation.
    #[error("{0}")]
    Precondition(String),
    /// The task's program could not be started; `code` is the container's exit code (125/126/127).
    #[error("{message}")]
    StartFailed {
        /// Exit code, see [`exit_code`].
        code: i32,
        /// The runtime's message.
        message: String,
    },
    /// Filesystem failure on a container directory.
    #[error("{path}: {source}")]
    Io {
        /// Path that failed.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// A network failure as a container error (its message, its code).
pub fn network_error(e: crate::network::NetworkError) -> ContainerError {
    ContainerError::Backend(BackendError {
        code: e.code(),
        message: e.to_string(),
    })
}

impl From<ContainerError> for tonic::Status {
    fn from(e: ContainerError) -> Self {
        use tonic::Code;
        if let ContainerError::StartFailed { code, message } = e {
            return exit_code::start_failure_status(code, message);
        }
        let code = match &e {
            ContainerError::Resolve(ResolveError::NotFound(_)) => Code::NotFound,
            ContainerError::Resolve(ResolveError::Ambiguous(_)) => Code::InvalidArgument,
            ContainerError::Store(_) | ContainerError::Io { .. } => Code::Internal,
            ContainerError::Backend(b) => b.code,
            ContainerError::Invalid(_) => Code::InvalidArgument,
            ContainerError::Conflict(_) => Code::AlreadyExists,
            ContainerError::Precondition(_) | ContainerError::StartFailed { .. } => {
                Code::FailedPrecondition
            }
        };
        tonic::Status::new(code, e.to_string())
    }
}

/// The container manager: records plus the backends that give them a filesystem and a process.
pub struct Containers {
    store: ContainerStore,
    /// `<root>/containers`: one directory per container (bundle, log).
    dir: PathBuf,
    runtime: String,
    rootfs: Arc<dyn RootfsBackend>,
    tasks: Arc<dyn TaskBackend>,
    events: EventBus,
    /// Serialises name choice and deletes so names stay unique.
    lock: tokio::sync::Mutex<()>,
    /// Names chosen by creates still in progress.
    pending_names: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Container networking, when the daemon has it (unit tests run without).
    network: std::sync::OnceLock<Arc<crate::network::Networks>>,
    /// This manager, for tasks it spawns (restarts after a delay).
    me: std::sync::Weak<Containers>,
    /// Containers whose restart policy has a start scheduled (see [`restart`]).
    restarts: restart::Pending,
    /// The daemon's `[logs]` options, given to containers created without `--log-opt`.
    log_defaults: std::sync::OnceLock<std::collections::BTreeMap<String, String>>,
    /// Execs running per container (see [`exec_events`]).
    running_execs: exec_events::RunningExecs,
}

impl Containers {
    /// A manager keeping container directories under `root/containers`.
    pub fn new(
        store: ContainerStore,
        root: PathBuf,
        runtime: String,
        rootfs: Arc<dyn RootfsBackend>,
        tasks: Arc<dyn TaskBackend>,
        events: EventBus,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            me: me.clone(),
            store,
            dir: root.join("containers"),
            runtime,
            rootfs,
            tasks,
            events,
            lock: tokio::sync::Mutex::new(()),
            pending_names: Default::default(),
            network: std::sync::OnceLock::new(),
            restarts: Default::default(),
            log_defaults: std::sync::OnceLock::new(),
            running_execs: Default::default(),
        })
    }

    /// Gives containers networking (once, at daemon start).
    pub fn set_network(&self, network: Arc<crate::network::Networks>) {
        let _ = self.network.set(network);
    }

    /// Sets the log options of containers created without `--log-opt` (checked here, so a bad
    /// `[logs]` section stops the daemon before it serves).
    pub fn set_log_defaults(
        &self,
        opts: std::collections::BTreeMap<String, String>,
    ) -> Result<(), ContainerError> {
        log_opts::rotation(&opts).map_err(|e| ContainerError::Invalid(format!("[logs]: {e}")))?;
        let _ = self.log_defaults.set(opts);
        Ok(())
    }

    /// The daemon's default log options (none: no rotation).
    pub(crate) fn log_defaults(&self) -> std::collections::BTreeMap<String, String> {
        self.log_defaults.get().cloned().unwrap_or_default()
    }

    /// The network subsystem, if set.
    pub fn network(&self) -> Option<&Arc<crate::network::Networks>> {
        self.network.get()
    }

    /// Every container record.
    pub fn records(&self) -> Result<Vec<ContainerRecord>, ContainerError> {
        Ok(self.store.list()?)
    }

    /// The API message of a record: status plus the live network settings.
    fn with_status(&self, rec: &ContainerRecord, status: pb::ContainerStatus) -> pb::Container {
        let mut c = rec.to_proto(status);
        c.exec_ids = self.exec_ids(&rec.id);
        if let (Some(ns), Some(net)) = (c.network_settings.as_mut(), self.network()) {
            if let Some(ep) = net.endpoint(&rec.id) {
                ns.network = ep.network.clone();
                ns.ip_address = ep.ip.clone();
                ns.ip_prefix_len = ep.prefix_len.into();
                ns.gateway = ep.gateway.clone();
                ns.mac_address = ep.mac.clone();
                ns.sandbox_key = ep.netns.display().to_string();
                ns.attached = true;
                if let Some(st) = c.status.as_mut().filter(|s| s.error.is_empty()) {
                    st.error = ep.check_error.clone();
                }
            }
        }
        c
    }

    /// Sets the network of `rec` up for a new task (see [`crate::network::Networks::attach`]).
    pub async fn attach_network(&self, rec: &ContainerRecord) -> Result<(), ContainerError> {
        match self.network() {
            Some(n) => n.attach(rec).await.map_err(network_error),
            None => Ok(()),
        }
    }

    /// Releases the network of container `id` (CNI DEL, namespace unpinned); failures are
    /// logged (the endpoint stays for a later retry).
    pub async fn detach_network(&self, id: &str) {
        if let Some(n) = self.network() {
            if let Err(e) = n.detach(id).await {
                tracing::error!(container = id, error = %e, "releasing the container's network");
            }
        }
    }

    /// The lifecycle lock of a container's network (held over attach + task create).
    pub async fn network_lock(&self, id: &str) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match self.network() {
            Some(n) => Some(n.container_lock(id).await),
            None => None,
        }
    }

    /// The task backend (for the Tasks service).
    pub fn tasks(&self) -> &Arc<dyn TaskBackend> {
        &self.tasks
    }

    /// The event bus.
    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// Resolves a name, id or unique id prefix to the record.
    pub fn resolve(&self, query: &str) -> Result<ContainerRecord, ContainerError> {
        let all = self.store.list()?;
        Ok(resolve::resolve(&all, query)?.clone())
    }

    /// The container's record with its live status.
    pub async fn get(&self, query: &str) -> Result<pb::Container, ContainerError> {
        let rec = self.resolve(query)?;
        let status = self.status_of(&rec).await?;
        Ok(self.with_status(&rec, status))
    }

    /// Records with status; only live ones unless `all`.
    pub async fn list(&self, all: bool) -> Result<Vec<pb::Container>, ContainerError> {
        let mut out = Vec::new();
        for rec in self.store.list()? {
            let status = self.status_of(&rec).await?;
            let live = status.state == pb::ContainerState::Running as i32
                || status.state == pb::ContainerState::Paused as i32;
            if all || live {
                out.push(self.with_status(&rec, status));
            }
        }
        Ok(out)
    }

    /// Live status: from the task when one exists, else from the stored last run.
    pub async fn status_of(
        &self,
        rec: &ContainerRecord,
    ) -> Result<pb::ContainerStatus, ContainerError> {
        let Some(task) = self.tasks.get(&rec.id).await? else {
            let mut st = rec.stored_status();
            st.restarting = self.restart_pending(&rec.id);
            return Ok(st);
        };
        let stored = rec.stored_status();
        let ts = |t: std::time::SystemTime| crate::events::to_timestamp(t);
        let started_at = task.started_at.map(ts).or(stored.started_at);
        Ok(match task.state {
            TaskState::Created => pb::ContainerStatus {
                state: pb::ContainerState::Created as i32,
                ..stored
            },
            TaskState::Running | TaskState::Paused => pb::ContainerStatus {
                state: if task.state == TaskState::Running {
                    pb::ContainerState::Running as i32
                } else {
                    pb::ContainerState::Paused as i32
                },
                pid: task.pid,
                started_at,
                finished_at: None,
                exit_code: 0,
                exit_code_known: false,
                oom_killed: false,
                error: String::new(),
                restart_count: stored.restart_count,
                restarting: false,
            },
            TaskState::Stopped => {
                let exit = task.exit.clone();
                pb::ContainerStatus {
                    state: pb::ContainerState::Exited as i32,
                    pid: 0,
                    started_at,
                    finished_at: exit.as_ref().and_then(|e| e.exited_at).map(ts),
                    exit_code: exit.as_ref().and_then(|e| e.code).unwrap_or(0),
                    exit_code_known: exit.as_ref().is_some_and(|e| e.code.is_some()),
                    oom_killed: exit.as_ref().is_some_and(|e| e.oom),
                    error: String::new(),
                    restart_count: stored.restart_count,
                    restarting: self.restart_pending(&rec.id),
                }
            }
        })
    }

    /// Whether the container has a task that is not stopped.
    pub async fn is_live(&self, id: &str) -> Result<bool, ContainerError> {
        Ok(self
            .tasks
            .get(id)
            .await?
            .is_some_and(|t| t.state != TaskState::Stopped))
    }

    /// Updates the stored last run with `f` (no-op if the container is gone).
    pub fn update_last_run(
        &self,
        id: &str,
        f: impl FnOnce(&mut LastRun),
    ) -> Result<(), ContainerError> {
        if let Some(mut rec) = self.store.get(id)? {
            let mut run = rec.last_run.take().unwrap_or_default();
            f(&mut run);
            rec.last_run = Some(run);
            self.store.put(&rec)?;
        }
        Ok(())
    }

    /// Stores an exit on the record.
    pub fn record_exit(&self, id: &str, exit: &ExitInfo) -> Result<(), ContainerError> {
        let nanos = exit.exited_at.map(crate::metadata::unix_nanos);
        self.update_last_run(id, |run| {
            run.finished_at = nanos;
            run.exit_code = exit.code;
            run.oom_killed = exit.oom;
        })
    }

    /// Handles task exits for as long as the daemon runs: records them, publishes `TaskExit`
    /// (and `TaskOom`), and removes `--rm` containers.
    pub fn spawn_exit_handler(self: &Arc<Self>) {
        let me = Arc::clone(self);
        let mut rx = me.tasks.subscribe_exits();
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                let ev = match rx.recv().await {
                    Ok(ev) => ev,
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(
                            missed = n,
                            "exit events lagged; statuses are read from tasks"
                        );
                        continue;
                    }
                    Err(RecvError::Closed) => break,
                };
                me.on_exit(&ev.id, &ev.exit).await;
            }
        });
    }

    /// Records an exit (seen live or found at recovery), publishes it, and honours `--rm`.
    pub async fn on_exit(&self, id: &str, exit: &ExitInfo) {
        if let Err(e) = self.record_exit(id, exit) {
            tracing::error!(container = id, error = %e, "recording exit");
        }
        // Docker releases the network when the container stops; a start that raced ahead of
        // this handler owns the network now and keeps it.
        if let Some(_g) = self.network_lock(id).await {
            if !self.is_live(id).await.unwrap_or(true) {
                self.detach_network(id).await;
            }
        }
        if exit.oom {
            self.events
                .publish(pb::envelope::Event::TaskOom(pb::TaskOom {
                    container_id: id.to_string(),
                }));
        }
        self.events
            .publish(pb::envelope::Event::TaskExit(pb::TaskExit {
                container_id: id.to_string(),
                pid: exit.pid,
                exit_code: exit.code.unwrap_or(0),
                exit_code_known: exit.code.is_some(),
                exited_at: exit.exited_at.map(crate::events::to_timestamp),
            }));
        let auto_remove = matches!(self.store.get(id), Ok(Some(r)) if r.options.auto_remove);
        if auto_remove {
            if let Err(e) = self.delete(id, true).await {
                tracing::error!(container = id, error = %e, "auto-removing container");
            }
            return;
        }
        self.apply_restart_policy(id, exit);
    }
}

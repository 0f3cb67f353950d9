//! [`TaskManager`]: create/start/wait/kill/delete/pause/resume/state of tasks.

use super::config::TaskManagerConfig;
use super::error::{io_err, TaskError};
use super::exit::read_exit_file;
use super::orphan;
use super::spawn::spawn_monitor;
use super::types::{ExitStatus, StdioOptions, TaskExit, TaskInfo, TaskStatus};
use crate::monitor::args::MonitorArgs;
use crate::monitor::layout::{RUNTIME_LOG, TASK_FILE};
use crate::monitor::pidfd::PidFd;
use crate::monitor::LogRotation;
use crate::oci_runtime::{Runtime, RuntimeStatus};
use std::collections::HashMap;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// How long `delete --force` waits for a killed task's monitor to record the exit.
const FORCE_EXIT_WAIT: Duration = Duration::from_secs(10);
/// How long to wait for a monitor to record an exit the runtime already reports (the monitor
/// drains output for at most 2 s after the init exits).
const SETTLE_WAIT: Duration = Duration::from_secs(3);

/// One known task.
pub(crate) struct Entry {
    pub(crate) info: TaskInfo,
    /// `None` while the task lives; the exit status once its monitor has gone.
    pub(crate) exit: watch::Sender<Option<ExitStatus>>,
    pub(crate) runtime: Runtime,
    /// The current monitor: the first one, or the one that adopted the init after it died.
    pub(crate) monitor_pid: AtomicU32,
    /// A pidfd on the live init, opened while its identity was certain (see `orphan`).
    pub(crate) init: Option<PidFd>,
    /// The init's start time, for an adopting monitor to check the pid.
    pub(crate) init_start: Option<u64>,
    /// Created by this berthd and not started yet: while its init lives the task is `Created`
    /// without asking the runtime (a `state` exec on every start). Only berthd starts the
    /// tasks under its private runtime root; recovered tasks leave this false and ask.
    pub(crate) unstarted: AtomicBool,
    /// Started by this berthd: while its init lives the task is `Running` or, if its cgroup is
    /// frozen, `Paused`, without a `state` exec (one before every exec and every inspect); the
    /// freezer is what the runtime's `state` reads too, so a pause by any tool is seen.
    /// Recovered tasks leave this false (created or started, berthd cannot tell) and ask.
    pub(crate) started_here: AtomicBool,
}

impl Entry {
    /// The task info with the current monitor's pid.
    pub(crate) fn current_info(&self) -> TaskInfo {
        let mut info = self.info.clone();
        info.monitor_pid = self.monitor_pid.load(Ordering::SeqCst);
        info
    }

    /// Records the exit and broadcasts it, once: later calls change nothing.
    pub(crate) fn settle(&self, status: ExitStatus, events: &broadcast::Sender<TaskExit>) {
        let set = self.exit.send_if_modified(|cur| {
            if cur.is_none() {
                *cur = Some(status.clone());
                true
            } else {
                false
            }
        });
        if set {
            let _ = events.send(TaskExit {
                id: self.info.id.clone(),
                pid: self.info.pid,
                status,
            });
        }
    }
}

pub(crate) struct Inner {
    pub(crate) config: TaskManagerConfig,
    pub(crate) runtime: Runtime,
    pub(crate) tasks: Mutex<HashMap<String, Arc<Entry>>>,
    pub(crate) events: broadcast::Sender<TaskExit>,
}

/// The task manager (cheap to clone; clones share state).
#[derive(Clone)]
pub struct TaskManager {
    pub(crate) inner: Arc<Inner>,
}

impl TaskManager {
    /// A manager using `config`; creates its directories. Call [`TaskManager::recover`] next
    /// to pick up tasks from a previous run.
    pub fn new(mut config: TaskManagerConfig) -> Result<Self, TaskError> {
        // The monitor changes its working directory: every path it gets must be absolute.
        for p in [&mut config.tasks_dir, &mut config.runtime_root] {
            *p = std::path::absolute(&*p).map_err(io_err(format!("resolve {}", p.display())))?;
        }
        // Binaries too, except bare names: PATH lookup does not depend on the cwd.
        for p in [&mut config.runtime, &mut config.monitor] {
            if p.components().count() > 1 {
                *p =
                    std::path::absolute(&*p).map_err(io_err(format!("resolve {}", p.display())))?;
            }
        }
        // Attach sockets inside accept stdin for containers: only root may reach them.
        for dir in [&config.tasks_dir, &config.runtime_root] {
            crate::private_dir::create_all(dir)
                .map_err(io_err(format!("create {}", dir.display())))?;
        }
        let runtime = Runtime::new(
            config.runtime.clone(),
            config.runtime_root.clone(),
            config.tasks_dir.join(RUNTIME_LOG),
            config.runtime_timeout,
        );
        let (events, _) = broadcast::channel(256);
        Ok(TaskManager {
            inner: Arc::new(Inner {
                config,
                runtime,
                tasks: Mutex::new(HashMap::new()),
                events,
            }),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &TaskManagerConfig {
        &self.inner.config
    }

    /// Receives an event for every task exit (code, time, OOM) from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<TaskExit> {
        self.inner.events.subscribe()
    }

    /// Creates the container of `bundle` as task `id` (not started): starts its monitor, which
    /// runs `runtime create`. On failure nothing is left behind (runtime state, state dir).
    pub async fn create(
        &self,
        id: &str,
        bundle: &Path,
        stdio: StdioOptions,
    ) -> Result<TaskInfo, TaskError> {
        self.create_with_log(id, bundle, stdio, LogRotation::default())
            .await
    }

    /// [`TaskManager::create`] with the container log rotated by its monitor as `log` says.
    pub async fn create_with_log(
        &self,
        id: &str,
        bundle: &Path,
        stdio: StdioOptions,
        log: LogRotation,
    ) -> Result<TaskInfo, TaskError> {
        validate_id(id)?;
        check_terminal(id, bundle, stdio.tty).await?;
        if self.lookup(id).is_ok() {
            return Err(TaskError::AlreadyExists(id.to_string()));
        }
        let dir = self.inner.config.tasks_dir.join(id);
        match crate::private_dir::create_new(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(TaskError::AlreadyExists(id.to_string()))
            }
            Err(e) => return Err(io_err(format!("create {}", dir.display()))(e)),
        }
        let bundle = std::path::absolute(bundle)
            .map_err(io_err(format!("resolve bundle {}", bundle.display())))?;
        let runtime = self.inner.runtime.with_log(dir.join(RUNTIME_LOG));
        let args = MonitorArgs {
            id: id.to_string(),
            bundle: bundle.clone(),
            state_dir: dir.clone(),
            runtime: self.inner.config.runtime.clone(),
            runtime_root: self.inner.config.runtime_root.clone(),
            tty: stdio.tty,
            stdin: stdio.stdin,
            sync_fd: 3,
            create_timeout_secs: self.inner.config.create_timeout.as_secs().max(1),
            adopt: None,
            exec: None,
            wait_attach: false,
            attach_timeout_secs: crate::monitor::args::DEFAULT_ATTACH_TIMEOUT_SECS,
            log_max_size: log.max_size,
            log_max_file: log.max_file.max(1),
        };
        // The monitor kills a hanging runtime at create_timeout; give it time to report that.
        let wait = self.inner.config.create_timeout + Duration::from_secs(10);
        let report = match spawn_monitor(&self.inner.config.monitor, &args, wait).await {
            Ok(r) => r,
            Err(e) => {
                let _ = runtime.delete(id, true).await;
                let _ = tokio::fs::remove_dir_all(&dir).await;
                return Err(e);
            }
        };
        // The init is the monitor's child, stopped before the user program: certainly this
        // container's process, so this is when its identity is pinned.
        let init_start_time = orphan::init_start_time(report.init_pid);
        let init = i32::try_from(report.init_pid)
            .ok()
            .and_then(|pid| PidFd::open(pid, init_start_time).ok().flatten());
        let info = TaskInfo {
            id: id.to_string(),
            bundle,
            pid: report.init_pid,
            monitor_pid: report.monitor_pid,
            init_start_time,
            stdio,
            state_dir: dir.clone(),
            log_max_size: log.max_size,
            log_max_file: log.max_file,
        };
        let json = serde_json::to_vec_pretty(&info).map_err(|e| TaskError::Io {
            what: format!("encode task info of {id}"),
            source: e.into(),
        });
        let written = match json {
            Ok(json) => write_atomic(&dir.join(TASK_FILE), &json).await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            // Without task.json the task could not be recovered: undo the create.
            let _ = runtime.delete(id, true).await;
            tokio::spawn(orphan::reap_when_gone(report.monitor_pid));
            let _ = tokio::fs::remove_dir_all(&dir).await;
            return Err(e);
        }
        self.track(info.clone(), runtime, None, init);
        if let Ok(e) = self.lookup(id) {
            e.unstarted.store(true, Ordering::SeqCst);
        }
        Ok(info)
    }

    /// Starts a created task's process; returns its pid.
    pub async fn start(&self, id: &str) -> Result<u32, TaskError> {
        let e = self.lookup(id)?;
        if e.exit.borrow().is_some() {
            return Err(TaskError::NotRunning(id.to_string()));
        }
        e.unstarted.store(false, Ordering::SeqCst);
        e.runtime.start(id).await?;
        e.started_here.store(true, Ordering::SeqCst);
        Ok(e.info.pid)
    }

    /// Waits until the task has exited and returns how (code `None` if it cannot be known).
    pub async fn wait(&self, id: &str) -> Result<ExitStatus, TaskError> {
        let e = self.lookup(id)?;
        let mut rx = e.exit.subscribe();
        let status = rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| TaskError::NotFound(id.to_string()))?;
        Ok(status.clone().unwrap_or_else(ExitStatus::unknown))
    }

    /// The exit status if the task has exited, without waiting.
    pub fn exit_status(&self, id: &str) -> Result<Option<ExitStatus>, TaskError> {
        Ok(self.lookup(id)?.exit.borrow().clone())
    }

    /// Sends `signal` to the task's init (or to all its processes with `all`) via the runtime.
    pub async fn kill(&self, id: &str, signal: i32, all: bool) -> Result<(), TaskError> {
        let e = self.lookup(id)?;
        if e.exit.borrow().as_ref().is_some_and(|s| s.code.is_some()) {
            return Err(TaskError::NotRunning(id.to_string()));
        }
        e.runtime.kill(id, signal, all).await?;
        Ok(())
    }

    /// Applies new cgroup limits (an OCI `linux.resources` object) to the live task.
    pub async fn update(&self, id: &str, resources: &serde_json::Value) -> Result<(), TaskError> {
        let e = self.lookup(id)?;
        let path = e.info.state_dir.join("update.json");
        let json = serde_json::to_vec(resources).map_err(|err| TaskError::Io {
            what: format!("encode the resources of {id}"),
            source: err.into(),
        })?;
        write_atomic(&path, &json).await?;
        e.runtime.update(id, &path).await?;
        Ok(())
    }

    /// Freezes the task.
    pub async fn pause(&self, id: &str) -> Result<(), TaskError> {
        let e = self.lookup(id)?;
        e.runtime.pause(id).await?;
        Ok(())
    }

    /// Thaws a paused task.
    pub async fn resume(&self, id: &str) -> Result<(), TaskError> {
        let e = self.lookup(id)?;
        e.runtime.resume(id).await?;
        Ok(())
    }

    /// The task's current state.
    pub async fn state(&self, id: &str) -> Result<TaskStatus, TaskError> {
        let e = self.lookup(id)?;
        self.settle_from_disk(&e).await;
        let exit = e.exit.borrow().clone();
        if exit.as_ref().is_some_and(|s| s.code.is_some()) {
            return Ok(TaskStatus::Stopped);
        }
        let init_alive = e.init.as_ref().is_some_and(|p| !p.exited());
        if exit.is_none() && init_alive {
            if e.unstarted.load(Ordering::SeqCst) {
                return Ok(TaskStatus::Created);
            }
            if e.started_here.load(Ordering::SeqCst) {
                match crate::observe::cgroup::frozen(e.info.pid) {
                    Some(true) => return Ok(TaskStatus::Paused),
                    Some(false) => return Ok(TaskStatus::Running),
                    None => {}
                }
            }
        }
        // Alive, or the monitor vanished without a record: ask the runtime.
        match e.runtime.state(id).await {
            Ok(st) => Ok(match st.status {
                RuntimeStatus::Creating | RuntimeStatus::Created => TaskStatus::Created,
                RuntimeStatus::Running => TaskStatus::Running,
                RuntimeStatus::Paused => TaskStatus::Paused,
                RuntimeStatus::Stopped if exit.is_some() => TaskStatus::Unknown,
                RuntimeStatus::Stopped => {
                    // The init is gone; its monitor is draining output and about to record the
                    // exit. Give it that moment so callers see the status with the stop.
                    wait_settled(&e, SETTLE_WAIT).await;
                    TaskStatus::Stopped
                }
            }),
            Err(_) if exit.is_some() => Ok(TaskStatus::Unknown),
            Err(err) => Err(err.into()),
        }
    }

    /// What is known about task `id`.
    pub fn get(&self, id: &str) -> Result<TaskInfo, TaskError> {
        Ok(self.lookup(id)?.current_info())
    }

    /// All known tasks, sorted by id.
    pub fn list(&self) -> Vec<TaskInfo> {
        let mut v: Vec<TaskInfo> = self.tasks().values().map(|e| e.current_info()).collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// Deletes the task: its runtime state and state dir. A task that has not exited is
    /// refused unless `force`, which kills it first. Returns the exit status.
    pub async fn delete(&self, id: &str, force: bool) -> Result<ExitStatus, TaskError> {
        let e = self.lookup(id)?;
        // The monitor writes the record, tells attach clients, then exits: a caller that saw
        // the exit on attach may get here before the monitor is gone.
        self.settle_from_disk(&e).await;
        let exit = e.exit.borrow().clone();
        let alive = match &exit {
            None if !force => {
                let stopped = e
                    .runtime
                    .state(id)
                    .await
                    .is_ok_and(|st| st.status == RuntimeStatus::Stopped);
                !(stopped && wait_settled(&e, SETTLE_WAIT).await)
            }
            None => true,
            // The monitor is gone without a record: the runtime knows whether it still runs.
            Some(s) if s.code.is_none() => e
                .runtime
                .state(id)
                .await
                .is_ok_and(|st| st.status != RuntimeStatus::Stopped),
            Some(_) => false,
        };
        if alive && !force {
            return Err(TaskError::NotStopped(id.to_string()));
        }
        if alive && exit.is_none() {
            let _ = e.runtime.kill(id, libc::SIGKILL, false).await;
            let mut rx = e.exit.subscribe();
            let _ = tokio::time::timeout(FORCE_EXIT_WAIT, rx.wait_for(Option::is_some)).await;
        }
        match e.runtime.delete(id, true).await {
            Ok(()) => {}
            Err(err) if err.is_not_found() => {}
            Err(err) => return Err(err.into()),
        }
        let status = e.exit.borrow().clone().unwrap_or_else(ExitStatus::unknown);
        match tokio::fs::remove_dir_all(&e.info.state_dir).await {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                return Err(io_err(format!("remove {}", e.info.state_dir.display()))(
                    err,
                ))
            }
        }
        self.tasks().remove(id);
        Ok(status)
    }

    /// Publishes the exit record if the monitor has written it but is not yet seen gone.
    async fn settle_from_disk(&self, e: &Entry) {
        if e.exit.borrow().is_some() {
            return;
        }
        if let Ok(Some(status)) = read_exit_file(&e.info.state_dir).await {
            e.settle(status, &self.inner.events);
        }
    }

    pub(crate) fn lookup(&self, id: &str) -> Result<Arc<Entry>, TaskError> {
        self.tasks()
            .get(id)
            .cloned()
            .ok_or_else(|| TaskError::NotFound(id.to_string()))
    }

    pub(crate) fn tasks(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Entry>>> {
        // A panic while holding the lock cannot leave the map half-updated (single inserts
        // and removes), so a poisoned lock is still usable.
        self.inner
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a task and, until its exit is known, watches for it (`init`: a pidfd on its
    /// live init, see [`orphan`]).
    pub(crate) fn track(
        &self,
        info: TaskInfo,
        runtime: Runtime,
        exit: Option<ExitStatus>,
        init: Option<PidFd>,
    ) {
        let watching = exit.is_none();
        let (tx, _) = watch::channel(exit);
        let entry = Arc::new(Entry {
            monitor_pid: AtomicU32::new(info.monitor_pid),
            init_start: info.init_start_time,
            info,
            exit: tx,
            runtime,
            init,
            unstarted: AtomicBool::new(false),
            started_here: AtomicBool::new(false),
        });
        self.tasks().insert(entry.info.id.clone(), entry.clone());
        if watching {
            tokio::spawn(orphan::watch_exit(entry, self.clone()));
        }
    }
}

/// Waits up to `limit` for the task's exit to be recorded; returns whether it is.
async fn wait_settled(e: &Entry, limit: Duration) -> bool {
    let mut rx = e.exit.subscribe();
    let settled = tokio::time::timeout(limit, rx.wait_for(Option::is_some))
        .await
        .is_ok_and(|r| r.is_ok());
    settled
}

/// The runtime needs `process.terminal` in config.json to agree with the console socket the
/// monitor passes; a mismatch fails deep inside the runtime, so say it plainly here.
async fn check_terminal(id: &str, bundle: &Path, tty: bool) -> Result<(), TaskError> {
    let path = bundle.join("config.json");
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(io_err(format!("read {}", path.display())))?;
    let spec: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| TaskError::Io {
        what: format!("parse {}", path.display()),
        source: e.into(),
    })?;
    let terminal = spec["process"]["terminal"].as_bool().unwrap_or(false);
    if terminal != tty {
        return Err(TaskError::Bundle {
            id: id.to_string(),
            message: format!(
                "{} has process.terminal={terminal} but the task was created with tty={tty}",
                path.display()
            ),
        });
    }
    Ok(())
}

pub(crate) fn validate_id(id: &str) -> Result<(), TaskError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(TaskError::InvalidId(id.to_string()))
    }
}

/// Replaces a file of a task's state dir atomically (private to root, as the dir), without
/// fsync: the state dir is volatile by design (`/run/berth`, as `/run/containerd`). Its files
/// must outlive a crash of berthd, which the page cache already ensures, not a crash of the
/// kernel, after which none of its tasks is left; an fsync there is only milliseconds on every
/// create and exec where /run is on a disk.
pub(crate) async fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TaskError> {
    crate::atomic_file::replace_async(
        path,
        bytes.to_vec(),
        0o600,
        crate::atomic_file::Durability::None,
    )
    .await
    .map_err(io_err(format!("write {}", path.display())))
}

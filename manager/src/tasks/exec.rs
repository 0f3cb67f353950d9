//! Extra processes in a task's container (`exec`): each gets its own monitor
//! (`berth-monitor --exec`), which runs `<runtime> exec --detach`, holds the process's stdio,
//! reaps it and records its exit in `<task state dir>/exec/<exec id>/exit.json`.

use super::attach::Attach;
use super::error::{io_err, TaskError};
use super::exit::{is_monitor_of, read_exit_file};
use super::manager::{validate_id, write_atomic, TaskManager};
use super::orphan;
use super::spawn::spawn_monitor;
use super::types::{ExitStatus, LiveExec, TaskInfo};
use crate::monitor::args::MonitorArgs;
use crate::monitor::layout::{SocketPath, ATTACH_SOCKET, INIT_PID, MONITOR_PID};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Directory of a task's state dir holding one directory per exec'd process.
pub const EXEC_DIR: &str = "exec";
/// The OCI process an exec monitor runs, in its exec directory.
const PROCESS_FILE: &str = "process.json";
/// How often berthd tries to reach the attach socket of an exec monitor that is starting.
const CONNECT_RETRY: Duration = Duration::from_millis(5);

/// How an exec'd process's stdio is set up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecStdio {
    /// Give it a terminal (the process JSON must say `terminal: true` too).
    pub tty: bool,
    /// Keep its stdin open for the attached client.
    pub stdin: bool,
    /// Do not attach: the process runs on its own (`exec -d`).
    pub detach: bool,
}

/// A started exec'd process.
pub struct ExecHandle {
    /// Host pid of the process.
    pub pid: u32,
    /// Its stdio, unless detached; connected before the process ran, so nothing is missed.
    pub attach: Option<Attach>,
    /// Its exec directory (exit record, log).
    pub dir: PathBuf,
}

impl TaskManager {
    /// Runs `process` (an OCI process object) in the running container of task `id` as exec
    /// `exec_id`. Fails with the runtime's words (see [`TaskError::exec_failure_code`]) when
    /// it cannot be started; the container is left as it was.
    pub async fn exec(
        &self,
        id: &str,
        exec_id: &str,
        process: &serde_json::Value,
        stdio: ExecStdio,
    ) -> Result<ExecHandle, TaskError> {
        validate_id(exec_id)?;
        let e = self.lookup(id)?;
        if e.exit.borrow().is_some() {
            return Err(TaskError::NotRunning(id.to_string()));
        }
        let parent = e.info.state_dir.join(EXEC_DIR);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&parent)
            .map_err(io_err(format!("create {}", parent.display())))?;
        let dir = parent.join(exec_id);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|err| match err.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    TaskError::AlreadyExists(format!("{id} exec {exec_id}"))
                }
                _ => io_err(format!("create {}", dir.display()))(err),
            })?;
        let started = self.start_exec(&e.info, &dir, process, stdio).await;
        if started.is_err() {
            let _ = tokio::fs::remove_dir_all(&dir).await;
        }
        started
    }

    async fn start_exec(
        &self,
        task: &TaskInfo,
        dir: &Path,
        process: &serde_json::Value,
        stdio: ExecStdio,
    ) -> Result<ExecHandle, TaskError> {
        let id = task.id.as_str();
        let json = serde_json::to_vec(process).map_err(|e| TaskError::Io {
            what: format!("encode the exec process of {id}"),
            source: e.into(),
        })?;
        let process_path = dir.join(PROCESS_FILE);
        write_atomic(&process_path, &json).await?;
        let config = &self.inner.config;
        let args = MonitorArgs {
            id: id.to_string(),
            bundle: task.bundle.clone(),
            state_dir: dir.to_path_buf(),
            runtime: config.runtime.clone(),
            runtime_root: config.runtime_root.clone(),
            tty: stdio.tty,
            stdin: stdio.stdin && !stdio.detach,
            sync_fd: 3,
            create_timeout_secs: config.create_timeout.as_secs().max(1),
            adopt: None,
            exec: Some(process_path),
            wait_attach: !stdio.detach,
            attach_timeout_secs: config.exec_attach_timeout.as_secs().max(1),
            // The exec's output log (`<exec dir>/container.log`) is bounded like the
            // container's: a chatty `exec -d` must not fill the disk.
            log_max_size: task.log_max_size,
            log_max_file: task.log_max_file.max(1),
        };
        // The monitor may wait for our connection first, then for the runtime.
        let wait = config.exec_attach_timeout + config.create_timeout + Duration::from_secs(10);
        let spawn = spawn_monitor(&config.monitor, &args, wait);
        let (report, attach) = if stdio.detach {
            (spawn.await?, None)
        } else {
            tokio::pin!(spawn);
            // The monitor waits for this connection before it runs the process.
            let stream = tokio::select! {
                r = &mut spawn => {
                    return Err(match r {
                        Err(e) => e,
                        Ok(_) => TaskError::Monitor {
                            id: id.to_string(),
                            message: "the exec monitor started the process without its client"
                                .into(),
                        },
                    });
                }
                s = connect_when_bound(dir) => s?,
            };
            let report = spawn.await?;
            (report, Some(Attach::from_stream(id, stream)))
        };
        // The detached monitor is berthd's child (berthd is a subreaper) once its launcher exits.
        tokio::spawn(orphan::reap_when_gone(report.monitor_pid));
        Ok(ExecHandle {
            pid: report.init_pid,
            attach,
            dir: dir.to_path_buf(),
        })
    }

    /// The exec'd processes of task `id` that still run (a live monitor, no exit record), as
    /// a berthd that restarted lists them again and waits for their exits.
    pub async fn live_execs(&self, id: &str) -> Result<Vec<LiveExec>, TaskError> {
        let parent = self.lookup(id)?.info.state_dir.join(EXEC_DIR);
        let mut rd = match tokio::fs::read_dir(&parent).await {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(format!("read {}", parent.display()))(e)),
        };
        let mut live = Vec::new();
        while let Some(ent) = rd
            .next_entry()
            .await
            .map_err(io_err(format!("read {}", parent.display())))?
        {
            let dir = ent.path();
            if !ent.file_type().await.is_ok_and(|t| t.is_dir())
                || read_exit_file(&dir).await?.is_some()
            {
                continue;
            }
            if !monitor_pid(&dir)
                .await
                .is_some_and(|pid| is_monitor_of(pid, &dir))
            {
                continue;
            }
            // berthd's own file (0700 dir): the process it asked the runtime to exec.
            let args = tokio::fs::read(dir.join(PROCESS_FILE))
                .await
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| {
                    v.get("args")?.as_array().map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                })
                .unwrap_or_default();
            // The runtime wrote it before the monitor reported the exec started.
            let pid = tokio::fs::read_to_string(dir.join(INIT_PID))
                .await
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
                .unwrap_or(0);
            live.push(LiveExec {
                exec_id: ent.file_name().to_string_lossy().into_owned(),
                args,
                pid,
            });
        }
        live.sort_by(|a, b| a.exec_id.cmp(&b.exec_id));
        Ok(live)
    }

    /// The recorded exit of an exec'd process (`None` while it runs).
    pub async fn exec_exit(&self, dir: &Path) -> Result<Option<ExitStatus>, TaskError> {
        read_exit_file(dir).await
    }

    /// Waits until the exec monitor in `dir` has recorded the process's exit. A monitor that
    /// is gone without a record (killed) ends the wait with the exit unknown: polling for a
    /// record nobody will write would never end.
    pub async fn wait_exec(&self, dir: &Path) -> Result<ExitStatus, TaskError> {
        let monitor = monitor_pid(dir).await;
        loop {
            if let Some(s) = read_exit_file(dir).await? {
                return Ok(s);
            }
            if !dir.exists() {
                return Ok(ExitStatus::unknown());
            }
            if let Some(pid) = monitor.filter(|p| !is_monitor_of(*p, dir)) {
                // The monitor writes the record before it exits: look once more.
                if let Some(s) = read_exit_file(dir).await? {
                    return Ok(s);
                }
                tracing::warn!(dir = %dir.display(), monitor = pid, "exec monitor gone without an exit record");
                return Ok(ExitStatus::unknown());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The pid the exec monitor in `dir` recorded for itself, if it did.
async fn monitor_pid(dir: &Path) -> Option<u32> {
    tokio::fs::read_to_string(dir.join(MONITOR_PID))
        .await
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// Connects to the attach socket in `dir` as soon as the monitor has bound it.
async fn connect_when_bound(dir: &Path) -> Result<tokio::net::UnixStream, TaskError> {
    loop {
        let short = SocketPath::new(dir, ATTACH_SOCKET)
            .map_err(io_err(format!("open {}", dir.display())))?;
        match tokio::net::UnixStream::connect(short.path()).await {
            Ok(s) => return Ok(s),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                tokio::time::sleep(CONNECT_RETRY).await
            }
            Err(e) => {
                return Err(io_err(format!(
                    "connect to {}",
                    dir.join(ATTACH_SOCKET).display()
                ))(e))
            }
        }
    }
}

//! The rules of a container's task: one task at a time, a stopped one is reaped (its log
//! archived, its exit kept on the record) before the next, start failures are recorded with
//! Docker's exit codes, and every transition is published on the event bus.

use super::backend::{BackendError, ExitInfo, TaskInfo, TaskSpec, TaskState};
use super::exit_code::start_failure_code;
use super::record::{ContainerRecord, LastRun};
use super::{ContainerError, Containers};
use crate::explain;
use crate::metadata::now_nanos;
use berth_proto::v1::{self as pb, envelope::Event};
use std::time::{Duration, Instant};

impl Containers {
    /// The container's task, if it has one.
    pub async fn task(&self, id: &str) -> Result<Option<TaskInfo>, ContainerError> {
        Ok(self.tasks.get(id).await?)
    }

    /// Pauses (`pause`) or resumes the task of container `q` and publishes the matching event.
    pub async fn freeze(&self, q: &str, pause: bool) -> Result<(), ContainerError> {
        let rec = self.resolve(q)?;
        let done = if pause {
            self.tasks.pause(&rec.id).await
        } else {
            self.tasks.resume(&rec.id).await
        };
        done?;
        let container_id = rec.id;
        self.events.publish(if pause {
            Event::TaskPaused(pb::TaskPaused { container_id })
        } else {
            Event::TaskResumed(pb::TaskResumed { container_id })
        });
        Ok(())
    }

    /// Removes a stopped task, keeping its exit on the record.
    pub async fn reap(&self, id: &str) -> Result<(), ContainerError> {
        if let Some(live) = self.task(id).await?.and_then(|t| t.log_path) {
            let rec = self.resolve(id)?;
            // Checked at create: a record that fails now is archived without rotation.
            let rotation = super::log_opts::rotation(&rec.options.log_opts).unwrap_or_default();
            archive_log(&live, &rec.log_path, rotation)?;
        }
        if let Some(exit) = self.tasks.delete(id).await? {
            self.record_exit(id, &exit)?;
        }
        self.detach_network(id).await;
        self.events.publish(Event::TaskDelete(pb::TaskDelete {
            container_id: id.to_string(),
        }));
        Ok(())
    }

    /// Creates a task for `rec` (reaping an exited one first). Fails if one is live. Like a
    /// container create, it runs in its own task: a caller that goes away between the network
    /// attach and the runtime's create must not leave a network no task uses.
    pub async fn create_task(
        self: &std::sync::Arc<Self>,
        rec: &ContainerRecord,
    ) -> Result<u32, ContainerError> {
        let (me, rec) = (std::sync::Arc::clone(self), rec.clone());
        crate::explain::spawn_carrying(async move { me.create_task_detached(&rec).await })
            .await
            .map_err(|e| ContainerError::Invalid(format!("internal: task create failed: {e}")))?
    }

    async fn create_task_detached(&self, rec: &ContainerRecord) -> Result<u32, ContainerError> {
        if let Some(t) = self.task(&rec.id).await? {
            if t.state != TaskState::Stopped {
                return Err(ContainerError::Precondition(format!(
                    "container {} already has a {} task",
                    rec.id,
                    state_word(t.state)
                )));
            }
            self.reap(&rec.id).await?;
        }
        // The network is set up before the runtime enters its namespace; an exit handled
        // meanwhile must not tear the new one down (it takes the same lock).
        let _net = self.network_lock(&rec.id).await;
        let net = Instant::now();
        let attached = self.attach_network(rec).await;
        explain::record(
            "network attached",
            match &rec.options.network {
                n if n.is_empty() => "bridge (default)".to_string(),
                n => n.clone(),
            },
            net.elapsed(),
        );
        if let Err(e) = attached {
            self.start_failed(&rec.id, &e.to_string()).await;
            return Err(e);
        }
        let spec = TaskSpec {
            id: rec.id.clone(),
            bundle_dir: rec.bundle_dir.clone(),
            tty: rec.options.tty,
            open_stdin: rec.options.open_stdin,
            log_path: rec.log_path.clone(),
            // Checked at create; a record edited since is refused here rather than ignored.
            log: super::log_opts::rotation(&rec.options.log_opts)
                .map_err(ContainerError::Invalid)?,
        };
        let created = Instant::now();
        let result = self.tasks.create(&spec).await;
        let took = created.elapsed();
        explain::record(
            "runtime create",
            format!(
                "monitor spawned, `{} create`: {}",
                rec.runtime,
                super::explain_bundle::describe(&rec.bundle_dir)
            ),
            took,
        );
        self.began_or_failed(&rec.id, result, |container_id, pid| {
            Event::TaskCreate(pb::TaskCreate { container_id, pid })
        })
        .await
    }

    /// Starts the container's task, creating it first unless a created one waits; a running or
    /// paused task is left alone (Docker: starting a running container is a no-op). The pid.
    /// Runs in its own task, as [`Containers::create_task`] does. A start by the user resumes the
    /// restart policy and counts restarts from zero.
    pub async fn start_task(
        self: &std::sync::Arc<Self>,
        rec: &ContainerRecord,
    ) -> Result<u32, ContainerError> {
        let (me, rec) = (std::sync::Arc::clone(self), rec.clone());
        crate::explain::spawn_carrying(async move {
            me.cancel_restart(&rec.id);
            me.start_with(&rec, |run| {
                run.manually_stopped = false;
                run.restart_count = 0;
                run.restart_delay_ms = None;
            })
            .await
        })
        .await
        .map_err(|e| ContainerError::Invalid(format!("internal: task start failed: {e}")))?
    }

    /// Starts the task without touching the restart policy's state.
    pub(super) async fn start_by_policy(
        &self,
        rec: &ContainerRecord,
    ) -> Result<u32, ContainerError> {
        self.start_with(rec, |_| {}).await
    }

    /// Starts the task, applying `reset` to the stored last run first. For a task created
    /// already (`berth run`: Tasks.Create, then Tasks.Start) `reset` and the start's own
    /// fields go into one commit, written before the program runs: one fsync less per run,
    /// and an exit recorded by `on_exit` can never be overwritten by the start's record.
    async fn start_with(
        &self,
        rec: &ContainerRecord,
        reset: impl FnOnce(&mut LastRun),
    ) -> Result<u32, ContainerError> {
        let mut reset = Some(reset);
        match self.task(&rec.id).await? {
            Some(t) if matches!(t.state, TaskState::Running | TaskState::Paused) => {
                if let Some(r) = reset.take() {
                    self.update_last_run(&rec.id, r)?;
                }
                return Ok(t.pid);
            }
            Some(t) if t.state == TaskState::Created => {}
            _ => {
                if let Some(r) = reset.take() {
                    self.update_last_run(&rec.id, r)?;
                }
                self.create_task_detached(rec).await?;
            }
        }
        self.update_last_run(&rec.id, |run| {
            if let Some(r) = reset.take() {
                r(run);
            }
            run.started_at = Some(now_nanos());
            run.finished_at = None;
            run.exit_code = None;
            run.oom_killed = false;
            run.error.clear();
        })?;
        let started = Instant::now();
        let result = self.tasks.start(&rec.id).await;
        explain::record(
            "runtime start",
            format!("`{} start`: the program runs", rec.runtime),
            started.elapsed(),
        );
        self.began_or_failed(&rec.id, result, |container_id, pid| {
            Event::TaskStart(pb::TaskStart { container_id, pid })
        })
        .await
    }

    /// What a runtime create or start came to: the pid, with `event(id, pid)` published, or the
    /// failure recorded Docker's way ([`Self::start_failed`]).
    async fn began_or_failed(
        &self,
        id: &str,
        result: Result<u32, BackendError>,
        event: impl FnOnce(String, u32) -> Event,
    ) -> Result<u32, ContainerError> {
        match result {
            Ok(pid) => {
                self.events.publish(event(id.to_string(), pid));
                Ok(pid)
            }
            Err(e) => {
                let code = self.start_failed(id, &e.message).await;
                Err(ContainerError::StartFailed {
                    code,
                    message: e.message,
                })
            }
        }
    }

    /// Records a failed create/start Docker's way (exit 127/126/125, state Created), removes
    /// whatever the runtime left, and removes the container itself when it was made with `--rm`
    /// (a run that never started has ended). Returns the exit code.
    async fn start_failed(&self, id: &str, message: &str) -> i32 {
        // Best effort: the task may never have been created.
        let _ = self.tasks.delete(id).await;
        self.detach_network(id).await;
        let code = start_failure_code(message);
        let msg = message.to_string();
        if let Err(e) = self.update_last_run(id, |run| {
            run.started_at = None;
            run.finished_at = Some(now_nanos());
            run.exit_code = Some(code);
            run.error = msg;
        }) {
            tracing::error!(container = id, error = %e, "recording start failure");
        }
        if matches!(self.store.get(id), Ok(Some(r)) if r.options.auto_remove) {
            if let Err(e) = self.delete(id, true).await {
                tracing::error!(container = id, error = %e, "auto-removing container after a failed start");
            }
        }
        code
    }

    /// Waits for the container's next exit, including one of a task not created yet.
    pub async fn wait_exit(&self, rec: &ContainerRecord) -> Result<ExitInfo, ContainerError> {
        let mut events = self.events.subscribe();
        match self.task(&rec.id).await? {
            Some(t) if t.state == TaskState::Stopped => {
                if let Some(exit) = t.exit {
                    return Ok(exit);
                }
            }
            Some(_) => return Ok(self.tasks.wait(&rec.id).await?),
            None => {
                if let Some(run) = &rec.last_run {
                    if run.started_at.is_some() || run.finished_at.is_some() {
                        return Ok(ExitInfo {
                            code: run.exit_code,
                            exited_at: run.finished_at.map(|t| {
                                std::time::UNIX_EPOCH + Duration::from_nanos(t.max(0) as u64)
                            }),
                            oom: run.oom_killed,
                            pid: 0,
                        });
                    }
                }
            }
        }
        // Never ran: wait for it to run and exit, like `docker wait` on a created container.
        loop {
            match events.recv().await {
                Ok(env) => {
                    if let Some(Event::TaskExit(e)) = env.event {
                        if e.container_id == rec.id {
                            return Ok(ExitInfo {
                                code: e.exit_code_known.then_some(e.exit_code),
                                exited_at: e.exited_at.map(|t| {
                                    std::time::UNIX_EPOCH
                                        + Duration::new(
                                            t.seconds.max(0) as u64,
                                            t.nanos.max(0) as u32,
                                        )
                                }),
                                oom: false,
                                pid: e.pid,
                            });
                        }
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => {
                    return Err(BackendError {
                        code: tonic::Code::Unavailable,
                        message: "daemon shutting down".into(),
                    }
                    .into())
                }
            }
        }
    }

    /// Sends `signal` (SIGKILL when 0) to a live task; `query` is what the user named it by.
    pub async fn kill_task(
        &self,
        query: &str,
        rec: &ContainerRecord,
        signal: i32,
        all: bool,
    ) -> Result<(), ContainerError> {
        let live = self.task(&rec.id).await?.is_some_and(|t| {
            matches!(
                t.state,
                TaskState::Running | TaskState::Paused | TaskState::Created
            )
        });
        if !live {
            return Err(ContainerError::Precondition(format!(
                "Cannot kill container: {}: Container {} is not running",
                query, rec.id
            )));
        }
        let signal = if signal == 0 { libc::SIGKILL } else { signal };
        self.tasks.kill(&rec.id, signal, all).await?;
        Ok(())
    }

    /// Stops the task: `signal` (SIGTERM when 0), then SIGKILL to all its processes after
    /// `timeout`. The exit, or `None` when there is no task.
    pub async fn stop_task(
        &self,
        rec: &ContainerRecord,
        signal: i32,
        timeout: Duration,
    ) -> Result<Option<ExitInfo>, ContainerError> {
        let tasks = &self.tasks;
        // Docker's "manually stopped": the policy waits for the next start.
        self.suspend_restart(&rec.id)?;
        let Some(task) = self.task(&rec.id).await? else {
            return Ok(None);
        };
        if task.state == TaskState::Stopped {
            return Ok(task.exit);
        }
        let signal = if signal == 0 { libc::SIGTERM } else { signal };
        let paused = task.state == TaskState::Paused;
        let exit = super::stop::stop_task(&**tasks, &rec.id, signal, timeout, paused).await?;
        // `stop` returns with the network released (the exit handler may not have run yet).
        if let Some(_g) = self.network_lock(&rec.id).await {
            if !self.is_live(&rec.id).await? {
                self.detach_network(&rec.id).await;
            }
        }
        Ok(Some(exit))
    }

    /// Deletes the task (killing a live one only when `force`); its exit, if known.
    pub async fn delete_task(
        &self,
        rec: &ContainerRecord,
        force: bool,
    ) -> Result<Option<ExitInfo>, ContainerError> {
        let Some(task) = self.task(&rec.id).await? else {
            return Err(
                BackendError::not_found(format!("container {} has no task", rec.id)).into(),
            );
        };
        if task.state != TaskState::Stopped {
            if !force {
                return Err(ContainerError::Precondition(format!(
                    "task of container {} is {}; stop it first or force",
                    rec.id,
                    state_word(task.state)
                )));
            }
            let paused = task.state == TaskState::Paused;
            super::stop::kill_task(&*self.tasks, &rec.id, paused).await?;
        }
        let exit = self.task(&rec.id).await?.and_then(|t| t.exit);
        self.reap(&rec.id).await?;
        Ok(exit)
    }
}

fn state_word(s: TaskState) -> &'static str {
    match s {
        TaskState::Created => "created",
        TaskState::Running => "running",
        TaskState::Paused => "paused",
        TaskState::Stopped => "stopped",
    }
}

/// Appends a finished task's log (its rotated files too) to the container's log, so output
/// survives task deletion (restarts append, like Docker's json-file log), rotated as the live
/// log is.
fn archive_log(
    live: &std::path::Path,
    archive: &std::path::Path,
    rotation: crate::monitor::LogRotation,
) -> Result<(), BackendError> {
    super::logs::append_chain(live, archive, rotation).map_err(|e| {
        BackendError::internal(format!(
            "appending {} to {}: {e}",
            live.display(),
            archive.display()
        ))
    })
}

//! The `berth.v1.Tasks` gRPC service: container processes over the task manager, keeping the
//! container records' last-run status and the event stream up to date.

use crate::containers::backend::{
    AttachInput, AttachOutput, ExitInfo, TaskInfo, TaskSpec, TaskState,
};
use crate::containers::record::{now_nanos, ContainerRecord};
use crate::containers::{logs, ContainerError, Containers};
use crate::events::to_timestamp;
use berth_proto::v1::{self as pb, attach_request, attach_response, envelope::Event, tasks_server};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

/// gRPC front of tasks.
pub struct TasksService {
    containers: Arc<Containers>,
}

impl TasksService {
    /// Serves tasks of `containers`.
    pub fn new(containers: Arc<Containers>) -> Self {
        Self { containers }
    }

    fn resolve(&self, q: &str) -> Result<ContainerRecord, Status> {
        Ok(self.containers.resolve(q)?)
    }

    async fn task(&self, id: &str) -> Result<Option<TaskInfo>, Status> {
        Ok(self
            .containers
            .tasks()
            .get(id)
            .await
            .map_err(ContainerError::from)?)
    }

    /// Removes a stopped task, keeping its exit on the record.
    /// Pauses (`pause`) or resumes the task of container `q` and publishes the matching event.
    async fn freeze(&self, q: &str, pause: bool) -> Result<(), Status> {
        let rec = self.resolve(q)?;
        let tasks = self.containers.tasks();
        let done = if pause {
            tasks.pause(&rec.id).await
        } else {
            tasks.resume(&rec.id).await
        };
        done.map_err(ContainerError::from)?;
        let container_id = rec.id;
        self.containers.events().publish(if pause {
            Event::TaskPaused(pb::TaskPaused { container_id })
        } else {
            Event::TaskResumed(pb::TaskResumed { container_id })
        });
        Ok(())
    }

    async fn reap(&self, id: &str) -> Result<(), Status> {
        let tasks = self.containers.tasks();
        if let Some(live) = self.task(id).await?.and_then(|t| t.log_path) {
            let rec = self.resolve(id)?;
            archive_log(&live, &rec.log_path)?;
        }
        if let Some(exit) = tasks.delete(id).await.map_err(ContainerError::from)? {
            self.containers.record_exit(id, &exit)?;
        }
        self.containers
            .events()
            .publish(Event::TaskDelete(pb::TaskDelete {
                container_id: id.to_string(),
            }));
        Ok(())
    }

    /// Creates a task for `rec` (reaping an exited one first). Fails if one is live.
    async fn create_task(&self, rec: &ContainerRecord) -> Result<u32, Status> {
        if let Some(t) = self.task(&rec.id).await? {
            if t.state != TaskState::Stopped {
                return Err(Status::failed_precondition(format!(
                    "container {} already has a {} task",
                    rec.id,
                    state_word(t.state)
                )));
            }
            self.reap(&rec.id).await?;
        }
        let spec = TaskSpec {
            id: rec.id.clone(),
            bundle_dir: rec.bundle_dir.clone(),
            tty: rec.options.tty,
            open_stdin: rec.options.open_stdin,
            log_path: rec.log_path.clone(),
        };
        match self.containers.tasks().create(&spec).await {
            Ok(pid) => {
                self.containers
                    .events()
                    .publish(Event::TaskCreate(pb::TaskCreate {
                        container_id: rec.id.clone(),
                        pid,
                    }));
                Ok(pid)
            }
            Err(e) => {
                self.start_failed(&rec.id, &e.message).await;
                Err(Status::failed_precondition(e.message))
            }
        }
    }

    /// Records a failed create/start Docker's way (exit 127/126/125, state Created), removes
    /// whatever the runtime left, and removes the container itself when it was made with `--rm`.
    async fn start_failed(&self, id: &str, message: &str) {
        // Best effort: the task may never have been created.
        let _ = self.containers.tasks().delete(id).await;
        // Case differs between runtimes ("No such file or directory (os error 2)").
        let lower = message.to_lowercase();
        let code = if lower.contains("executable file not found")
            || lower.contains("no such file or directory")
        {
            127
        } else if lower.contains("permission denied") {
            126
        } else {
            125
        };
        let msg = message.to_string();
        if let Err(e) = self.containers.update_last_run(id, |run| {
            run.started_at = None;
            run.finished_at = Some(now_nanos());
            run.exit_code = Some(code);
            run.error = msg;
        }) {
            tracing::error!(container = id, error = %e, "recording start failure");
        }
        // `--rm` means the container goes when its run ends, and a run that never started ended.
        if matches!(self.containers.resolve(id), Ok(r) if r.options.auto_remove) {
            if let Err(e) = self.containers.delete(id, true).await {
                tracing::error!(container = id, error = %e, "auto-removing container after a failed start");
            }
        }
    }

    /// Waits for the container's next exit, including one of a task not created yet.
    async fn wait_exit(&self, rec: &ContainerRecord) -> Result<ExitInfo, Status> {
        let mut events = self.containers.events().subscribe();
        match self.task(&rec.id).await? {
            Some(t) if t.state == TaskState::Stopped => {
                if let Some(exit) = t.exit {
                    return Ok(exit);
                }
            }
            Some(_) => {
                return Ok(self
                    .containers
                    .tasks()
                    .wait(&rec.id)
                    .await
                    .map_err(ContainerError::from)?)
            }
            None => {
                if let Some(run) = &rec.last_run {
                    if run.started_at.is_some() || run.finished_at.is_some() {
                        return Ok(ExitInfo {
                            code: run.exit_code,
                            exited_at: std::time::UNIX_EPOCH
                                + Duration::from_nanos(run.finished_at.unwrap_or(0).max(0) as u64),
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
                                exited_at: e
                                    .exited_at
                                    .map(|t| {
                                        std::time::UNIX_EPOCH
                                            + Duration::new(
                                                t.seconds.max(0) as u64,
                                                t.nanos.max(0) as u32,
                                            )
                                    })
                                    .unwrap_or_else(std::time::SystemTime::now),
                                oom: false,
                                pid: e.pid,
                            });
                        }
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return Err(Status::unavailable("daemon shutting down")),
            }
        }
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

/// An exit as the API reports it.
pub fn exit_status(e: &ExitInfo) -> pb::ExitStatus {
    pb::ExitStatus {
        exit_code: e.code.unwrap_or(0),
        known: e.code.is_some(),
        exited_at: Some(to_timestamp(e.exited_at)),
        oom_killed: e.oom,
    }
}

fn task_proto(t: &TaskInfo) -> pb::Task {
    let status = match t.state {
        TaskState::Created => pb::TaskStatus::Created,
        TaskState::Running => pb::TaskStatus::Running,
        TaskState::Paused => pb::TaskStatus::Paused,
        TaskState::Stopped => pb::TaskStatus::Stopped,
    };
    pb::Task {
        id: t.id.clone(),
        pid: t.pid,
        status: status as i32,
        exit_code: t.exit.as_ref().and_then(|e| e.code).unwrap_or(0),
        exit_code_known: t.exit.as_ref().is_some_and(|e| e.code.is_some()),
        started_at: t.started_at.map(to_timestamp),
        exited_at: t.exit.as_ref().map(|e| to_timestamp(e.exited_at)),
        oom_killed: t.exit.as_ref().is_some_and(|e| e.oom),
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl tasks_server::Tasks for TasksService {
    async fn create(
        &self,
        request: Request<pb::CreateTaskRequest>,
    ) -> Result<Response<pb::CreateTaskResponse>, Status> {
        let rec = self.resolve(&request.into_inner().container_id)?;
        let pid = self.create_task(&rec).await?;
        Ok(Response::new(pb::CreateTaskResponse {
            container_id: rec.id,
            pid,
        }))
    }

    async fn start(
        &self,
        request: Request<pb::StartTaskRequest>,
    ) -> Result<Response<pb::StartTaskResponse>, Status> {
        let rec = self.resolve(&request.into_inner().container_id)?;
        match self.task(&rec.id).await? {
            Some(t) if matches!(t.state, TaskState::Running | TaskState::Paused) => {
                // Docker: starting a running container is a no-op.
                return Ok(Response::new(pb::StartTaskResponse {
                    container_id: rec.id,
                    pid: t.pid,
                }));
            }
            Some(t) if t.state == TaskState::Created => {}
            _ => {
                self.create_task(&rec).await?;
            }
        }
        match self.containers.tasks().start(&rec.id).await {
            Ok(pid) => {
                self.containers.update_last_run(&rec.id, |run| {
                    run.started_at = Some(now_nanos());
                    run.finished_at = None;
                    run.exit_code = None;
                    run.oom_killed = false;
                    run.error.clear();
                })?;
                self.containers
                    .events()
                    .publish(Event::TaskStart(pb::TaskStart {
                        container_id: rec.id.clone(),
                        pid,
                    }));
                Ok(Response::new(pb::StartTaskResponse {
                    container_id: rec.id,
                    pid,
                }))
            }
            Err(e) => {
                self.start_failed(&rec.id, &e.message).await;
                Err(Status::failed_precondition(e.message))
            }
        }
    }

    async fn wait(
        &self,
        request: Request<pb::WaitTaskRequest>,
    ) -> Result<Response<pb::WaitTaskResponse>, Status> {
        let rec = self.resolve(&request.into_inner().container_id)?;
        let exit = self.wait_exit(&rec).await?;
        Ok(Response::new(pb::WaitTaskResponse {
            container_id: rec.id,
            status: Some(exit_status(&exit)),
        }))
    }

    async fn kill(
        &self,
        request: Request<pb::KillTaskRequest>,
    ) -> Result<Response<pb::KillTaskResponse>, Status> {
        let r = request.into_inner();
        let rec = self.resolve(&r.container_id)?;
        let live = self.task(&rec.id).await?.is_some_and(|t| {
            matches!(
                t.state,
                TaskState::Running | TaskState::Paused | TaskState::Created
            )
        });
        if !live {
            return Err(Status::failed_precondition(format!(
                "Cannot kill container: {}: Container {} is not running",
                r.container_id, rec.id
            )));
        }
        let signal = if r.signal == 0 {
            libc::SIGKILL
        } else {
            r.signal as i32
        };
        self.containers
            .tasks()
            .kill(&rec.id, signal, r.all)
            .await
            .map_err(ContainerError::from)?;
        Ok(Response::new(pb::KillTaskResponse {
            container_id: rec.id,
        }))
    }

    async fn stop(
        &self,
        request: Request<pb::StopTaskRequest>,
    ) -> Result<Response<pb::StopTaskResponse>, Status> {
        let r = request.into_inner();
        let rec = self.resolve(&r.container_id)?;
        let tasks = self.containers.tasks();
        let Some(task) = self.task(&rec.id).await? else {
            return Ok(Response::new(pb::StopTaskResponse {
                container_id: rec.id,
                status: None,
            }));
        };
        if task.state == TaskState::Stopped {
            return Ok(Response::new(pb::StopTaskResponse {
                container_id: rec.id,
                status: task.exit.as_ref().map(exit_status),
            }));
        }
        let signal = if r.signal == 0 {
            libc::SIGTERM
        } else {
            r.signal as i32
        };
        if task.state == TaskState::Paused {
            tasks.resume(&rec.id).await.map_err(ContainerError::from)?;
        }
        tasks
            .kill(&rec.id, signal, false)
            .await
            .map_err(ContainerError::from)?;
        let waited = tokio::time::timeout(
            Duration::from_secs(r.timeout_seconds.into()),
            tasks.wait(&rec.id),
        )
        .await;
        let exit = match waited {
            Ok(res) => res.map_err(ContainerError::from)?,
            Err(_) => {
                tracing::info!(container = rec.id, "stop timeout expired; sending SIGKILL");
                tasks
                    .kill(&rec.id, libc::SIGKILL, true)
                    .await
                    .map_err(ContainerError::from)?;
                tasks.wait(&rec.id).await.map_err(ContainerError::from)?
            }
        };
        Ok(Response::new(pb::StopTaskResponse {
            container_id: rec.id,
            status: Some(exit_status(&exit)),
        }))
    }

    async fn delete(
        &self,
        request: Request<pb::DeleteTaskRequest>,
    ) -> Result<Response<pb::DeleteTaskResponse>, Status> {
        let r = request.into_inner();
        let rec = self.resolve(&r.container_id)?;
        let Some(task) = self.task(&rec.id).await? else {
            return Err(Status::not_found(format!(
                "container {} has no task",
                rec.id
            )));
        };
        if task.state != TaskState::Stopped {
            if !r.force {
                return Err(Status::failed_precondition(format!(
                    "task of container {} is {}; stop it first or force",
                    rec.id,
                    state_word(task.state)
                )));
            }
            let tasks = self.containers.tasks();
            tasks
                .kill(&rec.id, libc::SIGKILL, true)
                .await
                .map_err(ContainerError::from)?;
            tasks.wait(&rec.id).await.map_err(ContainerError::from)?;
        }
        let exit = self.task(&rec.id).await?.and_then(|t| t.exit);
        self.reap(&rec.id).await?;
        Ok(Response::new(pb::DeleteTaskResponse {
            container_id: rec.id,
            status: exit.as_ref().map(exit_status),
        }))
    }

    async fn pause(
        &self,
        request: Request<pb::PauseTaskRequest>,
    ) -> Result<Response<pb::PauseTaskResponse>, Status> {
        self.freeze(&request.into_inner().container_id, true)
            .await?;
        Ok(Response::new(pb::PauseTaskResponse {}))
    }

    async fn resume(
        &self,
        request: Request<pb::ResumeTaskRequest>,
    ) -> Result<Response<pb::ResumeTaskResponse>, Status> {
        self.freeze(&request.into_inner().container_id, false)
            .await?;
        Ok(Response::new(pb::ResumeTaskResponse {}))
    }

    async fn list(
        &self,
        _request: Request<pb::ListTasksRequest>,
    ) -> Result<Response<pb::ListTasksResponse>, Status> {
        let tasks = self
            .containers
            .tasks()
            .list()
            .await
            .map_err(ContainerError::from)?;
        Ok(Response::new(pb::ListTasksResponse {
            tasks: tasks.iter().map(task_proto).collect(),
        }))
    }

    type AttachStream = BoxStream<pb::AttachResponse>;

    async fn attach(
        &self,
        request: Request<Streaming<pb::AttachRequest>>,
    ) -> Result<Response<Self::AttachStream>, Status> {
        let mut inbound = request.into_inner();
        let open = match inbound.next().await {
            Some(Ok(pb::AttachRequest {
                msg: Some(attach_request::Msg::Open(open)),
            })) => open,
            Some(Err(e)) => return Err(e),
            _ => {
                return Err(Status::invalid_argument(
                    "first attach message must be `open`",
                ))
            }
        };
        let rec = self.resolve(&open.container_id)?;
        let io = self
            .containers
            .tasks()
            .attach(&rec.id, open.stdin)
            .await
            .map_err(ContainerError::from)?;
        let input = io.input;
        tokio::spawn(async move {
            while let Some(Ok(msg)) = inbound.next().await {
                let item = match msg.msg {
                    Some(attach_request::Msg::Stdin(b)) => AttachInput::Stdin(b),
                    Some(attach_request::Msg::CloseStdin(_)) => AttachInput::CloseStdin,
                    Some(attach_request::Msg::Resize(w)) => AttachInput::Resize(
                        w.width.min(u16::MAX as u32) as u16,
                        w.height.min(u16::MAX as u32) as u16,
                    ),
                    _ => continue,
                };
                if input.send(item).await.is_err() {
                    break;
                }
            }
        });
        let (want_out, want_err) = (open.stdout, open.stderr);
        let out = tokio_stream::wrappers::ReceiverStream::new(io.output).filter_map(move |o| {
            let msg = match o {
                AttachOutput::Stdout(b) if want_out => attach_response::Msg::Stdout(b),
                AttachOutput::Stderr(b) if want_err => attach_response::Msg::Stderr(b),
                AttachOutput::Exit(e) => attach_response::Msg::Exit(exit_status(&e)),
                _ => return None,
            };
            Some(Ok(pb::AttachResponse { msg: Some(msg) }))
        });
        Ok(Response::new(Box::pin(out)))
    }

    type LogsStream = BoxStream<pb::LogsResponse>;

    async fn logs(
        &self,
        request: Request<pb::LogsRequest>,
    ) -> Result<Response<Self::LogsStream>, Status> {
        let r = request.into_inner();
        let rec = self.resolve(&r.container_id)?;
        let tail = (!r.tail_all).then_some(r.tail as usize);
        let read_err = |p: &std::path::Path, e: std::io::Error| {
            Status::internal(format!("reading {}: {e}", p.display()))
        };
        let (mut first, _) =
            logs::read_entries(&rec.log_path, None).map_err(|e| read_err(&rec.log_path, e))?;
        let path = self.task(&rec.id).await?.and_then(|t| t.log_path);
        let mut offset = 0;
        if let Some(live) = &path {
            let (entries, end) = logs::read_entries(live, None).map_err(|e| read_err(live, e))?;
            first.extend(entries);
            offset = end;
        }
        if let Some(t) = tail {
            let skip = first.len().saturating_sub(t);
            first.drain(..skip);
        }
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        let containers = Arc::clone(&self.containers);
        let id = rec.id.clone();
        tokio::spawn(async move {
            for entry in first {
                if tx.send(Ok(entry)).await.is_err() {
                    return;
                }
            }
            let Some(path) = path.filter(|_| r.follow) else {
                return;
            };
            // Follow: poll the file until the task is no longer live and the file is drained.
            loop {
                // Read once more after the task is seen stopped so its last output is sent.
                let live = containers.is_live(&id).await.unwrap_or(false);
                let file = match std::fs::File::open(&path) {
                    Ok(f) => Some(f),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => {
                        let _ = tx
                            .send(Err(Status::internal(format!(
                                "reading {}: {e}",
                                path.display()
                            ))))
                            .await;
                        return;
                    }
                };
                if let Some(f) = file {
                    match logs::read_from(f, offset, None) {
                        Ok((entries, next)) => {
                            offset = next;
                            for entry in entries {
                                if tx.send(Ok(entry)).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Err(e) => {
                            let _ = tx
                                .send(Err(Status::internal(format!(
                                    "reading {}: {e}",
                                    path.display()
                                ))))
                                .await;
                            return;
                        }
                    }
                }
                if !live || tx.is_closed() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn resize_pty(
        &self,
        request: Request<pb::ResizePtyRequest>,
    ) -> Result<Response<pb::ResizePtyResponse>, Status> {
        let r = request.into_inner();
        let rec = self.resolve(&r.container_id)?;
        let size = r.size.unwrap_or_default();
        self.containers
            .tasks()
            .resize(
                &rec.id,
                size.width.min(u16::MAX as u32) as u16,
                size.height.min(u16::MAX as u32) as u16,
            )
            .await
            .map_err(ContainerError::from)?;
        Ok(Response::new(pb::ResizePtyResponse {}))
    }
}

/// Appends a finished task's log to the container's log, so output survives task deletion
/// (restarts append, like Docker's json-file log).
fn archive_log(live: &std::path::Path, archive: &std::path::Path) -> Result<(), Status> {
    let mut src = match std::fs::File::open(live) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Status::internal(format!("opening {}: {e}", live.display()))),
    };
    let mut dst = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(archive)
        .map_err(|e| Status::internal(format!("opening {}: {e}", archive.display())))?;
    std::io::copy(&mut src, &mut dst).map_err(|e| {
        Status::internal(format!(
            "appending {} to {}: {e}",
            live.display(),
            archive.display()
        ))
    })?;
    Ok(())
}

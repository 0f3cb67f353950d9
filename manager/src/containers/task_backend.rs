//! [`TaskBackend`] over the task manager (`crate::tasks::TaskManager`: monitors + runtime).

use super::backend::{
    AttachInput, AttachIo, AttachOutput, BackendError, ExecIo, ExecSpec, ExitEvent, ExitInfo,
    TaskBackend, TaskInfo, TaskSpec, TaskState,
};
use crate::monitor::layout::CONTAINER_LOG;
use crate::tasks::{
    Attach, AttachEvent, ExecStdio, ExitStatus, StdioOptions, TaskError, TaskManager, TaskStatus,
};
use std::future::Future;
use std::pin::Pin;
use tokio::sync::{broadcast, mpsc};

/// The real task backend.
pub struct ManagedTasks {
    tm: TaskManager,
    exits: broadcast::Sender<ExitEvent>,
}

impl ManagedTasks {
    /// Wraps `tm` and forwards its exit events. Call inside a tokio runtime.
    pub fn new(tm: TaskManager) -> Self {
        let (exits, _) = broadcast::channel(256);
        let mut rx = tm.subscribe();
        let tx = exits.clone();
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(e) => {
                        // No subscriber is fine.
                        let _ = tx.send(ExitEvent {
                            id: e.id,
                            exit: exit_info(&e.status, e.pid),
                        });
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "task exit events lagged");
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        Self { tm, exits }
    }

    /// The wrapped task manager.
    pub fn manager(&self) -> &TaskManager {
        &self.tm
    }
}

/// The task manager's exit status in the container manager's terms.
pub fn exit_info(s: &ExitStatus, pid: u32) -> ExitInfo {
    ExitInfo {
        code: s.code,
        exited_at: s.exited_at,
        oom: s.oom,
        pid,
    }
}

fn err(e: TaskError) -> BackendError {
    let code = match &e {
        // The program could not be executed: the caller decides 126/127 from the words.
        _ if e.exec_failure_code().is_some() => tonic::Code::FailedPrecondition,
        TaskError::NotFound(_) => tonic::Code::NotFound,
        TaskError::AlreadyExists(_) => tonic::Code::AlreadyExists,
        TaskError::InvalidId(_) => tonic::Code::InvalidArgument,
        TaskError::NotStopped(_) | TaskError::NotRunning(_) => tonic::Code::FailedPrecondition,
        _ => tonic::Code::Internal,
    };
    BackendError {
        code,
        message: e.to_string(),
    }
}

#[tonic::async_trait]
impl TaskBackend for ManagedTasks {
    async fn create(&self, spec: &TaskSpec) -> Result<u32, BackendError> {
        let info = self
            .tm
            .create_with_log(
                &spec.id,
                &spec.bundle_dir,
                StdioOptions {
                    tty: spec.tty,
                    stdin: spec.open_stdin,
                },
                spec.log,
            )
            .await
            .map_err(err)?;
        Ok(info.pid)
    }

    async fn start(&self, id: &str) -> Result<u32, BackendError> {
        self.tm.start(id).await.map_err(err)
    }

    async fn get(&self, id: &str) -> Result<Option<TaskInfo>, BackendError> {
        let info = match self.tm.get(id) {
            Ok(i) => i,
            Err(TaskError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(err(e)),
        };
        let status = match self.tm.state(id).await {
            Ok(s) => s,
            Err(TaskError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(err(e)),
        };
        let exit = self.tm.exit_status(id).ok().flatten();
        let (state, exit) = match status {
            TaskStatus::Created => (TaskState::Created, None),
            TaskStatus::Running => (TaskState::Running, None),
            TaskStatus::Paused => (TaskState::Paused, None),
            TaskStatus::Stopped => (
                TaskState::Stopped,
                Some(exit_info(
                    &exit.unwrap_or_else(ExitStatus::unknown),
                    info.pid,
                )),
            ),
            // The monitor died without recording the exit and the runtime has no process:
            // the code is unknown, never invented.
            TaskStatus::Unknown => (
                TaskState::Stopped,
                Some(exit_info(&ExitStatus::unknown(), info.pid)),
            ),
        };
        Ok(Some(TaskInfo {
            id: id.to_string(),
            pid: if state == TaskState::Stopped {
                0
            } else {
                info.pid
            },
            state,
            started_at: None,
            exit,
            log_path: Some(info.state_dir.join(CONTAINER_LOG)),
        }))
    }

    async fn list(&self) -> Result<Vec<TaskInfo>, BackendError> {
        let mut out = Vec::new();
        for t in self.tm.list() {
            if let Some(info) = self.get(&t.id).await? {
                out.push(info);
            }
        }
        Ok(out)
    }

    async fn wait(&self, id: &str) -> Result<ExitInfo, BackendError> {
        let pid = self.tm.get(id).map(|i| i.pid).unwrap_or(0);
        let s = self.tm.wait(id).await.map_err(err)?;
        Ok(exit_info(&s, pid))
    }

    async fn kill(&self, id: &str, signal: i32, all: bool) -> Result<(), BackendError> {
        self.tm.kill(id, signal, all).await.map_err(err)
    }

    async fn delete(&self, id: &str) -> Result<Option<ExitInfo>, BackendError> {
        let pid = match self.tm.get(id) {
            Ok(i) => i.pid,
            Err(TaskError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(err(e)),
        };
        let s = self.tm.delete(id, true).await.map_err(err)?;
        Ok(Some(exit_info(&s, pid)))
    }

    async fn pause(&self, id: &str) -> Result<(), BackendError> {
        self.tm.pause(id).await.map_err(err)
    }

    async fn resume(&self, id: &str) -> Result<(), BackendError> {
        self.tm.resume(id).await.map_err(err)
    }

    async fn attach(&self, id: &str, stdin: bool) -> Result<AttachIo, BackendError> {
        let a = self.tm.attach(id).await.map_err(err)?;
        let tm = self.tm.clone();
        let id = id.to_string();
        Ok(pump(
            a,
            stdin,
            Box::new(move || Box::pin(async move { tm.wait(&id).await.ok() })),
        ))
    }

    async fn update(&self, id: &str, resources: &serde_json::Value) -> Result<(), BackendError> {
        self.tm.update(id, resources).await.map_err(err)
    }

    async fn exec(&self, id: &str, spec: &ExecSpec) -> Result<ExecIo, BackendError> {
        let stdio = ExecStdio {
            tty: spec.tty,
            stdin: spec.stdin,
            detach: spec.detach,
        };
        let h = self
            .tm
            .exec(id, &spec.exec_id, &spec.process, stdio)
            .await
            .map_err(err)?;
        let pid = h.pid;
        let io = h.attach.map(|a| {
            let tm = self.tm.clone();
            let dir = h.dir.clone();
            pump(
                a,
                spec.stdin,
                Box::new(move || Box::pin(async move { tm.wait_exec(&dir).await.ok() })),
            )
        });
        Ok(ExecIo { pid, io })
    }

    async fn wait_exec(&self, id: &str, exec_id: &str) -> Result<ExitInfo, BackendError> {
        let info = self.tm.get(id).map_err(err)?;
        let dir = info.state_dir.join(crate::tasks::EXEC_DIR).join(exec_id);
        let status = self.tm.wait_exec(&dir).await.map_err(err)?;
        Ok(exit_info(&status, 0))
    }

    async fn live_execs(&self, id: &str) -> Result<Vec<crate::tasks::LiveExec>, BackendError> {
        self.tm.live_execs(id).await.map_err(err)
    }

    async fn resize(&self, id: &str, cols: u16, rows: u16) -> Result<(), BackendError> {
        let mut a = self.tm.attach(id).await.map_err(err)?;
        a.input.resize(rows, cols).await.map_err(err)
    }

    fn subscribe_exits(&self) -> broadcast::Receiver<ExitEvent> {
        self.exits.subscribe()
    }
}

/// Finds the recorded exit when the monitor closed the connection without an exit frame.
type RecordedExit =
    Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = Option<ExitStatus>> + Send>> + Send>;

/// Copies between an attach connection and the channels of an [`AttachIo`].
fn pump(a: Attach, stdin: bool, recorded: RecordedExit) -> AttachIo {
    let (in_tx, mut in_rx) = mpsc::channel::<AttachInput>(64);
    let (out_tx, out_rx) = mpsc::channel::<AttachOutput>(64);
    let mut input = a.input;
    let mut output = a.output;
    tokio::spawn(async move {
        while let Some(item) = in_rx.recv().await {
            let r = match item {
                AttachInput::Stdin(b) if stdin => input.write_stdin(&b).await,
                AttachInput::CloseStdin if stdin => input.close_stdin().await,
                AttachInput::Resize(cols, rows) => input.resize(rows, cols).await,
                _ => Ok(()),
            };
            if r.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let mut recorded = Some(recorded);
        loop {
            let item = match output.next().await {
                Ok(Some(AttachEvent::Stdout(b))) => AttachOutput::Stdout(b),
                Ok(Some(AttachEvent::Stderr(b))) => AttachOutput::Stderr(b),
                Ok(Some(AttachEvent::Exit(s))) => AttachOutput::Exit(exit_info(&s, 0)),
                // Connection closed without an exit frame: report the recorded exit.
                Ok(None) | Err(_) => match recorded.take() {
                    Some(f) => match f().await {
                        Some(s) => AttachOutput::Exit(exit_info(&s, 0)),
                        None => break,
                    },
                    None => break,
                },
            };
            let last = matches!(item, AttachOutput::Exit(_));
            if out_tx.send(item).await.is_err() || last {
                break;
            }
        }
    });
    AttachIo {
        input: in_tx,
        output: out_rx,
    }
}

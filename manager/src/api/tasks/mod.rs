//! The `berth.v1.Tasks` gRPC service: requests to container processes, answered by the rules in
//! `crate::containers` (which keep the records' last-run status and the event stream up to date).

mod attach;
mod exec;
mod logs;

use super::containers::steps_proto;
use crate::containers::backend::{AttachInput, ExitInfo, TaskInfo, TaskState};
use crate::containers::record::ContainerRecord;
use crate::containers::{ContainerError, Containers};
use crate::events::to_timestamp;
use crate::explain;
use berth_proto::v1::{self as pb, tasks_server};
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
}

/// An exit as the API reports it.
pub fn exit_status(e: &ExitInfo) -> pb::ExitStatus {
    pb::ExitStatus {
        exit_code: e.code.unwrap_or(0),
        known: e.code.is_some(),
        exited_at: e.exited_at.map(to_timestamp),
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
        exited_at: t.exit.as_ref().and_then(|e| e.exited_at).map(to_timestamp),
        oom_killed: t.exit.as_ref().is_some_and(|e| e.oom),
    }
}

/// A terminal size from the API's u32 to the u16 the kernel takes (larger is clamped).
fn clamp(v: u32) -> u16 {
    v.min(u32::from(u16::MAX)) as u16
}

/// Sends the task the stdin, stdin close and resizes `input_of` finds in the later messages of
/// an attach or exec stream, until the client or the task is gone.
fn forward_input<M: Send + 'static>(
    mut inbound: Streaming<M>,
    input: tokio::sync::mpsc::Sender<AttachInput>,
    input_of: fn(M) -> Option<AttachInput>,
) {
    tokio::spawn(async move {
        while let Some(Ok(msg)) = inbound.next().await {
            let Some(item) = input_of(msg) else {
                continue;
            };
            if input.send(item).await.is_err() {
                break;
            }
        }
    });
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl tasks_server::Tasks for TasksService {
    async fn create(
        &self,
        request: Request<pb::CreateTaskRequest>,
    ) -> Result<Response<pb::CreateTaskResponse>, Status> {
        let rec = self.resolve(&request.into_inner().container_id)?;
        let (pid, steps) = explain::collect(self.containers.create_task(&rec)).await;
        Ok(Response::new(pb::CreateTaskResponse {
            container_id: rec.id,
            pid: pid?,
            steps: steps_proto(steps),
        }))
    }

    async fn start(
        &self,
        request: Request<pb::StartTaskRequest>,
    ) -> Result<Response<pb::StartTaskResponse>, Status> {
        let rec = self.resolve(&request.into_inner().container_id)?;
        let (pid, steps) = explain::collect(self.containers.start_task(&rec)).await;
        Ok(Response::new(pb::StartTaskResponse {
            container_id: rec.id,
            pid: pid?,
            steps: steps_proto(steps),
        }))
    }

    async fn wait(
        &self,
        request: Request<pb::WaitTaskRequest>,
    ) -> Result<Response<pb::WaitTaskResponse>, Status> {
        let rec = self.resolve(&request.into_inner().container_id)?;
        let exit = self.containers.wait_exit(&rec).await?;
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
        self.containers
            .kill_task(&r.container_id, &rec, r.signal as i32, r.all)
            .await?;
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
        let timeout = Duration::from_secs(r.timeout_seconds.into());
        let exit = self
            .containers
            .stop_task(&rec, r.signal as i32, timeout)
            .await?;
        Ok(Response::new(pb::StopTaskResponse {
            container_id: rec.id,
            status: exit.as_ref().map(exit_status),
        }))
    }

    async fn delete(
        &self,
        request: Request<pb::DeleteTaskRequest>,
    ) -> Result<Response<pb::DeleteTaskResponse>, Status> {
        let r = request.into_inner();
        let rec = self.resolve(&r.container_id)?;
        let exit = self.containers.delete_task(&rec, r.force).await?;
        Ok(Response::new(pb::DeleteTaskResponse {
            container_id: rec.id,
            status: exit.as_ref().map(exit_status),
        }))
    }

    async fn pause(
        &self,
        request: Request<pb::PauseTaskRequest>,
    ) -> Result<Response<pb::PauseTaskResponse>, Status> {
        self.containers
            .freeze(&request.into_inner().container_id, true)
            .await?;
        Ok(Response::new(pb::PauseTaskResponse {}))
    }

    async fn resume(
        &self,
        request: Request<pb::ResumeTaskRequest>,
    ) -> Result<Response<pb::ResumeTaskResponse>, Status> {
        self.containers
            .freeze(&request.into_inner().container_id, false)
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
        let stream = attach::stream(&self.containers, request.into_inner()).await?;
        Ok(Response::new(stream))
    }

    type ExecProcessStream = BoxStream<pb::ExecProcessResponse>;

    async fn exec_process(
        &self,
        request: Request<Streaming<pb::ExecProcessRequest>>,
    ) -> Result<Response<Self::ExecProcessStream>, Status> {
        let stream = exec::stream(&self.containers, request.into_inner()).await?;
        Ok(Response::new(stream))
    }

    type LogsStream = BoxStream<pb::LogsResponse>;

    async fn logs(
        &self,
        request: Request<pb::LogsRequest>,
    ) -> Result<Response<Self::LogsStream>, Status> {
        let stream = logs::stream(&self.containers, request.into_inner()).await?;
        Ok(Response::new(stream))
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

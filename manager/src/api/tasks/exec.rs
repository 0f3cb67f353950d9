//! `Tasks.ExecProcess`: the first request starts the process, the rest carry stdin and resizes;
//! responses carry `started`, the output and the exit.

use super::{clamp, exit_status, forward_input, BoxStream};
use crate::containers::backend::{AttachInput, AttachOutput};
use crate::containers::exec::ExecRequest;
use crate::containers::Containers;
use berth_proto::v1::{self as pb, exec_process_request, exec_process_response};
use tokio_stream::StreamExt;
use tonic::{Status, Streaming};

/// Starts the exec of the stream's first message and connects the rest to it.
pub(super) async fn stream(
    containers: &Containers,
    mut inbound: Streaming<pb::ExecProcessRequest>,
) -> Result<BoxStream<pb::ExecProcessResponse>, Status> {
    let start = match inbound.next().await {
        Some(Ok(pb::ExecProcessRequest {
            msg: Some(exec_process_request::Msg::Start(s)),
        })) => s,
        Some(Err(e)) => return Err(e),
        _ => {
            return Err(Status::invalid_argument(
                "first exec message must be `start`",
            ))
        }
    };
    let req = ExecRequest {
        args: start.args,
        env: start.env,
        user: start.user,
        workdir: start.workdir,
        tty: start.tty,
        stdin: start.stdin,
        detach: start.detach,
        privileged: start.privileged,
        size: start.size.map(|s| (clamp(s.width), clamp(s.height))),
    };
    let started = containers.exec(&start.container_id, &req).await?;
    let first = pb::ExecProcessResponse {
        msg: Some(exec_process_response::Msg::Started(pb::ExecStarted {
            exec_id: started.exec_id,
            pid: started.io.pid,
        })),
    };
    let head = tokio_stream::once(Ok(first));
    let Some(io) = started.io.io else {
        return Ok(Box::pin(head));
    };
    forward_input(inbound, io.input, |msg| match msg.msg {
        Some(exec_process_request::Msg::Stdin(b)) => Some(AttachInput::Stdin(b)),
        Some(exec_process_request::Msg::CloseStdin(_)) => Some(AttachInput::CloseStdin),
        Some(exec_process_request::Msg::Resize(w)) => {
            Some(AttachInput::Resize(clamp(w.width), clamp(w.height)))
        }
        _ => None,
    });
    let out = tokio_stream::wrappers::ReceiverStream::new(io.output).map(|o| {
        let msg = match o {
            AttachOutput::Stdout(b) => exec_process_response::Msg::Stdout(b),
            AttachOutput::Stderr(b) => exec_process_response::Msg::Stderr(b),
            AttachOutput::Exit(e) => exec_process_response::Msg::Exit(exit_status(&e)),
        };
        Ok(pb::ExecProcessResponse { msg: Some(msg) })
    });
    Ok(Box::pin(head.chain(out)))
}

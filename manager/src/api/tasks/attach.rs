//! `Tasks.Attach`: the first request opens the task's stdio, the rest carry stdin and resizes;
//! responses carry the requested output streams and the exit.

use super::{clamp, exit_status, forward_input, BoxStream};
use crate::containers::backend::{AttachInput, AttachOutput};
use crate::containers::{ContainerError, Containers};
use berth_proto::v1::{self as pb, attach_request, attach_response};
use tokio_stream::StreamExt;
use tonic::{Status, Streaming};

/// Connects the attach request stream `inbound` to the task's stdio.
pub(super) async fn stream(
    containers: &Containers,
    mut inbound: Streaming<pb::AttachRequest>,
) -> Result<BoxStream<pb::AttachResponse>, Status> {
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
    let rec = containers.resolve(&open.container_id)?;
    let io = containers
        .tasks()
        .attach(&rec.id, open.stdin)
        .await
        .map_err(ContainerError::from)?;
    forward_input(inbound, io.input, |msg| match msg.msg {
        Some(attach_request::Msg::Stdin(b)) => Some(AttachInput::Stdin(b)),
        Some(attach_request::Msg::CloseStdin(_)) => Some(AttachInput::CloseStdin),
        Some(attach_request::Msg::Resize(w)) => {
            Some(AttachInput::Resize(clamp(w.width), clamp(w.height)))
        }
        _ => None,
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
    Ok(Box::pin(out))
}

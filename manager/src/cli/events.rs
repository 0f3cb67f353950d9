//! `berth events`: one line per event until interrupted.

use super::daemon_error;
use berth_proto::v1::{self as pb, envelope::Event, events_client::EventsClient};
use tonic::transport::Channel;

/// `berth events` flags.
#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Only topics with this prefix (e.g. /tasks/); repeatable.
    #[arg(long = "filter")]
    pub topics: Vec<String>,
}

/// One event as a line: `TIME TOPIC key=value…`.
pub fn render(e: &pb::Envelope) -> String {
    let time = e
        .timestamp
        .as_ref()
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
        .unwrap_or_default();
    let detail = match &e.event {
        Some(Event::ContainerCreate(c)) => format!("id={} name={} image={}", c.id, c.name, c.image),
        Some(Event::ContainerDelete(c)) => format!("id={} name={}", c.id, c.name),
        Some(Event::TaskCreate(t)) => format!("id={} pid={}", t.container_id, t.pid),
        Some(Event::TaskStart(t)) => format!("id={} pid={}", t.container_id, t.pid),
        Some(Event::TaskExit(t)) => {
            let code = if t.exit_code_known {
                t.exit_code.to_string()
            } else {
                "unknown".into()
            };
            format!("id={} pid={} exitCode={code}", t.container_id, t.pid)
        }
        Some(Event::TaskOom(t)) => format!("id={}", t.container_id),
        Some(Event::TaskPaused(t)) => format!("id={}", t.container_id),
        Some(Event::TaskResumed(t)) => format!("id={}", t.container_id),
        Some(Event::TaskDelete(t)) => format!("id={}", t.container_id),
        Some(Event::ImagePull(i)) => format!("name={} digest={}", i.name, i.digest),
        Some(Event::ImageDelete(i)) => format!("name={}", i.name),
        // Docker's words first (`exec_create: CMD`), then the ids.
        Some(Event::TaskExecAdded(x)) => format!(
            "exec_create: {} id={} execID={}",
            x.args.join(" "),
            x.container_id,
            x.exec_id
        ),
        Some(Event::TaskExecStarted(x)) => format!(
            "exec_start: {} id={} execID={} pid={}",
            x.args.join(" "),
            x.container_id,
            x.exec_id,
            x.pid
        ),
        Some(Event::TaskExecExit(x)) => {
            let code = if x.exit_code_known {
                x.exit_code.to_string()
            } else {
                "unknown".into()
            };
            format!(
                "exec_die id={} execID={} pid={} exitCode={code}",
                x.container_id, x.exec_id, x.pid
            )
        }
        None => format!("lagged={}", e.lagged),
    };
    format!("{time} {} {detail}", e.topic)
}

/// `berth events`.
pub async fn events(ch: Channel, args: EventsArgs) -> anyhow::Result<i32> {
    let mut stream = EventsClient::new(ch)
        .subscribe(pb::SubscribeRequest {
            topics: args.topics,
        })
        .await
        .map_err(daemon_error)?
        .into_inner();
    while let Some(e) = stream.message().await.map_err(daemon_error)? {
        println!("{}", render(&e));
    }
    Ok(0)
}

//! `berth logs`.

use super::daemon_error;
use berth_proto::v1::{self as pb, tasks_client::TasksClient};
use tokio::io::AsyncWriteExt;
use tonic::transport::Channel;

/// `berth logs` flags.
#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Follow log output until the container exits.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Number of lines to show from the end ("all" for every line).
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps.
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Container.
    pub container: String,
}

/// `berth logs`: stdout lines to stdout, stderr lines to stderr, like Docker.
pub async fn logs(ch: Channel, args: LogsArgs) -> anyhow::Result<i32> {
    let (tail, tail_all) = if args.tail == "all" {
        (0, true)
    } else {
        let n: u32 = args
            .tail
            .parse()
            .map_err(|_| anyhow::anyhow!("invalid --tail value: {}", args.tail))?;
        (n, false)
    };
    let mut stream = TasksClient::new(ch)
        .logs(pb::LogsRequest {
            container_id: args.container.clone(),
            follow: args.follow,
            tail,
            tail_all,
        })
        .await
        .map_err(daemon_error)?
        .into_inner();
    let mut out = tokio::io::stdout();
    let mut err = tokio::io::stderr();
    while let Some(entry) = stream.message().await.map_err(daemon_error)? {
        let mut data = Vec::new();
        if args.timestamps {
            if let Some(ts) = &entry.timestamp {
                data.extend_from_slice(format_ts(ts).as_bytes());
                data.push(b' ');
            }
        }
        data.extend_from_slice(&entry.data);
        if entry.stream == pb::LogStream::Stderr as i32 {
            err.write_all(&data).await?;
            err.flush().await?;
        } else {
            out.write_all(&data).await?;
            out.flush().await?;
        }
    }
    Ok(0)
}

/// RFC 3339 with nanoseconds, as `docker logs -t` prints.
fn format_ts(ts: &prost_types::Timestamp) -> String {
    chrono::DateTime::from_timestamp(ts.seconds, ts.nanos.max(0) as u32)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
        .unwrap_or_default()
}

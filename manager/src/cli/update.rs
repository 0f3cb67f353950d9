//! `berth update`: change settings of containers (Containers.Update).

use berth_proto::v1::{self as pb, containers_client::ContainersClient};
use tonic::transport::Channel;

/// `berth update [OPTIONS] CONTAINER [CONTAINER...]`.
#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    /// Restart policy to apply when a container exits
    #[arg(long)]
    pub restart: Option<String>,
    /// Resource limits (memory, CPU and pids ones).
    #[command(flatten)]
    pub resources: super::resource_opts::ResourceFlags,
    /// Containers to update.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Updates each container; prints its name as given, Docker's way. Exit 125 when a value was
/// refused (nothing changed), 1 when a container could not be updated otherwise.
pub async fn update(ch: Channel, a: UpdateArgs) -> anyhow::Result<i32> {
    if !a.resources.ulimit.is_empty()
        || a.resources.oom_score_adj.is_some()
        || a.resources.shm_size.is_some()
    {
        anyhow::bail!("--ulimit, --oom-score-adj and --shm-size cannot be updated");
    }
    let resources = a.resources.to_proto()?;
    let mut client = ContainersClient::new(ch);
    let mut failed = 0;
    let mut invalid = false;
    for c in &a.containers {
        let r = client
            .update(pb::UpdateContainerRequest {
                id: c.clone(),
                restart_policy: a.restart.clone().unwrap_or_default(),
                resources: resources.clone(),
            })
            .await;
        match r {
            Ok(_) => println!("{c}"),
            Err(s) => {
                eprintln!("Error response from daemon: {}", s.message());
                invalid |= s.code() == tonic::Code::InvalidArgument;
                failed += 1;
            }
        }
    }
    Ok(match (failed, invalid) {
        (0, _) => 0,
        (_, true) => 125,
        _ => 1,
    })
}

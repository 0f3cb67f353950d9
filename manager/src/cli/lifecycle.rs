//! `berth start`, `stop`, `restart`, `kill`, `wait`, `rm`.

use super::attach::{attach_and_wait, AttachOptions};
use super::daemon_error;
use anyhow::Context;
use berth_proto::v1::{self as pb, containers_client::ContainersClient, tasks_client::TasksClient};
use tonic::transport::Channel;

/// `berth start` flags.
#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// Attach stdout/stderr and exit with the container's code.
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach stdin too.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Containers (name, id or id prefix).
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `berth stop` / `berth restart` flags.
#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// Seconds to wait for the container to exit before SIGKILL.
    #[arg(short = 't', long = "time", default_value_t = 10)]
    pub time: u32,
    /// Signal to send first (default SIGTERM).
    #[arg(short = 's', long)]
    pub signal: Option<String>,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

impl StopArgs {
    /// The `--signal` asked for, or 0 for the daemon's default (SIGTERM).
    fn first_signal(&self) -> anyhow::Result<u32> {
        Ok(self
            .signal
            .as_deref()
            .map(parse_signal)
            .transpose()?
            .unwrap_or(0))
    }
}

/// `berth kill` flags.
#[derive(Debug, clap::Args)]
pub struct KillArgs {
    /// Signal to send (name like KILL / SIGTERM, or number).
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `berth wait` / `berth inspect` style: a list of containers.
#[derive(Debug, clap::Args)]
pub struct ContainersArgs {
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `berth rm` flags.
#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Kill and remove a running container.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Parses a signal name (`KILL`, `SIGKILL`, `kill`) or number.
pub fn parse_signal(s: &str) -> anyhow::Result<u32> {
    if let Ok(n) = s.parse::<u32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        anyhow::bail!("invalid signal: {s}");
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    let sig: nix::sys::signal::Signal = name
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid signal: {s}"))?;
    Ok(sig as i32 as u32)
}

/// Runs `f` for each container, printing errors as Docker does and returning 1 if any failed.
async fn for_each<F, Fut>(names: &[String], mut f: F) -> anyhow::Result<i32>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut failed = false;
    for name in names {
        if let Err(e) = f(name.clone()).await {
            eprintln!("{e:#}");
            failed = true;
        }
    }
    Ok(if failed { 1 } else { 0 })
}

/// `for_each` for the commands that echo each container's name once its request succeeded.
async fn for_each_echo<F, Fut>(names: &[String], mut f: F) -> anyhow::Result<i32>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    for_each(names, |name| {
        let done = f(name.clone());
        async move {
            done.await?;
            println!("{name}");
            Ok(())
        }
    })
    .await
}

/// `berth start`.
pub async fn start(ch: Channel, args: StartArgs) -> anyhow::Result<i32> {
    if args.attach || args.interactive {
        if args.containers.len() != 1 {
            anyhow::bail!("you cannot start and attach multiple containers at once");
        }
        let c = get(&ch, &args.containers[0]).await?;
        let tty = c.options.as_ref().is_some_and(|o| o.tty);
        TasksClient::new(ch.clone())
            .create(pb::CreateTaskRequest {
                container_id: c.id.clone(),
            })
            .await
            .map_err(super::run::start_error)?;
        return attach_and_wait(
            ch,
            AttachOptions {
                id: c.id,
                stdin: args.interactive,
                tty,
                start: true,
            },
        )
        .await;
    }
    for_each_echo(&args.containers, |name| {
        let ch = ch.clone();
        async move { start_one(&ch, &name).await }
    })
    .await
}

/// Starts one created (or stopped) container's task.
async fn start_one(ch: &Channel, name: &str) -> anyhow::Result<()> {
    TasksClient::new(ch.clone())
        .start(pb::StartTaskRequest {
            container_id: name.to_string(),
        })
        .await
        .map_err(super::run::start_error)?;
    Ok(())
}

/// Stops one container: signal, wait `time` seconds, SIGKILL (done by the daemon).
async fn stop_one(ch: &Channel, name: &str, time: u32, signal: u32) -> anyhow::Result<()> {
    TasksClient::new(ch.clone())
        .stop(pb::StopTaskRequest {
            container_id: name.to_string(),
            timeout_seconds: time,
            signal,
        })
        .await
        .map_err(daemon_error)?;
    Ok(())
}

/// `berth stop`: stopping a container that is not running succeeds quietly, like Docker.
pub async fn stop(ch: Channel, args: StopArgs) -> anyhow::Result<i32> {
    let signal = args.first_signal()?;
    for_each_echo(&args.containers, |name| {
        let ch = ch.clone();
        async move { stop_one(&ch, &name, args.time, signal).await }
    })
    .await
}

/// `berth restart`: stop (if running) then start.
pub async fn restart(ch: Channel, args: StopArgs) -> anyhow::Result<i32> {
    let signal = args.first_signal()?;
    for_each_echo(&args.containers, |name| {
        let ch = ch.clone();
        async move {
            stop_one(&ch, &name, args.time, signal).await?;
            start_one(&ch, &name).await
        }
    })
    .await
}

/// `berth kill`.
pub async fn kill(ch: Channel, args: KillArgs) -> anyhow::Result<i32> {
    let signal = parse_signal(&args.signal)?;
    for_each_echo(&args.containers, |name| {
        let ch = ch.clone();
        async move {
            TasksClient::new(ch)
                .kill(pb::KillTaskRequest {
                    container_id: name,
                    signal,
                    all: false,
                })
                .await
                .map_err(daemon_error)?;
            Ok(())
        }
    })
    .await
}

/// `berth wait`: prints each container's exit code.
pub async fn wait(ch: Channel, args: ContainersArgs) -> anyhow::Result<i32> {
    for_each(&args.containers, |name| {
        let ch = ch.clone();
        async move {
            let resp = TasksClient::new(ch)
                .wait(pb::WaitTaskRequest { container_id: name })
                .await
                .map_err(daemon_error)?
                .into_inner();
            let st = resp.status.unwrap_or_default();
            if st.known {
                println!("{}", st.exit_code);
            } else {
                println!("unknown");
            }
            Ok(())
        }
    })
    .await
}

/// `berth rm`.
pub async fn rm(ch: Channel, args: RmArgs) -> anyhow::Result<i32> {
    for_each_echo(&args.containers, |name| {
        let ch = ch.clone();
        async move {
            ContainersClient::new(ch)
                .delete(pb::DeleteContainerRequest {
                    id: name,
                    force: args.force,
                })
                .await
                .map_err(daemon_error)?;
            Ok(())
        }
    })
    .await
}

/// Lists the containers (stopped ones too when `all`).
pub async fn list(ch: &Channel, all: bool) -> anyhow::Result<Vec<pb::Container>> {
    Ok(ContainersClient::new(ch.clone())
        .list(pb::ListContainersRequest { all })
        .await
        .map_err(daemon_error)?
        .into_inner()
        .containers)
}

/// Fetches one container.
pub async fn get(ch: &Channel, name: &str) -> anyhow::Result<pb::Container> {
    ContainersClient::new(ch.clone())
        .get(pb::GetContainerRequest {
            id: name.to_string(),
        })
        .await
        .map_err(daemon_error)?
        .into_inner()
        .container
        .context("daemon returned no container")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse() {
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("sigterm").unwrap(), 15);
        assert_eq!(parse_signal("10").unwrap(), 10);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("0").is_err());
    }
}

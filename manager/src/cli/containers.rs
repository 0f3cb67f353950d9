//! The container commands of `berth` and how they plug into the CLI's command enum.

use super::{cp, events, exec, inspect, lifecycle, logs, network, observe, prune, ps, run, update};
use clap::Subcommand;
use tonic::transport::Channel;

/// Top-level container commands (flattened into `berth`'s command list).
#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Create and run a new container from an image.
    Run(Box<run::RunArgs>),
    /// Create a new container.
    Create(Box<run::CreateArgs>),
    /// Start one or more stopped containers.
    Start(lifecycle::StartArgs),
    /// Stop one or more running containers.
    Stop(lifecycle::StopArgs),
    /// Restart one or more containers.
    Restart(lifecycle::StopArgs),
    /// Update configuration of one or more containers.
    Update(update::UpdateArgs),
    /// Execute a command in a running container.
    Exec(Box<exec::ExecArgs>),
    /// Kill one or more running containers.
    Kill(lifecycle::KillArgs),
    /// Block until containers stop, then print their exit codes.
    Wait(lifecycle::ContainersArgs),
    /// Remove one or more containers.
    Rm(lifecycle::RmArgs),
    /// List containers.
    Ps(ps::PsArgs),
    /// Fetch the logs of a container.
    Logs(logs::LogsArgs),
    /// Display detailed information on containers.
    Inspect(inspect::InspectArgs),
    /// Get real-time events from the daemon.
    Events(events::EventsArgs),
    /// List port mappings or a specific mapping for the container.
    Port(network::PortArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(observe::StatsArgs),
    /// Display the running processes of a container
    Top(observe::TopArgs),
    /// Pause all processes within one or more containers
    Pause(lifecycle::ContainersArgs),
    /// Unpause all processes within one or more containers
    Unpause(lifecycle::ContainersArgs),
    /// Rename a container
    Rename(observe::RenameArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(cp::CpArgs),
    /// Manage networks.
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// Manage containers.
    #[command(subcommand)]
    Container(ContainerSub),
    /// Manage berth.
    #[command(subcommand)]
    System(SystemSub),
}

/// `berth container ...`.
#[derive(Debug, Subcommand)]
pub enum ContainerSub {
    /// Remove all stopped containers.
    Prune(prune::PruneArgs),
    /// List containers.
    #[command(alias = "list")]
    Ls(ps::PsArgs),
    /// Remove one or more containers.
    Rm(lifecycle::RmArgs),
    /// Display detailed information on containers.
    Inspect(inspect::InspectArgs),
}

/// `berth system ...`.
#[derive(Debug, Subcommand)]
pub enum SystemSub {
    /// Show disk usage.
    Df,
    /// Remove stopped containers and unused images.
    Prune(prune::PruneArgs),
}

impl ContainerCommand {
    /// Runs the command; the result is the process exit code.
    pub async fn run(self, ctx: &super::CliContext) -> anyhow::Result<i32> {
        let ch: Channel = ctx.channel().await?;
        match self {
            ContainerCommand::Run(a) => run::run(ch, ctx, *a).await,
            ContainerCommand::Create(a) => run::create(ch, ctx, *a).await,
            ContainerCommand::Start(a) => lifecycle::start(ch, a).await,
            ContainerCommand::Stop(a) => lifecycle::stop(ch, a).await,
            ContainerCommand::Restart(a) => lifecycle::restart(ch, a).await,
            ContainerCommand::Kill(a) => lifecycle::kill(ch, a).await,
            ContainerCommand::Exec(a) => exec::exec(ch, *a).await,
            ContainerCommand::Update(a) => update::update(ch, a).await,
            ContainerCommand::Wait(a) => lifecycle::wait(ch, a).await,
            ContainerCommand::Rm(a) | ContainerCommand::Container(ContainerSub::Rm(a)) => {
                lifecycle::rm(ch, a).await
            }
            ContainerCommand::Ps(a) | ContainerCommand::Container(ContainerSub::Ls(a)) => {
                ps::ps(ch, a).await
            }
            ContainerCommand::Logs(a) => logs::logs(ch, a).await,
            ContainerCommand::Inspect(a)
            | ContainerCommand::Container(ContainerSub::Inspect(a)) => {
                inspect::inspect(ch, a).await
            }
            ContainerCommand::Events(a) => events::events(ch, a).await,
            ContainerCommand::Port(a) => network::port(ch, a).await,
            ContainerCommand::Stats(a) => observe::stats(ch, a).await,
            ContainerCommand::Top(a) => observe::top(ch, a).await,
            ContainerCommand::Pause(a) => observe::pause(ch, a.containers, true).await,
            ContainerCommand::Unpause(a) => observe::pause(ch, a.containers, false).await,
            ContainerCommand::Rename(a) => observe::rename(ch, a).await,
            ContainerCommand::Cp(a) => cp::cp(ch, a).await,
            ContainerCommand::Network(c) => c.run(ch).await,
            ContainerCommand::Container(ContainerSub::Prune(a)) => {
                prune::container_prune(ch, a).await
            }
            ContainerCommand::System(SystemSub::Df) => prune::system_df(ch).await,
            ContainerCommand::System(SystemSub::Prune(a)) => prune::system_prune(ch, a).await,
        }
    }
}

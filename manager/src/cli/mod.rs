//! The `berth` CLI: a Docker-like client of berthd.
//!
//! One file per command (or command family). To add a command: write `cli/<name>.rs` with a clap
//! `Args` struct and `pub async fn run(ctx: &CliContext, args: Args) -> anyhow::Result<()>`, then add a
//! variant to [`Command`] and one arm in [`Command::run`].

pub mod attach;
pub mod auth;
mod completion;
pub mod connect;
pub mod container_opts;
pub mod containers;
mod cp;
pub mod events;
pub mod exec;
pub mod exit_code;
pub mod explain;
pub mod format;
mod help;
mod image_inspect;
pub mod images;
mod info;
pub mod inspect;
pub mod lifecycle;
mod load;
mod login;
pub mod logs;
pub mod network;
pub mod observe;
pub mod progress;
pub mod prune;
pub mod ps;
pub mod ps_filter;
pub mod pull;
mod push;
pub mod resource_opts;
mod rmi;
pub mod run;
mod tag;
pub mod tty;
pub mod update;
mod version;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tonic::transport::Channel;

pub use connect::DaemonUnreachable;

/// Command-line interface of `berth`.
#[derive(Debug, Parser)]
#[command(
    name = "berth",
    version,
    about = "Manage containers and images with berthd"
)]
pub struct Cli {
    /// Socket of the berthd to talk to.
    #[arg(long, global = true, env = "BERTH_ADDRESS", default_value = crate::config::DEFAULT_ADDRESS)]
    pub address: PathBuf,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every `berth` command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download an image from a registry.
    Pull(pull::Args),
    /// List images.
    Images(images::Args),
    /// Remove one or more images.
    Rmi(rmi::Args),
    /// Manage images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Load images from an OCI layout directory or tar archive on the daemon host.
    Load(load::Args),
    /// Upload an image to a registry.
    Push(push::Args),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(tag::Args),
    /// Log in to a registry.
    Login(login::Args),
    /// Show the berth version information.
    Version(version::Args),
    /// Display system-wide information.
    Info(info::Args),
    /// Generate the autocompletion script for the specified shell
    Completion(completion::Args),
    /// Container commands (run, ps, logs, ...).
    #[command(flatten)]
    Containers(containers::ContainerCommand),
}

/// `berth image ...` subcommands.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Display detailed information on one or more images.
    Inspect(image_inspect::Args),
    /// List images.
    #[command(alias = "list")]
    Ls(images::Args),
    /// Remove one or more images.
    Rm(rmi::Args),
    /// Download an image from a registry.
    Pull(pull::Args),
    /// Upload an image to a registry.
    Push(push::Args),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(tag::Args),
    /// Load images from an OCI layout directory or tar archive.
    Load(load::Args),
    /// Remove unused images.
    Prune(prune::PruneArgs),
}

/// What every command gets: where the daemon is and a way to reach it.
#[derive(Debug, Clone)]
pub struct CliContext {
    /// Socket path of berthd.
    pub address: PathBuf,
}

impl CliContext {
    /// Connects to berthd; the error prints as the one-line "Cannot connect ..." hint.
    pub async fn channel(&self) -> Result<Channel, DaemonUnreachable> {
        connect::connect(&self.address).await
    }
}

impl Command {
    /// Runs the command.
    pub async fn run(self, ctx: &CliContext) -> anyhow::Result<()> {
        match self {
            Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => pull::run(ctx, a).await,
            Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => images::run(ctx, a).await,
            Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => rmi::run(ctx, a).await,
            Command::Image(ImageCommand::Inspect(a)) => image_inspect::run(ctx, a).await,
            Command::Load(a) | Command::Image(ImageCommand::Load(a)) => load::run(ctx, a).await,
            Command::Push(a) | Command::Image(ImageCommand::Push(a)) => push::run(ctx, a).await,
            Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => tag::run(ctx, a).await,
            Command::Login(a) => login::run(ctx, a).await,
            Command::Version(a) => version::run(ctx, a).await,
            Command::Info(a) => info::run(ctx, a).await,
            Command::Image(ImageCommand::Prune(a)) => {
                exit_code::finish(prune::image_prune(ctx.channel().await?, a).await)
            }
            Command::Completion(a) => completion::run(a),
            Command::Containers(c) => exit_code::finish(c.run(ctx).await),
        }
    }
}

/// Turns a gRPC status into an error whose message is just the daemon's message (what users see as
/// `Error response from daemon: ...`).
pub fn daemon_error(s: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("Error response from daemon: {}", s.message())
}

/// Writes a chunk of a container's output and flushes it at once, so that output without a
/// newline (a shell prompt, a progress line) shows as the container writes it.
pub(crate) async fn write_flushed(
    out: &mut (impl tokio::io::AsyncWrite + Unpin),
    chunk: &[u8],
) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    out.write_all(chunk).await?;
    out.flush().await
}

/// An error already shown to the user (e.g. per-image failures of `rmi`); `berth` exits 1 without
/// printing it again.
#[derive(Debug, thiserror::Error)]
#[error("{0} operation(s) failed")]
pub struct Reported(pub usize);

impl Cli {
    /// Parses the process's arguments, with `--help` laid out as Docker's (see `help.rs`).
    pub fn parse_args() -> Cli {
        help::parse()
    }
}

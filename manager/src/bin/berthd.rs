//! berthd: the Berth container manager daemon.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use berth_manager::config::Config;
use clap::Parser;

/// berthd command line; flags override the config file.
#[derive(Debug, Parser)]
#[command(name = "berthd", version, about = "The Berth container manager daemon")]
struct Args {
    /// Configuration file (default /etc/berth/config.toml, optional).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Directory for persistent data.
    #[arg(long)]
    root: Option<PathBuf>,
    /// Directory for runtime state.
    #[arg(long)]
    state: Option<PathBuf>,
    /// gRPC socket path.
    #[arg(long)]
    address: Option<PathBuf>,
    /// Log filter, e.g. "debug" (overrides log_level; RUST_LOG also works).
    #[arg(long)]
    log_level: Option<String>,
}

/// The error and its causes, `: `-separated, leaving out a cause whose text the message before
/// it already includes (berthd's errors carry their cause in the message, for gRPC statuses).
fn chain_text(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !out.contains(&c) {
            out.push_str(": ");
            out.push_str(&c);
        }
    }
    out
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berthd: {}", chain_text(&e));
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let mut config = Config::load(args.config.as_deref())?;
    if let Some(r) = args.root {
        config.root = r;
    }
    if let Some(s) = args.state {
        config.state = s;
    }
    if let Some(a) = args.address {
        config.address = a;
    }
    if let Some(l) = args.log_level {
        config.log_level = l;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log_level))
        .with_context(|| format!("invalid log level {:?}", config.log_level))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let rt = tokio::runtime::Runtime::new().context("cannot start the tokio runtime")?;
    rt.block_on(berth_manager::daemon::run(config))?;
    Ok(())
}

//! `berth load -i PATH`.

use berth_proto::v1::images_client::ImagesClient;
use berth_proto::v1::LoadRequest;

use super::{daemon_error, CliContext};
use crate::images::naming;

/// Arguments of `berth load`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// OCI layout directory or tar archive to load (read by berthd, on this host).
    #[arg(short, long)]
    pub input: std::path::PathBuf,
    /// Suppress the "Loaded image" lines.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs `berth load`.
pub async fn run(ctx: &CliContext, args: Args) -> anyhow::Result<()> {
    // berthd has its own working directory: send an absolute path.
    let path = std::path::absolute(&args.input)
        .map_err(|e| anyhow::anyhow!("cannot resolve {}: {e}", args.input.display()))?;
    if !path.exists() {
        anyhow::bail!("open {}: no such file or directory", path.display());
    }
    let mut client = ImagesClient::new(ctx.channel().await?);
    let r = client
        .load(LoadRequest {
            path: path.display().to_string(),
        })
        .await
        .map_err(daemon_error)?
        .into_inner();
    if !args.quiet {
        for n in &r.names {
            println!("Loaded image: {}", naming::display(n).full);
        }
    }
    Ok(())
}

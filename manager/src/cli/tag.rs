//! `berth tag SOURCE TARGET`.

use berth_proto::v1::images_client::ImagesClient;
use berth_proto::v1::TagImageRequest;

use super::{daemon_error, CliContext};

/// Arguments of `berth tag`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Existing image name or ID.
    pub source: String,
    /// New name.
    pub target: String,
}

/// Runs `berth tag`.
pub async fn run(ctx: &CliContext, args: Args) -> anyhow::Result<()> {
    let mut client = ImagesClient::new(ctx.channel().await?);
    client
        .tag(TagImageRequest {
            source: args.source,
            target: args.target,
        })
        .await
        .map_err(daemon_error)?;
    Ok(())
}

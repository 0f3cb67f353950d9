//! `berth version`: client and daemon versions.

use berth_proto::v1::version_client::VersionClient;
use berth_proto::v1::VersionRequest;

use super::{daemon_error, CliContext};

/// Arguments of `berth version`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Prints client and server versions.
pub async fn run(ctx: &CliContext, _args: Args) -> anyhow::Result<()> {
    println!("Client:");
    println!(" Version:     {}", env!("CARGO_PKG_VERSION"));
    println!(" OS/Arch:     {}", crate::images::host_platform());
    let mut client = VersionClient::new(ctx.channel().await?);
    let v = client
        .version(VersionRequest {})
        .await
        .map_err(daemon_error)?
        .into_inner();
    println!();
    println!("Server:");
    println!(" Version:     {}", v.version);
    println!(" API version: {}", v.api_version);
    if !v.revision.is_empty() {
        println!(" Git commit:  {}", v.revision);
    }
    println!(" OS/Arch:     {}", v.platform);
    Ok(())
}

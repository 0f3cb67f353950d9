//! `berth info`: daemon configuration and what it stores.

use berth_proto::v1::version_client::VersionClient;
use berth_proto::v1::InfoRequest;

use super::format::human_size;
use super::{daemon_error, CliContext};

/// Arguments of `berth info`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Prints the daemon's info.
pub async fn run(ctx: &CliContext, _args: Args) -> anyhow::Result<()> {
    let mut client = VersionClient::new(ctx.channel().await?);
    let i = client
        .info(InfoRequest {})
        .await
        .map_err(daemon_error)?
        .into_inner();
    println!("Server Version: {}", i.version);
    println!("Images: {}", i.images);
    println!(
        "Content: {} blobs, {}",
        i.content_blobs,
        human_size(i.content_bytes)
    );
    println!("Storage Driver: {}", i.storage_driver);
    println!("Cgroup Version: {}", i.cgroup_version);
    println!("Runtime: {}", i.runtime);
    println!("Kernel Version: {}", i.kernel_version);
    println!("OS/Arch: {}", i.platform);
    println!("CPUs: {}", i.cpus);
    println!("Total Memory: {}", human_size(i.memory_bytes));
    println!("Root Dir: {}", i.root);
    println!("State Dir: {}", i.state);
    println!("Address: {}", i.address);
    println!("Log Level: {}", i.log_level);
    // As `docker info`: after the facts, on stderr, so that scripts reading stdout are unaffected.
    if !i.warnings.is_empty() {
        eprintln!();
    }
    for w in &i.warnings {
        eprintln!("{w}");
    }
    Ok(())
}

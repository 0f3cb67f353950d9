//! `berth rmi IMAGE...`.

use berth_proto::v1::images_client::ImagesClient;
use berth_proto::v1::RemoveImageRequest;

use super::CliContext;

/// Arguments of `berth rmi`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Force removal: every name of an image ID, even if stopped containers use it.
    #[arg(short, long)]
    pub force: bool,
    /// Images to remove (names or IDs).
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// Runs `berth rmi`; every image is attempted, and the command fails if any failed.
pub async fn run(ctx: &CliContext, args: Args) -> anyhow::Result<()> {
    let mut client = ImagesClient::new(ctx.channel().await?);
    let mut failed = 0;
    for name in &args.images {
        let req = RemoveImageRequest {
            name: name.clone(),
            force: args.force,
        };
        match client.remove(req).await {
            Ok(r) => {
                let r = r.into_inner();
                for u in &r.untagged {
                    println!("Untagged: {u}");
                }
                for d in &r.deleted {
                    println!("Deleted: {d}");
                }
            }
            Err(s) => {
                eprintln!("Error response from daemon: {}", s.message());
                failed += 1;
            }
        }
    }
    if failed > 0 {
        anyhow::bail!(super::Reported(failed));
    }
    Ok(())
}

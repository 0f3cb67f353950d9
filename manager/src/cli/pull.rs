//! `berth pull IMAGE`.

use berth_proto::v1::images_client::ImagesClient;
use berth_proto::v1::pull_progress::Event;
use berth_proto::v1::{PullRequest, PullResult};

use super::progress::ProgressView;
use super::{auth, daemon_error, CliContext};
use crate::images::naming;
use crate::reference::Reference;
use crate::registry::pulling_from_line;

/// Arguments of `berth pull`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Image to pull, e.g. `hello-world`, `alpine:3.19`, `127.0.0.1:5000/app:1`.
    pub image: String,
    /// Platform to pull from a multi-platform image, e.g. `linux/arm64`.
    #[arg(long)]
    pub platform: Option<String>,
    /// Suppress progress output; print only the image name.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Pulls `image` showing Docker-style progress on stdout (`berth pull`); returns the result.
pub async fn pull_image(
    ctx: &CliContext,
    image: &str,
    platform: Option<String>,
    quiet: bool,
) -> anyhow::Result<PullResult> {
    Ok(
        pull_image_counted(ctx, image, platform, ProgressView::new(quiet))
            .await?
            .0,
    )
}

/// What a pull moved, counted from its progress events (`run --explain`).
#[derive(Debug, Default, Clone)]
pub struct PullCounts {
    /// Layers downloaded ("Pull complete").
    pub downloaded_layers: usize,
    /// Layers that were already present ("Already exists").
    pub existing_layers: usize,
    /// Bytes of the downloaded layers (their sizes as the registry gave them).
    pub downloaded_bytes: u64,
}

/// [`pull_image`] with its progress shown by `view`, also counting layers and bytes (commands
/// that pull a missing image, e.g. `run`, show it on stderr).
pub async fn pull_image_counted(
    ctx: &CliContext,
    image: &str,
    platform: Option<String>,
    mut view: ProgressView,
) -> anyhow::Result<(PullResult, PullCounts)> {
    let mut sizes: std::collections::HashMap<String, u64> = Default::default();
    let mut counts = PullCounts::default();
    let reference = Reference::parse(image).map_err(|e| anyhow::anyhow!("{e}"))?;
    let has_tag_or_digest = image.contains('@')
        || image
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'));
    if !has_tag_or_digest {
        view.message("Using default tag: latest");
    }
    let mut client = ImagesClient::new(ctx.channel().await?);
    let req = PullRequest {
        reference: image.to_string(),
        platform: platform.unwrap_or_default(),
        auth: auth::for_reference(image),
    };
    let mut stream = client.pull(req).await.map_err(daemon_error)?.into_inner();
    let mut result = None;
    let mut started = false;
    while let Some(ev) = stream.message().await.map_err(daemon_error)? {
        // As with Docker, the header appears once the daemon answered (resolved the reference).
        if !started {
            view.message(&pulling_from_line(&reference));
            started = true;
        }
        match ev.event {
            Some(Event::Message(m)) => view.message(&m),
            Some(Event::Blob(b)) => {
                if b.total > 0 {
                    sizes.insert(b.digest.clone(), b.total.unsigned_abs());
                }
                match b.status.as_str() {
                    "Pull complete" => {
                        counts.downloaded_layers += 1;
                        counts.downloaded_bytes += sizes.get(&b.digest).copied().unwrap_or(0);
                    }
                    "Already exists" => counts.existing_layers += 1,
                    _ => {}
                }
                view.blob(&b)
            }
            Some(Event::Result(r)) => result = Some(r),
            None => {}
        }
    }
    let r = result
        .ok_or_else(|| anyhow::anyhow!("berthd ended the pull of {image} without a result"))?;
    let shown = naming::display(&r.name).full;
    view.message(&format!("Digest: {}", r.digest));
    if r.downloaded_newer {
        view.message(&format!("Status: Downloaded newer image for {shown}"));
    } else {
        view.message(&format!("Status: Image is up to date for {shown}"));
    }
    Ok((r, counts))
}

/// Runs `berth pull`.
pub async fn run(ctx: &CliContext, args: Args) -> anyhow::Result<()> {
    let r = pull_image(ctx, &args.image, args.platform, args.quiet).await?;
    println!("{}", r.name);
    Ok(())
}

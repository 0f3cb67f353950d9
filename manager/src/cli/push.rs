//! `berth push IMAGE`.

use berth_proto::v1::images_client::ImagesClient;
use berth_proto::v1::push_progress::Event;
use berth_proto::v1::PushRequest;

use super::progress::ProgressView;
use super::{auth, daemon_error, CliContext};
use crate::images::naming;

/// Arguments of `berth push`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Image to push; its name says where, e.g. `127.0.0.1:5000/app:1`.
    pub image: String,
    /// Suppress progress output.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs `berth push`.
pub async fn run(ctx: &CliContext, args: Args) -> anyhow::Result<()> {
    let full = naming::normalize(&args.image).map_err(|e| anyhow::anyhow!("{e}"))?;
    let shown = naming::display(&full);
    let mut view = ProgressView::new(args.quiet);
    let mut client = ImagesClient::new(ctx.channel().await?);
    let req = PushRequest {
        reference: args.image.clone(),
        auth: auth::for_reference(&args.image),
    };
    let mut stream = client.push(req).await.map_err(daemon_error)?.into_inner();
    let repo = full.rsplit_once(':').map(|(r, _)| r).unwrap_or(&full);
    view.message(&format!("The push refers to repository [{repo}]"));
    let mut result = None;
    while let Some(ev) = stream.message().await.map_err(daemon_error)? {
        match ev.event {
            Some(Event::Message(m)) => view.message(&m),
            Some(Event::Blob(b)) => view.blob(&b),
            Some(Event::Result(r)) => result = Some(r),
            None => {}
        }
    }
    let r = result.ok_or_else(|| {
        anyhow::anyhow!("berthd ended the push of {} without a result", args.image)
    })?;
    let tag = if shown.tag.is_empty() {
        "latest"
    } else {
        &shown.tag
    };
    view.message(&format!("{tag}: digest: {} size: {}", r.digest, r.size));
    Ok(())
}

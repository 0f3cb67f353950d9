//! `berth image inspect IMAGE...`: Docker-like JSON description of images.

use berth_proto::v1::images_client::ImagesClient;
use berth_proto::v1::{GetImageRequest, GetImageResponse};
use serde_json::{json, Value};

use super::format::print_json;
use super::CliContext;
use crate::images::naming;

/// Arguments of `berth image inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Images to inspect (names or IDs).
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// Builds the JSON object Docker's `image inspect` shows, from what berthd returns.
pub fn inspect_json(r: &GetImageResponse) -> Value {
    let img = r.image.clone().unwrap_or_default();
    let config: Value = serde_json::from_slice(&r.config).unwrap_or(Value::Null);
    let target = img.target.clone().unwrap_or_default();
    let mut names = vec![img.name.clone()];
    names.extend(r.other_names.iter().cloned());
    let repo_tags: Vec<String> = names
        .iter()
        .filter(|n| !n.contains('@'))
        .map(|n| naming::display(n).full)
        .collect();
    let repo_digests: Vec<String> = names
        .iter()
        .map(|n| {
            let repo = naming::display(n).repository;
            format!("{repo}@{}", target.digest)
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let pick = |k: &str| config.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "Id": img.config_digest,
        "RepoTags": repo_tags,
        "RepoDigests": repo_digests,
        "Created": pick("created"),
        "Author": pick("author"),
        "Config": pick("config"),
        "Architecture": pick("architecture"),
        "Variant": pick("variant"),
        "Os": pick("os"),
        "Size": img.size,
        "RootFS": pick("rootfs"),
        "Descriptor": {
            "mediaType": target.media_type,
            "digest": target.digest,
            "size": target.size,
        },
    })
}

/// Runs `berth image inspect`; prints a JSON array, fails if any image was not found.
pub async fn run(ctx: &CliContext, args: Args) -> anyhow::Result<()> {
    let mut client = ImagesClient::new(ctx.channel().await?);
    let mut out = Vec::new();
    let mut failed = 0;
    for name in &args.images {
        match client.get(GetImageRequest { name: name.clone() }).await {
            Ok(r) => out.push(inspect_json(&r.into_inner())),
            Err(s) => {
                eprintln!("Error response from daemon: {}", s.message());
                failed += 1;
            }
        }
    }
    print_json(&Value::Array(out))?;
    if failed > 0 {
        anyhow::bail!(super::Reported(failed));
    }
    Ok(())
}

//! `berth images`: the image table.

use berth_proto::v1::images_client::ImagesClient;
use berth_proto::v1::{Image, ListImagesRequest};
use chrono::{DateTime, Utc};

use super::format::{human_size, time_ago, Table};
use super::{daemon_error, CliContext};

/// Arguments of `berth images`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only show image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Show all images (berth keeps no intermediate images, so this is the default listing).
    #[arg(short, long)]
    pub all: bool,
}

/// IMAGE ID column: 12 hex digits of the config digest (or of the target if the config is missing).
pub fn image_id(i: &Image) -> String {
    let d = if i.config_digest.is_empty() {
        i.target.as_ref().map(|t| t.digest.as_str()).unwrap_or("")
    } else {
        &i.config_digest
    };
    let hex = d.strip_prefix("sha256:").unwrap_or(d);
    hex.get(..12).unwrap_or(hex).to_string()
}

/// Images ordered newest first (by build time), as Docker lists them.
pub fn newest_first(images: &[Image]) -> Vec<&Image> {
    let mut sorted: Vec<&Image> = images.iter().collect();
    sorted.sort_by_key(|i| std::cmp::Reverse(i.created.as_ref().map(|t| (t.seconds, t.nanos))));
    sorted
}

/// Renders the image table as Docker does.
pub fn render(images: &[Image], now: DateTime<Utc>) -> String {
    let mut t = Table::new(&["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]);
    for i in newest_first(images) {
        let created = i
            .created
            .as_ref()
            .and_then(|ts| DateTime::from_timestamp(ts.seconds, ts.nanos.max(0) as u32))
            .map(|t| time_ago(t, now))
            .unwrap_or_else(|| "N/A".into());
        let tag = if i.tag.is_empty() { "<none>" } else { &i.tag };
        t.row(vec![
            i.repository.clone(),
            tag.to_string(),
            image_id(i),
            created,
            human_size(i.size.max(0) as u64),
        ]);
    }
    t.render()
}

/// Runs `berth images`.
pub async fn run(ctx: &CliContext, args: Args) -> anyhow::Result<()> {
    let mut client = ImagesClient::new(ctx.channel().await?);
    let images = client
        .list(ListImagesRequest {})
        .await
        .map_err(daemon_error)?
        .into_inner()
        .images;
    if args.quiet {
        for i in newest_first(&images) {
            println!("{}", image_id(i));
        }
    } else {
        print!("{}", render(&images, Utc::now()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_docker_table() {
        let now = Utc::now();
        let img = Image {
            repository: "hello-world".into(),
            tag: "latest".into(),
            config_digest: format!("sha256:d2c94e258dcb{}", "0".repeat(52)),
            created: Some(prost_types::Timestamp {
                seconds: (now - chrono::Duration::days(2)).timestamp(),
                nanos: 0,
            }),
            size: 13_256,
            ..Default::default()
        };
        assert_eq!(
            render(&[img], now),
            "REPOSITORY    TAG      IMAGE ID       CREATED      SIZE\n\
             hello-world   latest   d2c94e258dcb   2 days ago   13.3kB\n"
        );
    }
}

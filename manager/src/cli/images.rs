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
    /// Filter output based on conditions provided (dangling=true|false, reference=PATTERN)
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go
    /// template such as '{{.Repository}}:{{.Tag}}'
    #[arg(long)]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
}

/// Column titles of image templates (Docker's).
fn image_title(field: &str) -> Option<&'static str> {
    Some(match field {
        "ID" => "IMAGE ID",
        "Repository" => "REPOSITORY",
        "Tag" => "TAG",
        "Digest" => "DIGEST",
        "CreatedSince" => "CREATED",
        "CreatedAt" => "CREATED AT",
        "Size" => "SIZE",
        _ => return None,
    })
}

/// `*` and `?` globbing, as Docker's reference filter matches.
fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    go(&p, &t)
}

/// Whether image `i` passes the filters.
fn image_matches(f: &super::ps_filter::Filters, i: &Image) -> bool {
    let dangling = i.tag.is_empty() || i.repository == "<none>";
    f.any("dangling", |v| match v {
        "true" | "1" => dangling,
        "false" | "0" => !dangling,
        _ => false,
    }) && f.any("reference", |v| {
        !dangling && (glob(v, &format!("{}:{}", i.repository, i.tag)) || glob(v, &i.repository))
    })
}

/// One image as `images --format` sees it.
fn image_row(i: &Image, now: DateTime<Utc>, no_trunc: bool) -> serde_json::Value {
    let created = i
        .created
        .as_ref()
        .and_then(|ts| DateTime::from_timestamp(ts.seconds, ts.nanos.max(0) as u32));
    let id = if no_trunc {
        let d = if i.config_digest.is_empty() {
            i.target
                .as_ref()
                .map(|t| t.digest.clone())
                .unwrap_or_default()
        } else {
            i.config_digest.clone()
        };
        d
    } else {
        image_id(i)
    };
    serde_json::json!({
        "Containers": "N/A",
        "CreatedAt": created.map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()).unwrap_or_default(),
        "CreatedSince": created.map(|t| time_ago(t, now)).unwrap_or_else(|| "N/A".into()),
        "Digest": i.target.as_ref().map(|t| t.digest.clone()).unwrap_or_else(|| "<none>".into()),
        "ID": id,
        "Repository": i.repository,
        "SharedSize": "N/A",
        "Size": human_size(i.size.max(0) as u64),
        "Tag": if i.tag.is_empty() { "<none>" } else { &i.tag },
        "UniqueSize": "N/A",
        "VirtualSize": human_size(i.size.max(0) as u64),
    })
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
    let filters = super::ps_filter::Filters::parse(&args.filter, &["dangling", "reference"])?;
    let format = super::format::Format::parse(args.format.as_deref())?;
    let mut images = client
        .list(ListImagesRequest {})
        .await
        .map_err(daemon_error)?
        .into_inner()
        .images;
    images.retain(|i| image_matches(&filters, i));
    if !args.quiet && format != super::format::Format::Table {
        let now = Utc::now();
        let rows: Vec<serde_json::Value> = newest_first(&images)
            .into_iter()
            .map(|i| image_row(i, now, args.no_trunc))
            .collect();
        print!(
            "{}",
            format.render_rows(&rows, &image_title)?.unwrap_or_default()
        );
        return Ok(());
    }
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
    fn filters_and_rows() {
        assert!(glob("busy*", "busybox"));
        assert!(glob(
            "127.0.0.1:*/library/busybox:*",
            "127.0.0.1:5000/library/busybox:latest"
        ));
        assert!(!glob("alpine*", "busybox"));
        let keys = ["dangling", "reference"];
        let f = |v: &str| super::super::ps_filter::Filters::parse(&[v.to_string()], &keys).unwrap();
        let tagged = Image {
            repository: "busybox".into(),
            tag: "latest".into(),
            ..Default::default()
        };
        let dangling = Image {
            repository: "<none>".into(),
            ..Default::default()
        };
        assert!(image_matches(&f("dangling=true"), &dangling));
        assert!(!image_matches(&f("dangling=true"), &tagged));
        assert!(image_matches(&f("dangling=false"), &tagged));
        assert!(image_matches(&f("reference=busybox"), &tagged));
        assert!(image_matches(&f("reference=busybox:latest"), &tagged));
        assert!(!image_matches(&f("reference=busybox:1.36"), &tagged));
        let row = image_row(&tagged, Utc::now(), false);
        assert_eq!(row["Tag"], "latest");
    }

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

//! `berth ps`.

use super::daemon_error;
use super::format::{ago, command_text, status_text, Format};
use super::ps_filter::{self, Filters};
use berth_proto::v1::{self as pb, containers_client::ContainersClient};
use tonic::transport::Channel;

/// `berth ps` flags.
#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display container ids.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Don't truncate ids and commands.
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output based on conditions provided (status, name, label, ancestor, exited, id)
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go
    /// template such as '{{.Names}} {{.Status}}'
    #[arg(long)]
    pub format: Option<String>,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", value_name = "int")]
    pub last: Option<usize>,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Display total file sizes
    #[arg(short = 's', long)]
    pub size: bool,
}

/// The table's columns, Docker's.
const COLUMNS: [&str; 7] = [
    "CONTAINER ID",
    "IMAGE",
    "COMMAND",
    "CREATED",
    "STATUS",
    "PORTS",
    "NAMES",
];

/// Renders the table `ps` prints.
pub fn render(containers: &[pb::Container], quiet: bool, no_trunc: bool) -> String {
    let short = |id: &str| {
        if no_trunc {
            id.to_string()
        } else {
            id.chars().take(12).collect()
        }
    };
    if quiet {
        return containers.iter().map(|c| short(&c.id) + "\n").collect();
    }
    let rows: Vec<[String; 7]> = containers
        .iter()
        .map(|c| {
            let created = ago(c.created_at.as_ref());
            let command = if no_trunc {
                format!("\"{}\"", c.args.join(" "))
            } else {
                command_text(&c.args)
            };
            [
                short(&c.id),
                short_image(&c.image),
                command,
                created,
                status_text(c.status.as_ref()),
                super::network::ports_text(c),
                c.name.clone(),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = COLUMNS.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(cell);
                s.push_str(&" ".repeat(widths[i] - cell.chars().count() + 3));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(COLUMNS.to_vec());
    for r in &rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// Docker shows images without the default registry and library prefix.
pub fn short_image(image: &str) -> String {
    image
        .strip_prefix("docker.io/library/")
        .or_else(|| image.strip_prefix("docker.io/"))
        .unwrap_or(image)
        .to_string()
}

/// `berth ps`.
pub async fn ps(ch: Channel, args: PsArgs) -> anyhow::Result<i32> {
    let filters = Filters::parse(
        &args.filter,
        &["status", "name", "label", "ancestor", "exited", "id"],
    )?;
    let format = Format::parse(args.format.as_deref())?;
    let last = if args.latest { Some(1) } else { args.last };
    // Docker: -n/-l and status/exited filters look at every container, not only running ones.
    let all = args.all || last.is_some() || filters.has("status") || filters.has("exited");
    let mut list = super::lifecycle::list(&ch, all).await?;
    list.retain(|c| ps_filter::matches(&filters, c));
    if let Some(n) = last {
        list.truncate(n);
    }
    let sizes: std::collections::HashMap<String, u64> = if args.size {
        ContainersClient::new(ch)
            .usage(pb::ContainersUsageRequest {})
            .await
            .map_err(daemon_error)?
            .into_inner()
            .containers
            .into_iter()
            .map(|u| (u.id, u.rw_bytes))
            .collect()
    } else {
        Default::default()
    };
    let size_of = |c: &pb::Container| {
        args.size
            .then(|| super::format::human_size(sizes.get(&c.id).copied().unwrap_or(0)))
    };
    if args.quiet {
        print!("{}", render(&list, true, args.no_trunc));
        return Ok(0);
    }
    let rows: Vec<serde_json::Value> = list
        .iter()
        .map(|c| ps_filter::row(c, args.no_trunc, size_of(c).as_deref()))
        .collect();
    if let Some(text) = format.render_rows(&rows, &ps_filter::title)? {
        print!("{text}");
        return Ok(0);
    }
    if args.size {
        let t = super::format::Template::parse(
            "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}",
        )?;
        print!("{}", t.render_all(&rows, &ps_filter::title)?);
        return Ok(0);
    }
    print!("{}", render(&list, false, args.no_trunc));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_docker_columns() {
        let c = pb::Container {
            id: "a".repeat(64),
            name: "brave_turing".into(),
            image: "docker.io/library/busybox:latest".into(),
            args: vec!["sleep".into(), "100".into()],
            created_at: Some(crate::events::now_timestamp()),
            status: Some(pb::ContainerStatus {
                state: pb::ContainerState::Created as i32,
                ..Default::default()
            }),
            ..Default::default()
        };
        let out = render(std::slice::from_ref(&c), false, false);
        let mut lines = out.lines();
        let head = lines.next().unwrap();
        for col in COLUMNS {
            assert!(head.contains(col), "{head}");
        }
        let row = lines.next().unwrap();
        assert!(row.starts_with("aaaaaaaaaaaa   busybox:latest"), "{row}");
        assert!(row.contains("\"sleep 100\""));
        assert!(row.contains("Created"));
        assert!(row.ends_with("brave_turing"));
        assert_eq!(render(&[c], true, false), "aaaaaaaaaaaa\n");
    }
}

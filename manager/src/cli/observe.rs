//! `berth stats`, `top`, `pause`, `unpause`, `rename`.

use super::daemon_error;
use super::format::{human_size, Format};
use berth_proto::v1::{
    self as pb, containers_client::ContainersClient, observe_client::ObserveClient,
    tasks_client::TasksClient,
};
use std::time::Duration;
use tonic::transport::Channel;

/// `berth stats` flags.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go
    /// template such as '{{.Name}} {{.CPUPerc}}'
    #[arg(long)]
    pub format: Option<String>,
    /// Containers (default: all running)
    pub containers: Vec<String>,
}

/// `berth top` arguments.
#[derive(Debug, clap::Args)]
pub struct TopArgs {
    /// Container (name, id or id prefix)
    pub container: String,
    /// ps options (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

/// `berth rename` arguments.
#[derive(Debug, clap::Args)]
pub struct RenameArgs {
    /// Container (name, id or id prefix)
    pub container: String,
    /// New name
    pub new_name: String,
}

/// Column titles of stats templates (Docker's).
fn stats_title(field: &str) -> Option<&'static str> {
    Some(match field {
        "Container" => "CONTAINER",
        "ID" => "CONTAINER ID",
        "Name" => "NAME",
        "CPUPerc" => "CPU %",
        "MemUsage" => "MEM USAGE / LIMIT",
        "MemPerc" => "MEM %",
        "NetIO" => "NET I/O",
        "BlockIO" => "BLOCK I/O",
        "PIDs" => "PIDS",
        _ => return None,
    })
}

const STATS_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// Docker's `units.BytesSize`: powers of 1024, `%.4g`, "KiB"/"MiB"/….
pub fn binary_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    let int_digits = if v < 1.0 {
        1
    } else {
        v.log10().floor() as usize + 1
    };
    let decimals = 4usize.saturating_sub(int_digits);
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{}", UNITS[unit])
}

/// One stats row with Docker's field names and texts, from two samples.
pub fn stats_row(
    prev: &pb::ContainerStats,
    now: &pb::ContainerStats,
    no_trunc: bool,
) -> serde_json::Value {
    let cpu = {
        let c = now.cpu_total_ns.saturating_sub(prev.cpu_total_ns) as f64;
        let s = now.system_cpu_ns.saturating_sub(prev.system_cpu_ns) as f64;
        if c > 0.0 && s > 0.0 {
            c / s * f64::from(now.online_cpus.max(1)) * 100.0
        } else {
            0.0
        }
    };
    let mem_perc = if now.memory_limit > 0 {
        now.memory_usage as f64 / now.memory_limit as f64 * 100.0
    } else {
        0.0
    };
    let id = if no_trunc {
        now.id.clone()
    } else {
        now.id.chars().take(12).collect()
    };
    let running = now.running;
    let dash = |s: String| if running { s } else { "--".to_string() };
    serde_json::json!({
        "Container": id,
        "ID": id,
        "Name": if running { now.name.clone() } else { "--".to_string() },
        "CPUPerc": dash(format!("{cpu:.2}%")),
        "MemUsage": dash(format!("{} / {}", binary_size(now.memory_usage), binary_size(now.memory_limit))),
        "MemPerc": dash(format!("{mem_perc:.2}%")),
        "NetIO": dash(format!("{} / {}", human_size(now.net_rx), human_size(now.net_tx))),
        "BlockIO": dash(format!("{} / {}", human_size(now.block_read), human_size(now.block_write))),
        "PIDs": dash(now.pids.to_string()),
    })
}

async fn sample(ch: &Channel, ids: &[String]) -> anyhow::Result<Vec<pb::ContainerStats>> {
    let mut client = ObserveClient::new(ch.clone());
    let mut out = Vec::new();
    for id in ids {
        let s = client
            .stats(pb::StatsRequest {
                container_id: id.clone(),
            })
            .await
            .map_err(daemon_error)?
            .into_inner()
            .stats
            .unwrap_or_default();
        out.push(s);
    }
    Ok(out)
}

/// `berth stats`.
pub async fn stats(ch: Channel, args: StatsArgs) -> anyhow::Result<i32> {
    let format = match args.format.as_deref() {
        None | Some("") | Some("table") => Format::parse(Some(STATS_TABLE))?,
        f => Format::parse(f)?,
    };
    let ids: Vec<String> = if args.containers.is_empty() {
        super::lifecycle::list(&ch, args.all)
            .await?
            .into_iter()
            .map(|c| c.id)
            .collect()
    } else {
        args.containers.clone()
    };
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut prev = sample(&ch, &ids).await?;
    loop {
        // CPU % needs two samples; Docker's --no-stream also waits for the second.
        tokio::time::sleep(Duration::from_millis(if args.no_stream {
            500
        } else {
            1000
        }))
        .await;
        let now = sample(&ch, &ids).await?;
        let rows: Vec<serde_json::Value> = prev
            .iter()
            .zip(&now)
            .map(|(p, n)| stats_row(p, n, args.no_trunc))
            .collect();
        let text = format.render_rows(&rows, &stats_title)?.unwrap_or_default();
        if tty && !args.no_stream {
            print!("\x1b[2J\x1b[H");
        }
        print!("{text}");
        if args.no_stream {
            return Ok(0);
        }
        prev = now;
    }
}

/// `berth top`.
pub async fn top(ch: Channel, args: TopArgs) -> anyhow::Result<i32> {
    let resp = ObserveClient::new(ch)
        .top(pb::TopRequest {
            container_id: args.container,
            ps_args: args.ps_args,
        })
        .await
        .map_err(daemon_error)?
        .into_inner();
    let mut lines = vec![resp.titles.join("\t")];
    lines.extend(resp.processes.into_iter().map(|r| r.cells.join("\t")));
    print!("{}", super::format::template::align(&lines));
    Ok(0)
}

/// `berth pause` (`pause` true) and `berth unpause`: each container as given, or its error.
pub async fn pause(ch: Channel, containers: Vec<String>, pause: bool) -> anyhow::Result<i32> {
    let mut tasks = TasksClient::new(ch);
    let mut failed = 0;
    for c in containers {
        let done = if pause {
            tasks
                .pause(pb::PauseTaskRequest {
                    container_id: c.clone(),
                })
                .await
                .map(|_| ())
        } else {
            tasks
                .resume(pb::ResumeTaskRequest {
                    container_id: c.clone(),
                })
                .await
                .map(|_| ())
        };
        match done {
            Ok(()) => println!("{c}"),
            Err(s) => {
                eprintln!("{}", daemon_error(s));
                failed += 1;
            }
        }
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

/// `berth rename`.
pub async fn rename(ch: Channel, args: RenameArgs) -> anyhow::Result<i32> {
    ContainersClient::new(ch)
        .rename(pb::RenameContainerRequest {
            id: args.container,
            new_name: args.new_name,
        })
        .await
        .map_err(daemon_error)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_rows_as_docker_prints_them() {
        assert_eq!(binary_size(0), "0B");
        assert_eq!(binary_size(1536), "1.5KiB");
        assert_eq!(binary_size(3_670_016), "3.5MiB");
        assert_eq!(binary_size(8_000_000_000), "7.451GiB");
        let prev = pb::ContainerStats {
            id: "a".repeat(64),
            name: "web".into(),
            running: true,
            cpu_total_ns: 0,
            system_cpu_ns: 0,
            online_cpus: 2,
            ..Default::default()
        };
        let now = pb::ContainerStats {
            cpu_total_ns: 250,
            system_cpu_ns: 1000,
            memory_usage: 1024 * 1024,
            memory_limit: 4 * 1024 * 1024,
            net_rx: 1500,
            pids: 3,
            ..prev.clone()
        };
        let row = stats_row(&prev, &now, false);
        assert_eq!(row["ID"], "aaaaaaaaaaaa");
        assert_eq!(row["CPUPerc"], "50.00%");
        assert_eq!(row["MemUsage"], "1MiB / 4MiB");
        assert_eq!(row["MemPerc"], "25.00%");
        assert_eq!(row["NetIO"], "1.5kB / 0B");
        assert_eq!(row["PIDs"], "3");
    }
}

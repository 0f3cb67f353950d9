//! `berth logs`.

use super::daemon_error;
use berth_proto::v1::{self as pb, tasks_client::TasksClient};
use tonic::transport::Channel;

/// `berth logs` flags.
#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Follow log output until the container exits.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Number of lines to show from the end ("all" for every line).
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps.
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42
    /// minutes)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for
    /// 42 minutes)
    #[arg(long)]
    pub until: Option<String>,
    /// Container.
    pub container: String,
}

/// A Go duration (`1h30m`, `42s`, `1.5h`, `300ms`) in nanoseconds.
fn go_duration(s: &str) -> Option<i128> {
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    Some(total as i128)
}

/// Docker's `--since`/`--until` values: RFC 3339 (with or without a zone, then UTC), a date, a
/// Unix time with optional fraction, or a duration before `now`.
pub fn parse_time(
    s: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<prost_types::Timestamp> {
    let nanos: i128 = if let Some(d) = go_duration(s) {
        i128::from(now.timestamp_nanos_opt().unwrap_or(0)) - d
    } else if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        i128::from(t.timestamp_nanos_opt().unwrap_or(0))
    } else if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        i128::from(t.and_utc().timestamp_nanos_opt().unwrap_or(0))
    } else if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        i128::from(
            d.and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc().timestamp_nanos_opt().unwrap_or(0))
                .unwrap_or(0),
        )
    } else if let Ok(f) = s.parse::<f64>() {
        (f * 1e9) as i128
    } else {
        anyhow::bail!(
            "invalid value for \"since\"/\"until\": failed to parse value as time or duration: \"{s}\""
        );
    };
    Ok(prost_types::Timestamp {
        seconds: nanos.div_euclid(1_000_000_000) as i64,
        nanos: nanos.rem_euclid(1_000_000_000) as i32,
    })
}

/// `berth logs`: stdout lines to stdout, stderr lines to stderr, like Docker.
pub async fn logs(ch: Channel, args: LogsArgs) -> anyhow::Result<i32> {
    let (tail, tail_all) = if args.tail == "all" {
        (0, true)
    } else {
        let n: u32 = args
            .tail
            .parse()
            .map_err(|_| anyhow::anyhow!("invalid --tail value: {}", args.tail))?;
        (n, false)
    };
    let now = chrono::Utc::now();
    let since = args
        .since
        .as_deref()
        .map(|s| parse_time(s, now))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|s| parse_time(s, now))
        .transpose()?;
    let mut stream = TasksClient::new(ch)
        .logs(pb::LogsRequest {
            container_id: args.container.clone(),
            follow: args.follow,
            tail,
            tail_all,
            since,
            until,
        })
        .await
        .map_err(daemon_error)?
        .into_inner();
    let mut out = tokio::io::stdout();
    let mut err = tokio::io::stderr();
    while let Some(entry) = stream.message().await.map_err(daemon_error)? {
        let mut data = Vec::new();
        if args.timestamps {
            if let Some(ts) = &entry.timestamp {
                data.extend_from_slice(format_ts(ts).as_bytes());
                data.push(b' ');
            }
        }
        data.extend_from_slice(&entry.data);
        if entry.stream == pb::LogStream::Stderr as i32 {
            super::write_flushed(&mut err, &data).await?;
        } else {
            super::write_flushed(&mut out, &data).await?;
        }
    }
    Ok(0)
}

/// RFC 3339 with nanoseconds, as `docker logs -t` prints.
fn format_ts(ts: &prost_types::Timestamp) -> String {
    chrono::DateTime::from_timestamp(ts.seconds, ts.nanos.max(0) as u32)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_and_until_values() {
        let now = chrono::DateTime::parse_from_rfc3339("2024-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let secs = |s: &str| parse_time(s, now).unwrap().seconds;
        assert_eq!(secs("2024-01-02T03:04:05Z"), now.timestamp());
        assert_eq!(secs("42s"), now.timestamp() - 42);
        assert_eq!(secs("1h30m"), now.timestamp() - 5400);
        assert_eq!(secs("1700000000"), 1_700_000_000);
        assert_eq!(parse_time("1700000000.5", now).unwrap().nanos, 500_000_000);
        assert_eq!(secs("2024-01-02"), now.timestamp() - 3 * 3600 - 4 * 60 - 5);
        assert!(parse_time("yesterday", now).is_err());
    }
}

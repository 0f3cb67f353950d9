//! Resource flags of `run`/`create` (`--memory`, `--cpus`, …) and their sizes and numbers.

use anyhow::{bail, Context};
use berth_proto::v1 as pb;

/// Docker's resource flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ResourceFlags {
    /// Memory limit
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Ulimit options
    #[arg(long = "ulimit")]
    pub ulimit: Vec<String>,
    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(long = "oom-score-adj", allow_hyphen_values = true)]
    pub oom_score_adj: Option<i32>,
    /// Size of /dev/shm
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
}

/// Parses Docker's sizes: `512`, `1k`, `64m`, `1.5g` (binary multiples, case-insensitive).
pub fn parse_size(s: &str) -> anyhow::Result<i64> {
    let lower = s.trim().to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(digits_end);
    let n: f64 = num
        .parse()
        .with_context(|| format!("invalid size: '{s}'"))?;
    let mult: f64 = match unit.trim_end_matches('b').trim_end_matches('i') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => bail!("invalid size: '{s}'"),
    };
    Ok((n * mult) as i64)
}

impl ResourceFlags {
    /// The API message (`None` when no flag was given).
    pub fn to_proto(&self) -> anyhow::Result<Option<pb::Resources>> {
        let size = |v: &Option<String>, flag: &str| -> anyhow::Result<i64> {
            match v.as_deref() {
                None => Ok(0),
                Some("-1") => Ok(-1),
                Some(s) => parse_size(s).with_context(|| format!("invalid argument for {flag}")),
            }
        };
        let nano_cpus = match &self.cpus {
            None => 0,
            Some(c) => {
                let f: f64 = c
                    .parse()
                    .with_context(|| format!("invalid argument \"{c}\" for \"--cpus\" flag"))?;
                (f * 1e9) as i64
            }
        };
        let r = pb::Resources {
            memory: size(&self.memory, "--memory")?,
            memory_swap: size(&self.memory_swap, "--memory-swap")?,
            memory_reservation: size(&self.memory_reservation, "--memory-reservation")?,
            nano_cpus,
            cpu_shares: self.cpu_shares.unwrap_or(0),
            cpuset_cpus: self.cpuset_cpus.clone().unwrap_or_default(),
            pids_limit: self.pids_limit.unwrap_or(0),
            ulimits: self.ulimit.clone(),
            oom_score_adj: self.oom_score_adj.unwrap_or(0),
            oom_score_adj_set: self.oom_score_adj.is_some(),
            shm_size: size(&self.shm_size, "--shm-size")?,
        };
        Ok((r != pb::Resources::default()).then_some(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1k").unwrap(), 1024);
        assert_eq!(parse_size("64M").unwrap(), 64 << 20);
        assert_eq!(parse_size("1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert_eq!(parse_size("2mb").unwrap(), 2 << 20);
        assert!(parse_size("lots").is_err());
    }
}

//! `update` flags, parsed the way `runc update` parses them (strings, so that every bad value is
//! reported naming its flag), and the `-r FILE|-` document.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use berth_runtime::container::update::{parse_signed, parse_size, parse_unsigned};
use berth_runtime::container::{self, ResourceUpdate};

/// `update` flags (runc's names; `--cpu-shares` is accepted for `--cpu-share`).
#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    /// Path to a JSON file with the resources to update, or '-' for stdin (other flags are ignored).
    #[arg(short = 'r', long)]
    pub resources: Option<String>,
    /// Block IO weight, 10 to 1000.
    #[arg(long = "blkio-weight", allow_hyphen_values = true)]
    pub blkio_weight: Option<String>,
    /// CPU CFS period (µs); 0 leaves it.
    #[arg(long = "cpu-period", allow_hyphen_values = true)]
    pub cpu_period: Option<String>,
    /// CPU CFS quota (µs) per period; -1 for none.
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<String>,
    /// CPU shares (relative weight).
    #[arg(
        long = "cpu-share",
        visible_alias = "cpu-shares",
        allow_hyphen_values = true
    )]
    pub cpu_share: Option<String>,
    /// CPU real-time period (µs).
    #[arg(long = "cpu-rt-period", allow_hyphen_values = true)]
    pub cpu_rt_period: Option<String>,
    /// CPU real-time runtime (µs) per period.
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<String>,
    /// CPUs to use (cpuset list).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use (cpuset list).
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Memory limit (bytes, or with a k/m/g suffix); -1 for none.
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory soft limit (bytes or with suffix).
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit (bytes or with suffix); -1 for unlimited swap.
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of pids; -1 for none.
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<String>,
    /// Intel RDT L3 cache schema (not supported).
    #[arg(long = "l3-cache-schema")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (not supported).
    #[arg(long = "mem-bw-schema")]
    pub mem_bw_schema: Option<String>,
    /// Container id.
    pub id: String,
}

/// Builds the update from `-r` or the flags; every value is checked before anything is touched.
pub fn resource_update(a: &UpdateArgs) -> Result<ResourceUpdate> {
    if a.l3_cache_schema.is_some() || a.mem_bw_schema.is_some() {
        anyhow::bail!("Intel RDT is not supported by berth-runc");
    }
    if let Some(src) = &a.resources {
        let mut text = String::new();
        if src == "-" {
            std::io::stdin()
                .read_to_string(&mut text)
                .context("read resources from stdin")?;
        } else {
            text = std::fs::read_to_string(Path::new(src))
                .with_context(|| format!("read resources file {src}"))?;
        }
        return Ok(ResourceUpdate::from_json(&text)?);
    }
    let size = |name: &str, v: &Option<String>| opt(v).map(|s| parse_size(name, s)).transpose();
    let signed = |name: &str, v: &Option<String>| opt(v).map(|s| parse_signed(name, s)).transpose();
    let unsigned =
        |name: &str, v: &Option<String>| opt(v).map(|s| parse_unsigned(name, s)).transpose();

    // runc takes these two as integer flags: a non-number is a usage error in its words.
    let int_flag = |name: &str, v: &Option<String>| -> Result<Option<i64>> {
        opt(v)
            .map(|s| {
                s.parse::<i64>().map_err(|_| {
                    anyhow::anyhow!("invalid value {s:?} for flag -{name}: parse error")
                })
            })
            .transpose()
    };
    int_flag("pids-limit", &a.pids_limit)?;
    let blkio_weight = match int_flag("blkio-weight", &a.blkio_weight)? {
        Some(w) if !(0..=1000).contains(&w) => {
            anyhow::bail!("invalid value for blkio-weight: {w} is outside 10..1000")
        }
        Some(w) => Some(w as u16),
        None => None,
    };
    let u = ResourceUpdate {
        memory_limit: size("memory", &a.memory)?,
        memory_reservation: size("memory-reservation", &a.memory_reservation)?,
        memory_swap: size("memory-swap", &a.memory_swap)?,
        cpu_shares: unsigned("cpu-share", &a.cpu_share)?,
        cpu_quota: signed("cpu-quota", &a.cpu_quota)?,
        cpu_period: unsigned("cpu-period", &a.cpu_period)?,
        cpu_rt_runtime: signed("cpu-rt-runtime", &a.cpu_rt_runtime)?,
        cpu_rt_period: unsigned("cpu-rt-period", &a.cpu_rt_period)?,
        cpuset_cpus: opt(&a.cpuset_cpus).map(str::to_string),
        cpuset_mems: opt(&a.cpuset_mems).map(str::to_string),
        pids_limit: signed("pids-limit", &a.pids_limit)?,
        blkio_weight,
    };
    u.validate()?;
    Ok(u)
}

/// A flag's value, unless absent or empty (runc's "not given").
fn opt(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// Runs `update`.
pub fn run(root: &Path, a: &UpdateArgs) -> Result<()> {
    let u = resource_update(a)?;
    container::update(root, &a.id, &u)?;
    Ok(())
}

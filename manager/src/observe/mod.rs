//! Observing a running container from the host: resource counters of its cgroup (v1 or v2),
//! network counters of its network namespace, its processes (`berth stats`, `berth top`).
//!
//! Everything is read from `/proc/<pid>` of the container's init process and from the cgroup
//! files it names, so it works the same for every OCI runtime and cgroup layout.

pub mod cgroup;
pub mod net;
pub mod top;

use std::path::PathBuf;

/// Errors reading a container's counters.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A file did not have the documented shape.
    #[error("parsing {path}: {what}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        what: String,
    },
    /// `ps` could not be run or failed.
    #[error("ps: {0}")]
    Ps(String),
}

/// One sample of a container's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample {
    /// CPU time used by the cgroup, nanoseconds.
    pub cpu_total_ns: u64,
    /// CPU time of the whole host (all CPUs, every state), nanoseconds (`/proc/stat`).
    pub system_cpu_ns: u64,
    /// CPUs online.
    pub online_cpus: u32,
    /// Memory in use, bytes, as Docker shows it (page cache that can be dropped not counted).
    pub memory_usage: u64,
    /// Memory limit, bytes (the host's memory when unlimited).
    pub memory_limit: u64,
    /// Bytes received on the container's interfaces (loopback excluded).
    pub net_rx: u64,
    /// Bytes sent.
    pub net_tx: u64,
    /// Bytes read from block devices.
    pub block_read: u64,
    /// Bytes written to block devices.
    pub block_write: u64,
    /// Processes (tasks) in the cgroup.
    pub pids: u64,
    /// 1 or 2: which cgroup version the counters came from.
    pub cgroup_version: u8,
}

/// Reads every counter of the container whose init process is `pid`.
pub fn sample(pid: u32) -> Result<Sample, ObserveError> {
    let cg = cgroup::CgroupPaths::of_pid(pid)?;
    let mut s = cg.read()?;
    let (rx, tx) = net::counters(pid)?;
    s.net_rx = rx;
    s.net_tx = tx;
    s.system_cpu_ns = cgroup::system_cpu_ns()?;
    s.online_cpus = cgroup::online_cpus();
    Ok(s)
}

/// Docker's CPU %: the cgroup's share of all host CPU time between two samples, times the CPUs.
pub fn cpu_percent(prev: &Sample, now: &Sample) -> f64 {
    let cpu = now.cpu_total_ns.saturating_sub(prev.cpu_total_ns) as f64;
    let system = now.system_cpu_ns.saturating_sub(prev.system_cpu_ns) as f64;
    if cpu <= 0.0 || system <= 0.0 {
        return 0.0;
    }
    cpu / system * f64::from(now.online_cpus.max(1)) * 100.0
}

pub(crate) fn read(path: PathBuf) -> Result<String, ObserveError> {
    std::fs::read_to_string(&path).map_err(|source| ObserveError::Read { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_percent_is_dockers_formula() {
        let prev = Sample {
            cpu_total_ns: 1_000,
            system_cpu_ns: 10_000,
            online_cpus: 2,
            ..Default::default()
        };
        let now = Sample {
            cpu_total_ns: 2_000,
            system_cpu_ns: 20_000,
            online_cpus: 2,
            ..Default::default()
        };
        assert!((cpu_percent(&prev, &now) - 20.0).abs() < 1e-9);
        assert_eq!(cpu_percent(&now, &now), 0.0);
    }

    #[test]
    fn this_process_can_be_sampled() {
        let s = sample(std::process::id()).expect("sampling ourselves");
        assert!(s.pids >= 1, "{s:?}");
        assert!(s.memory_limit > 0, "{s:?}");
        assert!(s.system_cpu_ns > 0);
    }
}

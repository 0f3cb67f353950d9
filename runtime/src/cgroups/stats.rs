//! Resource usage of a container's cgroup in the JSON shape of `runc events` (runc 1.1's
//! `types.Stats`: field names, nesting and which zero values are left out follow it, so that
//! callers parsing runc's output, such as containerd's shim, read ours).
//!
//! v1 reads cpuacct, cpu, cpuset, memory, pids, blkio and hugetlb hierarchies; cgroup2 reads
//! cpu.stat, memory.*, pids.*, io.stat and hugetlb.*. A controller that is not there leaves its
//! section empty, as runc does.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::{fs, v1, Cgroup, CgroupError, Mode};

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// `cpu.usage`.
#[derive(Debug, Default, Serialize)]
pub struct CpuUsage {
    /// Total CPU time, ns.
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    /// Per-CPU time, ns.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    /// Per-CPU kernel time, ns.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    /// Per-CPU user time, ns.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    /// Kernel time, ns.
    pub kernel: u64,
    /// User time, ns.
    pub user: u64,
}

/// `cpu.throttling` (CFS bandwidth).
#[derive(Debug, Default, Serialize)]
pub struct Throttling {
    /// Elapsed enforcement periods.
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    /// Periods in which the group was throttled.
    #[serde(rename = "throttledPeriods", skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Time throttled, ns.
    #[serde(rename = "throttledTime", skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

/// `cpu`.
#[derive(Debug, Default, Serialize)]
pub struct Cpu {
    /// Usage.
    pub usage: CpuUsage,
    /// Throttling.
    pub throttling: Throttling,
}

/// `cpuset`.
#[derive(Debug, Default, Serialize)]
pub struct CpuSet {
    /// CPUs of the set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    /// cpuset.cpu_exclusive.
    pub cpu_exclusive: u64,
    /// Memory nodes of the set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    /// cpuset.mem_hardwall.
    pub mem_hardwall: u64,
    /// cpuset.mem_exclusive.
    pub mem_exclusive: u64,
    /// cpuset.memory_migrate.
    pub memory_migrate: u64,
    /// cpuset.memory_spread_page.
    pub memory_spread_page: u64,
    /// cpuset.memory_spread_slab.
    pub memory_spread_slab: u64,
    /// cpuset.memory_pressure.
    pub memory_pressure: u64,
    /// cpuset.sched_load_balance.
    pub sched_load_balance: u64,
    /// cpuset.sched_relax_domain_level.
    pub sched_relax_domain_level: i64,
}

/// One memory counter set (usage, swap, kernel, kernelTCP).
#[derive(Debug, Default, Serialize)]
pub struct MemoryEntry {
    /// Limit, bytes (unlimited is the kernel's large number on v1, u64::MAX on v2, as in runc).
    pub limit: u64,
    /// Usage, bytes.
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage, bytes.
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    /// Times the limit was hit.
    pub failcnt: u64,
}

/// `memory`.
#[derive(Debug, Default, Serialize)]
pub struct Memory {
    /// Page cache, bytes.
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    /// Memory.
    pub usage: MemoryEntry,
    /// Memory+swap (v1) or swap (v2).
    pub swap: MemoryEntry,
    /// Kernel memory (v1).
    pub kernel: MemoryEntry,
    /// Kernel TCP buffers (v1).
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// memory.stat.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

/// `pids`.
#[derive(Debug, Default, Serialize)]
pub struct Pids {
    /// Processes now.
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    /// Limit (0 = none).
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

/// One blkio counter line.
#[derive(Debug, Default, Serialize)]
pub struct BlkioEntry {
    /// Device major.
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    /// Device minor.
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    /// Operation (Read, Write, Sync, Async, Discard, Total).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    /// Value.
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

/// `blkio`.
#[derive(Debug, Default, Serialize)]
pub struct Blkio {
    /// Bytes transferred.
    #[serde(
        rename = "ioServiceBytesRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    /// I/O operations.
    #[serde(rename = "ioServicedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

/// One hugetlb page size.
#[derive(Debug, Default, Serialize)]
pub struct Hugetlb {
    /// Usage, bytes.
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage, bytes.
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    /// Times the limit was hit.
    pub failcnt: u64,
}

/// Intel RDT (never filled: berth-runc has no RDT support; runc prints `{}` without it too).
#[derive(Debug, Default, Serialize)]
pub struct IntelRdt {}

/// The `data` of a `stats` event.
#[derive(Debug, Default, Serialize)]
pub struct Stats {
    /// CPU.
    pub cpu: Cpu,
    /// cpuset.
    pub cpuset: CpuSet,
    /// Memory.
    pub memory: Memory,
    /// Pids.
    pub pids: Pids,
    /// Block I/O.
    pub blkio: Blkio,
    /// Hugetlb by page size (`2MB`, `1GB`).
    pub hugetlb: BTreeMap<String, Hugetlb>,
    /// Intel RDT.
    pub intel_rdt: IntelRdt,
    /// Network interfaces (runc 1.1 leaves it null).
    pub network_interfaces: Option<Vec<()>>,
}

fn read_opt(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

fn num(dir: &Path, file: &str) -> u64 {
    read_opt(dir, file)
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// A v2 limit file: "max" is u64::MAX, as runc reports it.
fn max_num(dir: &Path, file: &str) -> u64 {
    match read_opt(dir, file).as_deref().map(str::trim) {
        Some("max") => u64::MAX,
        Some(s) => s.parse().unwrap_or(0),
        None => 0,
    }
}

/// `key value` lines (memory.stat, cpu.stat, memory.events) as a map.
pub fn key_values(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let k = f.next()?;
            let v = f.next()?.parse().ok()?;
            Some((k.to_string(), v))
        })
        .collect()
}

/// A cpuset list (`0-3,5`) as numbers.
pub fn parse_list(text: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.parse::<u16>().ok()),
        }
    }
    out
}

/// Nanoseconds per USER_HZ tick (cpuacct.stat counts ticks).
fn ns_per_tick() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => 1_000_000_000 / t as u64,
        _ => 10_000_000,
    }
}

fn v1_stats(hs: &[super::V1Hierarchy]) -> Stats {
    let mut s = Stats::default();
    if let Some(d) = v1::find(hs, "cpuacct") {
        s.cpu.usage.total = num(d, "cpuacct.usage");
        s.cpu.usage.percpu = read_opt(d, "cpuacct.usage_percpu")
            .map(|t| {
                t.split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        // cpuacct.usage_all: "cpu user system" then one line per CPU.
        if let Some(all) = read_opt(d, "cpuacct.usage_all") {
            for line in all.lines().skip(1) {
                let f: Vec<u64> = line
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                if f.len() == 3 {
                    s.cpu.usage.percpu_user.push(f[1]);
                    s.cpu.usage.percpu_kernel.push(f[2]);
                }
            }
        }
        if let Some(st) = read_opt(d, "cpuacct.stat") {
            let kv = key_values(&st);
            let tick = ns_per_tick();
            s.cpu.usage.user = kv.get("user").copied().unwrap_or(0) * tick;
            s.cpu.usage.kernel = kv.get("system").copied().unwrap_or(0) * tick;
        }
    }
    if let Some(d) = v1::find(hs, "cpu") {
        if let Some(st) = read_opt(d, "cpu.stat") {
            let kv = key_values(&st);
            s.cpu.throttling.periods = kv.get("nr_periods").copied().unwrap_or(0);
            s.cpu.throttling.throttled_periods = kv.get("nr_throttled").copied().unwrap_or(0);
            s.cpu.throttling.throttled_time = kv.get("throttled_time").copied().unwrap_or(0);
        }
    }
    if let Some(d) = v1::find(hs, "cpuset") {
        let c = &mut s.cpuset;
        c.cpus = read_opt(d, "cpuset.cpus")
            .map(|t| parse_list(&t))
            .unwrap_or_default();
        c.mems = read_opt(d, "cpuset.mems")
            .map(|t| parse_list(&t))
            .unwrap_or_default();
        c.cpu_exclusive = num(d, "cpuset.cpu_exclusive");
        c.mem_hardwall = num(d, "cpuset.mem_hardwall");
        c.mem_exclusive = num(d, "cpuset.mem_exclusive");
        c.memory_migrate = num(d, "cpuset.memory_migrate");
        c.memory_spread_page = num(d, "cpuset.memory_spread_page");
        c.memory_spread_slab = num(d, "cpuset.memory_spread_slab");
        c.memory_pressure = num(d, "cpuset.memory_pressure");
        c.sched_load_balance = num(d, "cpuset.sched_load_balance");
        c.sched_relax_domain_level = read_opt(d, "cpuset.sched_relax_domain_level")
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
    }
    if let Some(d) = v1::find(hs, "memory") {
        let entry = |prefix: &str| MemoryEntry {
            limit: num(d, &format!("{prefix}.limit_in_bytes")),
            usage: num(d, &format!("{prefix}.usage_in_bytes")),
            max: num(d, &format!("{prefix}.max_usage_in_bytes")),
            failcnt: num(d, &format!("{prefix}.failcnt")),
        };
        s.memory.usage = entry("memory");
        s.memory.swap = entry("memory.memsw");
        s.memory.kernel = entry("memory.kmem");
        s.memory.kernel_tcp = entry("memory.kmem.tcp");
        s.memory.raw = read_opt(d, "memory.stat")
            .map(|t| key_values(&t))
            .unwrap_or_default();
        s.memory.cache = s.memory.raw.get("cache").copied().unwrap_or(0);
    }
    if let Some(d) = v1::find(hs, "pids") {
        s.pids.current = num(d, "pids.current");
        s.pids.limit = num(d, "pids.max");
    }
    if let Some(d) = v1::find(hs, "blkio") {
        // runc's order: CFQ files, then BFQ, then the throttling counters.
        for prefix in ["blkio.", "blkio.bfq.", "blkio.throttle."] {
            let bytes = blkio_entries(d, &format!("{prefix}io_service_bytes_recursive"));
            let ops = blkio_entries(d, &format!("{prefix}io_serviced_recursive"));
            if !bytes.is_empty() || !ops.is_empty() {
                s.blkio.io_service_bytes_recursive = bytes;
                s.blkio.io_serviced_recursive = ops;
                break;
            }
        }
    }
    if let Some(d) = v1::find(hs, "hugetlb") {
        for size in hugetlb_sizes(d, ".usage_in_bytes") {
            let f = |k: &str| num(d, &format!("hugetlb.{size}.{k}"));
            s.hugetlb.insert(
                size.clone(),
                Hugetlb {
                    usage: f("usage_in_bytes"),
                    max: f("max_usage_in_bytes"),
                    failcnt: f("failcnt"),
                },
            );
        }
    }
    s
}

/// `major:minor Op value` lines; the `Total` line is skipped, as runc skips it.
fn blkio_entries(dir: &Path, file: &str) -> Vec<BlkioEntry> {
    let Some(text) = read_opt(dir, file) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() != 3 {
                return None;
            }
            let (maj, min) = f[0].split_once(':')?;
            Some(BlkioEntry {
                major: maj.parse().ok()?,
                minor: min.parse().ok()?,
                op: f[1].to_string(),
                value: f[2].parse().ok()?,
            })
        })
        .collect()
}

/// The page sizes (`2MB`) that have a `hugetlb.<size><suffix>` file in `dir`.
fn hugetlb_sizes(dir: &Path, suffix: &str) -> Vec<String> {
    let mut sizes: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let rest = name.strip_prefix("hugetlb.")?;
            Some(rest.strip_suffix(suffix)?.to_string())
        })
        .filter(|s| !s.contains('.'))
        .collect();
    sizes.sort();
    sizes
}

fn v2_stats(d: &Path) -> Stats {
    let mut s = Stats::default();
    if let Some(st) = read_opt(d, "cpu.stat") {
        let kv = key_values(&st);
        let us = |k: &str| kv.get(k).copied().unwrap_or(0) * 1000;
        s.cpu.usage.total = us("usage_usec");
        s.cpu.usage.user = us("user_usec");
        s.cpu.usage.kernel = us("system_usec");
        s.cpu.throttling.periods = kv.get("nr_periods").copied().unwrap_or(0);
        s.cpu.throttling.throttled_periods = kv.get("nr_throttled").copied().unwrap_or(0);
        s.cpu.throttling.throttled_time = us("throttled_usec");
    }
    if fs::exists(d, "memory.current") {
        let events = read_opt(d, "memory.events")
            .map(|t| key_values(&t))
            .unwrap_or_default();
        s.memory.usage = MemoryEntry {
            limit: max_num(d, "memory.max"),
            usage: num(d, "memory.current"),
            max: num(d, "memory.peak"),
            failcnt: events.get("max").copied().unwrap_or(0),
        };
        s.memory.swap = MemoryEntry {
            limit: max_num(d, "memory.swap.max"),
            usage: num(d, "memory.swap.current"),
            max: num(d, "memory.swap.peak"),
            failcnt: 0,
        };
        s.memory.raw = read_opt(d, "memory.stat")
            .map(|t| key_values(&t))
            .unwrap_or_default();
        s.memory.cache = s.memory.raw.get("file").copied().unwrap_or(0);
    }
    if fs::exists(d, "pids.current") {
        s.pids.current = num(d, "pids.current");
        s.pids.limit = match max_num(d, "pids.max") {
            u64::MAX => 0,
            n => n,
        };
    }
    if let Some(io) = read_opt(d, "io.stat") {
        for line in io.lines() {
            let mut f = line.split_whitespace();
            let Some((maj, min)) = f.next().and_then(|d| d.split_once(':')) else {
                continue;
            };
            let (Ok(major), Ok(minor)) = (maj.parse::<u64>(), min.parse::<u64>()) else {
                continue;
            };
            let kv: BTreeMap<&str, u64> = f
                .filter_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    Some((k, v.parse().ok()?))
                })
                .collect();
            let entry = |op: &str, key: &str| BlkioEntry {
                major,
                minor,
                op: op.to_string(),
                value: kv.get(key).copied().unwrap_or(0),
            };
            s.blkio
                .io_service_bytes_recursive
                .extend([entry("Read", "rbytes"), entry("Write", "wbytes")]);
            s.blkio
                .io_serviced_recursive
                .extend([entry("Read", "rios"), entry("Write", "wios")]);
        }
    }
    for size in hugetlb_sizes(d, ".current") {
        let events = read_opt(d, &format!("hugetlb.{size}.events"))
            .map(|t| key_values(&t))
            .unwrap_or_default();
        s.hugetlb.insert(
            size.clone(),
            Hugetlb {
                usage: num(d, &format!("hugetlb.{size}.current")),
                max: 0,
                failcnt: events.get("max").copied().unwrap_or(0),
            },
        );
    }
    if let Some(c) = read_opt(d, "cpuset.cpus.effective") {
        s.cpuset.cpus = parse_list(&c);
    }
    if let Some(m) = read_opt(d, "cpuset.mems.effective") {
        s.cpuset.mems = parse_list(&m);
    }
    s
}

impl Cgroup {
    /// The cgroup's resource usage (runc's `events --stats` data). On hybrid hosts the v1
    /// hierarchies are read, as runc's v1 manager reads them.
    pub fn stats(&self) -> Result<Stats, CgroupError> {
        match self.mode {
            Mode::Unified => {
                let dir = self.unified.as_deref().ok_or_else(|| {
                    CgroupError::Unsupported("a unified host without a cgroup2 directory".into())
                })?;
                if !dir.exists() {
                    return Err(fs::io_err(
                        dir,
                        std::io::Error::from(std::io::ErrorKind::NotFound),
                    ));
                }
                Ok(v2_stats(dir))
            }
            Mode::Legacy | Mode::Hybrid => Ok(v1_stats(&self.v1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_key_values_parse() {
        assert_eq!(parse_list("0-2,5\n"), vec![0, 1, 2, 5]);
        assert!(parse_list("").is_empty());
        let kv = key_values("cache 5\nrss 7\nbad\n");
        assert_eq!(kv.get("cache"), Some(&5));
        assert_eq!(kv.len(), 2);
    }

    #[test]
    fn empty_stats_have_runcs_shape() {
        let v = serde_json::to_value(Stats::default()).unwrap();
        assert_eq!(v["blkio"], serde_json::json!({}));
        assert_eq!(v["hugetlb"], serde_json::json!({}));
        assert_eq!(v["intel_rdt"], serde_json::json!({}));
        assert!(v["network_interfaces"].is_null());
        assert_eq!(
            v["cpu"]["usage"],
            serde_json::json!({"kernel": 0, "user": 0})
        );
        assert_eq!(
            v["memory"]["usage"],
            serde_json::json!({"limit": 0, "failcnt": 0})
        );
        assert_eq!(v["pids"], serde_json::json!({}));
    }
}

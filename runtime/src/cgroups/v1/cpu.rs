//! v1 `cpu` (CFS shares and bandwidth, real-time budget) and `cpuset`.

use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use super::super::{fs, CgroupError, V1Hierarchy};
use super::need;

/// Fills a new cpuset's empty `cpuset.cpus` / `cpuset.mems` with its parent's, so it can take tasks.
pub(crate) fn copy_cpuset_from_parent(parent: &Path, dir: &Path) -> Result<(), CgroupError> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if fs::read(dir, file)?.trim().is_empty() {
            let value = fs::read(parent, file)?;
            fs::write(dir, file, value.trim())?;
        }
    }
    Ok(())
}

/// Applies `linux.resources.cpu`.
pub(crate) fn set(hs: &[V1Hierarchy], c: &LinuxCpu) -> Result<(), CgroupError> {
    let cpu_fields = c.shares().is_some()
        || c.quota().is_some()
        || c.period().is_some()
        || c.burst().is_some()
        || c.idle().is_some()
        || c.realtime_runtime().is_some()
        || c.realtime_period().is_some();
    if cpu_fields {
        let dir = need(hs, "cpu", "linux.resources.cpu")?;
        if let Some(s) = c.shares().filter(|s| *s != 0) {
            fs::write(dir, "cpu.shares", &s.to_string())?;
        }
        // The period first: a quota is checked against the current period.
        if let Some(p) = c.period().filter(|p| *p != 0) {
            fs::write(dir, "cpu.cfs_period_us", &p.to_string())?;
        }
        if let Some(q) = c.quota().filter(|q| *q != 0) {
            fs::write(dir, "cpu.cfs_quota_us", &q.to_string())?;
        }
        if let Some(b) = c.burst() {
            fs::write(dir, "cpu.cfs_burst_us", &b.to_string())?;
        }
        if let Some(i) = c.idle() {
            fs::write(dir, "cpu.idle", &i.to_string())?;
        }
        if let Some(p) = c.realtime_period().filter(|p| *p != 0) {
            fs::write(dir, "cpu.rt_period_us", &p.to_string())?;
        }
        if let Some(r) = c.realtime_runtime().filter(|r| *r != 0) {
            fs::write(dir, "cpu.rt_runtime_us", &r.to_string())?;
        }
    }
    let cpus = c.cpus().as_deref().filter(|s| !s.is_empty());
    let mems = c.mems().as_deref().filter(|s| !s.is_empty());
    if cpus.is_some() || mems.is_some() {
        let dir = need(hs, "cpuset", "linux.resources.cpu.cpus/mems")?;
        if let Some(v) = cpus {
            fs::write(dir, "cpuset.cpus", v)?;
        }
        if let Some(v) = mems {
            fs::write(dir, "cpuset.mems", v)?;
        }
    }
    Ok(())
}

//! v2 `cpu` (weight, bandwidth, burst, idle) and `cpuset`.

use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use super::super::{fs, CgroupError};

/// Converts v1 cpu.shares (2..262144) to v2 cpu.weight (1..10000) with runc's formula; 0 stays 0 (unset).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

/// The cpu.max line for a quota and period (0 = unset); `None` when neither is set.
pub fn cpu_max(quota: i64, period: u64) -> Option<String> {
    if quota == 0 && period == 0 {
        return None;
    }
    let q = if quota > 0 {
        quota.to_string()
    } else {
        "max".to_string()
    };
    Some(if period > 0 {
        format!("{q} {period}")
    } else {
        q
    })
}

/// Applies `linux.resources.cpu`.
pub(crate) fn set(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    if c.realtime_runtime().is_some_and(|v| v != 0) || c.realtime_period().is_some_and(|v| v != 0) {
        return Err(CgroupError::Unsupported(
            "linux.resources.cpu.realtimeRuntime/realtimePeriod on cgroup v2 (no real-time budget)"
                .into(),
        ));
    }
    let w = shares_to_weight(c.shares().unwrap_or(0));
    if w != 0 {
        fs::write(dir, "cpu.weight", &w.to_string())?;
    }
    if let Some(v) = cpu_max(c.quota().unwrap_or(0), c.period().unwrap_or(0)) {
        fs::write(dir, "cpu.max", &v)?;
    }
    if let Some(b) = c.burst() {
        fs::write(dir, "cpu.max.burst", &b.to_string())?;
    }
    if let Some(i) = c.idle() {
        fs::write(dir, "cpu.idle", &i.to_string())?;
    }
    if let Some(v) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
        fs::write(dir, "cpuset.cpus", v)?;
    }
    if let Some(v) = c.mems().as_deref().filter(|s| !s.is_empty()) {
        fs::write(dir, "cpuset.mems", v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_convert_like_runc() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1), 1);
    }

    #[test]
    fn cpu_max_lines() {
        assert_eq!(cpu_max(0, 0), None);
        assert_eq!(cpu_max(50_000, 100_000).unwrap(), "50000 100000");
        assert_eq!(cpu_max(-1, 100_000).unwrap(), "max 100000");
        assert_eq!(cpu_max(20_000, 0).unwrap(), "20000");
    }
}

//! v1 `memory`: limit, soft limit (reservation), memory+swap limit, swappiness, OOM killer.
//!
//! `kernel` (kmem) limits are ignored on purpose: the kernel deprecated them in 5.4 and removed the knob in 5.16,
//! and runc ignores them since 1.0 too. `kernelTCP` is applied when the kernel still has the file.

use std::path::Path;

use oci_spec::runtime::LinuxMemory;

use super::super::{fs, CgroupError};

fn limit_str(v: i64) -> String {
    if v < 0 {
        "-1".to_string()
    } else {
        v.to_string()
    }
}

/// Refuses a limit below current usage when `checkBeforeUpdate` asks for it.
fn check_usage(dir: &Path, file: &str, limit: i64) -> Result<(), CgroupError> {
    let usage: i64 = fs::read(dir, file)?.trim().parse().unwrap_or(0);
    if limit > 0 && usage > limit {
        return Err(CgroupError::Invalid(format!(
            "{}: memory limit {limit} is below current usage {usage} (checkBeforeUpdate)",
            dir.display()
        )));
    }
    Ok(())
}

/// Applies `linux.resources.memory`.
pub(crate) fn set(dir: &Path, m: &LinuxMemory) -> Result<(), CgroupError> {
    if let (Some(true), Some(l)) = (m.check_before_update(), m.limit()) {
        check_usage(dir, "memory.usage_in_bytes", l)?;
    }
    let limit = m.limit().filter(|l| *l != 0);
    let swap = m.swap().filter(|s| *s != 0);
    if swap.is_some() && !fs::exists(dir, "memory.memsw.limit_in_bytes") {
        return Err(CgroupError::Unsupported(format!(
            "linux.resources.memory.swap: {} is missing (swap accounting is off on this host)",
            dir.join("memory.memsw.limit_in_bytes").display()
        )));
    }
    match (limit, swap) {
        (Some(l), Some(s)) => {
            // memsw must stay >= the limit at every step: raise order depends on the current values.
            if fs::write(dir, "memory.limit_in_bytes", &limit_str(l)).is_err() {
                fs::write(dir, "memory.memsw.limit_in_bytes", &limit_str(s))?;
                fs::write(dir, "memory.limit_in_bytes", &limit_str(l))?;
            } else {
                fs::write(dir, "memory.memsw.limit_in_bytes", &limit_str(s))?;
            }
        }
        (Some(l), None) => fs::write(dir, "memory.limit_in_bytes", &limit_str(l))?,
        (None, Some(s)) => fs::write(dir, "memory.memsw.limit_in_bytes", &limit_str(s))?,
        (None, None) => {}
    }
    if let Some(r) = m.reservation().filter(|r| *r != 0) {
        fs::write(dir, "memory.soft_limit_in_bytes", &limit_str(r))?;
    }
    if let Some(t) = m.kernel_tcp().filter(|t| *t != 0) {
        if !fs::exists(dir, "memory.kmem.tcp.limit_in_bytes") {
            return Err(CgroupError::Unsupported(
                "linux.resources.memory.kernelTCP: this kernel has no memory.kmem.tcp.limit_in_bytes".into(),
            ));
        }
        fs::write(dir, "memory.kmem.tcp.limit_in_bytes", &limit_str(t))?;
    }
    if let Some(s) = m.swappiness() {
        if s > 100 {
            return Err(CgroupError::Invalid(format!(
                "linux.resources.memory.swappiness {s} is above 100"
            )));
        }
        fs::write(dir, "memory.swappiness", &s.to_string())?;
    }
    if m.disable_oom_killer() == Some(true) {
        fs::write(dir, "memory.oom_control", "1")?;
    }
    if let Some(h) = m.use_hierarchy() {
        fs::write(dir, "memory.use_hierarchy", if h { "1" } else { "0" })?;
    }
    Ok(())
}

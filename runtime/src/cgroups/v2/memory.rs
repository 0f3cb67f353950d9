//! v2 `memory`: memory.max, memory.low, memory.swap.max.
//!
//! `kernel` (kmem) limits are ignored on purpose, as in runc: cgroup v2 has no separate kernel memory limit
//! (kernel memory is charged to memory.max). Knobs v2 lacks (kernelTCP, swappiness, disableOOMKiller,
//! useHierarchy=false) are refused rather than dropped.

use std::path::Path;

use oci_spec::runtime::LinuxMemory;

use super::super::{fs, CgroupError};

fn max_str(v: i64) -> String {
    if v < 0 {
        "max".to_string()
    } else {
        v.to_string()
    }
}

/// Converts the OCI memory+swap limit into memory.swap.max (swap alone), as runc does; 0 means "leave unset".
pub fn swap_to_v2(swap: i64, limit: i64) -> Result<i64, CgroupError> {
    if limit == -1 && swap == 0 {
        return Ok(-1);
    }
    if swap == -1 || swap == 0 {
        return Ok(swap);
    }
    if limit == 0 || limit == -1 {
        return Err(CgroupError::Invalid(
            "linux.resources.memory.swap needs a memory limit on cgroup v2".into(),
        ));
    }
    if limit < 0 || swap < limit {
        return Err(CgroupError::Invalid(format!(
            "linux.resources.memory.swap {swap} must be >= the memory limit {limit} (it counts memory+swap)"
        )));
    }
    Ok(swap - limit)
}

/// Applies `linux.resources.memory`.
pub(crate) fn set(dir: &Path, m: &LinuxMemory) -> Result<(), CgroupError> {
    let unsupported = |what: &str| {
        Err(CgroupError::Unsupported(format!(
            "linux.resources.memory.{what} on cgroup v2"
        )))
    };
    if m.kernel_tcp().is_some_and(|v| v != 0) {
        return unsupported("kernelTCP");
    }
    if m.swappiness().is_some() {
        return unsupported("swappiness");
    }
    if m.disable_oom_killer() == Some(true) {
        return unsupported("disableOOMKiller");
    }
    if m.use_hierarchy() == Some(false) {
        return unsupported("useHierarchy=false (v2 is always hierarchical)");
    }
    let limit = m.limit().unwrap_or(0);
    if let (Some(true), true) = (m.check_before_update(), limit > 0) {
        let usage: i64 = fs::read(dir, "memory.current")?.trim().parse().unwrap_or(0);
        if usage > limit {
            return Err(CgroupError::Invalid(format!(
                "{}: memory limit {limit} is below current usage {usage} (checkBeforeUpdate)",
                dir.display()
            )));
        }
    }
    let swap = swap_to_v2(m.swap().unwrap_or(0), limit)?;
    if swap != 0 {
        if fs::exists(dir, "memory.swap.max") {
            fs::write(dir, "memory.swap.max", &max_str(swap))?;
        } else if swap != -1 {
            return Err(CgroupError::Unsupported(format!(
                "linux.resources.memory.swap: {} is missing (swap accounting is off)",
                dir.join("memory.swap.max").display()
            )));
        }
    }
    if limit != 0 {
        fs::write(dir, "memory.max", &max_str(limit))?;
    }
    if let Some(r) = m.reservation().filter(|r| *r != 0) {
        fs::write(dir, "memory.low", &max_str(r))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_conversion_matches_runc() {
        assert_eq!(swap_to_v2(0, -1).unwrap(), -1);
        assert_eq!(swap_to_v2(-1, 100).unwrap(), -1);
        assert_eq!(swap_to_v2(0, 100).unwrap(), 0);
        assert_eq!(swap_to_v2(300, 100).unwrap(), 200);
        assert_eq!(swap_to_v2(100, 100).unwrap(), 0);
        assert!(swap_to_v2(50, 100).is_err());
        assert!(swap_to_v2(50, 0).is_err());
    }
}

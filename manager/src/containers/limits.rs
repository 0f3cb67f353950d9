//! Checks of resource limits with the Docker daemon's messages, before anything is created.

use super::ContainerError;
use crate::bundle::resources::parse_ulimit;
use crate::metadata::containers::ResourceLimits;

/// Smallest `--memory` / `--memory-reservation` Docker accepts.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// Fails with Docker's message for the first limit it refuses.
pub fn validate(l: &ResourceLimits) -> Result<(), ContainerError> {
    let bad = |m: String| Err(ContainerError::Invalid(m));
    if l.memory != 0 && l.memory < MIN_MEMORY {
        return bad("Minimum memory limit allowed is 6MB".into());
    }
    if l.memory_swap > 0 && l.memory == 0 {
        return bad(
            "You should always set the Memory limit when using Memoryswap limit, see usage".into(),
        );
    }
    if l.memory_swap > 0 && l.memory_swap < l.memory {
        return bad(
            "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
        );
    }
    if l.memory_reservation != 0 && l.memory_reservation < MIN_MEMORY {
        return bad("Minimum memory reservation allowed is 6MB".into());
    }
    if l.memory > 0 && l.memory_reservation > l.memory {
        return bad(
            "Minimum memory limit can not be less than memory reservation limit, see usage".into(),
        );
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
    if l.nano_cpus < 0 || l.nano_cpus > cpus * 1_000_000_000 {
        return bad(format!(
            "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
        ));
    }
    if !l.cpuset_cpus.is_empty()
        && !l
            .cpuset_cpus
            .split(',')
            .all(|p| !p.is_empty() && p.split('-').all(|n| n.parse::<u32>().is_ok()))
    {
        return bad(format!("Invalid value {} for cpuset cpus", l.cpuset_cpus));
    }
    if let Some(adj) = l.oom_score_adj {
        if !(-1000..=1000).contains(&adj) {
            return bad(format!(
                "Invalid value {adj}, range for oom score adj is [-1000, 1000]"
            ));
        }
    }
    if l.shm_size < 0 {
        return bad("SHM size can not be less than 0".into());
    }
    for u in &l.ulimits {
        parse_ulimit(u).map_err(ContainerError::Invalid)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_minimums() {
        let l = ResourceLimits {
            memory: 1024,
            ..Default::default()
        };
        assert!(validate(&l)
            .unwrap_err()
            .to_string()
            .contains("Minimum memory limit allowed is 6MB"));
        let ok = ResourceLimits {
            memory: 64 << 20,
            memory_swap: 64 << 20,
            pids_limit: 10,
            ..Default::default()
        };
        assert!(validate(&ok).is_ok());
        let swap = ResourceLimits {
            memory_swap: 32 << 20,
            ..ok.clone()
        };
        assert!(validate(&swap).is_err());
    }
}

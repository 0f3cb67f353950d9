//! Checks of resource limits with the Docker daemon's messages, before anything is created.

use super::record::ContainerRecord;
use super::{ContainerError, Containers};
use crate::bundle::resources::parse_ulimit;
use crate::limits::ResourceLimits;

/// Checks `--cap-add`/`--cap-drop` names, `--security-opt`, `--tmpfs` and `--device` values with
/// Docker's messages (a device's host node is looked at when the bundle is written).
pub fn validate_security(
    o: &crate::metadata::containers::RunOptions,
) -> Result<(), ContainerError> {
    for c in o.cap_add.iter().chain(&o.cap_drop) {
        crate::bundle::security::normalize_cap(c).map_err(ContainerError::Invalid)?;
    }
    let opts = crate::bundle::security::parse_security_opts(&o.security_opt)
        .map_err(ContainerError::Invalid)?;
    if let Some(crate::bundle::seccomp::Choice::Profile(p)) = &opts.seccomp {
        crate::bundle::seccomp::check(p).map_err(ContainerError::Invalid)?;
    }
    let refused = |e: crate::bundle::BundleError| ContainerError::Invalid(e.to_string());
    for t in &o.tmpfs {
        crate::bundle::tmpfs::parse_tmpfs(t).map_err(refused)?;
    }
    for d in &o.devices {
        crate::bundle::devices::parse_device(d).map_err(refused)?;
    }
    Ok(())
}

impl Containers {
    /// Merges the set fields of `new` into the record's limits, applies them to the live task
    /// and to the bundle's config.json (for later starts). The record is stored by the caller.
    pub(super) async fn update_limits(
        &self,
        rec: &mut ContainerRecord,
        new: &ResourceLimits,
    ) -> Result<(), ContainerError> {
        let mut merged = rec.options.resources.clone();
        if new.memory != 0 {
            merged.memory = new.memory;
        }
        if new.memory_swap != 0 {
            merged.memory_swap = new.memory_swap;
        }
        if new.memory_reservation != 0 {
            merged.memory_reservation = new.memory_reservation;
        }
        if new.nano_cpus != 0 {
            merged.nano_cpus = new.nano_cpus;
        }
        if new.cpu_shares != 0 {
            merged.cpu_shares = new.cpu_shares;
        }
        if !new.cpuset_cpus.is_empty() {
            merged.cpuset_cpus = new.cpuset_cpus.clone();
        }
        if new.pids_limit != 0 {
            merged.pids_limit = new.pids_limit;
        }
        validate(&merged)?;
        // Only what `update` may change reaches the live cgroup: not ulimits, OOM score or shm.
        let bundle_limits = ResourceLimits {
            memory: merged.memory,
            memory_swap: merged.memory_swap,
            memory_reservation: merged.memory_reservation,
            nano_cpus: merged.nano_cpus,
            cpu_shares: merged.cpu_shares,
            cpuset_cpus: merged.cpuset_cpus.clone(),
            pids_limit: merged.pids_limit,
            ..Default::default()
        };
        let mut only = serde_json::json!({"linux": {"resources": {}}});
        crate::bundle::resources::apply(&mut only, &bundle_limits)
            .map_err(|e| ContainerError::Invalid(e.to_string()))?;
        let live = only["linux"]["resources"].clone();
        if self.is_live(&rec.id).await? {
            self.tasks.update(&rec.id, &live).await?;
        }
        let path = rec.bundle_dir.join("config.json");
        let io = |source| ContainerError::Io {
            path: path.clone(),
            source,
        };
        let bytes = std::fs::read(&path).map_err(io)?;
        let mut spec: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ContainerError::Invalid(format!("{}: {e}", path.display())))?;
        crate::bundle::resources::apply(&mut spec, &bundle_limits)
            .map_err(|e| ContainerError::Invalid(e.to_string()))?;
        let out = serde_json::to_vec_pretty(&spec)
            .map_err(|e| ContainerError::Invalid(format!("{}: {e}", path.display())))?;
        crate::atomic_file::replace(&path, &out, 0o644, crate::atomic_file::Durability::Fsync)
            .map_err(io)?;
        rec.options.resources = merged;
        Ok(())
    }
}

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

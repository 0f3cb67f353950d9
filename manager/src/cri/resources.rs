//! CRI's `LinuxContainerResources` as berth's limits, both ways: at CreateContainer, for
//! UpdateContainerResources (berth's `update` path: the live task and the bundle), and in
//! ContainerStatus. An OOM score below what berthd itself may set is raised to that floor.

use k8s_cri::v1 as cri;

use crate::limits::ResourceLimits;

/// The CFS period berth writes for a CPU limit (Docker's; CRI's quota/period pair is kept as
/// their ratio).
const CPU_PERIOD: i64 = 100_000;

/// The limits CRI asks for; zero fields are "not set".
pub fn limits(r: &cri::LinuxContainerResources) -> ResourceLimits {
    let nano_cpus = if r.cpu_quota > 0 && r.cpu_period > 0 {
        (i128::from(r.cpu_quota) * 1_000_000_000 / i128::from(r.cpu_period)) as i64
    } else {
        0
    };
    ResourceLimits {
        memory: r.memory_limit_in_bytes.max(0),
        memory_swap: r.memory_swap_limit_in_bytes,
        nano_cpus,
        cpu_shares: u64::try_from(r.cpu_shares).unwrap_or(0),
        cpuset_cpus: r.cpuset_cpus.clone(),
        oom_score_adj: (r.oom_score_adj != 0).then(|| {
            clamp_oom(
                i32::try_from(r.oom_score_adj.clamp(-1000, 1000)).unwrap_or(0),
                oom_floor(),
            )
        }),
        ..Default::default()
    }
}

/// The lowest OOM score adjustment this process may hand down, when it is bounded: without
/// CAP_SYS_RESOURCE the kernel refuses a value below the process's own (kubelet asks -997 for
/// Guaranteed pods, and the runtime would fail the start).
fn oom_floor() -> Option<i32> {
    const CAP_SYS_RESOURCE: u32 = 24;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())?;
    if caps & (1 << CAP_SYS_RESOURCE) != 0 {
        return None;
    }
    std::fs::read_to_string("/proc/self/oom_score_adj")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// `requested`, raised to `floor` when there is one (containerd's `restrict_oom_score_adj`).
fn clamp_oom(requested: i32, floor: Option<i32>) -> i32 {
    floor.map_or(requested, |f| requested.max(f))
}

/// A container's limits as ContainerStatus reports them.
pub fn to_cri(l: &ResourceLimits) -> cri::LinuxContainerResources {
    let (quota, period) = if l.nano_cpus > 0 {
        (l.nano_cpus * CPU_PERIOD / 1_000_000_000, CPU_PERIOD)
    } else {
        (0, 0)
    };
    cri::LinuxContainerResources {
        cpu_period: period,
        cpu_quota: quota,
        cpu_shares: i64::try_from(l.cpu_shares).unwrap_or(i64::MAX),
        memory_limit_in_bytes: l.memory,
        oom_score_adj: i64::from(l.oom_score_adj.unwrap_or(0)),
        cpuset_cpus: l.cpuset_cpus.clone(),
        memory_swap_limit_in_bytes: l.memory_swap,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_proto::v1 as pb;

    #[test]
    fn quota_and_period_become_a_cpu_count_and_back() {
        let r = cri::LinuxContainerResources {
            cpu_quota: 50_000,
            cpu_period: 100_000,
            cpu_shares: 512,
            memory_limit_in_bytes: 64 << 20,
            oom_score_adj: 100,
            ..Default::default()
        };
        let l = limits(&r);
        assert_eq!(l.nano_cpus, 500_000_000);
        assert_eq!(l.cpu_shares, 512);
        assert_eq!(l.oom_score_adj, Some(100));
        let back = to_cri(&l);
        assert_eq!((back.cpu_quota, back.cpu_period), (50_000, 100_000));
        assert_eq!(back.memory_limit_in_bytes, 64 << 20);
        let none = limits(&cri::LinuxContainerResources {
            cpu_period: 100_000,
            ..Default::default()
        });
        assert_eq!(none, ResourceLimits::default());
        assert!(pb::Resources::from(&l).oom_score_adj_set);
    }

    #[test]
    fn oom_score_adj_kept_above_what_this_process_may_set() {
        assert_eq!(clamp_oom(-997, Some(0)), 0);
        assert_eq!(clamp_oom(1000, Some(0)), 1000);
        assert_eq!(clamp_oom(-997, None), -997);
    }
}

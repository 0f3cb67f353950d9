//! Facts about the daemon host reported by Info.

use std::path::Path;

use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};

/// cgroup layout of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    /// Only cgroup v1 hierarchies.
    V1,
    /// v1 hierarchies plus a cgroup2 mount at /sys/fs/cgroup/unified.
    Hybrid,
    /// A unified cgroup2 hierarchy at /sys/fs/cgroup.
    V2,
}

impl std::fmt::Display for CgroupVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CgroupVersion::V1 => "v1",
            CgroupVersion::Hybrid => "hybrid",
            CgroupVersion::V2 => "v2",
        })
    }
}

fn is_cgroup2(p: &str) -> bool {
    statfs(Path::new(p)).is_ok_and(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC)
}

/// Detects the cgroup layout from the file system types mounted under /sys/fs/cgroup.
pub fn cgroup_version() -> CgroupVersion {
    if is_cgroup2("/sys/fs/cgroup") {
        CgroupVersion::V2
    } else if is_cgroup2("/sys/fs/cgroup/unified") {
        CgroupVersion::Hybrid
    } else {
        CgroupVersion::V1
    }
}

/// Host facts for Info.
#[derive(Debug, Clone)]
pub struct HostFacts {
    /// cgroup layout.
    pub cgroup_version: CgroupVersion,
    /// `uname -r`.
    pub kernel: String,
    /// Logical CPUs.
    pub cpus: u32,
    /// Total RAM in bytes (0 if unknown).
    pub memory_bytes: u64,
}

/// Gathers the host facts.
pub fn facts() -> HostFacts {
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let memory_bytes = nix::sys::sysinfo::sysinfo()
        .map(|s| s.ram_total())
        .unwrap_or(0);
    HostFacts {
        cgroup_version: cgroup_version(),
        kernel,
        cpus: std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1),
        memory_bytes,
    }
}

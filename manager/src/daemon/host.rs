//! Facts about the daemon host reported by Info, and the warnings `berth info` prints about
//! what this host cannot do (Docker's wording where Docker has a warning for it).

use std::path::{Path, PathBuf};

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

/// What the warnings are computed from; the real host is [`Probe::host`], tests use a fake tree.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The cgroup mount root (`/sys/fs/cgroup`).
    pub cgroup_root: PathBuf,
    /// `/proc/sys`.
    pub proc_sys: PathBuf,
    /// The cgroup layout under `cgroup_root`.
    pub cgroup_version: CgroupVersion,
    /// This process's cgroup2 path (`0::/…` in /proc/self/cgroup), where swap files are found.
    pub own_cgroup2: Option<String>,
}

impl Probe {
    /// The running host.
    pub fn host() -> Probe {
        let own_cgroup2 = std::fs::read_to_string("/proc/self/cgroup")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("0::").map(str::to_string))
            });
        Probe {
            cgroup_root: PathBuf::from("/sys/fs/cgroup"),
            proc_sys: PathBuf::from("/proc/sys"),
            cgroup_version: cgroup_version(),
            own_cgroup2,
        }
    }

    /// Docker's `docker info` warnings for missing cgroup controllers and bridge filtering.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut need = |ok: bool, what: &str| {
            if !ok {
                out.push(format!("WARNING: No {what} support"));
            }
        };
        match self.cgroup_version {
            CgroupVersion::V2 => {
                let root = &self.cgroup_root;
                let controllers =
                    std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
                let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
                need(has("memory"), "memory limit");
                // The root cgroup has no memory.swap.max; a child (ours) shows whether swap
                // accounting is compiled in and enabled.
                let own = self
                    .own_cgroup2
                    .as_deref()
                    .map(|p| root.join(p.trim_start_matches('/')))
                    .filter(|d| d != root);
                if let (true, Some(dir)) = (has("memory"), own) {
                    need(dir.join("memory.swap.max").exists(), "swap limit");
                }
                need(has("cpu"), "cpu cfs quota");
                need(has("cpu"), "cpu cfs period");
                need(has("cpu"), "cpu weight");
                need(has("cpuset"), "cpuset");
                need(has("pids"), "pids limit");
            }
            CgroupVersion::V1 | CgroupVersion::Hybrid => {
                let file = |c: &str, f: &str| self.cgroup_root.join(c).join(f).exists();
                need(file("memory", "memory.limit_in_bytes"), "memory limit");
                if file("memory", "memory.limit_in_bytes") {
                    need(file("memory", "memory.memsw.limit_in_bytes"), "swap limit");
                }
                need(file("cpu", "cpu.cfs_quota_us"), "cpu cfs quota");
                need(file("cpu", "cpu.cfs_period_us"), "cpu cfs period");
                need(file("cpu", "cpu.shares"), "cpu shares");
                need(file("cpuset", "cpuset.cpus"), "cpuset");
                need(file("pids", "cgroup.procs"), "pids limit");
            }
        }
        // Docker's check: with the br_netfilter module loaded but these off, published ports
        // between containers on one bridge bypass iptables.
        for (key, name) in [
            (
                "net/bridge/bridge-nf-call-iptables",
                "bridge-nf-call-iptables",
            ),
            (
                "net/bridge/bridge-nf-call-ip6tables",
                "bridge-nf-call-ip6tables",
            ),
        ] {
            if let Ok(v) = std::fs::read_to_string(self.proc_sys.join(key)) {
                if v.trim() == "0" {
                    out.push(format!("WARNING: {name} is disabled"));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(dir: &Path, version: CgroupVersion) -> Probe {
        Probe {
            cgroup_root: dir.join("cg"),
            proc_sys: dir.join("sys"),
            cgroup_version: version,
            own_cgroup2: Some("/berthd".into()),
        }
    }

    fn touch(p: PathBuf) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "").unwrap();
    }

    /// The v1 files a complete host has, without `leave_out`.
    fn v1_tree(cg: &Path, leave_out: &str) {
        for f in [
            "memory/memory.limit_in_bytes",
            "memory/memory.memsw.limit_in_bytes",
            "cpu/cpu.cfs_quota_us",
            "cpu/cpu.cfs_period_us",
            "cpu/cpu.shares",
            "cpuset/cpuset.cpus",
            "pids/cgroup.procs",
        ] {
            if f != leave_out {
                touch(cg.join(f));
            }
        }
    }

    #[test]
    fn v1_host_without_swap_accounting_and_bridge_filtering() {
        let t = tempfile::tempdir().unwrap();
        v1_tree(&t.path().join("cg"), "memory/memory.memsw.limit_in_bytes");
        let nf = t.path().join("sys/net/bridge/bridge-nf-call-iptables");
        touch(nf.clone());
        std::fs::write(nf, "0\n").unwrap();
        let w = probe(t.path(), CgroupVersion::Hybrid).warnings();
        assert_eq!(
            w,
            [
                "WARNING: No swap limit support",
                "WARNING: bridge-nf-call-iptables is disabled"
            ]
        );
    }

    #[test]
    fn v2_host_missing_controllers() {
        let t = tempfile::tempdir().unwrap();
        let cg = t.path().join("cg");
        std::fs::create_dir_all(cg.join("berthd")).unwrap();
        std::fs::write(cg.join("cgroup.controllers"), "cpu io memory\n").unwrap();
        touch(cg.join("berthd/memory.swap.max"));
        let w = probe(t.path(), CgroupVersion::V2).warnings();
        assert_eq!(
            w,
            [
                "WARNING: No cpuset support",
                "WARNING: No pids limit support"
            ]
        );
    }

    #[test]
    fn complete_v1_host_has_no_warnings() {
        let t = tempfile::tempdir().unwrap();
        v1_tree(&t.path().join("cg"), "");
        assert!(probe(t.path(), CgroupVersion::V1).warnings().is_empty());
    }
}

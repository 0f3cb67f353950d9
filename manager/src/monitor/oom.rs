//! Noticing OOM kills in the container's memory cgroup (v1 `memory.oom_control`, v2 `memory.events`).

use std::fs;
use std::path::PathBuf;

/// The container's OOM-kill counter and its value when the container was created.
pub struct OomWatch {
    file: PathBuf,
    baseline: u64,
}

impl OomWatch {
    /// Finds the memory cgroup of `pid`; `None` when there is none we can read.
    pub fn for_pid(pid: i32) -> Option<Self> {
        let cgroups = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        let unified = fs::metadata("/sys/fs/cgroup/cgroup.controllers").is_ok();
        let file = cgroups.lines().find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            let path = path.trim_start_matches('/');
            if unified && controllers.is_empty() {
                Some(
                    PathBuf::from("/sys/fs/cgroup")
                        .join(path)
                        .join("memory.events"),
                )
            } else if controllers.split(',').any(|c| c == "memory") {
                Some(
                    PathBuf::from("/sys/fs/cgroup/memory")
                        .join(path)
                        .join("memory.oom_control"),
                )
            } else {
                None
            }
        })?;
        let baseline = read_oom_kills(&file)?;
        Some(OomWatch { file, baseline })
    }

    /// Whether an OOM kill happened since creation (false when the cgroup is gone).
    pub fn oom_killed(&self) -> bool {
        read_oom_kills(&self.file).is_some_and(|n| n > self.baseline)
    }
}

fn read_oom_kills(file: &PathBuf) -> Option<u64> {
    let text = fs::read_to_string(file).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
}

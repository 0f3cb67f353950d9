//! The resource limits a container asks for (`--memory`, `--cpus`, `--pids-limit`, `--ulimit`,
//! …): one plain record, which the store keeps as it is and `bundle` writes into the spec.

use serde::{Deserialize, Serialize};

/// The limits asked for; zero / empty / `None` means "not set".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceLimits {
    /// `--memory` in bytes.
    pub memory: i64,
    /// `--memory-swap` in bytes (memory + swap; -1 unlimited; 0: twice `memory`, as Docker).
    pub memory_swap: i64,
    /// `--memory-reservation` in bytes.
    pub memory_reservation: i64,
    /// `--cpus` in billionths of a CPU.
    pub nano_cpus: i64,
    /// `--cpu-shares`.
    pub cpu_shares: u64,
    /// `--cpuset-cpus`.
    pub cpuset_cpus: String,
    /// `--pids-limit` (0: not set; -1: unlimited).
    pub pids_limit: i64,
    /// `--ulimit name=soft[:hard]`.
    pub ulimits: Vec<String>,
    /// `--oom-score-adj`.
    pub oom_score_adj: Option<i32>,
    /// `--shm-size` in bytes.
    pub shm_size: i64,
}

//! Where the task manager keeps its state and which binaries it runs.

use super::error::TaskError;
use crate::oci_runtime::resolve_binary;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Configuration of a [`super::TaskManager`].
#[derive(Debug, Clone)]
pub struct TaskManagerConfig {
    /// One subdirectory per task (`<state>/tasks`).
    pub tasks_dir: PathBuf,
    /// The runtime binary (resolved path).
    pub runtime: PathBuf,
    /// `--root` of the runtime (`<state>/runtime/<runtime name>`).
    pub runtime_root: PathBuf,
    /// The `berth-monitor` binary (resolved path).
    pub monitor: PathBuf,
    /// Limit for `runtime create` (the monitor kills the runtime after it).
    pub create_timeout: Duration,
    /// Limit for every other runtime call.
    pub runtime_timeout: Duration,
    /// How long an exec monitor waits for berthd's attach connection before it gives up on the
    /// exec (never running its process); `$BERTH_EXEC_ATTACH_TIMEOUT` seconds when set.
    pub exec_attach_timeout: Duration,
}

impl TaskManagerConfig {
    /// The standard layout under `state_root`, with `runtime` (a name looked up next to the
    /// current executable then on PATH, or a path) and `berth-monitor` found the same way.
    pub fn new(state_root: &Path, runtime: &str) -> Result<Self, TaskError> {
        let runtime = resolve_binary(runtime)?;
        let monitor = match std::env::var_os("BERTH_MONITOR") {
            Some(p) => PathBuf::from(p),
            None => resolve_binary("berth-monitor")?,
        };
        Ok(Self::with_binaries(state_root, runtime, monitor))
    }

    /// The standard layout under `state_root` with explicit binaries.
    pub fn with_binaries(state_root: &Path, runtime: PathBuf, monitor: PathBuf) -> Self {
        let name = runtime
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "runtime".into());
        TaskManagerConfig {
            tasks_dir: state_root.join("tasks"),
            runtime_root: state_root.join("runtime").join(name),
            runtime,
            monitor,
            create_timeout: Duration::from_secs(60),
            runtime_timeout: Duration::from_secs(30),
            exec_attach_timeout: Duration::from_secs(
                std::env::var("BERTH_EXEC_ATTACH_TIMEOUT")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(crate::monitor::args::DEFAULT_ATTACH_TIMEOUT_SECS),
            ),
        }
    }
}

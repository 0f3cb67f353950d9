//! Names of the files in a task's state directory, shared by the monitor and the task manager.

/// Pid of the monitor process (decimal, newline-terminated).
pub const MONITOR_PID: &str = "monitor.pid";
/// Pid of the container init, written by the runtime's `--pid-file`.
pub const INIT_PID: &str = "init.pid";
/// Unix socket on which the monitor serves attach clients.
pub const ATTACH_SOCKET: &str = "attach.sock";
/// Unix socket on which the monitor receives the pty master from the runtime (`-t` only).
pub const CONSOLE_SOCKET: &str = "console.sock";
/// The container's stdout/stderr, one CRI-format entry per line (see docs/monitor.md).
pub const CONTAINER_LOG: &str = "container.log";
/// JSON log the runtime writes through `--log … --log-format json`.
pub const RUNTIME_LOG: &str = "runtime.log";
/// The monitor's own diagnostics after it has detached from berthd.
pub const MONITOR_LOG: &str = "monitor.log";
/// Exit record written atomically by the monitor before it exits.
pub const EXIT_FILE: &str = "exit.json";
/// Task metadata written by the task manager (bundle, stdio options, runtime).
pub const TASK_FILE: &str = "task.json";

//! Public types of the task manager API.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::SystemTime;

/// How the container's stdio is set up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StdioOptions {
    /// Give the container a terminal (pty); stdout and stderr are merged into it.
    pub tty: bool,
    /// Keep stdin open so attach clients can write to it (`-i`); otherwise stdin is /dev/null.
    pub stdin: bool,
}

/// An exec'd process that still runs, as a restarted berthd finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveExec {
    /// Its exec id.
    pub exec_id: String,
    /// The command line berthd asked the runtime to exec.
    pub args: Vec<String>,
    /// Its pid in berthd's namespace (the runtime's `--pid-file`; 0 if that cannot be read).
    pub pid: u32,
}

/// How a task's process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitStatus {
    /// Exit code: the process's own code, or 128 + signal number when a signal ended it.
    /// `None` when the exit status cannot be known (the monitor died without recording it).
    pub code: Option<i32>,
    /// The signal that ended the process, if one did.
    pub signal: Option<i32>,
    /// When the monitor reaped the process (`None` when unknown).
    pub exited_at: Option<SystemTime>,
    /// Whether the container's memory cgroup recorded an OOM kill.
    pub oom: bool,
}

impl ExitStatus {
    /// The status of a task whose exit could not be observed.
    pub fn unknown() -> Self {
        ExitStatus {
            code: None,
            signal: None,
            exited_at: None,
            oom: false,
        }
    }
}

/// Lifecycle state of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// Created; the user process has not been started.
    Created,
    /// Running.
    Running,
    /// Frozen by `pause`.
    Paused,
    /// The process has exited.
    Stopped,
    /// Neither the monitor nor the runtime can tell (e.g. the monitor was killed).
    Unknown,
}

impl TaskStatus {
    /// Lower-case name (`created`, `running`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Created => "created",
            TaskStatus::Running => "running",
            TaskStatus::Paused => "paused",
            TaskStatus::Stopped => "stopped",
            TaskStatus::Unknown => "unknown",
        }
    }
}

/// What the task manager knows about one task (persisted as `task.json` in its state dir).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInfo {
    /// Container id.
    pub id: String,
    /// OCI bundle directory.
    pub bundle: PathBuf,
    /// Pid of the container init.
    pub pid: u32,
    /// Pid of the monitor process (an adopting monitor's after the first one died).
    pub monitor_pid: u32,
    /// Start time of the init (`/proc/<pid>/stat` field 22), which tells it from a later
    /// process with the same pid; `None` in records of older versions.
    #[serde(default)]
    pub init_start_time: Option<u64>,
    /// Stdio options it was created with.
    pub stdio: StdioOptions,
    /// The task's state directory (log, exit record, attach socket).
    pub state_dir: PathBuf,
    /// Size at which its monitor rotates `container.log` (0: never); kept so that readers
    /// after a berthd restart know the log may be rotated.
    #[serde(default)]
    pub log_max_size: u64,
    /// Log files kept when rotating, the live one included.
    #[serde(default)]
    pub log_max_file: u32,
}

/// An exit event, broadcast to subscribers of [`super::TaskManager::subscribe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskExit {
    /// Container id.
    pub id: String,
    /// Pid of the init that exited.
    pub pid: u32,
    /// How it ended.
    pub status: ExitStatus,
}

/// Options of [`super::TaskManager::logs`].
#[derive(Debug, Clone, Copy, Default)]
pub struct LogOptions {
    /// Keep reading new output until the task has exited.
    pub follow: bool,
    /// Only the last N lines already in the log (then new ones if following).
    pub tail: Option<usize>,
    /// Fill in [`LogLine::time`].
    pub timestamps: bool,
}

/// Which stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    /// stdout (or the terminal).
    Stdout,
    /// stderr.
    Stderr,
}

/// One entry of a container log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// RFC 3339 time with nanoseconds when the monitor read the output (if requested).
    pub time: Option<String>,
    /// Source stream.
    pub stream: LogStream,
    /// `true` when the text was not followed by a newline (a long line cut, or the last bytes).
    pub partial: bool,
    /// The text, without the newline.
    pub text: Vec<u8>,
}

impl LogLine {
    /// The original output bytes: the text plus a newline unless partial.
    pub fn bytes(&self) -> Vec<u8> {
        let mut b = self.text.clone();
        if !self.partial {
            b.push(b'\n');
        }
        b
    }
}

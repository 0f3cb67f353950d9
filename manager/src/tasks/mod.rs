//! The task manager: the daemon's API over monitors and the runtime.
//!
//! One task per container. [`TaskManager::create`] starts a `berth-monitor` that runs
//! `<runtime> create`; the rest talks to the runtime directly (start, kill, pause, …), to the
//! monitor's attach socket, or to files the monitor keeps in the task's state directory
//! (log, exit record). Exits are learned from a pidfd on the monitor, then read from its exit
//! record, so they survive a restart of the daemon: see [`TaskManager::recover`].

mod attach;
mod config;
mod error;
mod exec;
mod exit;
mod logs;
mod manager;
mod orphan;
mod recover;
mod spawn;
mod types;

pub use attach::{Attach, AttachEvent, AttachInput, AttachOutput};
pub use config::TaskManagerConfig;
pub use error::TaskError;
pub use exec::{ExecHandle, ExecStdio, EXEC_DIR};
pub use exit::parse_exit_record;
pub use manager::TaskManager;
pub use orphan::become_subreaper;
pub use recover::RecoveredTask;
pub use types::{
    ExitStatus, LiveExec, LogLine, LogOptions, LogStream, StdioOptions, TaskExit, TaskInfo,
    TaskStatus,
};

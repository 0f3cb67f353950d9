//! Driving a runc-compatible runtime binary (`berth-runc`, runc, crun) through its CLI.
//!
//! Every call passes the runtime its own `--root` and `--log <file> --log-format json`; on
//! failure the error is the last `error` line the runtime logged during that call (falling back
//! to its stderr). A call that hangs is killed after the configured timeout — only the process
//! this module started.

mod command;
mod error;
pub mod log;
mod resolve;
mod state;

pub use error::RuntimeError;
pub use resolve::resolve_binary;
pub use state::{RuntimeState, RuntimeStatus};

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The default runtime binary name.
pub const DEFAULT_RUNTIME: &str = "berth-runc";

/// Which runtime to run and where it keeps its state.
#[derive(Debug, Clone)]
pub struct Runtime {
    binary: PathBuf,
    root: PathBuf,
    log: PathBuf,
    timeout: Duration,
}

impl Runtime {
    /// A runtime `binary` keeping its state under `root`, logging JSON to `log`, with each call
    /// limited to `timeout`.
    pub fn new(binary: PathBuf, root: PathBuf, log: PathBuf, timeout: Duration) -> Self {
        Runtime {
            binary,
            root,
            log,
            timeout,
        }
    }

    /// The same runtime logging to another file (one log per container).
    pub fn with_log(&self, log: PathBuf) -> Self {
        Runtime {
            log,
            ..self.clone()
        }
    }

    /// The runtime binary.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The runtime's `--root`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `start ID`: runs the created container's process.
    pub async fn start(&self, id: &str) -> Result<(), RuntimeError> {
        self.run("start", id, &["start", id]).await.map(drop)
    }

    /// `kill [--all] ID SIGNAL`.
    pub async fn kill(&self, id: &str, signal: i32, all: bool) -> Result<(), RuntimeError> {
        let sig = signal.to_string();
        let mut args = vec!["kill"];
        if all {
            args.push("--all");
        }
        args.extend([id, sig.as_str()]);
        self.run("kill", id, &args).await.map(drop)
    }

    /// `delete [--force] ID`.
    pub async fn delete(&self, id: &str, force: bool) -> Result<(), RuntimeError> {
        let mut args = vec!["delete"];
        if force {
            args.push("--force");
        }
        args.push(id);
        self.run("delete", id, &args).await.map(drop)
    }

    /// `update --resources FILE ID`: new cgroup limits for a live container.
    pub async fn update(&self, id: &str, resources: &Path) -> Result<(), RuntimeError> {
        let file = resources.to_string_lossy();
        self.run("update", id, &["update", "--resources", &file, id])
            .await
            .map(drop)
    }

    /// `pause ID` (freezes every process of the container).
    pub async fn pause(&self, id: &str) -> Result<(), RuntimeError> {
        self.run("pause", id, &["pause", id]).await.map(drop)
    }

    /// `resume ID`.
    pub async fn resume(&self, id: &str) -> Result<(), RuntimeError> {
        self.run("resume", id, &["resume", id]).await.map(drop)
    }

    /// `state ID`, parsed.
    pub async fn state(&self, id: &str) -> Result<RuntimeState, RuntimeError> {
        let out = self.run("state", id, &["state", id]).await?;
        serde_json::from_slice(&out).map_err(|e| RuntimeError::BadState {
            id: id.to_string(),
            message: e.to_string(),
        })
    }

    async fn run(
        &self,
        op: &'static str,
        id: &str,
        args: &[&str],
    ) -> Result<Vec<u8>, RuntimeError> {
        command::run(self, op, id, args).await
    }
}

//! Start and stop a private berthd for a test, and run `berth` against it.
//!
//! ```no_run
//! let d = berth_integration::daemon::Daemon::start().unwrap();
//! let out = d.berth(&["version"]);
//! assert!(out.status.success());
//! // Dropping `d` sends SIGTERM to (only) the berthd it started, waits, and removes its directories.
//! ```
//!
//! Binaries come from `$BERTH_BIN_DIR`, else `<workspace>/target/debug`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Path of one berth binary (`berthd`, `berth`, `berth-runc`, ...); see [`crate::bin_path`].
pub fn bin(name: &str) -> PathBuf {
    crate::bin_path(name)
}

/// How long to wait for berthd to come up or go down before giving up (a readiness bound, not a
/// timing assertion).
const WAIT: Duration = Duration::from_secs(30);

/// Paths a test daemon uses; all inside one temp directory.
#[derive(Debug, Clone)]
pub struct DaemonDirs {
    /// `--root`.
    pub root: PathBuf,
    /// `--state`.
    pub state: PathBuf,
    /// `--address`.
    pub address: PathBuf,
    /// Config file passed with `--config`.
    pub config: PathBuf,
}

impl DaemonDirs {
    /// berthd's flags for these paths (debug logging, so that a failing test shows why).
    pub fn berthd_args(&self) -> Vec<std::ffi::OsString> {
        let mut a: Vec<std::ffi::OsString> = Vec::new();
        for (flag, path) in [
            ("--config", &self.config),
            ("--root", &self.root),
            ("--state", &self.state),
            ("--address", &self.address),
        ] {
            a.push(flag.into());
            a.push(path.into());
        }
        a.extend(["--log-level".into(), "debug".into()]);
        a
    }

    /// Paths under `base`.
    pub fn under(base: &Path) -> Self {
        DaemonDirs {
            root: base.join("root"),
            state: base.join("state"),
            address: base.join("state").join("berthd.sock"),
            config: base.join("config.toml"),
        }
    }
}

/// A berthd started by this test; stopped (SIGTERM, then SIGKILL) on drop.
#[derive(Debug)]
pub struct Daemon {
    child: Option<Child>,
    /// Its paths.
    pub dirs: DaemonDirs,
    /// Where its stderr goes.
    pub log: PathBuf,
    // Keeps the directory alive; removed last on drop.
    tmp: Option<tempfile::TempDir>,
}

impl Daemon {
    /// Starts berthd with a fresh root, state and socket and an empty config, and waits until it serves.
    pub fn start() -> std::io::Result<Daemon> {
        Self::start_with_config("")
    }

    /// Like [`Daemon::start`] with `config_toml` as the config file (root/state/address come from
    /// flags and override it).
    pub fn start_with_config(config_toml: &str) -> std::io::Result<Daemon> {
        // berthd mounts snapshots and runs containers.
        crate::require_root();
        let tmp = tempfile::Builder::new().prefix("berth-it-").tempdir()?;
        let dirs = DaemonDirs::under(tmp.path());
        std::fs::write(&dirs.config, config_toml)?;
        let mut d = Self::spawn(&dirs, tmp.path().join("berthd.log"))?;
        d.tmp = Some(tmp);
        d.wait_ready()?;
        Ok(d)
    }

    /// Spawns berthd on `dirs` without waiting; the caller owns the directories.
    pub fn spawn(dirs: &DaemonDirs, log: PathBuf) -> std::io::Result<Daemon> {
        let log_file = std::fs::File::create(&log)?;
        let child = Command::new(bin("berthd"))
            .args(dirs.berthd_args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()?;
        Ok(Daemon {
            child: Some(child),
            dirs: dirs.clone(),
            log,
            tmp: None,
        })
    }

    /// Like [`Daemon::start_with_config`], but berthd gets its socket as systemd's socket
    /// activation passes it (`systemd-socket-activate -l ADDRESS`, the way berthd.socket does):
    /// the socket exists before berthd, which is started on the first connection.
    pub fn start_socket_activated(config_toml: &str) -> std::io::Result<Daemon> {
        crate::require_root();
        let tmp = tempfile::Builder::new().prefix("berth-it-").tempdir()?;
        let dirs = DaemonDirs::under(tmp.path());
        std::fs::write(&dirs.config, config_toml)?;
        std::fs::create_dir_all(&dirs.state)?;
        let log = tmp.path().join("berthd.log");
        let log_file = std::fs::File::create(&log)?;
        // systemd-socket-activate execs berthd in its own process: the pid stays the child's.
        let child = Command::new("systemd-socket-activate")
            .arg("-l")
            .arg(&dirs.address)
            .arg(bin("berthd"))
            .args(dirs.berthd_args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()?;
        let mut d = Daemon {
            child: Some(child),
            dirs,
            log,
            tmp: Some(tmp),
        };
        d.wait_ready()?;
        Ok(d)
    }

    /// Pid of the berthd process.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Waits until `berth version` succeeds, or fails with berthd's log if it exited or never served.
    pub fn wait_ready(&mut self) -> std::io::Result<()> {
        let start = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    self.child = None;
                    return Err(std::io::Error::other(format!(
                        "berthd exited with {status} before serving; log:\n{}",
                        self.log_text()
                    )));
                }
            }
            if self.dirs.address.exists() && self.berth(&["version"]).status.success() {
                return Ok(());
            }
            if start.elapsed() > WAIT {
                return Err(std::io::Error::other(format!(
                    "berthd did not serve on {} within {WAIT:?}; log:\n{}",
                    self.dirs.address.display(),
                    self.log_text()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// berthd's stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A `berth` command aimed at this daemon (not yet run).
    pub fn berth_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin("berth"));
        c.env("BERTH_ADDRESS", &self.dirs.address).args(args);
        if let Some(t) = &self.tmp {
            // Keep login credentials away from the real user's files.
            c.env("XDG_CONFIG_HOME", t.path().join("xdg"))
                .env("DOCKER_CONFIG", t.path().join("docker"));
        }
        c
    }

    /// Runs `berth ARGS` against this daemon and returns its output.
    pub fn berth(&self, args: &[&str]) -> Output {
        self.berth_command(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin("berth").display()))
    }

    /// Sends SIGTERM and waits for berthd to exit; returns its exit status.
    pub fn stop(&mut self) -> std::io::Result<std::process::ExitStatus> {
        let Some(mut child) = self.child.take() else {
            return Err(std::io::Error::other("berthd is not running"));
        };
        let pid = Pid::from_raw(child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if start.elapsed() > WAIT {
                let _ = child.kill();
                return child.wait();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.stop();
        }
        if std::thread::panicking() {
            eprintln!("berthd log ({}):\n{}", self.log.display(), self.log_text());
        }
    }
}

//! The state directory `<root>/<id>/`: `state.json` (what `create` recorded) and `exec.fifo` (present
//! until `start`). The status is derived from the processes, except that `create` records
//! "creating" before it makes anything: see [`State::status`].

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use nix::sys::signal::kill;
use nix::unistd::Pid;
use oci_spec::runtime::Hooks;
use serde::{Deserialize, Serialize};

use crate::cgroups::{Cgroup, FreezerState};
use crate::error::Context;
use crate::{Error, Result};

/// File name of the persisted state inside the container's state directory.
pub const STATE_FILE: &str = "state.json";
/// File name of the exec fifo inside the container's state directory.
pub const EXEC_FIFO: &str = "exec.fifo";

/// The runtime-spec container status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `create` is still setting the container up.
    Creating,
    /// Set up; the init waits on the exec fifo for `start`.
    Created,
    /// The user program runs.
    Running,
    /// The container's cgroup is frozen (`pause`).
    Paused,
    /// The init has exited.
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// How far `create` got, as recorded in `state.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Written before the first cgroup, process or mount is made: if `create` dies (even by
    /// SIGKILL) from here on, `delete --force` finds the record and undoes what was made.
    Creating,
    /// The init is set up and waits on the exec fifo (state files without the field are this).
    #[default]
    Created,
}

/// What `create` records about a container; kept in `state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// Container id.
    pub id: String,
    /// Host pid of the container's init.
    pub init_pid: i32,
    /// The init's start time (clock ticks since boot, /proc/<pid>/stat field 22), to detect pid reuse.
    pub init_start_time: u64,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339 with nanoseconds.
    pub created: String,
    /// Annotations from config.json.
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// Hooks from config.json, for poststart (at `start`) and poststop (at `delete`).
    #[serde(default)]
    pub hooks: Option<Hooks>,
    /// The container's cgroup (always set by `create`; `None` only in unit tests).
    pub cgroup: Option<Cgroup>,
    /// How far `create` got.
    #[serde(default, rename = "status")]
    pub phase: Phase,
    /// The resources the cgroup holds: `linux.resources` at create, with every `update` merged in.
    #[serde(default)]
    pub resources: Option<oci_spec::runtime::LinuxResources>,
}

/// The state JSON of the runtime spec, as `runc state` prints it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OciState {
    /// Spec version.
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// Init pid, 0 once stopped.
    pub pid: i32,
    /// Current status.
    pub status: Status,
    /// Bundle path.
    pub bundle: PathBuf,
    /// Rootfs path.
    pub rootfs: PathBuf,
    /// Creation time.
    pub created: String,
    /// Owner (runc leaves it empty in `state`, fills the user name in `list`).
    pub owner: String,
    /// Annotations, omitted when empty.
    #[serde(skip_serializing_if = "HashMap::is_empty", default)]
    pub annotations: HashMap<String, String>,
}

/// The state passed to hooks on stdin (runtime-spec "state" with the hook-time status).
#[derive(Debug, Clone, Serialize)]
pub struct HookState<'a> {
    /// Spec version.
    #[serde(rename = "ociVersion")]
    pub oci_version: &'a str,
    /// Container id.
    pub id: &'a str,
    /// Status at hook time.
    pub status: Status,
    /// Init pid (host namespace).
    pub pid: i32,
    /// Bundle path.
    pub bundle: &'a Path,
    /// Annotations.
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: &'a HashMap<String, String>,
}

/// Mode of the state root: it holds every container's state, exec FIFO and bundle path.
pub const ROOT_MODE: u32 = 0o700;

/// Creates the state root (missing parents too) with [`ROOT_MODE`], or closes an existing one
/// that other users can reach (an older version or another tool may have made it wider).
pub fn secure_root(root: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    fs::DirBuilder::new()
        .recursive(true)
        .mode(ROOT_MODE)
        .create(root)
        .ctx(|| format!("create state root {}", root.display()))?;
    let mode = fs::metadata(root)
        .ctx(|| format!("stat state root {}", root.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        fs::set_permissions(root, fs::Permissions::from_mode(ROOT_MODE))
            .ctx(|| format!("chmod state root {}", root.display()))?;
    }
    Ok(())
}

/// The state directory of container `id` under `root`.
pub fn container_dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

impl State {
    /// Loads `<root>/<id>/state.json`; a missing directory is [`Error::NotExist`].
    pub fn load(root: &Path, id: &str) -> Result<State> {
        crate::id::validate(id)?;
        let path = container_dir(root, id).join(STATE_FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotExist(id.to_string()))
            }
            Err(e) => {
                return Err(Error::Io {
                    context: format!("read {}", path.display()),
                    source: e,
                })
            }
        };
        serde_json::from_slice(&bytes).map_err(|e| Error::Config {
            path,
            msg: format!("corrupt state file: {e}"),
        })
    }

    /// Writes state.json atomically (temp file + rename) so readers never see a partial file.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let bytes = serde_json::to_vec(self)
            .map_err(|e| Error::InvalidArgument(format!("serialise state of {}: {e}", self.id)))?;
        write_atomic(&dir.join(STATE_FILE), &bytes, 0o600)
    }

    /// The container's status, derived from the init process, the cgroup freezer and the exec fifo.
    pub fn status(&self, dir: &Path) -> Status {
        // A create that is still running, or died before the init was ready, stays "creating"
        // until `delete --force` removes what it made.
        if self.phase == Phase::Creating {
            return Status::Creating;
        }
        if !self.init_alive() {
            return Status::Stopped;
        }
        if self.frozen() {
            return Status::Paused;
        }
        if dir.join(EXEC_FIFO).exists() {
            Status::Created
        } else {
            Status::Running
        }
    }

    /// True when the container's cgroup is frozen (a cgroup without a freezer is never paused).
    pub fn frozen(&self) -> bool {
        self.cgroup
            .as_ref()
            .is_some_and(|cg| matches!(cg.state(), Ok(FreezerState::Frozen)))
    }

    /// True when the recorded init still exists (same pid and start time) and is not a zombie.
    pub fn init_alive(&self) -> bool {
        if self.init_pid <= 0 {
            return false;
        }
        match proc_stat(self.init_pid) {
            Some((state, start)) => start == self.init_start_time && state != 'Z' && state != 'X',
            None => false,
        }
    }

    /// Sends `sig` to the init if it is still the recorded process.
    pub fn signal_init(&self, sig: nix::sys::signal::Signal) -> Result<()> {
        if !self.init_alive() {
            return Err(Error::WrongState("container not running".into()));
        }
        kill(Pid::from_raw(self.init_pid), sig).ctx(|| format!("kill({}, {sig})", self.init_pid))
    }

    /// The runtime-spec state with the given status (pid is 0 once stopped, as in runc).
    pub fn oci_state(&self, status: Status) -> OciState {
        OciState {
            oci_version: crate::OCI_VERSION.to_string(),
            id: self.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.init_pid
            },
            status,
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            owner: String::new(),
            annotations: self.annotations.clone(),
        }
    }

    /// The state given to hooks on stdin.
    pub fn hook_state(&self, status: Status) -> String {
        let s = HookState {
            oci_version: crate::OCI_VERSION,
            id: &self.id,
            status,
            pid: self.init_pid,
            bundle: &self.bundle,
            annotations: &self.annotations,
        };
        serde_json::to_string(&s).unwrap_or_default()
    }
}

/// Reads the state letter and start time (field 22) of `/proc/<pid>/stat`.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Parses the state letter and start time out of a `/proc/<pid>/stat` line (comm may hold spaces and parens).
pub fn parse_stat(text: &str) -> Option<(char, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // After the state letter come fields 4..; start time is field 22, i.e. 19 further on.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Writes `bytes` to `path` via a temp file in the same directory and rename.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let res = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.ctx(|| format!("write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_comm() {
        let line =
            "1234 (a b) c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 100";
        assert_eq!(parse_stat(line), Some(('S', 987654)));
    }

    #[test]
    fn state_without_phase_is_created_and_creating_round_trips() {
        let old = r#"{"id":"x","init_pid":1,"init_start_time":1,"bundle":"/b","rootfs":"/r","created":"t","cgroup":null}"#;
        let st: State = serde_json::from_str(old).unwrap();
        assert_eq!(st.phase, Phase::Created);
        let mut st = st;
        st.phase = Phase::Creating;
        let v = serde_json::to_value(&st).unwrap();
        assert_eq!(v["status"], "creating");
        assert_eq!(st.status(Path::new("/nonexistent")), Status::Creating);
    }

    #[test]
    fn own_process_is_readable() {
        let (state, start) = proc_stat(std::process::id() as i32).unwrap();
        assert!(state == 'R' || state == 'S');
        assert!(start > 0);
    }

    #[test]
    fn oci_state_omits_empty_annotations_and_zeroes_pid_when_stopped() {
        let st = State {
            id: "x".into(),
            init_pid: 42,
            init_start_time: 1,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "t".into(),
            annotations: HashMap::new(),
            hooks: None,
            cgroup: None,
            phase: Phase::Created,
            resources: None,
        };
        let v = serde_json::to_value(st.oci_state(Status::Stopped)).unwrap();
        assert_eq!(v["pid"], 0);
        assert_eq!(v["status"], "stopped");
        assert!(v.get("annotations").is_none());
        assert_eq!(
            serde_json::to_value(st.oci_state(Status::Running)).unwrap()["pid"],
            42
        );
    }
}

//! Control groups: placing the container in `linux.cgroupsPath` on cgroup v1, hybrid and v2 (unified) hosts.
//!
//! INTERFACE CONTRACT: the lifecycle code calls only the items in this file. How paths are resolved, which
//! resources map to which files, and what is refused is in docs/cgroups.md.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

pub use oom::OomWatch;
pub use stats::Stats;

pub mod device_rules;
mod fs;
pub mod mountinfo;
pub mod oom;
pub mod resolve;
pub mod stats;
pub mod v1;
pub mod v2;

/// Where the host mounts its cgroup file systems.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// How long `freeze` waits for every task to stop before giving up.
const FREEZE_TRIES: u32 = 200;
const FREEZE_WAIT: Duration = Duration::from_millis(5);

/// Errors from cgroup operations; each names the cgroup file or directory involved.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A cgroup file or directory operation failed.
    #[error("cgroup {path}: {source}")]
    Io {
        /// The file or directory that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The config asks for something this runtime does not implement on this host.
    #[error("cgroup: {0} is not supported")]
    Unsupported(String),
    /// The config's cgroup settings are invalid.
    #[error("cgroup: invalid configuration: {0}")]
    Invalid(String),
    /// Refused with runc's own words (callers match on them), printed as is.
    #[error("{0}")]
    Refused(String),
}

/// runc's error for `linux.resources.unified` where cgroup v1 controls the resources.
pub const ERR_V1_NO_UNIFIED: &str = "invalid configuration: cannot use unified on cgroup v1";

/// How the host mounts cgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Only v1 hierarchies (tmpfs at /sys/fs/cgroup, no cgroup2 mount).
    Legacy,
    /// v1 hierarchies plus a cgroup2 mount at /sys/fs/cgroup/unified (systemd's "hybrid" layout).
    Hybrid,
    /// cgroup2 only, mounted at /sys/fs/cgroup.
    Unified,
}

/// One v1 hierarchy and the container's directory in it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct V1Hierarchy {
    /// The hierarchy's controllers, e.g. `["cpu", "cpuacct"]` or `["name=systemd"]`.
    pub controllers: Vec<String>,
    /// The hierarchy's mount point.
    pub mount: PathBuf,
    /// The container's cgroup directory in it.
    pub dir: PathBuf,
}

/// The freezer state of a cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreezerState {
    /// Tasks run.
    Thawed,
    /// Freezing was asked for and not every task has stopped yet.
    Freezing,
    /// Every task is stopped.
    Frozen,
}

/// A container's cgroup, on whichever cgroup version the host runs.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Cgroup {
    /// The cleaned requested path: absolute (below each hierarchy root) or relative (below the runtime's own cgroup).
    pub path: PathBuf,
    /// The host's cgroup layout when the cgroup was resolved.
    pub mode: Mode,
    /// The container's directory in each v1 hierarchy (empty on a unified host).
    #[serde(default)]
    pub v1: Vec<V1Hierarchy>,
    /// The cgroup2 mount point (`/sys/fs/cgroup` or, on hybrid hosts, `/sys/fs/cgroup/unified`).
    #[serde(default)]
    pub unified_mount: Option<PathBuf>,
    /// The container's cgroup2 directory (also joined on hybrid hosts, as runc does).
    #[serde(default)]
    pub unified: Option<PathBuf>,
}

/// Detects the host's cgroup layout from the file system types at /sys/fs/cgroup.
pub fn detect_mode() -> Result<Mode, CgroupError> {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC, TMPFS_MAGIC};
    let st = statfs(CGROUP_ROOT).map_err(|e| fs::io_err(CGROUP_ROOT, e.into()))?;
    if st.filesystem_type() == CGROUP2_SUPER_MAGIC {
        return Ok(Mode::Unified);
    }
    if st.filesystem_type() != TMPFS_MAGIC {
        return Err(CgroupError::Unsupported(format!(
            "{CGROUP_ROOT} that is neither cgroup2 nor a tmpfs of v1 hierarchies"
        )));
    }
    let unified = Path::new(CGROUP_ROOT).join("unified");
    match statfs(&unified) {
        Ok(u) if u.filesystem_type() == CGROUP2_SUPER_MAGIC => Ok(Mode::Hybrid),
        _ => Ok(Mode::Legacy),
    }
}

impl Cgroup {
    /// Resolves `linux.cgroupsPath` (or the default `<id>` below the runtime's own cgroup, as runc does) on this
    /// host: detects the layout and reads /proc/self/mountinfo and /proc/self/cgroup; creates nothing.
    pub fn new(cgroups_path: Option<&Path>, id: &str) -> Result<Self, CgroupError> {
        let mode = detect_mode()?;
        let read = |p: &str| std::fs::read_to_string(p).map_err(|e| fs::io_err(p, e));
        let mounts = read("/proc/self/mountinfo")?;
        let own = read("/proc/self/cgroup")?;
        Self::for_host(cgroups_path, id, mode, &mounts, &own)
    }

    /// Resolves the cgroup for a host described by `mode` and the texts of mountinfo and /proc/self/cgroup.
    pub fn for_host(
        cgroups_path: Option<&Path>,
        id: &str,
        mode: Mode,
        mountinfo_text: &str,
        proc_cgroup_text: &str,
    ) -> Result<Self, CgroupError> {
        let path = resolve::requested_path(cgroups_path, id)?;
        let mounts = mountinfo::parse_mountinfo(mountinfo_text);
        let own = mountinfo::parse_proc_cgroup(proc_cgroup_text);
        let (v1, unified) = resolve::resolve(&path, mode, &mounts, &own)?;
        let unified_mount = if mode == Mode::Legacy {
            None
        } else {
            resolve::pick_unified(&mounts, mode).map(|m| m.mount_point.clone())
        };
        Ok(Cgroup {
            path,
            mode,
            v1,
            unified_mount,
            unified,
        })
    }

    /// The unified mount and directory, when this cgroup has one.
    fn unified_pair(&self) -> Option<(&Path, &Path)> {
        match (&self.unified_mount, &self.unified) {
            (Some(m), Some(d)) => Some((m.as_path(), d.as_path())),
            _ => None,
        }
    }

    /// Creates the cgroup directories, applies `resources`, and moves `pid` into the cgroup.
    pub fn apply(&self, pid: Pid, resources: Option<&LinuxResources>) -> Result<(), CgroupError> {
        self.set_resources(resources)?;
        self.add_process(pid)
    }

    /// Creates the directories if needed and applies `resources` (also used by `update`).
    pub fn set_resources(&self, resources: Option<&LinuxResources>) -> Result<(), CgroupError> {
        match self.mode {
            Mode::Unified => {
                let (mount, dir) = self.unified_pair().ok_or_else(|| {
                    CgroupError::Unsupported("a unified host without a cgroup2 mount".into())
                })?;
                v2::create(mount, dir, &v2::needed_controllers(resources)?, true)?;
                if let Some(r) = resources {
                    v2::set(dir, r)?;
                }
                Ok(())
            }
            Mode::Legacy | Mode::Hybrid => {
                v1::create(&self.v1)?;
                // On hybrid hosts the unified hierarchy holds what v1 does not mount (here: hugetlb) and
                // the raw `unified` keys; runc joins it too.
                let mut unified_needs = BTreeSet::new();
                if let Some(r) = resources {
                    unified_needs = v1::unified_needs(&self.v1, r)?;
                }
                let has_unified_keys = resources
                    .and_then(|r| r.unified().as_ref())
                    .is_some_and(|u| !u.is_empty());
                if has_unified_keys {
                    // Keys whose controller the hybrid cgroup2 mount lacks are v1's: refused as
                    // runc refuses every unified key on v1.
                    let available = self
                        .unified_pair()
                        .and_then(|(m, _)| fs::read(m, "cgroup.controllers").ok())
                        .map(|t| {
                            t.split_whitespace()
                                .map(str::to_string)
                                .collect::<BTreeSet<_>>()
                        });
                    let ok = available.is_some_and(|a| unified_needs.iter().all(|c| a.contains(c)));
                    if !ok {
                        return Err(CgroupError::Refused(ERR_V1_NO_UNIFIED.into()));
                    }
                }
                if let Some((mount, dir)) = self.unified_pair() {
                    v2::create(mount, dir, &unified_needs, false)?;
                } else if !unified_needs.is_empty() {
                    return Err(CgroupError::Unsupported(format!(
                        "controllers {unified_needs:?} on a cgroup v1 host without them"
                    )));
                }
                if let Some(r) = resources {
                    v1::set(&self.v1, r)?;
                    if let Some((_, dir)) = self.unified_pair() {
                        v2::set_hybrid_extras(dir, r, &unified_needs)?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Moves `pid` into the cgroup in every hierarchy (and the unified one on hybrid hosts).
    pub fn add_process(&self, pid: Pid) -> Result<(), CgroupError> {
        let value = pid.as_raw().to_string();
        for h in &self.v1 {
            fs::write(&h.dir, "cgroup.procs", &value)?;
        }
        if let Some(dir) = &self.unified {
            fs::write(dir, "cgroup.procs", &value)?;
        }
        Ok(())
    }

    /// The directory whose `cgroup.procs` lists the container's processes.
    fn procs_dir(&self) -> Option<&Path> {
        if self.mode == Mode::Unified {
            return self.unified.as_deref();
        }
        v1::find(&self.v1, "freezer")
            .or_else(|| v1::find(&self.v1, "pids"))
            .or_else(|| self.v1.first().map(|h| h.dir.as_path()))
    }

    /// Lists the pids currently in the cgroup; a cgroup that does not exist has none.
    pub fn pids(&self) -> Result<Vec<Pid>, CgroupError> {
        let Some(dir) = self.procs_dir() else {
            return Ok(Vec::new());
        };
        if !dir.exists() {
            return Ok(Vec::new());
        }
        fs::procs(dir)
    }

    /// Lists the pids in the cgroup and every cgroup below it, as runc's `GetAllPids` does: in
    /// the devices hierarchy on v1 (runc's choice), else where [`Self::pids`] looks. A cgroup
    /// that does not exist has none.
    pub fn pids_in_tree(&self) -> Result<Vec<Pid>, CgroupError> {
        let dir = if self.mode == Mode::Unified {
            self.procs_dir()
        } else {
            v1::find(&self.v1, "devices").or_else(|| self.procs_dir())
        };
        let Some(dir) = dir else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut todo = vec![dir.to_path_buf()];
        while let Some(d) = todo.pop() {
            let entries = match std::fs::read_dir(&d) {
                Ok(e) => e,
                // Gone (or never made): nothing in it.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(fs::io_err(&d, e)),
            };
            out.extend(fs::procs(&d)?);
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    todo.push(e.path());
                }
            }
        }
        Ok(out)
    }

    /// The container's directory in every v1 hierarchy, then the unified one.
    fn dirs(&self) -> impl Iterator<Item = &Path> {
        self.v1
            .iter()
            .map(|h| h.dir.as_path())
            .chain(self.unified.as_deref())
    }

    /// Lists the pids in the cgroup of every hierarchy (and the unified one): a process that was
    /// being moved in when its runtime died may be in some of them only.
    pub fn all_pids(&self) -> Result<Vec<Pid>, CgroupError> {
        let mut all = BTreeSet::new();
        let dirs = self.dirs();
        for dir in dirs {
            if dir.exists() {
                all.extend(fs::procs(dir)?.into_iter().map(Pid::as_raw));
            }
        }
        Ok(all.into_iter().map(Pid::from_raw).collect())
    }

    /// Removes the container's cgroup directory in every hierarchy; one that is already gone is not an error.
    /// Parent directories created for a nested path are left, as runc leaves them.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        let mut first_err = None;
        let dirs = self.dirs();
        for dir in dirs {
            if let Err(e) = fs::remove_dir(dir) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// The freezer directory and whether it is v2 (`cgroup.freeze`) or v1 (`freezer.state`).
    fn freezer(&self) -> Result<(&Path, bool), CgroupError> {
        if let Some(dir) = v1::find(&self.v1, "freezer") {
            return Ok((dir, false));
        }
        match &self.unified {
            // cgroup.freeze is a core file: it works without any controller, also on hybrid hosts.
            Some(dir) if fs::exists(dir, "cgroup.freeze") || self.mode == Mode::Unified => {
                Ok((dir, true))
            }
            _ => Err(CgroupError::Unsupported(
                "freezing: no v1 freezer hierarchy and no cgroup.freeze".into(),
            )),
        }
    }

    /// Stops every task in the cgroup and waits until the kernel reports the cgroup frozen.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        let (dir, is_v2) = self.freezer()?;
        if is_v2 {
            fs::write(dir, "cgroup.freeze", "1")?;
        } else {
            fs::write(dir, "freezer.state", "FROZEN")?;
        }
        for _ in 0..FREEZE_TRIES {
            if self.state()? == FreezerState::Frozen {
                return Ok(());
            }
            if !is_v2 {
                // v1 re-tries freezing tasks that were busy only when FROZEN is written again.
                fs::write(dir, "freezer.state", "FROZEN")?;
            }
            std::thread::sleep(FREEZE_WAIT);
        }
        let _ = self.thaw();
        let file = if is_v2 {
            "cgroup.events"
        } else {
            "freezer.state"
        };
        Err(fs::io_err(
            dir.join(file),
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "tasks did not all freeze in time; thawed again",
            ),
        ))
    }

    /// Lets the cgroup's tasks run again.
    pub fn thaw(&self) -> Result<(), CgroupError> {
        let (dir, is_v2) = self.freezer()?;
        if is_v2 {
            fs::write(dir, "cgroup.freeze", "0")
        } else {
            fs::write(dir, "freezer.state", "THAWED")
        }
    }

    /// The cgroup's freezer state.
    pub fn state(&self) -> Result<FreezerState, CgroupError> {
        let (dir, is_v2) = self.freezer()?;
        if is_v2 {
            let want = fs::read(dir, "cgroup.freeze")?.trim() == "1";
            let frozen = fs::read(dir, "cgroup.events")?
                .lines()
                .any(|l| l.trim() == "frozen 1");
            Ok(match (want, frozen) {
                (_, true) => FreezerState::Frozen,
                (true, false) => FreezerState::Freezing,
                (false, false) => FreezerState::Thawed,
            })
        } else {
            Ok(match fs::read(dir, "freezer.state")?.trim() {
                "FROZEN" => FreezerState::Frozen,
                "FREEZING" => FreezerState::Freezing,
                _ => FreezerState::Thawed,
            })
        }
    }

    /// Sends `signal` to every process in the cgroup (`kill --all`, `delete --force`).
    ///
    /// SIGKILL on cgroup2 uses `cgroup.kill`, which the kernel applies atomically. Otherwise the cgroup is frozen
    /// first so no process can fork a child that escapes the signal, then each pid is signalled and the cgroup
    /// is thawed (a paused cgroup stays paused unless the signal is SIGKILL).
    pub fn kill_all(&self, signal: Signal) -> Result<(), CgroupError> {
        if signal == Signal::SIGKILL {
            if let Some(dir) = &self.unified {
                if fs::exists(dir, "cgroup.kill") {
                    fs::write(dir, "cgroup.kill", "1")?;
                    // A v1-frozen task keeps its SIGKILL pending until thawed (v2-frozen ones die at once).
                    if self.state().is_ok_and(|s| s != FreezerState::Thawed) {
                        self.thaw()?;
                    }
                    return Ok(());
                }
            }
        }
        let was = self.state().ok();
        let froze = match was {
            Some(FreezerState::Frozen) => true,
            Some(_) => self.freeze().is_ok(),
            None => false,
        };
        let result = self.signal_each(signal);
        if froze && (was != Some(FreezerState::Frozen) || signal == Signal::SIGKILL) {
            self.thaw()?;
        }
        result
    }

    /// Signals each pid listed in the cgroup; pids that exited meanwhile are skipped.
    fn signal_each(&self, signal: Signal) -> Result<(), CgroupError> {
        for pid in self.pids()? {
            match nix::sys::signal::kill(pid, signal) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(e) => {
                    return Err(fs::io_err(
                        self.procs_dir().unwrap_or(Path::new(CGROUP_ROOT)),
                        std::io::Error::other(format!("kill({pid}, {signal}): {e}")),
                    ))
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unified_host_round_trips_through_state_json() {
        let mi = "30 1 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        let cg = Cgroup::for_host(
            None,
            "c1",
            Mode::Unified,
            mi,
            "0::/system.slice/x.service\n",
        )
        .unwrap();
        assert_eq!(
            cg.unified.as_deref(),
            Some(Path::new("/sys/fs/cgroup/system.slice/c1"))
        );
        assert_eq!(
            cg.unified_mount.as_deref(),
            Some(Path::new("/sys/fs/cgroup"))
        );
        let json = serde_json::to_string(&cg).unwrap();
        let back: Cgroup = serde_json::from_str(&json).unwrap();
        assert_eq!(back.unified, cg.unified);
        assert_eq!(back.mode, Mode::Unified);
        assert!(back.v1.is_empty());
    }

    #[test]
    fn hybrid_host_gets_every_hierarchy_and_unified() {
        let mi = "\
32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";
        let cg =
            Cgroup::for_host(Some(Path::new("/x/y")), "c", Mode::Hybrid, mi, "0::/\n").unwrap();
        let dirs: Vec<_> = cg.v1.iter().map(|h| h.dir.clone()).collect();
        assert_eq!(
            dirs,
            vec![
                PathBuf::from("/sys/fs/cgroup/cpu/x/y"),
                PathBuf::from("/sys/fs/cgroup/systemd/x/y")
            ]
        );
        assert_eq!(
            cg.unified.as_deref(),
            Some(Path::new("/sys/fs/cgroup/unified/x/y"))
        );
        assert!(Cgroup::for_host(Some(Path::new("/../x")), "c", Mode::Hybrid, mi, "").is_err());
    }
}

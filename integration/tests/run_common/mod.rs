//! Shared fixture of the `run_*` tests: a seeded local registry (also configured as the docker.io
//! mirror, so `hello-world` resolves offline), a private berthd with its own root/state/socket in
//! a temp dir, and a guard that removes every container, stops berthd and checks/cleans mounts
//! on drop.
#![allow(dead_code)]

use berth_integration::daemon::{bin, Daemon, DaemonDirs};
use berth_integration::registry::TestRegistry;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

/// The OCI runtime under test: `BERTH_TEST_RUNTIME` (`berth-runc` by default, or `runc`).
pub fn runtime() -> String {
    let name = std::env::var("BERTH_TEST_RUNTIME").unwrap_or_else(|_| "berth-runc".into());
    let local = bin(&name);
    if local.exists() {
        local.display().to_string()
    } else {
        name
    }
}

/// A registry + berthd pair owned by one test.
pub struct Env {
    /// berthd (None while it is down in restart tests).
    pub daemon: Option<Daemon>,
    /// Its directories (inside `tmp`).
    pub dirs: DaemonDirs,
    /// The seeded registry.
    pub registry: TestRegistry,
    tmp: tempfile::TempDir,
    restarts: u32,
}

impl Env {
    /// Starts a seeded registry and a berthd using it.
    pub fn start() -> Env {
        Self::start_under("")
    }

    /// Like [`Env::start`], with the daemon's directories under `sub` inside the temp dir (a long
    /// `sub` makes `<state>/tasks/<id>/attach.sock` longer than a unix socket path may be).
    pub fn start_under(sub: &str) -> Env {
        Self::start_custom(sub, "", |_| {})
    }

    /// Like [`Env::start_under`], with `extra_config` appended to the config file and `prepare`
    /// run on the directories before berthd starts (e.g. to mount a small tmpfs on the root;
    /// every mount under the temp dir is undone on drop).
    pub fn start_custom(sub: &str, extra_config: &str, prepare: impl FnOnce(&DaemonDirs)) -> Env {
        let registry = TestRegistry::start(None);
        registry.seed();
        let tmp = tempfile::Builder::new()
            .prefix("b")
            .rand_bytes(5)
            .tempdir_in("/tmp")
            .unwrap();
        let base = tmp.path().join(sub);
        std::fs::create_dir_all(&base).unwrap();
        let dirs = DaemonDirs::under(&base);
        let config = format!(
            "runtime = \"{}\"\n\n[registries.\"docker.io\"]\nmirrors = [\"http://{host}\"]\n\n[registries.\"{host}\"]\nplain_http = true\n{extra_config}",
            runtime(),
            host = registry.host
        );
        std::fs::write(&dirs.config, config).unwrap();
        prepare(&dirs);
        let mut env = Env {
            daemon: None,
            dirs,
            registry,
            tmp,
            restarts: 0,
        };
        env.spawn_daemon();
        env
    }

    fn spawn_daemon(&mut self) {
        let log = self
            .tmp
            .path()
            .join(format!("berthd-{}.log", self.restarts));
        self.restarts += 1;
        let mut d = Daemon::spawn(&self.dirs, log).unwrap();
        d.wait_ready().unwrap();
        self.daemon = Some(d);
    }

    /// The daemon (panics while it is down).
    pub fn daemon(&self) -> &Daemon {
        self.daemon.as_ref().expect("berthd is running")
    }

    /// SIGKILLs berthd (containers and their monitors keep running).
    pub fn kill_daemon(&mut self) {
        let d = self.daemon.take().expect("berthd is running");
        let pid = d.pid().unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        // Drop reaps it (stop() on an already dead child just waits).
        drop(d);
    }

    /// Starts berthd again on the same directories.
    pub fn restart_daemon(&mut self) {
        self.spawn_daemon();
    }

    /// `REGISTRY/library/NAME` for one of the seeded images.
    pub fn image(&self, name: &str) -> String {
        format!("{}/library/{name}", self.registry.host)
    }

    /// Runs `berth ARGS`.
    pub fn berth(&self, args: &[&str]) -> Output {
        self.daemon().berth(args)
    }

    /// Runs `berth ARGS`, requires success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.berth(args);
        assert!(
            out.status.success(),
            "berth {args:?} failed with {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Pulls the seeded busybox once and returns its reference.
    pub fn busybox(&self) -> String {
        let img = self.image("busybox:latest");
        self.ok(&["pull", "-q", &img]);
        img
    }

    /// Ids of every container (`ps -aq --no-trunc`).
    pub fn all_ids(&self) -> Vec<String> {
        self.ok(&["ps", "-aq", "--no-trunc"])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The daemon's temp dir.
    pub fn tmp(&self) -> &Path {
        self.tmp.path()
    }

    /// Mount points under this test's temp dir still in the mount table.
    pub fn mounts_left(&self) -> Vec<String> {
        let base = self.tmp.path().display().to_string();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
            .filter(|mp| mp.starts_with(&base))
            .collect()
    }

    /// Task state directories left (one per live/unreaped task).
    pub fn task_dirs_left(&self) -> Vec<PathBuf> {
        dir_entries(&self.dirs.state.join("tasks"))
    }

    /// Container directories left under the root.
    pub fn container_dirs_left(&self) -> Vec<PathBuf> {
        dir_entries(&self.dirs.root.join("containers"))
    }

    /// Asserts nothing of container `id` remains: mounts, task dir, container dir, cgroups,
    /// processes (by the monitor pid recorded for it).
    pub fn assert_gone(&self, id: &str, monitor_pid: Option<i32>) {
        assert!(
            !self.mounts_left().iter().any(|m| m.contains(id)),
            "mounts left: {:?}",
            self.mounts_left()
        );
        assert!(!self.dirs.state.join("tasks").join(id).exists());
        assert!(!self.dirs.root.join("containers").join(id).exists());
        let cgroups = cgroup_dirs_of(id);
        assert!(cgroups.is_empty(), "cgroups left: {cgroups:?}");
        if let Some(pid) = monitor_pid {
            assert!(
                !process_alive(pid),
                "monitor {pid} of {id} is still running"
            );
        }
    }

    /// Monitor pid of a running container, from its task state dir.
    pub fn monitor_pid(&self, id: &str) -> Option<i32> {
        std::fs::read_to_string(self.dirs.state.join("tasks").join(id).join("monitor.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// Waits (bounded) until `f` holds; panics with `what` otherwise. Not a timing assertion:
    /// the bound only stops a broken test from hanging.
    pub fn eventually(&self, what: &str, mut f: impl FnMut() -> bool) {
        let start = Instant::now();
        while !f() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "never happened: {what}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn dir_entries(p: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(p)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// cgroup directories named after `id` anywhere in the usual places (v1 hierarchies and v2).
pub fn cgroup_dirs_of(id: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let root = Path::new("/sys/fs/cgroup");
    let mut candidates = vec![root.join("berth").join(id)];
    for h in dir_entries(root) {
        candidates.push(h.join("berth").join(id));
    }
    for c in candidates {
        if c.exists() {
            out.push(c);
        }
    }
    out
}

/// Whether `pid` exists (and is not a zombie we own).
pub fn process_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if self.daemon.is_none() {
            self.spawn_daemon_quietly();
        }
        if let Some(d) = &self.daemon {
            let ids = d.berth(&["ps", "-aq", "--no-trunc"]);
            for id in String::from_utf8_lossy(&ids.stdout).lines() {
                let _ = d.berth(&["rm", "-f", id]);
            }
        }
        if let Some(mut d) = self.daemon.take() {
            let _ = d.stop();
        }
        // Last resort so a failed test leaves no mounts behind: deepest first, lazily.
        let mut left = self.mounts_left();
        left.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in left {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

impl Env {
    fn spawn_daemon_quietly(&mut self) {
        let log = self.tmp.path().join("berthd-cleanup.log");
        if let Ok(mut d) = Daemon::spawn(&self.dirs, log) {
            if d.wait_ready().is_ok() {
                self.daemon = Some(d);
            }
        }
    }
}

/// Exit code of a finished command.
pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

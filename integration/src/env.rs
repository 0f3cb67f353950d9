//! `TestEnv`: one test's private world (temp dir, `--root` state dir, unique ids, cgroup paths)
//! and the Drop guard that tears it all down, on failure too.

use crate::bundle::Bundle;
use crate::console::ConsoleSocket;
use crate::host;
use crate::runtime::{run_captured, runtime_under_test, Output, Runtime, COMMAND_TIMEOUT};
use std::cell::RefCell;
use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// One test's private environment; everything it made is removed on drop.
pub struct TestEnv {
    /// Test name (used in ids and paths).
    pub name: String,
    /// Private temp dir; everything else lives under it.
    pub dir: PathBuf,
    /// The runtime under test bound to this test's `--root`.
    pub rt: Runtime,
    ids: RefCell<Vec<String>>,
    cgroups: RefCell<Vec<String>>,
    children: RefCell<Vec<Child>>,
    pids: RefCell<Vec<i32>>,
    cleanups: RefCell<Vec<Box<dyn FnOnce()>>>,
}

impl TestEnv {
    /// Creates the temp dir and state dir; panics unless root.
    pub fn new(name: &str) -> Self {
        crate::require_root();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("berth-it-{}-{n}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("state")).unwrap();
        std::fs::create_dir_all(dir.join("scratch")).unwrap();
        let bin = runtime_under_test();
        assert!(
            bin.exists(),
            "runtime under test {} does not exist (cargo build --workspace --bins, or set BERTH_TEST_RUNTIME)",
            bin.display()
        );
        let rt = Runtime {
            bin,
            root: dir.join("state"),
            scratch: dir.join("scratch"),
        };
        TestEnv {
            name: name.into(),
            dir,
            rt,
            ids: RefCell::new(Vec::new()),
            cgroups: RefCell::new(Vec::new()),
            children: RefCell::new(Vec::new()),
            pids: RefCell::new(Vec::new()),
            cleanups: RefCell::new(Vec::new()),
        }
    }

    /// A new unique container id `t-<pid>-<counter>-<name>`, deleted with `delete --force` on drop.
    pub fn id(&self, name: &str) -> String {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let id = format!("t-{}-{n}-{name}", std::process::id());
        self.ids.borrow_mut().push(id.clone());
        id
    }

    /// Registers an id made by other means (e.g. an intentionally odd one) for cleanup.
    pub fn track_id(&self, id: &str) {
        self.ids.borrow_mut().push(id.to_string());
    }

    /// A new bundle `dir/<name>` with a busybox rootfs and a unique linux.cgroupsPath
    /// (removed on drop in every hierarchy if still present).
    pub fn bundle(&self, name: &str) -> Bundle {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let cg = format!("/berth-it-{}-{n}-{name}", std::process::id());
        self.cgroups.borrow_mut().push(cg.clone());
        Bundle::new(&self.dir.join(name), &cg)
    }

    /// The cgroupsPath of a bundle made by [`TestEnv::bundle`].
    pub fn cgroup_path(b: &Bundle) -> String {
        b.spec["linux"]["cgroupsPath"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Runs the runtime with `args`.
    pub fn rt<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        self.rt.run(args)
    }

    /// `create --bundle <b> <id>` (writes config.json first). The container inherits the
    /// runtime's capture files as stdio; to read what it prints after `start`, use
    /// [`TestEnv::create_logged`] or `run`.
    pub fn create(&self, b: &Bundle, id: &str) -> Output {
        b.write();
        let mut c = self.rt.command(&["create", "--bundle"]);
        c.arg(&b.dir).arg(id);
        run_captured(&mut c, &self.rt.scratch, COMMAND_TIMEOUT)
    }

    /// `create` with the container's stdout/stderr sent to `<dir>/<id>.out` (read it with
    /// [`TestEnv::container_output`]).
    pub fn create_logged(&self, b: &Bundle, id: &str) -> Output {
        b.write();
        let log = std::fs::File::create(self.dir.join(format!("{id}.out"))).unwrap();
        let mut c = self.rt.command(&["create", "--bundle"]);
        c.arg(&b.dir).arg(id);
        c.stdout(log.try_clone().unwrap()).stderr(log);
        let cmdline = format!("{c:?}");
        let mut child = c.spawn().unwrap_or_else(|e| panic!("spawn {cmdline}: {e}"));
        let st = crate::runtime::wait_timeout(&mut child, COMMAND_TIMEOUT);
        use std::os::unix::process::ExitStatusExt;
        Output {
            code: st.code(),
            signal: st.signal(),
            stdout: String::new(),
            stderr: self.container_output(id),
            cmdline,
        }
    }

    /// `create --console-socket <socket> --bundle <b> <id>` (writes config.json first).
    pub fn create_on_console(&self, b: &Bundle, id: &str, socket: &Path) -> Output {
        b.write();
        let mut c = self.rt.command(&["create", "--console-socket"]);
        c.arg(socket).arg("--bundle").arg(&b.dir).arg(id);
        run_captured(&mut c, &self.rt.scratch, COMMAND_TIMEOUT)
    }

    /// Creates `id` on console socket `sock` (both must succeed), takes the pty master the
    /// runtime sends and starts the container; returns the master. The bundle sets
    /// `process.terminal`.
    #[track_caller]
    pub fn start_on_console(&self, b: &Bundle, id: &str, sock: &ConsoleSocket) -> OwnedFd {
        self.create_on_console(b, id, &sock.path).assert_success();
        let master = sock.master(Duration::from_secs(30));
        self.rt(&["start", id]).assert_success();
        master
    }

    /// `create` (must succeed), tracking the container's init so drop kills it; returns its pid.
    #[track_caller]
    pub fn create_tracked(&self, b: &Bundle, id: &str) -> i32 {
        self.create(b, id).assert_success();
        let pid = self.init_pid(id);
        self.track_pid(pid);
        pid
    }

    /// `start <id>` (must succeed), then waits for `status` ("running" for a process that keeps
    /// running, "stopped" for one that exits) and asserts it is reached.
    #[track_caller]
    pub fn start_until(&self, id: &str, status: &str) {
        self.rt(&["start", id]).assert_success();
        assert_eq!(self.wait_status(id, status), status);
    }

    /// `run -d --bundle <b>` of a new container `name` (must succeed), waiting until it runs;
    /// returns its id.
    #[track_caller]
    pub fn run_detached(&self, b: &Bundle, name: &str) -> String {
        b.write();
        let id = self.id(name);
        let mut c = self.rt.command(&["run", "-d", "--bundle"]);
        c.arg(&b.dir).arg(&id);
        run_captured(&mut c, &self.rt.scratch, COMMAND_TIMEOUT).assert_success();
        assert_eq!(self.wait_status(&id, "running"), "running");
        id
    }

    /// What a container made by [`TestEnv::create_logged`] wrote so far.
    pub fn container_output(&self, id: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{id}.out"))).unwrap_or_default()
    }

    /// `run --bundle <b> <id>` in the foreground, output captured.
    pub fn run(&self, b: &Bundle, id: &str) -> Output {
        b.write();
        let mut c = self.rt.command(&["run", "--bundle"]);
        c.arg(&b.dir).arg(id);
        run_captured(&mut c, &self.rt.scratch, COMMAND_TIMEOUT)
    }

    /// Runs `sh -c script` in bundle `b` with a fresh id; panics unless it exits 0; returns stdout.
    #[track_caller]
    pub fn run_sh(&self, b: &mut Bundle, script: &str) -> String {
        b.sh(script);
        let id = self.id("sh");
        self.run(b, &id).assert_success().stdout
    }

    /// `state <id>` parsed as JSON; panics if it fails.
    #[track_caller]
    pub fn state(&self, id: &str) -> serde_json::Value {
        let o = self.rt(&["state", id]).assert_success();
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("state JSON: {e}: {o}"))
    }

    /// The pid of the container's init, from `state <id>`.
    #[track_caller]
    pub fn init_pid(&self, id: &str) -> i32 {
        self.state(id)["pid"].as_i64().unwrap() as i32
    }

    /// The `status` field of `state <id>`.
    #[track_caller]
    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Polls `state` until the status is `want` or [`COMMAND_TIMEOUT`] passes; returns the last
    /// status seen. A bound for hangs, not a speed check: under software emulation (the cgroup2
    /// guest) `run` took over 10 s to reach "running".
    pub fn wait_status(&self, id: &str, want: &str) -> String {
        let start = std::time::Instant::now();
        loop {
            let o = self.rt(&["state", id]);
            let st = serde_json::from_str::<serde_json::Value>(&o.stdout)
                .ok()
                .and_then(|v| v["status"].as_str().map(String::from))
                .unwrap_or_default();
            if st == want || start.elapsed() > COMMAND_TIMEOUT {
                return st;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Spawns a helper process and tracks it so it is killed (by pid) on drop.
    pub fn spawn(&self, cmd: &mut Command) -> u32 {
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let pid = child.id();
        self.children.borrow_mut().push(child);
        pid
    }

    /// Tracks a pid this test caused to exist (e.g. a container init) so drop kills it.
    pub fn track_pid(&self, pid: i32) {
        self.pids.borrow_mut().push(pid);
    }

    /// Runs `f` on drop, after containers are deleted and before mounts and dirs are removed.
    pub fn on_drop(&self, f: impl FnOnce() + 'static) {
        self.cleanups.borrow_mut().push(Box::new(f));
    }

    /// A path inside this test's temp dir.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Asserts nothing of container `id` is left: no state dir, no mounts under the temp dir
    /// except those listed in `allowed_mounts`, no cgroup dir for `cg`, no process naming it.
    #[track_caller]
    pub fn assert_nothing_left(&self, id: &str, cg: &str) {
        let state = self.rt.root.join(id);
        assert!(!state.exists(), "state dir {} left behind", state.display());
        let mounts = host::mounts_under(&self.dir);
        assert!(
            mounts.is_empty(),
            "mounts left under {}: {mounts:?}",
            self.dir.display()
        );
        let cgs = host::cgroup_dirs(cg);
        assert!(cgs.is_empty(), "cgroup dirs left: {cgs:?}");
        let procs = host::pids_mentioning(id);
        assert!(
            procs.is_empty(),
            "processes mentioning {id} left: {procs:?}"
        );
        let list = self.rt(&["list", "-q"]);
        assert!(
            !list.stdout.lines().any(|l| l == id),
            "{id} still listed: {list}"
        );
    }

    /// The directory of this test's `--root`.
    pub fn state_root(&self) -> &Path {
        &self.rt.root
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            let _ = self
                .rt
                .command(&["delete", "--force", id.as_str()])
                .output();
        }
        for child in self.children.borrow_mut().iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for pid in self.pids.borrow().iter() {
            host::kill_pid(*pid);
        }
        // Processes still in our unique cgroups were started by our containers.
        for cg in self.cgroups.borrow().iter() {
            host::kill_cgroup_procs(cg);
        }
        for f in self.cleanups.borrow_mut().drain(..).rev() {
            f();
        }
        host::unmount_all_under(&self.dir);
        for cg in self.cgroups.borrow().iter() {
            host::remove_cgroup_retrying(cg);
        }
        if host::mounts_under(&self.dir).is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

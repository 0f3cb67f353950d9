//! `TaskEnv`, the fixture of the `monitor_*` tests: busybox bundles, a task manager with its own
//! state dirs over the runtime under test ([`crate::runtime::runtime_under_test`]), and guards
//! that clean up only what the test created.

use berth_manager::tasks::{StdioOptions, TaskInfo, TaskManager, TaskManagerConfig};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The berth-monitor binary: `$BERTH_MONITOR`, else `target/<profile>/berth-monitor`.
pub fn monitor_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("BERTH_MONITOR") {
        return PathBuf::from(p);
    }
    // The test executable lives in target/<profile>/deps/.
    let exe = std::env::current_exe().unwrap();
    let p = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("berth-monitor");
    assert!(
        p.exists(),
        "{} missing: run `cargo build -p berth-manager --bin berth-monitor` first",
        p.display()
    );
    p
}

/// A unique name for this test run.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A temporary directory removed on drop.
pub struct TempDir(
    /// Its path.
    pub PathBuf,
);

impl TempDir {
    /// Creates `/tmp/berth-test-<unique>`.
    pub fn new(prefix: &str) -> Self {
        let p = std::env::temp_dir().join(format!("berth-test-{}", unique(prefix)));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes a busybox bundle running `args` into `dir` (rootfs + config.json from `runc spec`).
pub fn make_bundle(dir: &Path, args: &[&str], tty: bool) {
    let bin = dir.join("rootfs/bin");
    std::fs::create_dir_all(&bin).unwrap();
    for d in ["proc", "sys", "dev", "tmp", "etc"] {
        std::fs::create_dir_all(dir.join("rootfs").join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8(list.stdout).unwrap().lines() {
        if applet != "busybox" {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
    }
    let st = Command::new("runc")
        .args(["spec", "--bundle"])
        .arg(dir)
        .status()
        .unwrap();
    assert!(st.success(), "runc spec failed");
    let path = dir.join("config.json");
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    spec["process"]["args"] = serde_json::json!(args);
    spec["process"]["terminal"] = serde_json::json!(tty);
    spec["process"]["env"] = serde_json::json!(["PATH=/bin", "TERM=xterm"]);
    std::fs::write(&path, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
}

/// A task manager with its own state root; deletes every task it still knows on drop.
pub struct TaskEnv {
    /// The state root (task dirs, runtime root).
    pub root: TempDir,
    /// Where [`TaskEnv::bundle`] writes bundles.
    pub bundles: TempDir,
    /// The task manager under test.
    pub manager: TaskManager,
}

impl TaskEnv {
    /// A fresh manager under a new state root.
    pub fn new(name: &str) -> Self {
        let root = TempDir::new(&format!("{name}-state"));
        Self::at(root, name)
    }

    /// A manager over an existing state root (a "restarted daemon").
    pub fn at(root: TempDir, name: &str) -> Self {
        crate::require_root();
        let config = TaskManagerConfig::with_binaries(
            &root.0,
            crate::runtime::runtime_under_test(),
            monitor_binary(),
        );
        let manager = TaskManager::new(config).unwrap();
        TaskEnv {
            root,
            bundles: TempDir::new(&format!("{name}-bundles")),
            manager,
        }
    }

    /// Creates task `id` from `bundle` with default stdio (must succeed).
    pub async fn create(&self, id: &str, bundle: &Path) -> TaskInfo {
        self.manager
            .create(id, bundle, StdioOptions::default())
            .await
            .unwrap_or_else(|e| panic!("create {id}: {e}"))
    }

    /// [`TaskEnv::create`], then starts the task (must succeed).
    pub async fn create_and_start(&self, id: &str, bundle: &Path) -> TaskInfo {
        let info = self.create(id, bundle).await;
        self.manager
            .start(id)
            .await
            .unwrap_or_else(|e| panic!("start {id}: {e}"));
        info
    }

    /// A new bundle running `args`; returns its directory.
    pub fn bundle(&self, args: &[&str], tty: bool) -> PathBuf {
        let dir = self.bundles.0.join(unique("b"));
        make_bundle(&dir, args, tty);
        dir
    }
}

impl Drop for TaskEnv {
    fn drop(&mut self) {
        let cfg = self.manager.config().clone();
        // Every container under our own runtime root is ours; the runtime kills and removes it.
        if let Ok(rd) = std::fs::read_dir(&cfg.runtime_root) {
            for ent in rd.flatten() {
                let _ = Command::new(&cfg.runtime)
                    .arg("--root")
                    .arg(&cfg.runtime_root)
                    .args(["delete", "--force"])
                    .arg(ent.file_name())
                    .stderr(std::process::Stdio::null())
                    .status();
            }
        }
    }
}

/// Polls `f` until it returns `Some`, failing the test after `limit` (see [`crate::wait::until`]).
#[track_caller]
pub fn wait_until<T>(what: &str, limit: Duration, f: impl FnMut() -> Option<T>) -> T {
    crate::wait::until(what, limit, f)
}

/// `VmRSS` and `VmHWM` of `pid` in kB.
pub fn rss_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Sets `linux.resources.memory.limit` (and swap to the same value) in a bundle's config.json.
pub fn set_memory_limit(bundle: &Path, bytes: i64) {
    let path = bundle.join("config.json");
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    spec["linux"]["resources"]["memory"] = serde_json::json!({ "limit": bytes, "swap": bytes });
    std::fs::write(&path, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
}

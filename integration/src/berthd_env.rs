//! `BerthdEnv`, the fixture of the `run_*` tests: a seeded local registry (also configured as the
//! docker.io mirror, so `hello-world` resolves offline), a private berthd with its own
//! root/state/socket in a temp dir, and a guard that removes every container, stops berthd and
//! checks/cleans mounts on drop.

use crate::daemon::{Daemon, DaemonDirs};
use crate::registry::TestRegistry;
use crate::runtime::runtime_under_test;
use crate::{host, wait};
use std::path::{Path, PathBuf};
use std::process::Output;

/// A registry + berthd pair owned by one test.
pub struct BerthdEnv {
    /// berthd (None while it is down in restart tests).
    pub daemon: Option<Daemon>,
    /// Its directories (inside `tmp`).
    pub dirs: DaemonDirs,
    /// The seeded registry.
    pub registry: TestRegistry,
    /// The test's own bridge and subnets.
    pub net: TestNet,
    tmp: tempfile::TempDir,
    restarts: u32,
}

impl BerthdEnv {
    /// Starts a seeded registry and a berthd using it.
    pub fn start() -> BerthdEnv {
        Self::start_under("")
    }

    /// Like [`BerthdEnv::start`], with the daemon's directories under `sub` inside the temp dir (a long
    /// `sub` makes `<state>/tasks/<id>/attach.sock` longer than a unix socket path may be).
    pub fn start_under(sub: &str) -> BerthdEnv {
        Self::start_with(sub, "")
    }

    /// Like [`BerthdEnv::start_under`], with `extra_network_toml` lines added to the daemon's
    /// `[network]` section (which always gives the test its own bridge, subnet and conflist dir).
    pub fn start_with(sub: &str, extra_network_toml: &str) -> BerthdEnv {
        Self::start_custom(sub, extra_network_toml, "", |_| {})
    }

    /// Like [`BerthdEnv::start_with`], with `extra_config` (more tables, e.g. `[unpack]`)
    /// appended to the config file and `prepare` run on the directories before berthd starts
    /// (e.g. to mount a small tmpfs on the root; every mount under the temp dir is undone on
    /// drop).
    pub fn start_custom(
        sub: &str,
        extra_network_toml: &str,
        extra_config: &str,
        prepare: impl FnOnce(&DaemonDirs),
    ) -> BerthdEnv {
        crate::require_root();
        let registry = TestRegistry::seeded();
        let tmp = tempfile::Builder::new()
            .prefix("b")
            .rand_bytes(5)
            .tempdir_in("/tmp")
            .unwrap();
        let base = tmp.path().join(sub);
        std::fs::create_dir_all(&base).unwrap();
        let dirs = DaemonDirs::under(&base);
        let net = TestNet::pick(&tmp.path().display().to_string());
        let config = format!(
            "runtime = \"{}\"\n\n[registries.\"docker.io\"]\nmirrors = [\"http://{host}\"]\n\n[registries.\"{host}\"]\nplain_http = true\n\n[network]\nbridge = \"{bridge}\"\nsubnet = \"{prefix}0/24\"\nconf_dir = \"{conf}\"\n{extra_network_toml}\n{extra_config}",
            runtime_under_test().display(),
            host = registry.host,
            bridge = net.bridge,
            prefix = net.prefix,
            conf = tmp.path().join("cni").display(),
        );
        std::fs::write(&dirs.config, config).unwrap();
        prepare(&dirs);
        let mut env = BerthdEnv {
            daemon: None,
            dirs,
            registry,
            net,
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
        crate::runtime::success_stdout("berth", args, &self.berth(args))
    }

    /// Runs `berth ARGS`, which must exit with `exit_code` and say `words` on stderr; returns
    /// the output.
    #[track_caller]
    pub fn fails_with(&self, args: &[&str], exit_code: i32, words: &str) -> Output {
        let out = self.berth(args);
        assert_eq!(code(&out), exit_code, "{}", stderr(&out));
        assert!(stderr(&out).contains(words), "{}", stderr(&out));
        out
    }

    /// Runs `berth ARGS`, which must exit non-zero and say `words` on stderr; returns the output.
    #[track_caller]
    pub fn fails_saying(&self, args: &[&str], words: &str) -> Output {
        let out = self.berth(args);
        assert_ne!(code(&out), 0);
        assert!(stderr(&out).contains(words), "{}", stderr(&out));
        out
    }

    /// Asserts that `berth run -d FLAGS IMAGE true` is refused as docker refuses bad flags: exit
    /// 125 and `words` in stderr (the message names the flags).
    #[track_caller]
    pub fn assert_run_refused(&self, flags: &[&str], image: &str, words: &str) {
        let mut a = vec!["run", "-d"];
        a.extend_from_slice(flags);
        a.extend_from_slice(&[image, "true"]);
        let out = self.berth(&a);
        assert_eq!(code(&out), 125, "{flags:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(words), "{flags:?}: {}", stderr(&out));
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
    /// `berth inspect NAME` as JSON: the container's one object (requires success).
    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let out = self.ok(&["inspect", name]);
        let v: serde_json::Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("berth inspect {name}: not JSON ({e}): {out}"));
        v[0].clone()
    }

    /// Runs `berth ARGS` and waits at most `bound`: a hang (the bug a test looks for) fails the
    /// test instead of blocking it. Output goes to files, not pipes; only that client is killed.
    pub fn berth_bounded(&self, args: &[&str], bound: std::time::Duration) -> Output {
        let dir = tempfile::tempdir_in(self.tmp()).expect("temp dir for a bounded berth call");
        let (out_p, err_p) = (dir.path().join("out"), dir.path().join("err"));
        let file = |p: &Path| std::fs::File::create(p).expect("output file of a berth call");
        let mut child = self
            .daemon()
            .berth_command(args)
            .stdin(std::process::Stdio::null())
            .stdout(file(&out_p))
            .stderr(file(&err_p))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run berth {args:?}: {e}"));
        let status = crate::runtime::wait_or_kill(&mut child, bound).unwrap_or_else(|| {
            panic!(
                "berth {args:?} did not finish within {bound:?} (hung); stderr: {}",
                std::fs::read_to_string(&err_p).unwrap_or_default()
            )
        });
        Output {
            status,
            stdout: std::fs::read(&out_p).unwrap_or_default(),
            stderr: std::fs::read(&err_p).unwrap_or_default(),
        }
    }

    /// Runs the shell fragment `berth_args` as `berth <berth_args>` on a pseudo-terminal of
    /// `cols` x `rows` (`script -qec` gives berth a pty, as a user at a shell would) and types
    /// `input`. Stdin stays open for 30 s so the container can read it (script exits when the
    /// command does). Returns script's output: stdout is what the terminal showed.
    pub fn berth_on_tty(&self, cols: u16, rows: u16, berth_args: &str, input: &[u8]) -> Output {
        let cmd = format!(
            "stty cols {cols} rows {rows}; BERTH_ADDRESS={} {} {berth_args}",
            self.dirs.address.display(),
            crate::daemon::bin("berth").display(),
        );
        let mut child = std::process::Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        std::io::Write::write_all(&mut stdin, input).unwrap();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(30));
            drop(stdin);
        });
        child.wait_with_output().unwrap()
    }

    /// A fresh directory in the temp dir to mount at `/gate`: a container waits there for a file
    /// that the test creates when it is ready ([`Gate::open`]).
    pub fn gate(&self) -> Gate {
        let dir = self.tmp().join("gate");
        std::fs::create_dir_all(&dir).unwrap();
        let volume = format!("{}:/gate", dir.display());
        Gate { dir, volume }
    }

    /// The daemon's temp dir.
    pub fn tmp(&self) -> &Path {
        self.tmp.path()
    }

    /// Mount points under this test's temp dir still in the mount table.
    pub fn mounts_left(&self) -> Vec<String> {
        host::mounts_under(self.tmp.path())
            .iter()
            .map(|p| p.display().to_string())
            .collect()
    }

    /// The state directory of task `id` (`<state>/tasks/<id>`: its log, pid files, exit record).
    pub fn task_dir(&self, id: &str) -> PathBuf {
        self.dirs.state.join("tasks").join(id)
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
        assert!(!self.task_dir(id).exists());
        assert!(!self.dirs.root.join("containers").join(id).exists());
        let cgroups = cgroup_dirs_of(id);
        assert!(cgroups.is_empty(), "cgroups left: {cgroups:?}");
        if let Some(pid) = monitor_pid {
            assert!(
                !host::pid_alive(pid),
                "monitor {pid} of {id} is still running"
            );
        }
    }

    /// Monitor pid of a running container, from its task state dir.
    pub fn monitor_pid(&self, id: &str) -> Option<i32> {
        std::fs::read_to_string(self.task_dir(id).join("monitor.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// Waits (bounded) until `f` holds; panics with `what` otherwise. Not a timing assertion:
    /// the bound only stops a broken test from hanging.
    #[track_caller]
    pub fn eventually(&self, what: &str, mut f: impl FnMut() -> bool) {
        wait::until(what, wait::DEFAULT_LIMIT, || f().then_some(()))
    }
}

/// A host directory mounted in containers at `/gate` (see [`BerthdEnv::gate`]).
pub struct Gate {
    /// The directory on the host.
    pub dir: PathBuf,
    /// The `-v` value that mounts it at `/gate`.
    pub volume: String,
}

impl Gate {
    /// Creates `/gate/<name>`, releasing a container that waits for it.
    pub fn open(&self, name: &str) {
        std::fs::write(self.dir.join(name), b"").unwrap();
    }
}

/// A test daemon's network identity: its default network's bridge and /24, and a second /24 for
/// a user network, all unused on the host, so test daemons never share a bridge or addresses.
#[derive(Debug, Clone)]
pub struct TestNet {
    /// Bridge of the default network (15 characters at most).
    pub bridge: String,
    /// First three octets of the default network's /24 with the trailing dot (`10.244.18.`).
    pub prefix: String,
    /// The same for the spare /24.
    pub user_prefix: String,
}

impl TestNet {
    /// A free /23 in 10.240.0.0/12 (by the host's routing table and other tests' bridges),
    /// derived from the pid and `seed`.
    pub fn pick(seed: &str) -> TestNet {
        let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
        let mut h: u32 = std::process::id().wrapping_mul(2_654_435_761);
        for b in seed.bytes() {
            h = h.wrapping_mul(31).wrapping_add(b as u32);
        }
        for i in 0..4096u32 {
            let v = h.wrapping_add(i.wrapping_mul(7919));
            let (a, b) = (240 + (v % 16) as u8, ((v / 16) % 128) as u8 * 2);
            let bridge = format!("bt{:08x}", v);
            // /proc/net/route shows destinations as little-endian hex.
            let taken = [b, b + 1]
                .iter()
                .any(|c| routes.contains(&format!("00{c:02X}{a:02X}0A")))
                || Path::new("/sys/class/net").join(&bridge).exists();
            if !taken {
                return TestNet {
                    bridge,
                    prefix: format!("10.{a}.{b}."),
                    user_prefix: format!("10.{a}.{}.", b + 1),
                };
            }
        }
        panic!("no free test subnet in 10.240.0.0/12");
    }

    /// iptables rules (nat and filter) naming an address of the test's subnets, as (table, rule).
    pub fn rules(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for t in ["nat", "filter"] {
            let text = std::process::Command::new("iptables-save")
                .args(["-t", t])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            for l in text.lines().filter(|l| l.starts_with("-A ")) {
                if l.contains(&self.prefix) || l.contains(&self.user_prefix) {
                    out.push((t.to_string(), l.to_string()));
                }
            }
        }
        out
    }

    /// Removes what only a failed test leaves: rules naming its subnets, the per-container CNI
    /// chains those rules were in, its bridge.
    pub fn clean_up(&self) {
        // Chains every CNI user shares; never removed here.
        const SHARED: [&str; 5] = [
            "CNI-HOSTPORT-DNAT",
            "CNI-HOSTPORT-SETMARK",
            "CNI-HOSTPORT-MASQ",
            "CNI-FORWARD",
            "CNI-ADMIN",
        ];
        let mut chains = std::collections::BTreeSet::new();
        for (t, l) in self.rules() {
            let rule = l.trim_start_matches("-A ");
            // The chain the rule is in, and the one it jumps to (a masquerade rule
            // `-s ADDR -j CNI-…` in POSTROUTING whose chain holds no address of the test).
            let words: Vec<&str> = rule.split_whitespace().collect();
            let target = words.windows(2).find(|w| w[0] == "-j").map(|w| w[1]);
            for chain in words.first().copied().into_iter().chain(target) {
                if chain.starts_with("CNI-") && !SHARED.contains(&chain) {
                    chains.insert((t.clone(), chain.to_string()));
                }
            }
            let _ = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("iptables -t {t} -D {rule}"))
                .status();
        }
        // A per-container chain (named from the network and container id) that held a rule with
        // the test's addresses belongs to one of the test's containers: flush and delete it.
        for (t, chain) in chains {
            for op in ["-F", "-X"] {
                let _ = std::process::Command::new("iptables")
                    .args(["-t", &t, op, &chain])
                    .stderr(std::process::Stdio::null())
                    .status();
            }
        }
        if Path::new("/sys/class/net").join(&self.bridge).exists() {
            let _ = std::process::Command::new("ip")
                .args(["link", "delete", &self.bridge])
                .status();
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

impl Drop for BerthdEnv {
    fn drop(&mut self) {
        if self.daemon.is_none() {
            self.spawn_daemon_quietly();
        }
        if let Some(d) = &self.daemon {
            let ids = d.berth(&["ps", "-aq", "--no-trunc"]);
            for id in String::from_utf8_lossy(&ids.stdout).lines() {
                let _ = d.berth(&["rm", "-f", id]);
            }
            let _ = d.berth(&["network", "prune", "-f"]);
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
        self.net.clean_up();
    }
}

impl BerthdEnv {
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

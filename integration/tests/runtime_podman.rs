//! The runtime under test as podman's OCI runtime: Debian's podman 4.3 with `--runtime <path>`,
//! its default seccomp profile, conmon, `--cgroup-manager cgroupfs --events-backend file` (no
//! systemd here), `--network none`, and everything of its own in the test's temp dir (`--root`,
//! `--runroot`, `--tmpdir`, containers.conf, storage.conf with the vfs driver, an empty
//! registries.conf, a cgroup parent per test). The image is a busybox OCI layout built with
//! umoci and pulled through the `oci:` transport. Expectations are the same for berth-runc and
//! runc. Needs root, podman, conmon, umoci and script (util-linux).
//!
//! Outside the temp dir podman 4.3 touches only `/run/containers/networks` (netavark's run dir,
//! hard-coded for root; it stays empty with `--network none`) and, like skopeo,
//! `/var/lib/containers/cache` (its blob-info cache); both are shared, so they are left.

use berth_integration::oci_layout::busybox_layout;
use berth_integration::runtime::{require_tools, run_captured, Output};
use berth_integration::{host, TestEnv};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

/// Every podman, whatever its --root, keeps its locks in one shared-memory segment
/// (`/dev/shm/libpod_lock`); two podmans creating it at once fail with "file exists" (seen on a
/// fresh cgroup2 guest). The tests here run one podman at a time.
static ONE_PODMAN: Mutex<()> = Mutex::new(());

fn one_podman() -> std::sync::MutexGuard<'static, ()> {
    ONE_PODMAN.lock().unwrap_or_else(|e| e.into_inner())
}

const TIMEOUT: Duration = Duration::from_secs(120);

/// A podman confined to the test's directory, torn down with the `TestEnv`.
struct Podman<'a> {
    env: &'a TestEnv,
    base: PathBuf,
    cgroup_parent: String,
    /// The imported busybox image's id.
    image: String,
}

impl<'a> Podman<'a> {
    fn start(env: &'a TestEnv) -> Self {
        require_tools(
            &["podman", "conmon", "umoci", "script"],
            "apt-get install podman umoci util-linux",
        );
        let base = env.path("podman");
        for d in ["root", "runroot", "tmp", "net", "tmpdir"] {
            std::fs::create_dir_all(base.join(d)).unwrap();
        }
        // This machine lacks CAP_SYS_RESOURCE: podman's default nofile of 1048576 fails with any
        // runtime (see ../shared/notes/peers.md), hence the ulimits.
        std::fs::write(
            base.join("containers.conf"),
            format!(
                "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=4096:4096\"]\n\
                 [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
                 events_logfile_path = \"{b}/events.log\"\n[network]\nnetwork_config_dir = \"{b}/net\"\n",
                b = base.display()
            ),
        )
        .unwrap();
        std::fs::write(
            base.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"vfs\"\nrunroot = \"{b}/runroot\"\ngraphroot = \"{b}/root\"\n",
                b = base.display()
            ),
        )
        .unwrap();
        std::fs::write(base.join("registries.conf"), "").unwrap();
        let cgroup_parent = format!("/berth-it-pm-{}-{}", std::process::id(), env.name);
        let pm = Podman {
            env,
            base: base.clone(),
            cgroup_parent: cgroup_parent.clone(),
            image: String::new(),
        };
        let mut rm_all = pm.podman();
        rm_all.args(["rm", "--all", "--force", "--time", "0"]);
        let needle = base.display().to_string();
        env.on_drop(move || {
            // podman removes its containers, their mounts and conmons; anything left that names
            // our directory (conmon, a container process) or sits in our cgroups is ours.
            let _ = rm_all.output();
            for pid in host::pids_mentioning(&needle) {
                host::kill_pid(pid);
            }
            host::kill_cgroup_procs(&cgroup_parent);
            host::unmount_all_under(Path::new(&needle));
            host::remove_cgroup_retrying(&cgroup_parent);
        });
        pm
    }

    /// `podman` with the test's own dirs and configuration and the runtime under test.
    fn podman(&self) -> Command {
        let b = &self.base;
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", b.join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", b.join("storage.conf"))
            .env("CONTAINERS_REGISTRIES_CONF", b.join("registries.conf"))
            .env("TMPDIR", b.join("tmp"))
            .arg("--root")
            .arg(b.join("root"))
            .arg("--runroot")
            .arg(b.join("runroot"))
            .arg("--tmpdir")
            .arg(b.join("tmpdir"))
            .args(["--cgroup-manager", "cgroupfs", "--events-backend", "file"])
            .arg("--runtime")
            .arg(&self.env.rt.bin);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut c = self.podman();
        c.args(args);
        run_captured(&mut c, &self.env.rt.scratch, TIMEOUT)
    }

    fn ok(&self, args: &[&str]) -> String {
        self.run(args).assert_success().stdout
    }

    /// Pulls a busybox layout through the `oci:` transport; keeps its image id.
    fn import_busybox(&mut self) {
        let layout = busybox_layout(self.env, "busybox-oci", &["sh"]);
        let out = self.ok(&["pull", "-q", &format!("oci:{}:latest", layout.display())]);
        self.image = out.trim().to_string();
        assert!(!self.image.is_empty(), "no image id from pull");
    }

    /// `podman run` flags every container of the test gets.
    fn run_flags(&self) -> Vec<String> {
        vec![
            "--network".into(),
            "none".into(),
            "--cgroup-parent".into(),
            self.cgroup_parent.clone(),
        ]
    }

    /// `script -qec <podman …> /dev/null`: a pty for podman's own stdin (`-it`); `-e` passes
    /// the exit code. `input` is typed into the pty. The container reads it before printing:
    /// once it got input through podman, podman is attached and no output is lost (podman can
    /// drop what a short-lived `-it` container prints before the attach).
    fn in_pty(&self, input: &str, args: &[&str]) -> Output {
        let c = self.podman();
        let mut words: Vec<String> = vec![c.get_program().to_string_lossy().into_owned()];
        words.extend(c.get_args().map(|a| a.to_string_lossy().into_owned()));
        words.extend(args.iter().map(|a| a.to_string()));
        let line = words
            .iter()
            .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
            .collect::<Vec<_>>()
            .join(" ");
        let input_file = self.base.join("tty-input");
        std::fs::write(&input_file, input).unwrap();
        let mut s = Command::new("script");
        s.args(["-qec", &line, "/dev/null"])
            .stdin(std::fs::File::open(&input_file).unwrap());
        for (k, v) in c.get_envs() {
            if let Some(v) = v {
                s.env(k, v);
            }
        }
        run_captured(&mut s, &self.env.rt.scratch, TIMEOUT)
    }
}

#[test]
fn podman_run_exec_top_stats_stop_rm() {
    let _one = one_podman();
    let env = TestEnv::new("pmrun");
    let mut pm = Podman::start(&env);
    pm.import_busybox();
    let flags = pm.run_flags();
    let mut args: Vec<&str> = vec!["run", "--rm"];
    args.extend(flags.iter().map(String::as_str));
    // Foreground: output, exit code, podman's seccomp profile loaded (mode 2), loopback up.
    args.extend([
        pm.image.as_str(),
        "sh",
        "-c",
        "echo hello; grep '^Seccomp:' /proc/self/status; \
         ip -o link show lo | grep -q LOWER_UP && echo lo-up; exit 3",
    ]);
    let o = pm.run(&args);
    assert_eq!(o.code, Some(3), "{o}");
    assert_eq!(o.stdout, "hello\nSeccomp:\t2\nlo-up\n", "{o}");

    let name = format!("pm-{}", std::process::id());
    let mut args: Vec<&str> = vec!["run", "-d", "--name", &name];
    args.extend(flags.iter().map(String::as_str));
    args.extend([pm.image.as_str(), "sleep", "100000"]);
    pm.ok(&args);
    // exec: exit code, output, the container's filter and pid namespace.
    let o = pm.run(&[
        "exec",
        &name,
        "sh",
        "-c",
        "echo from-exec; grep '^Seccomp:' /proc/self/status; \
         [ \"$(readlink /proc/1/ns/pid)\" = \"$(readlink /proc/self/ns/pid)\" ] && echo same-pidns; exit 5",
    ]);
    assert_eq!(o.code, Some(5), "{o}");
    assert_eq!(o.stdout, "from-exec\nSeccomp:\t2\nsame-pidns\n", "{o}");
    // top lists the container's processes (podman reads them itself, through /proc).
    let top = pm.ok(&["top", &name, "pid", "args"]);
    assert!(
        top.lines()
            .any(|l| l.trim().starts_with('1') && l.contains("sleep 100000")),
        "{top}"
    );
    // stats reads the container's cgroup.
    let stats = pm.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}}",
        &name,
    ]);
    assert_eq!(stats.trim(), format!("{name} 1"), "{stats}");
    // sleep as pid 1 ignores SIGTERM: stop ends it with SIGKILL after the timeout.
    pm.ok(&["stop", "-t", "1", &name]);
    let code = pm.ok(&["inspect", "--format", "{{.State.ExitCode}}", &name]);
    assert_eq!(code.trim(), "137");
    pm.ok(&["rm", &name]);
    let left = pm.ok(&["ps", "-a", "-q"]);
    assert_eq!(left.trim(), "", "containers left: {left}");
}

#[test]
fn podman_run_and_exec_with_a_tty() {
    let _one = one_podman();
    let env = TestEnv::new("pmtty");
    let mut pm = Podman::start(&env);
    pm.import_busybox();
    let flags = pm.run_flags();
    let mut args: Vec<&str> = vec!["run", "-it", "--rm"];
    args.extend(flags.iter().map(String::as_str));
    args.extend([
        pm.image.as_str(),
        "sh",
        "-c",
        "read x; test -t 0 && test -t 1 && echo is-a-tty-$x; exit 4",
    ]);
    let o = pm.in_pty("typed\n", &args);
    assert!(o.stdout.contains("is-a-tty-typed"), "{o}");
    assert_eq!(o.code, Some(4), "{o}");

    let name = format!("pmt-{}", std::process::id());
    let mut args: Vec<&str> = vec!["run", "-d", "--name", &name];
    args.extend(flags.iter().map(String::as_str));
    args.extend([pm.image.as_str(), "sleep", "100000"]);
    pm.ok(&args);
    let o = pm.in_pty(
        "again\n",
        &[
            "exec",
            "-it",
            &name,
            "sh",
            "-c",
            "read x; test -t 0 && test -t 1 && echo exec-tty-$x; exit 7",
        ],
    );
    assert!(o.stdout.contains("exec-tty-again"), "{o}");
    assert_eq!(o.code, Some(7), "{o}");
    pm.ok(&["rm", "--force", "--time", "0", &name]);
}

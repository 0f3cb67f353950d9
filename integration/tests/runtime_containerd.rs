//! The runtime under test as containerd's runc: Debian's containerd 1.6 with its own root,
//! state and socket in the temp dir, a busybox OCI image built with umoci and imported with
//! `ctr image import --base-name`, then `ctr run --runc-binary <runtime>`.
//! Needs root, containerd, ctr, umoci and script (util-linux).

use berth_integration::oci_layout::{busybox_layout, tar_layout};
use berth_integration::runtime::{require_tools, run_captured, Output};
use berth_integration::{containerd, host, TestEnv};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const IMAGE: &str = "docker.io/berth/busybox-it:latest";

/// A containerd of our own, torn down with the `TestEnv`.
struct Containerd<'a> {
    env: &'a TestEnv,
    address: PathBuf,
    namespace: String,
}

fn cmd_ok(env: &TestEnv, cmd: &mut Command) -> Output {
    run_captured(cmd, &env.rt.scratch, Duration::from_secs(120)).assert_success()
}

impl<'a> Containerd<'a> {
    fn start(env: &'a TestEnv) -> Self {
        require_tools(
            &["containerd", "ctr", "umoci", "script"],
            "apt-get install containerd umoci util-linux",
        );
        let base = env.path("containerd");
        std::fs::create_dir_all(&base).unwrap();
        let address = base.join("c.sock");
        let namespace = format!("berth-it-{}-{}", std::process::id(), env.name);
        // Our own everything: no CRI plugin, no debug/metrics listeners, opt dir in the temp dir.
        let config = format!(
            "version = 2\nroot = \"{b}/root\"\nstate = \"{b}/state\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{a}\"\n[ttrpc]\n  address = \"{a}.ttrpc\"\n[debug]\n  address = \"\"\n\
             [metrics]\n  address = \"\"\n[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{b}/opt\"\n",
            b = base.display(),
            a = address.display()
        );
        containerd::spawn(env, &base, &config);
        let ns = namespace.clone();
        env.on_drop(move || {
            // Shims of our namespace were started by our containerd for our containers.
            for pid in host::pids_mentioning(&ns) {
                host::kill_pid(pid);
            }
            for d in host::cgroup_dirs(&format!("/{ns}")) {
                host::remove_cgroup_tree(&d);
            }
            // containerd-shim-runc-v2 keeps runc's state under /run/containerd/runc/<namespace>.
            let _ = std::fs::remove_dir_all(Path::new("/run/containerd/runc").join(&ns));
        });
        containerd::wait_for_socket(&address);
        Containerd {
            env,
            address,
            namespace,
        }
    }

    fn ctr(&self) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(&self.address)
            .arg("--namespace")
            .arg(&self.namespace);
        c
    }

    /// Builds a busybox OCI layout with umoci, tars it and imports it as [`IMAGE`].
    fn import_busybox(&self) {
        let env = self.env;
        let layout = busybox_layout(env, "oci", &["sh"]);
        let tar = tar_layout(env, &layout);
        // The layout's index names the manifest "latest"; --base-name makes it IMAGE.
        cmd_ok(
            env,
            self.ctr()
                .args([
                    "image",
                    "import",
                    "--base-name",
                    IMAGE.trim_end_matches(":latest"),
                ])
                .arg(&tar),
        );
        let list = cmd_ok(env, self.ctr().args(["image", "ls", "-q"]));
        assert!(
            list.stdout.lines().any(|l| l == IMAGE),
            "image not imported: {list}"
        );
    }
}

#[test]
fn ctr_run_output_and_exit_code() {
    let env = TestEnv::new("ctrrun");
    let cd = Containerd::start(&env);
    cd.import_busybox();
    let id = env.id("ctr");
    let mut c = cd.ctr();
    c.args(["run", "--runc-binary"]).arg(&env.rt.bin).args([
        "--rm",
        IMAGE,
        &id,
        "sh",
        "-c",
        "echo hello; exit 3",
    ]);
    let o = run_captured(&mut c, &env.rt.scratch, Duration::from_secs(120));
    assert_eq!(o.stdout.trim(), "hello", "{o}");
    assert_eq!(o.code, Some(3), "{o}");
    // --rm removed the container.
    let list = cmd_ok(&env, cd.ctr().args(["containers", "ls", "-q"]));
    assert!(!list.stdout.contains(&id), "{list}");
}

#[test]
fn ctr_run_with_tty() {
    let env = TestEnv::new("ctrtty");
    let cd = Containerd::start(&env);
    cd.import_busybox();
    let id = env.id("ctrt");
    // ctr -t needs a terminal on its own stdin: script(1) gives it one; -e passes the exit code.
    let inner = format!(
        "ctr --address {} --namespace {} run -t --runc-binary {} --rm {IMAGE} {id} sh -c 'test -t 0 && test -t 1 && echo is-a-tty; exit 4'",
        cd.address.display(),
        cd.namespace,
        env.rt.bin.display()
    );
    let mut c = Command::new("script");
    c.args(["-qec", &inner, "/dev/null"]);
    let o = run_captured(&mut c, &env.rt.scratch, Duration::from_secs(120));
    assert!(o.stdout.contains("is-a-tty"), "{o}");
    assert_eq!(o.code, Some(4), "{o}");
}

/// Polls `ctr task ls` until task `id` has `status` (e.g. RUNNING, PAUSED, STOPPED).
fn wait_task_status(cd: &Containerd<'_>, id: &str, status: &str) -> String {
    let start = Instant::now();
    loop {
        let o = run_captured(
            cd.ctr().args(["task", "ls"]),
            &cd.env.rt.scratch,
            Duration::from_secs(60),
        );
        let seen = o
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .and_then(|l| l.split_whitespace().nth(2))
            .unwrap_or_default()
            .to_string();
        if seen == status || start.elapsed() > Duration::from_secs(60) {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ctr_task_exec_pause_resume_and_kill_all() {
    let env = TestEnv::new("ctrexec");
    let cd = Containerd::start(&env);
    cd.import_busybox();
    let ns = cd.namespace.clone();
    env.on_drop(move || {
        // ctr puts each container in the cgroup /<namespace>/<id>: processes left there are ours.
        host::kill_cgroup_procs(&format!("/{ns}"));
    });
    let id = env.id("ctrx");
    cmd_ok(
        &env,
        cd.ctr()
            .args(["run", "-d", "--runc-binary"])
            .arg(&env.rt.bin)
            .args([IMAGE, &id, "sleep", "100000"]),
    );
    assert_eq!(wait_task_status(&cd, &id, "RUNNING"), "RUNNING");

    // The shim runs `<runtime> exec --detach --pid-file ... --process ...`; the exit code and
    // the output come back through containerd.
    let o = run_captured(
        cd.ctr().args([
            "task",
            "exec",
            "--exec-id",
            "e1",
            &id,
            "sh",
            "-c",
            "echo from-exec; exit 6",
        ]),
        &env.rt.scratch,
        Duration::from_secs(120),
    );
    assert_eq!(o.code, Some(6), "{o}");
    assert_eq!(o.stdout.trim(), "from-exec", "{o}");
    // The exec'd process shares the init's namespaces.
    let o = cmd_ok(
        &env,
        cd.ctr().args([
            "task",
            "exec",
            "--exec-id",
            "e2",
            &id,
            "sh",
            "-c",
            "readlink /proc/1/ns/pid; readlink /proc/self/ns/pid",
        ]),
    );
    let links: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(links.len(), 2, "{o}");
    assert_eq!(links[0], links[1], "{o}");

    // -t: the shim hands the runtime a console socket; ctr needs a terminal (script gives one).
    let inner = format!(
        "ctr --address {} --namespace {} task exec -t --exec-id e3 {id} sh -c 'test -t 0 && test -t 1 && echo exec-tty; exit 9'",
        cd.address.display(),
        cd.namespace,
    );
    let mut c = Command::new("script");
    c.args(["-qec", &inner, "/dev/null"]);
    let o = run_captured(&mut c, &env.rt.scratch, Duration::from_secs(120));
    assert!(o.stdout.contains("exec-tty"), "{o}");
    assert_eq!(o.code, Some(9), "{o}");

    cmd_ok(&env, cd.ctr().args(["task", "pause", &id]));
    assert_eq!(wait_task_status(&cd, &id, "PAUSED"), "PAUSED");
    cmd_ok(&env, cd.ctr().args(["task", "resume", &id]));
    assert_eq!(wait_task_status(&cd, &id, "RUNNING"), "RUNNING");

    // A second process, then kill -a: every process of the container gets the signal.
    cmd_ok(
        &env,
        cd.ctr().args([
            "task",
            "exec",
            "-d",
            "--exec-id",
            "e4",
            &id,
            "sleep",
            "100000",
        ]),
    );
    // metrics: the shim reads the cgroup of the container (found from the pid of its init).
    let m = cmd_ok(&env, cd.ctr().args(["task", "metrics", &id]));
    let metric = |name: &str| {
        m.stdout
            .lines()
            .find_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some(name)).then(|| w.next().unwrap_or_default().to_string())
            })
            .unwrap_or_else(|| panic!("no {name} in metrics: {m}"))
    };
    // The init and the detached exec (v1 and cgroup2 name it alike).
    assert_eq!(metric("pids.current"), "2", "{m}");
    // memory.usage_in_bytes on v1, memory.usage on cgroup2.
    let mem = if m.stdout.contains("memory.usage_in_bytes") {
        metric("memory.usage_in_bytes")
    } else {
        metric("memory.usage")
    };
    assert!(mem.parse::<u64>().is_ok_and(|n| n > 0), "{m}");
    cmd_ok(
        &env,
        cd.ctr().args(["task", "kill", "-a", "-s", "SIGKILL", &id]),
    );
    assert_eq!(wait_task_status(&cd, &id, "STOPPED"), "STOPPED");
    cmd_ok(&env, cd.ctr().args(["task", "delete", &id]));
    cmd_ok(&env, cd.ctr().args(["container", "delete", &id]));
}

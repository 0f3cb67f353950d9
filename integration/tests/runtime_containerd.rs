//! The runtime under test as containerd's runc: Debian's containerd 1.6 with its own root,
//! state and socket in the temp dir, a busybox OCI image built with umoci and imported with
//! `ctr image import --base-name`, then `ctr run --runc-binary <runtime>`.
//! Needs root, containerd, ctr, umoci and script (util-linux).

use berth_integration::runtime::{run_captured, which, Output};
use berth_integration::{host, make_busybox_rootfs, TestEnv};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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
        for tool in ["containerd", "ctr", "umoci", "script"] {
            assert!(
                which(tool).is_some(),
                "{tool} not installed (apt-get install containerd umoci util-linux)"
            );
        }
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
        std::fs::write(base.join("config.toml"), config).unwrap();
        let log = std::fs::File::create(base.join("containerd.log")).unwrap();
        env.spawn(
            Command::new("containerd")
                .arg("--config")
                .arg(base.join("config.toml"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log),
        );
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
        let start = Instant::now();
        while !address.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "containerd did not create {}",
                address.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
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
        let layout = env.path("oci");
        let unpacked = env.path("unpacked");
        let image = format!("{}:latest", layout.display());
        cmd_ok(
            env,
            Command::new("umoci")
                .args(["init", "--layout"])
                .arg(&layout),
        );
        cmd_ok(env, Command::new("umoci").args(["new", "--image", &image]));
        cmd_ok(
            env,
            Command::new("umoci")
                .args(["unpack", "--image", &image])
                .arg(&unpacked),
        );
        make_busybox_rootfs(&unpacked.join("rootfs"));
        cmd_ok(
            env,
            Command::new("umoci")
                .args(["repack", "--image", &image])
                .arg(&unpacked),
        );
        cmd_ok(
            env,
            Command::new("umoci").args([
                "config",
                "--image",
                &image,
                "--config.cmd",
                "sh",
                "--config.env",
                "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            ]),
        );
        let tar = env.path("image.tar");
        cmd_ok(
            env,
            Command::new("tar")
                .arg("-C")
                .arg(&layout)
                .arg("-cf")
                .arg(&tar)
                .arg("."),
        );
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

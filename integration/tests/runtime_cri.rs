//! The runtime under test behind containerd's CRI plug-in, the way a Kubernetes node adopts it:
//! Debian's containerd 1.6 with its runc runtime's options `BinaryName = "<runtime>"` (and its own
//! `Root`), driven by `../shared/tools/crictl` (`runp`, `create`, `start`, `exec -s`, `stop`,
//! `stopp`, `rmp`). containerd has its own root, state, socket and config in the test's temp dir;
//! pods use the host network, so no CNI plug-in runs (its conf dir is the test's own, empty). The
//! sandbox ("pause") and app image is one static busybox OCI layout built with umoci and imported
//! with `ctr -n k8s.io images import`; the sandbox runs the image's `sleep`. Expectations are the
//! same for berth-runc and runc. Needs root, containerd, ctr, umoci and crictl.

use berth_integration::oci_layout::{busybox_layout, tar_layout};
use berth_integration::runtime::{require_tools, run_captured, which, Output};
use berth_integration::{containerd, host, TestEnv};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const IMAGE: &str = "docker.io/berth/cri-busybox:latest";
const TIMEOUT: Duration = Duration::from_secs(120);

/// crictl: `$BERTH_CRICTL`, else `shared/tools/crictl` in a directory above the workspace
/// (`../shared/tools` of a checkout), else PATH.
fn crictl() -> PathBuf {
    if let Some(p) = std::env::var_os("BERTH_CRICTL") {
        return PathBuf::from(p);
    }
    let shared = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared/tools/crictl"))
        .find(|p| p.exists());
    shared
        .or_else(|| which("crictl"))
        .expect("crictl not found (set BERTH_CRICTL, or ../shared/tools/crictl)")
}

/// A containerd with the CRI plug-in, confined to the test's directory.
struct Cri<'a> {
    env: &'a TestEnv,
    base: PathBuf,
    address: PathBuf,
    cgroup_parent: String,
    crictl: PathBuf,
}

impl<'a> Cri<'a> {
    fn start(env: &'a TestEnv) -> Self {
        require_tools(
            &["containerd", "ctr", "umoci"],
            "apt-get install containerd umoci",
        );
        let crictl = crictl();
        let base = env.path("cri");
        for d in ["cni-conf", "cni-bin", "runc-root", "logs"] {
            std::fs::create_dir_all(base.join(d)).unwrap();
        }
        let address = base.join("c.sock");
        // restrict_oom_score_adj: the sandbox's oom_score_adj of -998 needs CAP_SYS_RESOURCE,
        // which these machines lack (runc fails the same way without it).
        let config = format!(
            r#"version = 2
root = "{b}/root"
state = "{b}/state"
[grpc]
  address = "{a}"
[ttrpc]
  address = "{a}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{b}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{IMAGE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "berth"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.berth]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.berth.options]
        BinaryName = "{rt}"
        Root = "{b}/runc-root"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{b}/cni-bin"
    conf_dir = "{b}/cni-conf"
"#,
            b = base.display(),
            a = address.display(),
            rt = env.rt.bin.display(),
        );
        containerd::spawn(env, &base, &config);
        let cgroup_parent = format!("/berth-it-cri-{}-{}", std::process::id(), env.name);
        let (needle, cg) = (base.display().to_string(), cgroup_parent.clone());
        env.on_drop(move || {
            // Shims (their -address names our socket) and anything in our pods' cgroups.
            for pid in host::pids_mentioning(&needle) {
                host::kill_pid(pid);
            }
            host::kill_cgroup_procs(&cg);
            host::unmount_all_under(Path::new(&needle));
            host::remove_cgroup_retrying(&cg);
        });
        containerd::wait_for_socket(&address);
        Cri {
            env,
            base,
            address,
            cgroup_parent,
            crictl,
        }
    }

    fn ctr(&self, args: &[&str]) -> Output {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(&self.address)
            .args(["--namespace", "k8s.io"])
            .args(args);
        run_captured(&mut c, &self.env.rt.scratch, TIMEOUT)
    }

    fn crictl(&self, args: &[&str]) -> Output {
        let endpoint = format!("unix://{}", self.address.display());
        // Our own config file, so that no /etc/crictl.yaml of someone else's applies.
        let config = self.base.join("crictl.yaml");
        std::fs::write(
            &config,
            format!("runtime-endpoint: {endpoint}\nimage-endpoint: {endpoint}\ntimeout: 60\n"),
        )
        .unwrap();
        let mut c = Command::new(&self.crictl);
        c.arg("--config")
            .arg(&config)
            .args([
                "--runtime-endpoint",
                &endpoint,
                "--image-endpoint",
                &endpoint,
            ])
            .args(["--timeout", "60s"])
            .args(args);
        run_captured(&mut c, &self.env.rt.scratch, TIMEOUT)
    }

    fn ok(&self, args: &[&str]) -> String {
        self.crictl(args).assert_success().stdout.trim().to_string()
    }

    /// The busybox layout, imported into containerd's `k8s.io` namespace as [`IMAGE`].
    fn import_busybox(&self) {
        let layout = busybox_layout(self.env, "cri-busybox", &["sleep", "2147483647"]);
        let tar = tar_layout(self.env, &layout);
        let base_name = IMAGE.trim_end_matches(":latest");
        self.ctr(&[
            "images",
            "import",
            "--base-name",
            base_name,
            tar.to_str().unwrap(),
        ])
        .assert_success();
    }

    /// Writes `value` as `<base>/<name>.json`; returns its path.
    fn json(&self, name: &str, value: &Value) -> String {
        let p = self.base.join(format!("{name}.json"));
        std::fs::write(&p, value.to_string()).unwrap();
        p.display().to_string()
    }
}

#[test]
fn crictl_runp_create_start_exec_stop_rmp() {
    let env = TestEnv::new("cri");
    let cri = Cri::start(&env);
    cri.import_busybox();
    let uid = format!("berth-it-{}", std::process::id());
    let pod = cri.json(
        "pod",
        &json!({
            "metadata": {"name": "berth-pod", "namespace": "default", "uid": uid, "attempt": 0},
            "log_directory": cri.base.join("logs"),
            "linux": {
                "cgroup_parent": cri.cgroup_parent,
                // NODE: the host network, so that no CNI plug-in is needed.
                "security_context": {"namespace_options": {"network": 2}}
            }
        }),
    );
    let app = cri.json(
        "app",
        &json!({
            "metadata": {"name": "app"},
            "image": {"image": IMAGE},
            "command": ["sleep", "100000"],
            "log_path": "app.log",
            // RuntimeDefault: containerd's default seccomp profile, also for exec'd processes.
            "linux": {"security_context": {"seccomp": {"profile_type": 0}}}
        }),
    );
    let pod_id = cri.ok(&["runp", &pod]);
    assert!(!pod_id.is_empty());
    let ctr_id = cri.ok(&["create", &pod_id, &app, &pod]);
    cri.ok(&["start", &ctr_id]);
    let state = |id: &str| -> Value {
        serde_json::from_str(&cri.ok(&["inspect", id])).unwrap_or(Value::Null)
    };
    assert_eq!(
        state(&ctr_id)["status"]["state"],
        "CONTAINER_RUNNING",
        "{}",
        state(&ctr_id)
    );

    // exec -s (ExecSync): the shim runs `<runtime> exec`; crictl prints stdout and stderr.
    let o = cri.crictl(&[
        "exec",
        "-s",
        &ctr_id,
        "sh",
        "-c",
        "echo from-exec; grep '^Seccomp:' /proc/self/status; echo to-stderr >&2",
    ]);
    assert_eq!(o.code, Some(0), "{o}");
    let lines: Vec<&str> = o.stdout.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines, ["from-exec", "Seccomp:\t2", "to-stderr"], "{o}");
    // A failing exec: its code in crictl's error.
    let o = cri.crictl(&["exec", "-s", &ctr_id, "sh", "-c", "exit 3"]);
    assert_eq!(o.code, Some(1), "{o}");
    assert!(o.stderr.contains("exited with 3"), "{o}");

    // stop (timeout 0: SIGKILL), then the pod.
    cri.ok(&["stop", &ctr_id]);
    let st = state(&ctr_id);
    assert_eq!(st["status"]["state"], "CONTAINER_EXITED", "{st}");
    assert_eq!(st["status"]["exitCode"], 137, "{st}");
    cri.ok(&["stopp", &pod_id]);
    cri.ok(&["rmp", &pod_id]);
    assert_eq!(cri.ok(&["pods", "-q"]), "");
    assert_eq!(cri.ok(&["ps", "-a", "-q"]), "");
    // The runtime's state of every container went with them.
    let left: Vec<_> = std::fs::read_dir(cri.base.join("runc-root/k8s.io"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "runtime state left: {left:?}");
}

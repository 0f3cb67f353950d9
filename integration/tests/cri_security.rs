//! A CRI pod's and containers' security and environment settings, driven by crictl and checked
//! from inside the containers: run-as user/group, supplemental groups, capabilities add/drop,
//! no-new-privs, masked and read-only paths, a Localhost seccomp profile, privileged, devices,
//! mount propagation (host to container, and both ways), the pod's sysctls, DNS config and a host port mapping,
//! and the requests CRI refuses (group without user, privileged container in an unprivileged pod).

use berth_integration::berthd_env::BerthdEnv;
use berth_integration::crictl::{write_config, Crictl};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A bind mount the test made on the host; undone on drop (BerthdEnv's last-resort cleanup
/// also detaches every mount under its temp dir).
struct HostMount(PathBuf);

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Bind-mounts `dir` on itself and makes it rshared, so mounts below it propagate; the guard
/// undoes the bind.
fn rshared_bind(dir: &Path) -> HostMount {
    let d = dir.to_str().unwrap();
    sh(&["mount", "--bind", d, d]);
    let bind = HostMount(dir.to_path_buf());
    sh(&["mount", "--make-rshared", d]);
    bind
}

fn sh(args: &[&str]) {
    let out = std::process::Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `CapEff` mask of the container's shell.
fn cap_eff(cri: &Crictl, id: &str) -> u64 {
    let status = cri.ok(&["exec", "-s", id, "cat", "/proc/self/status"]);
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap()
        .trim()
        .to_string();
    u64::from_str_radix(&hex, 16).unwrap()
}

fn container(name: &str, script: &str, linux: serde_json::Value) -> serde_json::Value {
    json!({
        "metadata": { "name": name },
        "image": { "image": "busybox" },
        "command": ["sh", "-c", script],
        "log_path": format!("{name}.log"),
        "linux": linux
    })
}

/// Writes container config `cfg` to `dir/<its name>.json`; returns the path.
fn write_container(dir: &Path, cfg: &serde_json::Value) -> String {
    let name = cfg["metadata"]["name"].as_str().unwrap();
    write_config(dir, &format!("{name}.json"), cfg)
}

fn start(cri: &Crictl, dir: &Path, pod: &str, pod_json: &str, cfg: &serde_json::Value) -> String {
    let path = write_container(dir, cfg);
    let id = cri.ok(&["create", pod, &path, pod_json]).trim().to_string();
    cri.ok(&["start", &id]);
    id
}

/// `crictl create` of `cfg` in `pod`, which must fail; returns crictl's stderr.
fn refused(cri: &Crictl, dir: &Path, pod: &str, pod_json: &str, cfg: &serde_json::Value) -> String {
    cri.fails(&["create", pod, &write_container(dir, cfg), pod_json])
}

#[test]
fn security_context_devices_propagation_sysctls_dns_ports() {
    let env = BerthdEnv::start();
    let cri = Crictl::for_env(&env);
    cri.ok(&["pull", "busybox"]);
    let dir = env.tmp().join("cri");
    std::fs::create_dir_all(&dir).unwrap();
    let host_port = berth_integration::registry::free_port();
    let pod_cfg = json!({
        "metadata": { "name": "secure", "namespace": "cri-sec", "uid": "uid-secure", "attempt": 0 },
        "hostname": "secure-host",
        "log_directory": env.tmp().join("pods/secure").display().to_string(),
        "dns_config": { "servers": ["10.0.0.53"], "searches": ["example.test"], "options": ["ndots:3"] },
        "port_mappings": [
            { "protocol": 0, "container_port": 8080, "host_port": host_port, "host_ip": "127.0.0.1" },
            { "protocol": 0, "container_port": 9090 }
        ],
        "linux": {
            "sysctls": { "kernel.shm_rmid_forced": "1" },
            "security_context": { "privileged": true }
        }
    });
    let pod_json = write_config(&dir, "pod.json", &pod_cfg);
    let pod = cri.ok(&["runp", &pod_json]).trim().to_string();

    // Refused before anything is created.
    let before = env.all_ids().len();
    let no_user = container(
        "nouser",
        "sleep 600",
        json!({ "security_context": { "run_as_group": { "value": 5 } } }),
    );
    let err = refused(&cri, &dir, &pod, &pod_json, &no_user);
    assert!(
        err.contains("InvalidArgument") && err.contains("without user"),
        "{err}"
    );
    let bad_cap = container(
        "badcap",
        "sleep 600",
        json!({ "security_context": { "capabilities": { "add_capabilities": ["NOPE"] } } }),
    );
    let err = refused(&cri, &dir, &pod, &pod_json, &bad_cap);
    assert!(err.contains("unknown capability"), "{err}");
    assert_eq!(
        env.all_ids().len(),
        before,
        "a refused create left a container"
    );

    // Users, groups, capabilities, no-new-privs, masked and read-only paths.
    let user = start(
        &cri,
        &dir,
        &pod,
        &pod_json,
        &container(
            "user",
            "exec sleep 600",
            json!({ "security_context": {
                "run_as_user": { "value": 1000 },
                "run_as_group": { "value": 2000 },
                "supplemental_groups": [1234, 5678],
                "capabilities": { "add_capabilities": ["NET_ADMIN"], "drop_capabilities": ["CHOWN", "KILL"],
                                  "add_ambient_capabilities": ["NET_BIND_SERVICE"] },
                "no_new_privs": true,
                "masked_paths": ["/proc/cpuinfo"],
                "readonly_paths": ["/etc"]
            }}),
        ),
    );
    assert_eq!(cri.ok(&["exec", "-s", &user, "id", "-u"]).trim(), "1000");
    assert_eq!(cri.ok(&["exec", "-s", &user, "id", "-g"]).trim(), "2000");
    let groups = cri.ok(&["exec", "-s", &user, "id", "-G"]);
    assert!(
        groups.split_whitespace().any(|g| g == "1234") && groups.contains("5678"),
        "{groups}"
    );
    let status = cri.ok(&["exec", "-s", &user, "cat", "/proc/self/status"]);
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");
    let bounding = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .map(|h| u64::from_str_radix(h.trim(), 16).unwrap())
        .unwrap();
    assert_eq!(bounding & 1, 0, "CAP_CHOWN dropped");
    assert_eq!(bounding & (1 << 5), 0, "CAP_KILL dropped");
    assert_ne!(bounding & (1 << 12), 0, "CAP_NET_ADMIN added");
    assert_ne!(bounding & (1 << 10), 0, "CAP_NET_BIND_SERVICE kept");
    // An ambient capability stays effective for the non-root user across exec.
    for field in ["CapAmb:", "CapEff:"] {
        let mask = status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .map(|h| u64::from_str_radix(h.trim(), 16).unwrap())
            .unwrap();
        assert_eq!(mask, 1 << 10, "{field} only CAP_NET_BIND_SERVICE: {status}");
    }
    assert_eq!(
        cri.ok(&["exec", "-s", &user, "cat", "/proc/cpuinfo"])
            .trim(),
        "",
        "masked"
    );
    let ro = cri.run(&[
        "exec",
        "-s",
        &user,
        "sh",
        "-c",
        "grep ' /etc ' /proc/mounts",
    ]);
    assert!(
        String::from_utf8_lossy(&ro.stdout).contains(" ro,")
            || String::from_utf8_lossy(&ro.stdout).contains(" ro "),
        "/etc read-only: {}",
        String::from_utf8_lossy(&ro.stdout)
    );

    // A Localhost seccomp profile (Docker's format) that refuses mkdir.
    let profile = dir.join("no-mkdir.json");
    std::fs::write(
        &profile,
        json!({ "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }] })
        .to_string(),
    )
    .unwrap();
    let filtered = start(
        &cri,
        &dir,
        &pod,
        &pod_json,
        &container(
            "seccomp",
            "exec sleep 600",
            json!({ "security_context": {
                "seccomp": { "profile_type": 2, "localhost_ref": profile.display().to_string() }
            }}),
        ),
    );
    let mk = cri.run(&["exec", "-s", &filtered, "mkdir", "/newdir"]);
    assert!(!mk.status.success(), "mkdir was allowed");
    cri.ok(&["exec", "-s", &filtered, "touch", "/newfile"]);
    let status = cri.ok(&["exec", "-s", &filtered, "cat", "/proc/self/status"]);
    assert!(status.contains("Seccomp:\t2"), "{status}");

    // Privileged (the pod is privileged): every capability of the host, a device node, and a
    // bidirectional mount: what it mounts there shows on the host.
    let both = env.tmp().join("both");
    std::fs::create_dir_all(&both).unwrap();
    let _both_bind = rshared_bind(&both);
    let host_caps = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .map(|h| u64::from_str_radix(h.trim(), 16).unwrap())
        .unwrap();
    let privileged = start(
        &cri,
        &dir,
        &pod,
        &pod_json,
        &json!({
            "metadata": { "name": "privileged" },
            "image": { "image": "busybox" },
            "command": ["sleep", "600"],
            "log_path": "privileged.log",
            "devices": [{ "host_path": "/dev/null", "container_path": "/dev/berth-null", "permissions": "rwm" }],
            "mounts": [{ "host_path": both.display().to_string(), "container_path": "/both", "propagation": 2 }],
            "linux": { "security_context": { "privileged": true } }
        }),
    );
    assert_eq!(cap_eff(&cri, &privileged), host_caps);
    let dev = cri.ok(&["exec", "-s", &privileged, "ls", "-l", "/dev/berth-null"]);
    assert!(dev.starts_with('c') && dev.contains("1,   3"), "{dev}");
    cri.ok(&[
        "exec",
        "-s",
        &privileged,
        "sh",
        "-c",
        "echo x > /dev/berth-null",
    ]);
    let _from_ctr = HostMount(both.join("fromctr"));
    cri.ok(&[
        "exec",
        "-s",
        &privileged,
        "sh",
        "-c",
        "mkdir -p /both/fromctr && mount -t tmpfs berth-ctr /both/fromctr && echo from-ctr > /both/fromctr/f",
    ]);
    assert_eq!(
        std::fs::read_to_string(both.join("fromctr/f"))
            .unwrap()
            .trim(),
        "from-ctr",
        "the container's mount propagated to the host"
    );

    // Host-to-container propagation: a mount made on the host after the start shows inside.
    let shared = env.tmp().join("shared");
    std::fs::create_dir_all(shared.join("later")).unwrap();
    let _bind = rshared_bind(&shared);
    let watcher = start(
        &cri,
        &dir,
        &pod,
        &pod_json,
        &json!({
            "metadata": { "name": "watcher" },
            "image": { "image": "busybox" },
            "command": ["sleep", "600"],
            "log_path": "watcher.log",
            "mounts": [{ "host_path": shared.display().to_string(), "container_path": "/shared", "propagation": 1 }],
            "linux": {}
        }),
    );
    let later = shared.join("later");
    sh(&[
        "mount",
        "-t",
        "tmpfs",
        "berth-prop-test",
        later.to_str().unwrap(),
    ]);
    let _tmpfs = HostMount(later.clone());
    std::fs::write(later.join("marker"), "from-host").unwrap();
    let seen = berth_integration::wait::until(
        "the host's new mount is seen in the container",
        Duration::from_secs(10),
        || {
            let out = cri.run(&["exec", "-s", &watcher, "cat", "/shared/later/marker"]);
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        },
    );
    assert_eq!(seen.trim(), "from-host");

    // The pod's sysctl, resolv.conf, hostname, and its host port.
    let sysctl = cri.ok(&[
        "exec",
        "-s",
        &watcher,
        "cat",
        "/proc/sys/kernel/shm_rmid_forced",
    ]);
    assert_eq!(sysctl.trim(), "1");
    let resolv = cri.ok(&["exec", "-s", &watcher, "cat", "/etc/resolv.conf"]);
    assert!(
        resolv.contains("nameserver 10.0.0.53")
            && resolv.contains("search example.test")
            && resolv.contains("options ndots:3"),
        "{resolv}"
    );
    assert_eq!(
        cri.ok(&["exec", "-s", &watcher, "hostname"]).trim(),
        "secure-host"
    );
    start(
        &cri,
        &dir,
        &pod,
        &pod_json,
        &container(
            "web",
            "mkdir -p /tmp/w && echo via-hostport > /tmp/w/index.html && exec httpd -f -p 8080 -h /tmp/w",
            json!({}),
        ),
    );
    let page = berth_integration::wait::until(
        "the pod's host port answers",
        Duration::from_secs(30),
        || {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", host_port)).ok()?;
            use std::io::{Read, Write};
            s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
            let mut body = String::new();
            s.read_to_string(&mut body).ok()?;
            body.contains("via-hostport").then_some(body)
        },
    );
    assert!(page.contains("200"), "{page}");

    // A privileged container in a pod that is not privileged is refused.
    let plain_cfg = json!({
        "metadata": { "name": "plain", "namespace": "cri-sec", "uid": "uid-plain", "attempt": 0 },
        "log_directory": env.tmp().join("pods/plain").display().to_string(),
        "linux": {}
    });
    let plain_json = write_config(&dir, "plain.json", &plain_cfg);
    let plain = cri.ok(&["runp", &plain_json]).trim().to_string();
    let mut priv_cfg = container(
        "priv",
        "sleep 600",
        json!({ "security_context": { "privileged": true } }),
    );
    priv_cfg["metadata"]["name"] = json!("priv");
    let err = refused(&cri, &dir, &plain, &plain_json, &priv_cfg);
    assert!(
        err.contains("InvalidArgument") && err.contains("privileged"),
        "{err}"
    );

    for p in [&pod, &plain] {
        cri.ok(&["stopp", p]);
        cri.ok(&["rmp", p]);
    }
    assert!(env.all_ids().is_empty(), "left: {:?}", env.all_ids());
}

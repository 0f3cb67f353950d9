//! Namespaces, checked from inside the container. Needs root and the runtime under test.

use berth_integration::{host, TestEnv};
use serde_json::json;
use std::process::Command;

fn ns_link(pid: &str, ns: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Prints the container's namespace links, one `name=link` a line.
const NS_SCRIPT: &str =
    "for n in pid uts ipc net mnt cgroup user time; do echo $n=$(readlink /proc/self/ns/$n); done";

fn ns_map(out: &str) -> std::collections::HashMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn pid_namespace_makes_process_pid_1() {
    let env = TestEnv::new("nspid");
    let mut b = env.bundle("b");
    let out = env.run_sh(&mut b, "echo $$; ls /proc | grep -E '^[0-9]+$' | wc -l");
    let mut l = out.lines();
    assert_eq!(l.next(), Some("1"), "{out}");
    // Only sh, ls, grep, wc can exist in a fresh pid namespace.
    let n: usize = l.next().unwrap().trim().parse().unwrap();
    assert!(n <= 4, "too many processes visible: {n}");
}

#[test]
fn configured_namespaces_differ_from_host() {
    let env = TestEnv::new("nsdiff");
    let mut b = env.bundle("b");
    b.add_namespace(json!({"type": "cgroup"}));
    let inside = ns_map(&env.run_sh(&mut b, NS_SCRIPT));
    for (short, host) in [
        ("pid", "pid"),
        ("uts", "uts"),
        ("ipc", "ipc"),
        ("net", "net"),
        ("mnt", "mnt"),
        ("cgroup", "cgroup"),
    ] {
        assert_ne!(
            inside[short],
            ns_link("self", host),
            "{short} namespace not unshared"
        );
    }
    // Not requested: shared with the host.
    assert_eq!(inside["user"], ns_link("self", "user"));
}

#[test]
fn omitted_namespaces_are_shared() {
    let env = TestEnv::new("nsshared");
    let mut b = env.bundle("b");
    for t in ["network", "ipc", "uts"] {
        b.remove_namespace(t);
    }
    b.spec.as_object_mut().unwrap().remove("hostname");
    let inside = ns_map(&env.run_sh(&mut b, NS_SCRIPT));
    assert_eq!(inside["net"], ns_link("self", "net"));
    assert_eq!(inside["ipc"], ns_link("self", "ipc"));
    assert_eq!(inside["uts"], ns_link("self", "uts"));
}

#[test]
fn uts_hostname_and_domainname() {
    let env = TestEnv::new("nsuts");
    let mut b = env.bundle("b");
    b.set("/hostname", json!("berth-host-1"));
    b.set("/domainname", json!("berth.example"));
    let out = env.run_sh(&mut b, "hostname; cat /proc/sys/kernel/domainname");
    if berth_integration::runtime::testing_runc() {
        // runc 1.1.5 ignores `domainname` (support came in runc 1.2); see docs/testing.md.
        assert_eq!(out.lines().next(), Some("berth-host-1"));
    } else {
        assert_eq!(out, "berth-host-1\nberth.example\n");
    }
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_ne!(host_name.trim(), "berth-host-1");
}

#[test]
fn net_namespace_has_only_lo() {
    let env = TestEnv::new("nsnet");
    let mut b = env.bundle("b");
    let out = env.run_sh(&mut b, "ls /sys/class/net; cat /sys/class/net/lo/operstate");
    let ifs: Vec<&str> = out.lines().collect();
    assert_eq!(ifs[0], "lo", "{out}");
    assert_eq!(ifs.len(), 2, "only lo expected: {out}");
}

#[test]
fn ipc_namespace_is_private() {
    let env = TestEnv::new("nsipc");
    let mut b = env.bundle("b");
    let out = env.run_sh(
        &mut b,
        "cat /proc/sysvipc/shm | wc -l; ipcs -m 2>/dev/null | grep -c 0x || true",
    );
    // Header line only: no segments from the host.
    assert_eq!(out.lines().next(), Some("1"), "{out}");
}

#[test]
fn mount_namespace_isolates_mounts() {
    let env = TestEnv::new("nsmnt");
    let mut b = env.bundle("b");
    for set in ["bounding", "effective", "permitted"] {
        b.spec["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_SYS_ADMIN"));
    }
    let out = env.run_sh(
        &mut b,
        "mkdir -p /mnt/x && mount -t tmpfs none /mnt/x && grep -c ' /mnt/x ' /proc/self/mountinfo",
    );
    assert_eq!(out.trim(), "1");
    assert!(
        host::mounts_under(&b.rootfs().join("mnt/x")).is_empty(),
        "container mount leaked to host"
    );
}

#[test]
fn user_namespace_with_mappings() {
    let env = TestEnv::new("nsuser");
    let mut b = env.bundle("b");
    b.add_namespace(json!({"type": "user"}));
    b.map_root_to(100000);
    // sysfs cannot be mounted in a user namespace that does not own the net namespace's... it
    // does here (both unshared), so keep the default mounts.
    let out = env.run_sh(
        &mut b,
        "id -u; id -g; cat /proc/self/uid_map; cat /proc/self/gid_map",
    );
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["0"], "{out}");
    assert_eq!(lines[1], ["0"], "{out}");
    assert_eq!(lines[2], ["0", "100000", "65536"], "{out}");
    assert_eq!(lines[3], ["0", "100000", "65536"], "{out}");
}

#[test]
fn bind_source_only_the_mapped_user_can_reach() {
    // runc does bind mounts as the container's root, i.e. the mapped host user: a source in a
    // 0700 directory of that user is reachable (host root's own view does not matter).
    let env = TestEnv::new("nsbind");
    let mut b = env.bundle("b");
    b.add_namespace(json!({"type": "user"}));
    let private = env.path("private");
    std::fs::create_dir_all(private.join("data")).unwrap();
    std::fs::write(private.join("data/file"), "mapped-only\n").unwrap();
    std::fs::create_dir_all(b.rootfs().join("mnt/data")).unwrap();
    b.map_root_to(100000);
    host::run_ok(
        Command::new("chown")
            .args(["-R", "-h", "100000:100000"])
            .arg(&private),
    );
    std::fs::set_permissions(
        &private,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    b.add_mount(json!({"destination": "/mnt/data", "type": "bind",
        "source": private.join("data"), "options": ["rbind", "ro"]}));
    let out = env.run_sh(&mut b, "cat /mnt/data/file; id -u");
    assert_eq!(out, "mapped-only\n0\n");
}

#[test]
fn cgroup_namespace_roots_proc_self_cgroup() {
    let env = TestEnv::new("nscgroup");
    let mut b = env.bundle("b");
    b.add_namespace(json!({"type": "cgroup"}));
    let out = env.run_sh(&mut b, "cat /proc/self/cgroup");
    // Inside a cgroup namespace every hierarchy's path is "/" (the container's cgroup is the root).
    for l in out.lines() {
        let path = l.splitn(3, ':').nth(2).unwrap_or_default();
        assert_eq!(path, "/", "cgroup path not namespaced: {l}\n{out}");
    }
}

#[test]
fn time_namespace_offsets() {
    if !std::path::Path::new("/proc/self/timens_offsets").exists() {
        eprintln!("kernel lacks time namespaces; skipping (documented in docs/testing.md)");
        return;
    }
    let env = TestEnv::new("nstime");
    let mut b = env.bundle("b");
    b.add_namespace(json!({"type": "time"}));
    b.set("/linux/timeOffsets", json!({"monotonic": {"secs": 86400, "nanosecs": 0}, "boottime": {"secs": 172800, "nanosecs": 0}}));
    b.write();
    let id = env.id("t");
    let o = env.run(&b, &id);
    if o.all().contains("time") && !o.success() && berth_integration::runtime::testing_runc() {
        // runc 1.1.5 predates time namespace support (added in runc 1.2).
        eprintln!("runc does not support time namespaces: {o}");
        return;
    }
    o.assert_success();
    let out = env.run_sh(
        &mut b,
        "cat /proc/self/timens_offsets; readlink /proc/self/ns/time",
    );
    assert!(out.contains("monotonic") && out.contains("86400"), "{out}");
    assert!(out.contains("boottime") && out.contains("172800"), "{out}");
    assert!(
        !out.contains(&ns_link("self", "time")),
        "time ns not unshared: {out}"
    );
}

#[test]
fn join_existing_net_namespace_by_path() {
    let env = TestEnv::new("nsjoin");
    // A net namespace we own: `unshare --net=<file>` bind-mounts it onto a file in our temp dir.
    let nsfile = env.path("netns");
    std::fs::write(&nsfile, b"").unwrap();
    let st = Command::new("unshare")
        .arg(format!("--net={}", nsfile.display()))
        .args(["sh", "-c", "ip addr add 10.123.45.67/32 dev lo"])
        .status()
        .unwrap();
    assert!(st.success(), "unshare --net failed");
    let mut b = env.bundle("b");
    b.remove_namespace("network");
    b.add_namespace(json!({"type": "network", "path": nsfile.to_str().unwrap()}));
    let out = env.run_sh(&mut b, "ip addr show lo");
    assert!(
        out.contains("10.123.45.67"),
        "did not join the namespace: {out}"
    );
    // The guard unmounts the nsfs bind mount under the temp dir.
}

#[test]
fn join_existing_uts_namespace_of_another_container() {
    let env = TestEnv::new("nsjoinuts");
    let mut a = env.bundle("a");
    a.set("/hostname", json!("shared-uts"));
    a.args(&["sleep", "1000"]);
    let aid = env.id("a");
    env.create(&a, &aid).assert_success();
    let pid = env.state(&aid)["pid"].as_i64().unwrap();
    let mut b = env.bundle("b");
    b.spec.as_object_mut().unwrap().remove("hostname");
    b.remove_namespace("uts");
    b.add_namespace(json!({"type": "uts", "path": format!("/proc/{pid}/ns/uts")}));
    let out = env.run_sh(&mut b, "hostname");
    assert_eq!(out.trim(), "shared-uts");
}

#[test]
fn user_namespace_without_network_namespace_gets_sys() {
    let env = TestEnv::new("nsusersys");
    let mut b = env.bundle("b");
    b.add_namespace(json!({"type": "user"}));
    b.remove_namespace("network");
    b.map_root_to(100000);
    // The kernel refuses a sysfs mount here (the user namespace does not own the host's network
    // namespace); the runtime must still give the container the host's /sys (a recursive bind).
    b.sh("ls /sys/class/net; grep ' /sys ' /proc/self/mountinfo");
    let id = env.id("s");
    let o = env.run(&b, &id);
    if !o.success() && berth_integration::runtime::testing_runc() && o.all().contains("sysfs") {
        // runc 1.1.5 has no fallback (only `spec --rootless` configs bind /sys).
        eprintln!("runc cannot mount sysfs here: {o}");
        return;
    }
    let out = o.assert_success().stdout;
    assert!(
        out.lines().any(|l| l == "lo"),
        "no /sys/class/net/lo: {out}"
    );
    assert!(out.contains(" /sys "), "/sys not mounted: {out}");
}

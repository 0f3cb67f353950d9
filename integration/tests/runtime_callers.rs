//! What containerd and podman rely on runc doing: `lo` up in a new network namespace, `HOME` from
//! the container's /etc/passwd, the read-only /proc/{bus,fs,irq,sys} keeping nosuid,nodev,noexec,
//! and usage errors written to `--log`. Same expectations for berth-runc and runc. Needs root.

use berth_integration::TestEnv;
use serde_json::json;

#[test]
fn loopback_is_up_in_a_new_network_namespace() {
    let env = TestEnv::new("loup");
    let mut b = env.bundle("b");
    let out = env.run_sh(&mut b, "cat /sys/class/net/lo/flags");
    let flags = u32::from_str_radix(out.trim().trim_start_matches("0x"), 16)
        .unwrap_or_else(|e| panic!("lo flags {out:?}: {e}"));
    assert_ne!(flags & 0x1, 0, "lo is down (flags {out:?})");
}

/// `echo $HOME` in a container whose config env has no HOME, as `uid`.
fn home_as(env: &TestEnv, uid: u32, extra_env: Option<&str>) -> String {
    let mut b = env.bundle(&format!("h{uid}"));
    b.set("/process/user", json!({"uid": uid, "gid": uid}));
    let mut vars = vec![json!("PATH=/usr/sbin:/usr/bin:/sbin:/bin")];
    if let Some(e) = extra_env {
        vars.push(json!(e));
    }
    b.set("/process/env", json!(vars));
    env.run_sh(&mut b, "echo \"$HOME\"").trim().to_string()
}

#[test]
fn home_comes_from_the_container_passwd_when_unset() {
    let env = TestEnv::new("home");
    // The busybox rootfs' passwd: root's home is /root, uid 1000's is /tmp.
    assert_eq!(home_as(&env, 0, None), "/root");
    assert_eq!(home_as(&env, 1000, None), "/tmp");
    // A uid without an entry gets "/".
    assert_eq!(home_as(&env, 4242, None), "/");
    // HOME from the config wins.
    assert_eq!(home_as(&env, 0, Some("HOME=/elsewhere")), "/elsewhere");
}

#[test]
fn home_lookup_does_not_follow_a_link_out_of_the_rootfs() {
    let env = TestEnv::new("homelink");
    let mut b = env.bundle("b");
    // A host passwd with a marker home; the container's /etc/passwd points at its absolute path,
    // which must resolve inside the container (where it does not exist): HOME becomes "/".
    let host_passwd = env.path("host-passwd");
    std::fs::write(&host_passwd, "root:x:0:0:root:/host-marker:/bin/sh\n").unwrap();
    let etc_passwd = b.rootfs().join("etc/passwd");
    std::fs::remove_file(&etc_passwd).unwrap();
    std::os::unix::fs::symlink(&host_passwd, &etc_passwd).unwrap();
    b.set(
        "/process/env",
        json!(["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]),
    );
    let home = env.run_sh(&mut b, "echo \"$HOME\"");
    assert_eq!(home.trim(), "/", "HOME read through a link to the host");
}

#[test]
fn readonly_proc_paths_keep_nosuid_nodev_noexec() {
    let env = TestEnv::new("procro");
    let mut b = env.bundle("b");
    // /proc as containerd and podman mount it.
    b.set("/mounts/0/options", json!(["nosuid", "noexec", "nodev"]));
    let out = env.run_sh(&mut b, "cat /proc/self/mountinfo");
    let mut seen = 0;
    for dir in ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"] {
        // The last mount at a point is the visible one.
        let Some(line) = out
            .lines()
            .rfind(|l| l.split_whitespace().nth(4) == Some(dir))
        else {
            continue; // this kernel has no such /proc entry
        };
        seen += 1;
        let opts: Vec<&str> = line.split_whitespace().nth(5).unwrap().split(',').collect();
        for want in ["ro", "nosuid", "nodev", "noexec"] {
            assert!(opts.contains(&want), "{dir} lacks {want}: {line}");
        }
    }
    assert!(seen >= 2, "no read-only /proc paths found:\n{out}");
}

#[test]
fn usage_errors_are_written_to_the_log() {
    let env = TestEnv::new("usagelog");
    let log = env.path("text.log");
    let o = env.rt(&[
        "--log",
        log.to_str().unwrap(),
        "start", // no container id
    ]);
    assert_eq!(o.code, Some(1), "{o}");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let line = text
        .lines()
        .find(|l| l.contains("level=error"))
        .unwrap_or_else(|| panic!("no error line in --log: {text:?} ({o})"));
    assert!(
        line.contains("\\\"start\\\" requires exactly 1 argument(s)"),
        "{line}"
    );

    let jlog = env.path("json.log");
    let o = env.rt(&[
        "--log",
        jlog.to_str().unwrap(),
        "--log-format",
        "json",
        "create",
        "--no-such-flag",
        "x",
    ]);
    assert_eq!(o.code, Some(1), "{o}");
    let text = std::fs::read_to_string(&jlog).unwrap_or_default();
    let entry: serde_json::Value = text
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON line in --log: {text:?} ({o})"));
    assert_eq!(entry["level"], "error", "{entry}");
    assert_eq!(
        entry["msg"], "flag provided but not defined: -no-such-flag",
        "{entry}"
    );
}

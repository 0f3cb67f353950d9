//! Behaviours where berth-runc differed from runc 1.1.5 in conformance runs: a pre-existing
//! frozen cgroup, `kill [-a] ID 0`, `run --keep`, recursive mount options (`rro`), device rules of
//! type `p` and access `rwa`, a cpuset parent that was never initialised, a read-only /dev with
//! /dev/pts below it, the console owned by the process's user, a cwd only root may enter,
//! `linux.resources.unified` on cgroup v1, and the warning about a cgroup that has processes. Same expectations for both runtimes. Needs root.

use berth_integration::console::{read_pty, ConsoleSocket};
use berth_integration::host::{self, cgroup2_only};
use berth_integration::{Bundle, TestEnv};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The freezer file of cgroup `cg` and the value that freezes it, on this host.
fn freezer(cg: &str) -> (std::path::PathBuf, &'static str, &'static str) {
    let rel = cg.trim_start_matches('/');
    if cgroup2_only() {
        (
            Path::new("/sys/fs/cgroup").join(rel).join("cgroup.freeze"),
            "1",
            "0",
        )
    } else {
        (
            Path::new("/sys/fs/cgroup/freezer")
                .join(rel)
                .join("freezer.state"),
            "FROZEN",
            "THAWED",
        )
    }
}

#[test]
fn run_into_a_frozen_cgroup_is_refused() {
    let env = TestEnv::new("frozen");
    let mut b = env.bundle("b");
    b.args(&["true"]);
    let cg = TestEnv::cgroup_path(&b);
    let (file, freeze, thaw) = freezer(&cg);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, freeze).unwrap();
    let thaw_file = file.clone();
    env.on_drop(move || {
        let _ = std::fs::write(&thaw_file, thaw);
    });
    let id = env.id("c");
    b.write();
    let o = env.rt(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id]);
    let _ = std::fs::write(&file, thaw);
    assert_eq!(o.code, Some(1), "{o}");
    assert!(
        o.all().contains("container's cgroup unexpectedly frozen"),
        "{o}"
    );
    assert!(!env.state_root().join(&id).exists(), "state left");
}

#[test]
fn a_cgroup_with_processes_is_used_with_runcs_warning() {
    let env = TestEnv::new("nonempty");
    let mut b = env.bundle("b");
    b.args(&["true"]);
    let cg = TestEnv::cgroup_path(&b);
    // A stray process in the container's cgroup in every hierarchy, as one left behind by a
    // runtime that died; killed by the env (its pid and its cgroup).
    let stray = env.spawn(std::process::Command::new("sleep").arg("100000"));
    for root in host::cgroup_roots() {
        let dir = root.join(cg.trim_start_matches('/'));
        if std::fs::create_dir_all(&dir).is_ok() {
            let _ = std::fs::write(dir.join("cgroup.procs"), stray.to_string());
        }
    }
    let id = env.id("c");
    b.write();
    let o = env.rt(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert_eq!(o.code, Some(0), "{o}");
    assert!(
        o.stderr
            .contains("container's cgroup is not empty: 1 process(es) found"),
        "{o}"
    );
    assert!(
        o.stderr.contains(
            "DEPRECATED: running container in a non-empty cgroup won't be supported in runc 1.2"
        ),
        "{o}"
    );
    // Without a stray process: no warning.
    let mut b2 = env.bundle("b2");
    b2.args(&["true"]);
    b2.write();
    let id2 = env.id("c2");
    let o = env.rt(&["run", "-d", "--bundle", b2.dir.to_str().unwrap(), &id2]);
    assert_eq!(o.code, Some(0), "{o}");
    assert!(!o.stderr.contains("not empty"), "{o}");
}

#[test]
fn kill_with_the_null_signal() {
    let env = TestEnv::new("kill0");
    let mut b = env.bundle("b");
    b.args(&["sleep", "1000"]);
    let id = env.id("c");
    env.create(&b, &id).assert_success();
    env.rt(&["start", &id]).assert_success();
    env.rt(&["kill", &id, "0"]).assert_success();
    env.rt(&["kill", "-a", &id, "0"]).assert_success();
    assert_eq!(env.status(&id), "running");
}

#[test]
fn run_keep_leaves_the_stopped_container() {
    let env = TestEnv::new("keep");
    let mut b = env.bundle("b");
    b.sh("exit 3");
    let cg = TestEnv::cgroup_path(&b);
    let id = env.id("c");
    b.write();
    let o = env.rt(&["run", "--keep", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert_eq!(o.code, Some(3), "{o}");
    assert_eq!(env.status(&id), "stopped");
    assert!(!host::cgroup_dirs(&cg).is_empty(), "cgroup removed");
    env.rt(&["delete", &id]).assert_success();
    env.assert_nothing_left(&id, &cg);
}

#[test]
fn rro_makes_every_submount_read_only() {
    let env = TestEnv::new("rro");
    let src = env.path("src");
    let sub = src.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &sub,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=1m"),
    )
    .unwrap();
    let mut b = env.bundle("b");
    b.add_mount(json!({"destination": "/mnt", "type": "bind", "source": src,
                       "options": ["rbind", "rro"]}));
    b.add_mount(
        json!({"destination": "/plain", "type": "bind", "source": src,
                       "options": ["rbind", "ro"]}),
    );
    let out = env.run_sh(
        &mut b,
        "touch /mnt/sub/x 2>/dev/null && echo rro-sub-writable; \
         touch /mnt/x 2>/dev/null && echo rro-top-writable; \
         touch /plain/sub/x 2>/dev/null && echo ro-sub-writable; echo done",
    );
    assert!(out.contains("done"), "{out}");
    assert!(!out.contains("rro-top-writable"), "{out}");
    assert!(
        !out.contains("rro-sub-writable"),
        "rro left a submount writable: {out}"
    );
    // Plain `ro` on an rbind only covers the top mount: the submount stays writable.
    assert!(out.contains("ro-sub-writable"), "{out}");
}

#[test]
fn device_rules_of_type_p_are_refused_in_runcs_words() {
    let env = TestEnv::new("devp");
    let mut b = env.bundle("b");
    b.args(&["true"]);
    b.set(
        "/linux/resources/devices",
        json!([{"allow": false, "access": "rwm"}, {"allow": true, "type": "p", "access": "rwm"}]),
    );
    let id = env.id("c");
    let cg = TestEnv::cgroup_path(&b);
    let o = env.run(&b, &id);
    assert_eq!(o.code, Some(1), "{o}");
    assert!(
        o.all().contains("invalid cgroup device type \\\"p\\\"")
            || o.all().contains("invalid cgroup device type \"p\""),
        "{o}"
    );
    env.assert_nothing_left(&id, &cg);
}

#[test]
fn device_access_letters_other_than_rwm_are_ignored() {
    let env = TestEnv::new("devrwa");
    let mut b = env.bundle("b");
    // /dev/null is allowed "rwa": read and write work, as with "rw".
    b.set(
        "/linux/resources/devices",
        json!([{"allow": false, "access": "rwm"},
               {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwa"}]),
    );
    let out = env.run_sh(&mut b, "echo x > /dev/null && cat /dev/null && echo ok");
    assert!(out.contains("ok"), "{out}");
}

#[test]
fn cpuset_parent_that_was_never_initialised() {
    if cgroup2_only() {
        eprintln!("v1 cpuset only");
        return;
    }
    let env = TestEnv::new("cpuset");
    let mut b = env.bundle("b");
    b.args(&["true"]);
    let parent = TestEnv::cgroup_path(&b);
    // A parent someone else made, with empty cpuset.cpus/mems (as mkdir leaves them).
    let pdir = Path::new("/sys/fs/cgroup/cpuset").join(parent.trim_start_matches('/'));
    std::fs::create_dir_all(&pdir).unwrap();
    let _ = std::fs::write(pdir.join("cgroup.clone_children"), "0");
    let child = format!("{parent}/inner");
    b.set("/linux/cgroupsPath", json!(child));
    let id = env.id("c");
    let o = env.run(&b, &id);
    assert!(o.success(), "{o}");
}

#[test]
fn read_only_dev_with_dev_pts_below() {
    let env = TestEnv::new("rodev");
    let mut b = env.bundle("b");
    b.set(
        "/mounts/1/options",
        json!(["nosuid", "strictatime", "mode=755", "size=65536k", "ro"]),
    );
    let out = env.run_sh(
        &mut b,
        "grep -E ' /dev(/pts)? ' /proc/self/mountinfo; touch /dev/x 2>/dev/null && echo dev-writable; echo done",
    );
    assert!(out.contains("done"), "{out}");
    assert!(!out.contains("dev-writable"), "{out}");
    let dev = out
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some("/dev"))
        .unwrap_or_else(|| panic!("no /dev mount: {out}"));
    let opts: Vec<&str> = dev.split_whitespace().nth(5).unwrap().split(',').collect();
    assert!(opts.contains(&"ro") && opts.contains(&"nosuid"), "{dev}");
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().nth(4) == Some("/dev/pts")),
        "{out}"
    );
}

#[test]
fn console_is_owned_by_the_process_user() {
    let env = TestEnv::new("consoleown");
    let sock = ConsoleSocket::bind(&env.path("console.sock"));
    let mut b = env.bundle("b");
    b.set("/process/terminal", json!(true));
    b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    b.sh("stat -c 'owner=%u:%g' $(tty); echo done");
    let id = env.id("c");
    let master = env.start_on_console(&b, &id, &sock);
    let out = read_pty(&master, Duration::from_secs(20)).replace('\r', "");
    // The uid becomes the process's; the group stays devpts' tty group (gid=5).
    assert!(out.contains("owner=1000:5"), "{out:?}");
}

/// Creates `rel` in the bundle's rootfs with mode 0700 (owned by root until chowned).
fn private_dir_in_rootfs(b: &Bundle, rel: &str) -> PathBuf {
    let dir = b.rootfs().join(rel);
    std::fs::create_dir_all(&dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

#[test]
fn cwd_that_only_root_may_enter() {
    let env = TestEnv::new("cwdroot");
    let mut b = env.bundle("b");
    private_dir_in_rootfs(&b, "rootonly");
    b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    b.set("/process/cwd", json!("/rootonly"));
    // The process may not list it, but it runs there.
    let out = env.run_sh(&mut b, "pwd; ls . >/dev/null 2>&1 || echo cannot-list");
    assert!(out.contains("/rootonly"), "{out}");
    assert!(out.contains("cannot-list"), "{out}");
}

#[test]
fn cwd_that_only_the_process_user_may_enter() {
    let env = TestEnv::new("cwduser");
    let mut b = env.bundle("b");
    let dir = private_dir_in_rootfs(&b, "home/u");
    nix::unistd::chown(
        &dir,
        Some(nix::unistd::Uid::from_raw(1000)),
        Some(nix::unistd::Gid::from_raw(1000)),
    )
    .unwrap();
    b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    b.set("/process/cwd", json!("/home/u"));
    let out = env.run_sh(&mut b, "pwd; touch mine && echo wrote");
    assert!(out.contains("/home/u") && out.contains("wrote"), "{out}");
}

#[test]
fn unified_resources_on_cgroup_v1_give_runcs_error() {
    if cgroup2_only() {
        eprintln!("a cgroup v1 host only");
        return;
    }
    let env = TestEnv::new("univ1");
    let mut b = env.bundle("b");
    b.args(&["true"]);
    b.set(
        "/linux/resources/unified",
        json!({"memory.max": "100000000"}),
    );
    let id = env.id("c");
    let cg = TestEnv::cgroup_path(&b);
    let o = env.run(&b, &id);
    assert_eq!(o.code, Some(1), "{o}");
    assert!(
        o.all()
            .contains("invalid configuration: cannot use unified on cgroup v1"),
        "{o}"
    );
    env.assert_nothing_left(&id, &cg);
}

#[test]
fn version_has_runcs_lines() {
    let env = TestEnv::new("version");
    let o = env.rt(&["--version"]).assert_success();
    let mut lines = o.stdout.lines();
    let first = lines.next().unwrap_or_default();
    let (name, version) = first
        .split_once(" version ")
        .unwrap_or_else(|| panic!("first line not `NAME version X`: {o}"));
    assert!(!name.is_empty() && !version.trim().is_empty(), "{o}");
    assert!(o.stdout.lines().any(|l| l.starts_with("commit: ")), "{o}");
    assert!(o.stdout.lines().any(|l| l.starts_with("spec: ")), "{o}");
}

#[test]
fn help_has_runcs_sections() {
    let env = TestEnv::new("help");
    let o = env.rt(&["--help"]).assert_success();
    for section in [
        "NAME:",
        "USAGE:",
        "VERSION:",
        "COMMANDS:",
        "GLOBAL OPTIONS:",
    ] {
        assert!(
            o.stdout.lines().any(|l| l == section),
            "no {section} in --help: {o}"
        );
    }
    for cmd in ["create", "start", "update", "events", "kill", "delete"] {
        assert!(
            o.stdout.lines().any(|l| l.trim_start().starts_with(cmd)),
            "{cmd} not listed: {o}"
        );
    }
    let o = env.rt(&["help", "start"]).assert_success();
    assert!(o.stdout.lines().any(|l| l == "NAME:"), "{o}");
    assert!(o.stdout.lines().any(|l| l == "USAGE:"), "{o}");
    assert!(o.stdout.contains(" start"), "{o}");
}

#[test]
fn debug_writes_debug_lines() {
    let env = TestEnv::new("debug");
    let mut b = env.bundle("b");
    b.args(&["sleep", "1000"]);
    let id = env.id("c");
    let log = env.path("debug.log");
    b.write();
    env.rt(&[
        "--debug",
        "--log",
        log.to_str().unwrap(),
        "create",
        "--bundle",
        b.dir.to_str().unwrap(),
        &id,
    ])
    .assert_success();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    // More than a closing line: what ran and what it made (runc: its nsexec stages).
    assert!(
        text.lines().filter(|l| l.contains("level=debug")).count() >= 3,
        "too few debug lines in --log: {text:?}"
    );
    let quiet = env.path("quiet.log");
    let id2 = env.id("q");
    env.rt(&[
        "--log",
        quiet.to_str().unwrap(),
        "create",
        "--bundle",
        b.dir.to_str().unwrap(),
        &id2,
    ])
    .assert_success();
    let text = std::fs::read_to_string(&quiet).unwrap_or_default();
    assert!(
        !text.contains("level=debug"),
        "debug lines without --debug: {text:?}"
    );
}

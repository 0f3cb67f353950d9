//! Bad input: every failure exits non-zero, names the thing at fault, and leaves nothing
//! behind (no state dir, no mounts under the temp dir, no cgroup dir, no process).
//! Needs root and the runtime under test.

use berth_integration::{host, Bundle, Output, TestEnv};
use serde_json::json;

/// Creates `b` as a new container; asserts failure, an error mentioning every one of `needles`
/// (case-insensitive), and no leftovers.
#[track_caller]
fn create_fails(env: &TestEnv, b: &Bundle, needles: &[&str]) -> Output {
    let id = env.id("bad");
    let cg = TestEnv::cgroup_path(b);
    let o = env.create(b, &id).fails();
    let text = o.all().to_lowercase();
    for n in needles {
        assert!(
            text.contains(&n.to_lowercase()),
            "error should mention {n:?}: {o}"
        );
    }
    env.assert_nothing_left(&id, &cg);
    o
}

#[test]
fn malformed_config_json() {
    let env = TestEnv::new("badjson");
    let b = env.bundle("b");
    let id = env.id("bad");
    b.write();
    std::fs::write(
        b.dir.join("config.json"),
        "{ \"ociVersion\": \"1.0.2\", \"process\": ",
    )
    .unwrap();
    let cg = TestEnv::cgroup_path(&b);
    let mut c = env.rt.command(&["create", "--bundle"]);
    c.arg(&b.dir).arg(&id);
    let o = berth_integration::runtime::run_captured(
        &mut c,
        &env.rt.scratch,
        berth_integration::runtime::COMMAND_TIMEOUT,
    )
    .fails();
    if !berth_integration::runtime::testing_runc() {
        // runc 1.1.5 says only "unexpected EOF" (docs/testing.md); the file must be named.
        assert!(
            o.all().contains("config.json"),
            "error should name config.json: {o}"
        );
    }
    env.assert_nothing_left(&id, &cg);
}

#[test]
fn missing_root_field() {
    let env = TestEnv::new("noroot");
    let mut b = env.bundle("b");
    b.spec.as_object_mut().unwrap().remove("root");
    // create() rewrites config.json from the spec.
    create_fails(&env, &b, &["root"]);
}

#[test]
fn empty_args() {
    let env = TestEnv::new("noargs");
    let mut b = env.bundle("b");
    b.set("/process/args", json!([]));
    create_fails(&env, &b, &["args"]);
}

#[test]
fn relative_cwd() {
    let env = TestEnv::new("relcwd");
    let mut b = env.bundle("b");
    b.set("/process/cwd", json!("relative/dir"));
    create_fails(&env, &b, &["cwd"]);
}

#[test]
fn missing_bundle() {
    let env = TestEnv::new("nobundle");
    let id = env.id("bad");
    let missing = env.path("no-such-bundle");
    let o = env
        .rt(&["create", "--bundle", missing.to_str().unwrap(), &id])
        .fails();
    assert!(
        o.all().contains("no-such-bundle") || o.all().contains("config.json"),
        "{o}"
    );
    assert!(!env.state_root().join(&id).exists());
}

#[test]
fn missing_rootfs() {
    let env = TestEnv::new("norootfs");
    let mut b = env.bundle("b");
    b.set("/root/path", json!("no-such-rootfs"));
    create_fails(&env, &b, &["no-such-rootfs"]);
}

#[test]
fn invalid_ids() {
    let env = TestEnv::new("badids");
    let b = env.bundle("b");
    b.write();
    for id in ["../x", "a/b", "", "..", "/abs"] {
        env.track_id(id);
        let o = env
            .rt(&["create", "--bundle", b.dir.to_str().unwrap(), id])
            .fails();
        assert!(!o.all().is_empty(), "no error text for id {id:?}");
        // Nothing may appear outside or inside the state root for a rejected id.
        let entries: Vec<_> = std::fs::read_dir(env.state_root())
            .map(|r| r.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(
            entries.is_empty(),
            "state root not empty after id {id:?}: {entries:?}"
        );
        assert!(!env.dir.join("x").exists() && !env.dir.join("state/a").exists());
    }
    assert!(host::mounts_under(&env.dir).is_empty());
    assert!(host::cgroup_dirs(&TestEnv::cgroup_path(&b)).is_empty());
}

#[test]
fn duplicate_id() {
    let env = TestEnv::new("dupid");
    let mut b = env.bundle("b");
    b.args(&["sleep", "1000"]);
    let id = env.id("dup");
    env.create(&b, &id).assert_success();
    let first = env.state(&id);
    let o = env.create(&b, &id).fails();
    assert!(o.all().contains("exist") || o.all().contains(&id), "{o}");
    // The first container is untouched.
    let now = env.state(&id);
    assert_eq!(now["pid"], first["pid"]);
    assert_eq!(now["status"], "created");
}

#[test]
fn mount_destination_symlink_to_host_stays_in_rootfs() {
    let env = TestEnv::new("symlinkdest");
    let host_target = env.path("host-target");
    std::fs::create_dir_all(&host_target).unwrap();
    std::fs::write(host_target.join("keep"), "original").unwrap();
    let mut b = env.bundle("b");
    // Absolute and relative symlinks that point at the host directory from inside the rootfs.
    std::os::unix::fs::symlink(&host_target, b.rootfs().join("evil")).unwrap();
    std::os::unix::fs::symlink(
        "../../../../../../../../..".to_string() + host_target.to_str().unwrap(),
        b.rootfs().join("evil2"),
    )
    .unwrap();
    b.add_mount(
        json!({"destination": "/evil", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}),
    );
    b.add_mount(json!({"destination": "/evil2/sub", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}));
    b.sh("echo PWNED > /evil/pwned; echo PWNED > /evil2/sub/pwned; true");
    let id = env.id("c");
    let before = host::mount_points();
    let o = env.run(&b, &id);
    // Whatever the runtime decides (refuse, or mount inside the rootfs), the host is untouched.
    let entries: Vec<_> = std::fs::read_dir(&host_target)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        entries,
        vec![std::ffi::OsString::from("keep")],
        "host target changed: {o}"
    );
    assert_eq!(
        std::fs::read_to_string(host_target.join("keep")).unwrap(),
        "original"
    );
    let after = host::mount_points();
    assert!(
        after
            .iter()
            .all(|m| before.contains(m) || !m.starts_with(&host_target)),
        "mount on host target"
    );
    assert!(host::mounts_under(&host_target).is_empty());
}

#[test]
fn unknown_namespace_type() {
    let env = TestEnv::new("badns");
    let mut b = env.bundle("b");
    b.add_namespace(json!({"type": "bogusns"}));
    create_fails(&env, &b, &["bogusns"]);
}

#[test]
fn id_maps_beyond_32_bits() {
    // hostID 4294967295 + 1 wrapped to host uid 0 in berth-runc's own map arithmetic.
    let env = TestEnv::new("badidmap");
    let mut b = env.bundle("b");
    b.add_namespace(json!({"type": "user"}));
    b.set(
        "/linux/uidMappings",
        json!([{"containerID": 0, "hostID": 4294967295u64, "size": 2}]),
    );
    b.set(
        "/linux/gidMappings",
        json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
    );
    let needles: &[&str] = if berth_integration::runtime::testing_runc() {
        &[]
    } else {
        &["uidMappings", "beyond the 32-bit id space"]
    };
    create_fails(&env, &b, needles);
}

#[test]
fn namespace_path_that_does_not_exist() {
    let env = TestEnv::new("badnspath");
    let mut b = env.bundle("b");
    b.remove_namespace("network");
    b.add_namespace(json!({"type": "network", "path": "/proc/self/ns/no-such-ns"}));
    create_fails(&env, &b, &["no-such-ns"]);
}

#[test]
fn unknown_signal_name() {
    let env = TestEnv::new("badsignal");
    let mut b = env.bundle("b");
    b.args(&["sleep", "1000"]);
    let id = env.id("c");
    env.create(&b, &id).assert_success();
    let o = env.rt(&["kill", &id, "SIGBERTHNOPE"]).fails();
    assert!(
        o.all().contains("SIGBERTHNOPE") || o.all().to_lowercase().contains("signal"),
        "{o}"
    );
    assert_eq!(env.status(&id), "created");
}

#[test]
fn operations_on_missing_container() {
    let env = TestEnv::new("missing");
    let id = env.id("ghost");
    for args in [
        vec!["start", &id],
        vec!["kill", &id, "KILL"],
        vec!["delete", &id],
        vec!["state", &id],
    ] {
        let o = env.rt(&args).fails();
        assert!(
            o.all().contains("does not exist") || o.all().contains(&id),
            "{o}"
        );
    }
}

#[test]
fn failed_exec_leaves_nothing() {
    let env = TestEnv::new("failexec");
    let mut b = env.bundle("b");
    b.args(&["/no/such/binary"]);
    let id = env.id("c");
    let cg = TestEnv::cgroup_path(&b);
    b.write();
    // runc reports a missing executable at create; a runtime may also report it at start.
    let o = env.create(&b, &id);
    if o.success() {
        env.rt(&["start", &id]).fails();
        env.rt(&["delete", "--force", &id]);
    } else {
        assert!(o.all().contains("/no/such/binary"), "{o}");
    }
    env.assert_nothing_left(&id, &cg);
}

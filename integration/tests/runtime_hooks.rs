//! OCI hooks: every kind runs, in order, gets the state JSON on stdin and its env; a hanging
//! hook is killed at its timeout; a failing createRuntime hook fails create and leaves nothing.
//! Needs root and the runtime under test.

use berth_integration::bundle::HOOK_KINDS;
use berth_integration::{host, Bundle, TestEnv};
use serde_json::{json, Value};
use std::path::Path;

/// Writes the hook script into `dir` (a directory bind-mounted into the container at /hooks,
/// so hooks that run in the container's namespaces can use the same script and files).
fn write_hook_script(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let script = "#!/bin/sh\n# usage: hook.sh NAME OUTDIR\ncat > \"$2/$1.json\"\nenv > \"$2/$1.env\"\necho \"$1\" >> \"$2/order\"\n";
    std::fs::write(dir.join("hook.sh"), script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("hook.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn hook(path: &str, name: &str, outdir: &str) -> Value {
    json!({"path": path, "args": ["hook.sh", name, outdir], "env": [format!("BERTH_HOOK={name}"), "PATH=/usr/bin:/bin"], "timeout": 20})
}

fn bundle_with_hooks(env: &TestEnv) -> (Bundle, std::path::PathBuf) {
    let dir = env.path("hooks");
    write_hook_script(&dir);
    let host_script = dir.join("hook.sh");
    let hs = host_script.to_str().unwrap();
    let hd = dir.to_str().unwrap();
    let mut b = env.bundle("b");
    b.add_mount(
        json!({"destination": "/hooks", "type": "bind", "source": hd, "options": ["rbind", "rw"]}),
    );
    b.set(
        "/hooks",
        json!({
            "prestart": [hook(hs, "prestart", hd)],
            "createRuntime": [hook(hs, "createRuntime", hd)],
            "createContainer": [hook(hs, "createContainer", hd)],
            // Resolved and run inside the container, after pivot_root: use the container's view.
            "startContainer": [hook("/hooks/hook.sh", "startContainer", "/hooks")],
            "poststart": [hook(hs, "poststart", hd)],
            "poststop": [hook(hs, "poststop", hd)]
        }),
    );
    (b, dir)
}

#[test]
fn all_hooks_run_in_order_with_state_and_env() {
    let env = TestEnv::new("hooks");
    let (mut b, dir) = bundle_with_hooks(&env);
    b.sh("echo started > /hooks/process; sleep 0.2");
    let id = env.id("c");
    env.create(&b, &id).assert_success();
    let order = || std::fs::read_to_string(dir.join("order")).unwrap_or_default();
    // runc 1.1.5 runs poststart hooks at the end of `create` rather than after `start`
    // (fixed in runc 1.2; docs/testing.md). Everyone else must follow the spec.
    let runc = berth_integration::runtime::testing_runc();
    let (after_create, after_start) = if runc {
        (
            "prestart\ncreateRuntime\ncreateContainer\npoststart\n",
            "prestart\ncreateRuntime\ncreateContainer\npoststart\nstartContainer\n",
        )
    } else {
        (
            "prestart\ncreateRuntime\ncreateContainer\n",
            "prestart\ncreateRuntime\ncreateContainer\nstartContainer\npoststart\n",
        )
    };
    assert_eq!(order(), after_create, "after create");
    env.start_until(&id, "stopped");
    assert_eq!(order(), after_start, "after start");
    env.rt(&["delete", &id]).assert_success();
    assert_eq!(order(), format!("{after_start}poststop\n"));

    for name in HOOK_KINDS {
        let raw = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
        let st: Value = serde_json::from_str(&raw)
            .unwrap_or_else(|e| panic!("{name} stdin not JSON ({e}): {raw:?}"));
        assert_eq!(st["id"], id.as_str(), "{name}: {st}");
        assert!(st["ociVersion"].is_string(), "{name}: {st}");
        assert!(st["status"].is_string(), "{name}: {st}");
        assert_eq!(
            Path::new(st["bundle"].as_str().unwrap()),
            b.dir,
            "{name}: {st}"
        );
        if name != "poststop" {
            assert!(st["pid"].as_i64().unwrap_or(0) > 0, "{name}: {st}");
        }
        let envs = std::fs::read_to_string(dir.join(format!("{name}.env"))).unwrap();
        assert!(
            envs.lines().any(|l| l == format!("BERTH_HOOK={name}")),
            "{name} env: {envs}"
        );
    }
    let poststop: Value =
        serde_json::from_slice(&std::fs::read(dir.join("poststop.json")).unwrap()).unwrap();
    assert_eq!(poststop["status"], "stopped");
    let poststart: Value =
        serde_json::from_slice(&std::fs::read(dir.join("poststart.json")).unwrap()).unwrap();
    if !runc {
        assert_eq!(poststart["status"], "running");
    }
}

#[test]
fn hanging_hook_is_killed_at_timeout() {
    let env = TestEnv::new("hooktimeout");
    let dir = env.path("hooks");
    std::fs::create_dir_all(&dir).unwrap();
    let pidfile = dir.join("hook.pid");
    let mut b = env.bundle("b");
    b.set(
        "/hooks",
        json!({"createRuntime": [{
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("echo $$ > {}; exec sleep 600", pidfile.display())],
            "timeout": 1
        }]}),
    );
    let id = env.id("c");
    let cg = TestEnv::cgroup_path(&b);
    let o = env.create(&b, &id).fails();
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    env.track_pid(pid);
    assert!(
        !host::pid_alive(pid),
        "hook {pid} still running after its timeout: {o}"
    );
    assert!(
        o.all().contains("timed out") || o.all().contains("timeout"),
        "{o}"
    );
    env.assert_nothing_left(&id, &cg);
}

#[test]
fn failing_create_runtime_hook_fails_create_and_leaves_nothing() {
    let env = TestEnv::new("hookfail");
    let mut b = env.bundle("b");
    b.set("/hooks", json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo hookboom >&2; exit 7"]}]}));
    let id = env.id("c");
    let cg = TestEnv::cgroup_path(&b);
    let o = env.create(&b, &id).fails();
    assert!(
        o.all().contains("createRuntime") || o.all().contains("hook"),
        "error should name the hook: {o}"
    );
    env.assert_nothing_left(&id, &cg);
}

#[test]
fn failing_poststart_hook_only_warns() {
    if berth_integration::runtime::testing_runc() {
        // runc 1.1.5 runs poststart during create and fails it (docs/testing.md).
        eprintln!("skipped for runc 1.1.5: poststart runs during create there");
        return;
    }
    let env = TestEnv::new("hookpoststart");
    let mut b = env.bundle("b");
    b.args(&["sleep", "1000"]);
    b.set(
        "/hooks",
        json!({"poststart": [{"path": "/bin/false", "args": ["false"]}]}),
    );
    let id = env.id("c");
    env.create(&b, &id).assert_success();
    // The spec: a failing poststart hook is logged as a warning and the lifecycle continues.
    env.start_until(&id, "running");
}

#[test]
fn hooks_during_create_see_creating_status() {
    let env = TestEnv::new("hookcreating");
    let dir = env.path("hooks");
    write_hook_script(&dir);
    let hs = dir.join("hook.sh");
    let (hs, hd) = (hs.to_str().unwrap(), dir.to_str().unwrap());
    let mut b = env.bundle("b");
    b.args(&["sleep", "1000"]);
    b.set(
        "/hooks",
        json!({"createRuntime": [hook(hs, "createRuntime", hd)]}),
    );
    let id = env.id("c");
    env.create(&b, &id).assert_success();
    let st: Value =
        serde_json::from_slice(&std::fs::read(dir.join("createRuntime.json")).unwrap()).unwrap();
    // The state passed while the container is being set up: creating, then created after.
    assert_eq!(st["status"], "creating", "{st}");
    assert_eq!(env.status(&id), "created");
}

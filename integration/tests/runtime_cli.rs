//! CLI surface: list (table/json/-q), spec, features, state fields, kill by name/number/--all,
//! --pid-file, --log with --log-format json. Needs root and the runtime under test.

use berth_integration::bundle::HOOK_KINDS;
use berth_integration::TestEnv;
use serde_json::Value;

/// The fields of runc's `state` (and of each `list --format json` entry).
const STATE_KEYS: [&str; 8] = [
    "ociVersion",
    "id",
    "pid",
    "status",
    "bundle",
    "rootfs",
    "created",
    "owner",
];

fn created_sleeper(env: &TestEnv, name: &str) -> String {
    let mut b = env.bundle(name);
    b.args(&["sleep", "1000"]);
    let id = env.id(name);
    env.create(&b, &id).assert_success();
    id
}

#[test]
fn state_json_has_runc_fields() {
    let env = TestEnv::new("statefields");
    let id = created_sleeper(&env, "c");
    let st = env.state(&id);
    let obj = st.as_object().expect("state is an object");
    for key in STATE_KEYS {
        assert!(obj.contains_key(key), "state lacks {key}: {st}");
    }
    // Nothing beyond runc's set (annotations appear only when the spec has some).
    for key in obj.keys() {
        assert!(
            STATE_KEYS.contains(&key.as_str()) || key == "annotations",
            "state has a field runc does not: {key}: {st}"
        );
    }
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], id.as_str());
    assert!(st["bundle"].as_str().unwrap().ends_with("/c"), "{st}");
    assert!(
        st["rootfs"].as_str().unwrap().ends_with("/c/rootfs"),
        "{st}"
    );
    // RFC 3339 timestamp.
    let created = st["created"].as_str().unwrap();
    assert!(
        created.len() >= 20 && created.as_bytes()[4] == b'-' && created.contains('T'),
        "{created}"
    );
}

#[test]
fn list_table_json_quiet() {
    let env = TestEnv::new("list");
    let empty = env.rt(&["list"]).assert_success();
    assert!(empty.stdout.starts_with("ID"), "{empty}");
    let a = created_sleeper(&env, "a");
    let bid = created_sleeper(&env, "b");
    env.rt(&["start", &bid]).assert_success();
    env.wait_status(&bid, "running");

    let table = env.rt(&["list"]).assert_success().stdout;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
        "{table}"
    );
    let row_a = table
        .lines()
        .find(|l| l.starts_with(&a))
        .unwrap_or_else(|| panic!("{a} missing: {table}"));
    assert!(
        row_a.split_whitespace().nth(2) == Some("created"),
        "{row_a}"
    );
    let row_b = table.lines().find(|l| l.starts_with(&bid)).unwrap();
    assert!(
        row_b.split_whitespace().nth(2) == Some("running"),
        "{row_b}"
    );

    let json: Value = serde_json::from_str(
        &env.rt(&["list", "--format", "json"])
            .assert_success()
            .stdout,
    )
    .unwrap();
    let arr = json.as_array().expect("list json is an array");
    assert_eq!(arr.len(), 2, "{json}");
    for c in arr {
        for key in STATE_KEYS {
            assert!(c.get(key).is_some(), "list entry lacks {key}: {c}");
        }
    }
    let mut quiet: Vec<String> = env
        .rt(&["list", "-q"])
        .assert_success()
        .stdout
        .lines()
        .map(String::from)
        .collect();
    quiet.sort();
    let mut want = vec![a.clone(), bid.clone()];
    want.sort();
    assert_eq!(quiet, want);
}

#[test]
fn spec_writes_default_config() {
    let env = TestEnv::new("spec");
    let dir = env.path("specdir");
    std::fs::create_dir_all(&dir).unwrap();
    env.rt(&["spec", "--bundle", dir.to_str().unwrap()])
        .assert_success();
    let spec: Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert!(
        spec["ociVersion"].as_str().unwrap().starts_with("1."),
        "{spec}"
    );
    assert_eq!(spec["root"]["path"], "rootfs");
    assert_eq!(spec["process"]["terminal"], true);
    assert_eq!(spec["process"]["args"], serde_json::json!(["sh"]));
    let ns: Vec<&str> = spec["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    for t in ["pid", "network", "ipc", "uts", "mount"] {
        assert!(ns.contains(&t), "default spec lacks {t} namespace: {ns:?}");
    }
    // A second spec must refuse to overwrite the existing file.
    let o = env.rt(&["spec", "--bundle", dir.to_str().unwrap()]).fails();
    assert!(o.all().contains("config.json"), "{o}");
    // `--rootless` is accepted and yields user namespace mappings.
    let rl = env.path("rootless");
    std::fs::create_dir_all(&rl).unwrap();
    env.rt(&["spec", "--rootless", "--bundle", rl.to_str().unwrap()])
        .assert_success();
    let spec: Value =
        serde_json::from_slice(&std::fs::read(rl.join("config.json")).unwrap()).unwrap();
    assert!(spec["linux"]["uidMappings"].is_array(), "{spec}");
}

#[test]
fn features_reports_capabilities() {
    let env = TestEnv::new("features");
    let o = env.rt(&["features"]).assert_success();
    let f: Value =
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("features JSON: {e}: {o}"));
    assert!(
        f["ociVersionMin"].is_string() && f["ociVersionMax"].is_string(),
        "{f}"
    );
    let hooks: Vec<&str> = f["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    for h in HOOK_KINDS {
        assert!(hooks.contains(&h), "features lacks hook {h}");
    }
    let opts: Vec<&str> = f["mountOptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    for o in ["bind", "rbind", "ro", "nosuid", "nodev", "noexec"] {
        assert!(opts.contains(&o), "features lacks mount option {o}");
    }
    let ns: Vec<&str> = f["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    for n in ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"] {
        assert!(ns.contains(&n), "features lacks namespace {n}");
    }
    assert!(
        f["linux"]["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "CAP_SYS_ADMIN"),
        "{f}"
    );
}

fn kill_and_expect(env: &TestEnv, sig: &str) {
    let mut b = env.bundle(&format!("k{}", sig.to_lowercase()));
    // Not pid 1 (no pid ns) so that catchable signals have their default action.
    b.remove_namespace("pid");
    b.args(&["sleep", "1000"]);
    let id = env.id("k");
    env.create(&b, &id).assert_success();
    env.start_until(&id, "running");
    env.rt(&["kill", &id, sig]).assert_success();
    assert_eq!(
        env.wait_status(&id, "stopped"),
        "stopped",
        "after kill {sig}"
    );
    env.rt(&["delete", &id]).assert_success();
}

#[test]
fn kill_signal_names_and_numbers() {
    let env = TestEnv::new("killsig");
    for sig in [
        "KILL", "SIGKILL", "9", "TERM", "SIGTERM", "15", "SIGINT", "2", "HUP",
    ] {
        kill_and_expect(&env, sig);
    }
}

#[test]
fn kill_default_signal_is_sigterm() {
    let env = TestEnv::new("killdefault");
    let mut b = env.bundle("b");
    // A trap on TERM that writes a marker: proves which signal arrived.
    b.sh("trap 'echo got-term > /tmp/sig; exit 0' TERM; while true; do sleep 0.1; done");
    let id = env.id("c");
    env.create(&b, &id).assert_success();
    env.start_until(&id, "running");
    std::thread::sleep(std::time::Duration::from_millis(200));
    env.rt(&["kill", &id]).assert_success();
    assert_eq!(env.wait_status(&id, "stopped"), "stopped");
    let marker = std::fs::read_to_string(b.rootfs().join("tmp/sig")).unwrap_or_default();
    assert_eq!(marker.trim(), "got-term");
}

#[test]
fn kill_all_reaches_every_process() {
    let env = TestEnv::new("killall");
    let mut b = env.bundle("b");
    b.remove_namespace("pid");
    b.sh("sleep 1000 & sleep 1000 & wait");
    let id = env.id("c");
    let cg = TestEnv::cgroup_path(&b);
    env.create(&b, &id).assert_success();
    env.start_until(&id, "running");
    // Wait for the children to exist in the cgroup.
    let start = std::time::Instant::now();
    let mut pids = Vec::new();
    while start.elapsed().as_secs() < 10 {
        pids = berth_integration::host::cgroup_dirs(&cg)
            .first()
            .map(|d| berth_integration::host::cgroup_pids(d))
            .unwrap_or_default();
        if pids.len() >= 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        pids.len() >= 3,
        "expected sh + 2 sleeps in the cgroup: {pids:?}"
    );
    env.rt(&["kill", "--all", &id, "KILL"]).assert_success();
    assert_eq!(env.wait_status(&id, "stopped"), "stopped");
    let start = std::time::Instant::now();
    while pids.iter().any(|p| berth_integration::host::pid_alive(*p))
        && start.elapsed().as_secs() < 10
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for p in &pids {
        assert!(
            !berth_integration::host::pid_alive(*p),
            "pid {p} survived kill --all"
        );
    }
}

#[test]
fn unknown_signal_name_fails() {
    let env = TestEnv::new("badsig");
    let id = created_sleeper(&env, "c");
    let o = env.rt(&["kill", &id, "SIGNOPE"]).fails();
    assert!(
        o.all().contains("SIGNOPE") || o.all().to_lowercase().contains("signal"),
        "{o}"
    );
    assert_eq!(env.status(&id), "created");
}

#[test]
fn pid_file_holds_init_pid() {
    let env = TestEnv::new("pidfile");
    let mut b = env.bundle("b");
    b.args(&["sleep", "1000"]);
    let id = env.id("c");
    let pidfile = env.path("init.pid");
    b.write();
    env.rt(&[
        "create",
        "--pid-file",
        pidfile.to_str().unwrap(),
        "--bundle",
        b.dir.to_str().unwrap(),
        &id,
    ])
    .assert_success();
    let pid: i64 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(serde_json::json!(pid), env.state(&id)["pid"]);
}

#[test]
fn log_json_records_failing_command() {
    let env = TestEnv::new("logjson");
    let log = env.path("runtime.log");
    let missing = env.id("nosuch");
    let o = env.rt(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "start",
        &missing,
    ]);
    o.clone().fails();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let errors: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["level"] == "error")
        .collect();
    assert!(
        !errors.is_empty(),
        "no JSON error line in log: {text:?}\n{o}"
    );
    let e = &errors[0];
    assert!(e["msg"].is_string() && e["time"].is_string(), "{e}");
    assert!(
        e["msg"].as_str().unwrap().contains("does not exist")
            || e["msg"].as_str().unwrap().contains(&missing),
        "{e}"
    );
}

#[test]
fn state_of_missing_container_fails() {
    let env = TestEnv::new("statemissing");
    let id = env.id("ghost");
    let o = env.rt(&["state", &id]).fails();
    assert!(
        o.all().contains("does not exist") || o.all().contains(&id),
        "{o}"
    );
}

//! `events`: `--stats` prints one JSON object of runc's shape, the stream prints stats every
//! `--interval`, and an OOM kill in the container is reported as an `oom` event. Same
//! expectations for berth-runc and runc. Needs root.

use berth_integration::TestEnv;
use serde_json::{json, Value};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn running(env: &TestEnv, b: &berth_integration::Bundle, name: &str) -> String {
    let id = env.id(name);
    env.create(b, &id).assert_success();
    env.start_until(&id, "running");
    id
}

#[test]
fn stats_has_runcs_shape_and_values() {
    let env = TestEnv::new("evstats");
    let mut b = env.bundle("b");
    b.args(&["sleep", "1000"]);
    b.set("/linux/resources/memory", json!({"limit": 64 << 20}));
    b.set("/linux/resources/pids", json!({"limit": 42}));
    let id = running(&env, &b, "c");
    let o = env.rt(&["events", "--stats", &id]).assert_success();
    let lines: Vec<&str> = o.stdout.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1, "one JSON object expected: {o}");
    let v: Value = serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}: {o}"));
    assert_eq!(v["type"], "stats");
    assert_eq!(v["id"], id.as_str());
    let d = &v["data"];
    for key in [
        "cpu",
        "cpuset",
        "memory",
        "pids",
        "blkio",
        "hugetlb",
        "intel_rdt",
        "network_interfaces",
    ] {
        assert!(d.get(key).is_some(), "data lacks {key}: {v}");
    }
    assert!(d["cpu"]["usage"]["total"].as_u64().unwrap_or(0) > 0, "{v}");
    assert!(d["cpu"]["usage"].get("kernel").is_some(), "{v}");
    assert!(d["cpu"].get("throttling").is_some(), "{v}");
    assert!(
        d["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0,
        "{v}"
    );
    assert_eq!(d["memory"]["usage"]["limit"], 64 << 20, "{v}");
    assert!(d["memory"].get("swap").is_some(), "{v}");
    assert!(d["memory"]["raw"].is_object(), "{v}");
    assert_eq!(d["pids"]["current"], 1, "{v}");
    assert_eq!(d["pids"]["limit"], 42, "{v}");
    assert!(d["hugetlb"].is_object(), "{v}");
    assert!(d["network_interfaces"].is_null(), "{v}");
}

#[test]
fn stats_of_a_stopped_or_missing_container_fail() {
    let env = TestEnv::new("evstop");
    let mut b = env.bundle("b");
    b.args(&["true"]);
    let id = env.id("c");
    env.create(&b, &id).assert_success();
    env.start_until(&id, "stopped");
    let o = env.rt(&["events", "--stats", &id]);
    assert_eq!(o.code, Some(1), "{o}");
    assert!(
        o.all()
            .contains(&format!("container with id {id} is not running")),
        "{o}"
    );
    let o = env.rt(&["events", "--stats", "no-such-container"]);
    assert_eq!(o.code, Some(1), "{o}");
    assert!(o.all().contains("does not exist"), "{o}");
}

/// Starts `events <args> <id>` with stdout to a file; returns the child and the file path.
fn spawn_events(env: &TestEnv, args: &[&str], id: &str) -> (Child, std::path::PathBuf) {
    let path = env.path(&format!("events-{id}.out"));
    let out = std::fs::File::create(&path).unwrap();
    let mut c = env.rt.command(&["events"]);
    c.args(args).arg(id);
    c.stdout(Stdio::from(out));
    c.stderr(Stdio::null());
    let child = c.spawn().expect("spawn events");
    env.track_pid(child.id() as i32);
    (child, path)
}

/// Polls the events output until `pred` holds for its parsed lines; a minute at most.
fn wait_lines(path: &std::path::Path, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if pred(&lines) {
            return lines;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}; output so far:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn events_stream_stats_at_the_interval() {
    let env = TestEnv::new("evstream");
    let mut b = env.bundle("b");
    b.args(&["sleep", "1000"]);
    let id = running(&env, &b, "c");
    let (child, out) = spawn_events(&env, &["--interval", "100ms"], &id);
    let lines = wait_lines(&out, "three stats events", |ls| ls.len() >= 3);
    stop(child);
    for l in &lines[..3] {
        assert_eq!(l["type"], "stats", "{l}");
        assert_eq!(l["id"], id.as_str(), "{l}");
        assert!(l["data"]["memory"].is_object(), "{l}");
    }
}

#[test]
fn oom_kill_is_reported_as_an_oom_event() {
    let env = TestEnv::new("evoom");
    let mut b = env.bundle("b");
    // Waits for the test's go-ahead, then allocates far beyond the limit (no swap allowed).
    b.sh("while [ ! -e /tmp/go ]; do sleep 0.1; done; dd if=/dev/zero of=/dev/null bs=256M count=1; sleep 1000");
    b.set(
        "/linux/resources/memory",
        json!({"limit": 32 << 20, "swap": 32 << 20}),
    );
    let id = running(&env, &b, "c");
    let (child, out) = spawn_events(&env, &["--interval", "100ms"], &id);
    // A first stats line shows the stream (and its OOM registration, made before) is up.
    wait_lines(&out, "the first stats event", |ls| !ls.is_empty());
    std::fs::write(b.rootfs().join("tmp/go"), "").unwrap();
    let lines = wait_lines(&out, "an oom event", |ls| {
        ls.iter().any(|l| l["type"] == "oom")
    });
    stop(child);
    let oom = lines.iter().find(|l| l["type"] == "oom").unwrap();
    assert_eq!(oom, &json!({"type": "oom", "id": id}), "{oom}");
}

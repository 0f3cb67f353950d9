//! Lifecycle: create/start/state/kill/delete/run, status transitions and exit codes.
//! Needs root and the runtime under test (`BERTH_TEST_RUNTIME`, default berth-runc).

use berth_integration::{host, TestEnv};
use std::time::Duration;

/// How long an init may take to go after a delete (a bound for hangs, not a speed check).
const PID_EXIT_LIMIT: Duration = Duration::from_secs(10);

#[test]
fn create_start_kill_delete_transitions() {
    let env = TestEnv::new("lifecycle");
    let mut b = env.bundle("b");
    b.args(&["sleep", "1000"]);
    let id = env.id("c");
    let cg = TestEnv::cgroup_path(&b);
    env.create(&b, &id).assert_success();
    let st = env.state(&id);
    assert_eq!(st["status"], "created", "{st}");
    let pid = st["pid"].as_i64().unwrap() as i32;
    env.track_pid(pid);
    assert!(pid > 0);
    // The init waits in `created`: it has not exec'd the user process yet.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(
        !String::from_utf8_lossy(&cmdline).contains("sleep"),
        "process ran before start"
    );

    env.start_until(&id, "running");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(
        String::from_utf8_lossy(&cmdline).starts_with("sleep"),
        "init did not exec sleep"
    );

    env.rt(&["kill", &id, "KILL"]).assert_success();
    assert_eq!(env.wait_status(&id, "stopped"), "stopped");
    env.rt(&["delete", &id]).assert_success();
    env.rt(&["state", &id]).fails();
    env.assert_nothing_left(&id, &cg);
}

#[test]
fn wrong_state_operations_fail_and_change_nothing() {
    let env = TestEnv::new("wrongstate");
    let mut b = env.bundle("b");
    b.args(&["sleep", "1000"]);
    let id = env.id("c");
    env.create(&b, &id).assert_success();
    // delete (without --force) of a created container succeeds in runc, so check the others.
    env.rt(&["create", "--bundle", b.dir.to_str().unwrap(), &id])
        .fails();
    assert_eq!(env.status(&id), "created");
    env.start_until(&id, "running");
    env.rt(&["start", &id]).fails();
    assert_eq!(env.status(&id), "running");
    let o = env.rt(&["delete", &id]).fails();
    assert!(o.all().contains("running") || o.all().contains(&id), "{o}");
    assert_eq!(env.status(&id), "running");
    env.rt(&["kill", &id, "KILL"]).assert_success();
    assert_eq!(env.wait_status(&id, "stopped"), "stopped");
    env.rt(&["start", &id]).fails();
    env.rt(&["kill", &id, "TERM"]).fails();
    assert_eq!(env.status(&id), "stopped");
    env.rt(&["delete", &id]).assert_success();
    env.rt(&["start", &id]).fails();
    env.rt(&["kill", &id]).fails();
    env.rt(&["delete", &id]).fails();
}

#[test]
fn run_exit_codes() {
    let env = TestEnv::new("exitcodes");
    let mut b = env.bundle("b");
    for (script, want) in [
        ("exit 0", 0),
        ("exit 3", 3),
        ("kill -9 $$", 128 + 9),
        ("kill -15 $$", 128 + 15),
    ] {
        // A shell that is pid 1 ignores signals it has no handler for, so signal a child.
        let script = if script.starts_with("kill") {
            format!("sh -c '{script}'; exit $?")
        } else {
            script.to_string()
        };
        b.sh(&script);
        let id = env.id("run");
        let o = env.run(&b, &id);
        assert_eq!(o.code, Some(want), "{script}: {o}");
        // run removes the container when it exits.
        env.rt(&["state", &id]).fails();
    }
}

#[test]
fn run_killed_init_reports_128_plus_signal() {
    let env = TestEnv::new("runkilled");
    let mut b = env.bundle("b");
    b.args(&["sleep", "1000"]);
    // A pid-namespace init ignores signals it has no handler for (only SIGKILL/SIGSTOP are
    // forced), so sleep must not be pid 1 for SIGTERM to kill it.
    b.remove_namespace("pid");
    for (sig, want) in [("KILL", 137), ("TERM", 143)] {
        let id = env.id("k");
        b.write();
        let mut cmd = env.rt.command(&["run", "--bundle"]);
        let out = std::fs::File::create(env.path(&format!("{id}.log"))).unwrap();
        cmd.arg(&b.dir)
            .arg(&id)
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        let mut child = cmd.spawn().unwrap();
        assert_eq!(env.wait_status(&id, "running"), "running");
        env.rt(&["kill", &id, sig]).assert_success();
        let st = berth_integration::runtime::wait_timeout(
            &mut child,
            std::time::Duration::from_secs(30),
        );
        assert_eq!(st.code(), Some(want), "run exit after {sig}");
    }
}

#[test]
fn delete_force_running_container() {
    let env = TestEnv::new("delforce");
    let mut b = env.bundle("b");
    b.args(&["sleep", "1000"]);
    let id = env.id("c");
    let cg = TestEnv::cgroup_path(&b);
    let pid = env.create_tracked(&b, &id);
    env.start_until(&id, "running");
    env.rt(&["delete", "--force", &id]).assert_success();
    assert!(
        host::wait_pid_gone(pid, PID_EXIT_LIMIT),
        "init {pid} survived delete --force"
    );
    env.assert_nothing_left(&id, &cg);
}

#[test]
fn delete_created_container_kills_init() {
    let env = TestEnv::new("delcreated");
    let b = env.bundle("b");
    let id = env.id("c");
    let cg = TestEnv::cgroup_path(&b);
    let pid = env.create_tracked(&b, &id);
    env.rt(&["delete", &id]).assert_success();
    assert!(host::wait_pid_gone(pid, PID_EXIT_LIMIT));
    env.assert_nothing_left(&id, &cg);
}

#[test]
fn process_exit_moves_to_stopped() {
    let env = TestEnv::new("stopped");
    let mut b = env.bundle("b");
    b.sh("echo from-container; exit 0");
    let id = env.id("c");
    env.create_logged(&b, &id).assert_success();
    // Nothing runs before start.
    assert_eq!(env.container_output(&id), "");
    env.start_until(&id, "stopped");
    assert_eq!(env.container_output(&id), "from-container\n");
    env.rt(&["delete", &id]).assert_success();
}

/// Size of the counter file a container appends to, 0 while it does not exist yet.
fn counter_len(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Polls until the counter file grows past `than` or 10 s pass; returns the last size seen.
fn wait_growth(path: &std::path::Path, than: u64) -> u64 {
    let start = std::time::Instant::now();
    loop {
        let n = counter_len(path);
        if n > than || start.elapsed().as_secs() >= 10 {
            return n;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Creates and starts a container that appends a byte to /count every 10 ms.
fn start_counter(env: &TestEnv, id: &str) -> (berth_integration::Bundle, i32) {
    let mut b = env.bundle("b");
    b.sh("while :; do echo -n x >> /count; usleep 10000; done");
    let pid = env.create_tracked(&b, id);
    env.start_until(id, "running");
    (b, pid)
}

#[test]
fn pause_freezes_and_resume_thaws() {
    let env = TestEnv::new("pause");
    let id = env.id("c");
    let (b, _pid) = start_counter(&env, &id);
    let count = b.rootfs().join("count");
    assert!(wait_growth(&count, 0) > 0, "the counter never started");

    env.rt(&["pause", &id]).assert_success();
    assert_eq!(env.status(&id), "paused");
    let listed = env.rt(&["list", "--format", "json"]).assert_success();
    let list: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} not listed: {listed}"));
    assert_eq!(entry["status"], "paused", "{listed}");
    // Frozen: the counter must not move (it grows every 10 ms while running).
    let frozen_at = counter_len(&count);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        counter_len(&count),
        frozen_at,
        "the counter grew while paused"
    );
    // A paused container is neither startable nor deletable without --force, and not pausable.
    env.rt(&["start", &id]).fails();
    env.rt(&["delete", &id]).fails();
    let o = env.rt(&["pause", &id]).fails();
    assert_eq!(o.code, Some(1), "{o}");
    assert!(o.all().contains("container not running"), "{o}");
    assert_eq!(env.status(&id), "paused");

    env.rt(&["resume", &id]).assert_success();
    assert_eq!(env.status(&id), "running");
    assert!(
        wait_growth(&count, frozen_at) > frozen_at,
        "the counter did not move after resume"
    );
    let o = env.rt(&["resume", &id]).fails();
    assert_eq!(o.code, Some(1), "{o}");
    assert!(o.all().contains("container not paused"), "{o}");
    env.rt(&["delete", "--force", &id]).assert_success();
}

#[test]
fn pause_resume_of_stopped_or_missing_container_fails() {
    let env = TestEnv::new("pausestopped");
    let mut b = env.bundle("b");
    b.sh("exit 0");
    let id = env.id("c");
    env.create(&b, &id).assert_success();
    env.start_until(&id, "stopped");
    let o = env.rt(&["pause", &id]).fails();
    assert!(o.all().contains("container not running"), "{o}");
    let o = env.rt(&["resume", &id]).fails();
    assert!(o.all().contains("container not paused"), "{o}");
    assert_eq!(env.status(&id), "stopped");
    env.rt(&["delete", &id]).assert_success();
    env.rt(&["pause", &id]).fails();
    env.rt(&["resume", &id]).fails();
}

#[test]
fn kill_of_paused_container_stops_it() {
    let env = TestEnv::new("pausekill");
    let id = env.id("c");
    let (b, pid) = start_counter(&env, &id);
    let cg = TestEnv::cgroup_path(&b);
    env.rt(&["pause", &id]).assert_success();
    assert_eq!(env.status(&id), "paused");
    env.rt(&["kill", &id, "KILL"]).assert_success();
    assert_eq!(env.wait_status(&id, "stopped"), "stopped");
    assert!(!host::pid_alive(pid), "init {pid} alive");
    env.rt(&["delete", &id]).assert_success();
    env.assert_nothing_left(&id, &cg);
}

#[test]
fn delete_force_of_paused_container_leaves_nothing() {
    let env = TestEnv::new("pausedel");
    let id = env.id("c");
    let (b, pid) = start_counter(&env, &id);
    let cg = TestEnv::cgroup_path(&b);
    env.rt(&["pause", &id]).assert_success();
    assert_eq!(env.status(&id), "paused");
    env.rt(&["delete", "--force", &id]).assert_success();
    assert!(
        host::wait_pid_gone(pid, PID_EXIT_LIMIT),
        "init {pid} survived delete --force of a paused container"
    );
    env.assert_nothing_left(&id, &cg);
}

#[test]
fn ps_lists_the_container_processes() {
    let env = TestEnv::new("ps");
    let mut b = env.bundle("b");
    b.sh("sleep 1000 & sleep 1001");
    let id = env.id("c");
    let pid = env.create_tracked(&b, &id);
    env.start_until(&id, "running");
    // Wait until both sleeps exist (the init execs sleep 1001 after forking sleep 1000).
    let mut pids: Vec<i64> = Vec::new();
    let start = std::time::Instant::now();
    while pids.len() < 2 && start.elapsed().as_secs() < 10 {
        let o = env.rt(&["ps", "-f", "json", &id]).assert_success();
        pids = serde_json::from_str::<Vec<i64>>(&o.stdout).unwrap_or_else(|e| panic!("{e}: {o}"));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert!(pids.contains(&(pid as i64)), "init {pid} not in {pids:?}");

    let table = env.rt(&["ps", &id]).assert_success().stdout;
    let mut lines = table.lines();
    assert!(lines.next().unwrap_or_default().contains("PID"), "{table}");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(rows.iter().any(|l| l.contains("sleep 1000")), "{table}");
    assert!(rows.iter().any(|l| l.contains("sleep 1001")), "{table}");
    // ps arguments are passed through to ps(1).
    let custom = env
        .rt(&["ps", &id, "-o", "pid,comm"])
        .assert_success()
        .stdout;
    assert!(
        custom
            .lines()
            .skip(1)
            .all(|l| l.trim_end().ends_with("sleep")),
        "{custom}"
    );
    assert_eq!(custom.lines().count(), 3, "{custom}");
    env.rt(&["ps", "-f", "yaml", &id]).fails();
    env.rt(&["delete", "--force", &id]).assert_success();
    env.rt(&["ps", &id]).fails();
}

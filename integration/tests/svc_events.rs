//! Events of execs and restarts as Docker emits them: `exec_create: CMD`, `exec_start: CMD`,
//! `exec_die` with the exit code (also for a command that cannot run, 127), a policy restart
//! as an exit (`die`) then a start; and `inspect`'s `ExecIDs` (running execs, null when none,
//! still listed by a berthd that was SIGKILLed and started again, whose `exec_die` has their pid).

use berth_integration::berthd_env::{code, BerthdEnv};
use std::path::PathBuf;
use std::process::{Child, Stdio};

/// `berth events` writing into a file; killed on drop.
struct Events {
    child: Child,
    out: PathBuf,
}

impl Events {
    fn text(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// The `execID=` of the event line containing `what`.
    fn exec_id_of(&self, what: &str) -> Option<String> {
        let text = self.text();
        let line = text.lines().find(|l| l.contains(what))?;
        let id = line.split("execID=").nth(1)?;
        Some(id.split(' ').next()?.to_string())
    }

    /// The line of `topic` for exec `exec_id`.
    fn line(&self, topic: &str, exec_id: &str) -> Option<String> {
        self.text()
            .lines()
            .find(|l| l.contains(topic) && l.contains(&format!("execID={exec_id}")))
            .map(str::to_string)
    }
}

/// `berth events` into `file` of the test's temp dir, once it sees events (they have no
/// history): pausing and resuming running container `name` until the subscription reports it.
fn subscribe(env: &BerthdEnv, name: &str, file: &str) -> Events {
    let out = env.tmp().join(file);
    let child = env
        .daemon()
        .berth_command(&["events"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let events = Events { child, out };
    env.eventually("berth events is subscribed", || {
        env.ok(&["pause", name]);
        env.ok(&["unpause", name]);
        events.text().contains("/tasks/resumed")
    });
    events
}

impl Drop for Events {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn exec_and_restart_events_and_exec_ids() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    env.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "ev",
        &img,
        "sleep",
        "300",
    ]);
    let events = subscribe(&env, "ev", "events.out");
    assert!(env.inspect("ev")["ExecIDs"].is_null());

    // A detached exec is listed while it runs.
    env.ok(&["exec", "-d", "ev", "sleep", "120"]);
    let ids = env.inspect("ev")["ExecIDs"].clone();
    assert_eq!(ids.as_array().map(Vec::len), Some(1), "{ids}");
    let sleeper = ids[0].as_str().unwrap().to_string();

    let out = env.berth(&["exec", "ev", "sh", "-c", "exit 3"]);
    assert_eq!(code(&out), 3);
    let out = env.berth(&["exec", "ev", "no-such-command"]);
    assert_eq!(code(&out), 127);

    env.eventually("exec events", || {
        events
            .exec_id_of("exec_create: sh -c exit 3")
            .and_then(|x| events.line("exec_die", &x))
            .is_some()
            && events
                .exec_id_of("exec_create: no-such-command")
                .and_then(|x| events.line("exec_die", &x))
                .is_some()
    });
    let three = events.exec_id_of("exec_create: sh -c exit 3").unwrap();
    let start = events.line("/tasks/exec-started", &three).unwrap();
    assert!(start.contains("exec_start: sh -c exit 3"), "{start}");
    let die = events.line("/tasks/exec-exited", &three).unwrap();
    assert!(
        die.contains("exec_die") && die.contains("exitCode=3"),
        "{die}"
    );
    let missing = events.exec_id_of("exec_create: no-such-command").unwrap();
    assert!(events.line("/tasks/exec-started", &missing).is_none());
    let die = events.line("/tasks/exec-exited", &missing).unwrap();
    assert!(die.contains("exitCode=127"), "{die}");
    // Only the sleeper still runs; once it is killed, ExecIDs is null again.
    assert_eq!(env.inspect("ev")["ExecIDs"], serde_json::json!([sleeper]));
    let start = events.line("/tasks/exec-started", &sleeper).unwrap();
    assert!(start.contains("exec_start: sleep 120"), "{start}");
    let pid: i32 = start
        .split("pid=")
        .nth(1)
        .and_then(|p| p.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    // The exec'd process this test started.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    env.eventually("the killed exec is reported", || {
        events.line("/tasks/exec-exited", &sleeper).is_some()
    });
    assert!(events
        .line("/tasks/exec-exited", &sleeper)
        .unwrap()
        .contains("exitCode=137"));
    assert!(env.inspect("ev")["ExecIDs"].is_null());

    // A policy restart is an exit (Docker's die) followed by a start.
    let id = env
        .ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "rs",
            "--restart",
            "on-failure:1",
            &img,
            "sh",
            "-c",
            "exit 1",
        ])
        .trim()
        .to_string();
    env.eventually("one restart used up", || {
        let j = env.inspect("rs");
        j["RestartCount"] == 1 && j["State"]["Status"] == "exited"
    });
    env.eventually("the second exit is published", || {
        events
            .text()
            .lines()
            .filter(|l| l.contains("/tasks/exit") && l.contains(&id))
            .count()
            == 2
    });
    let text = events.text();
    let topics: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(&format!("id={id}")))
        .filter_map(|l| l.split(' ').nth(1))
        .filter(|t| *t == "/tasks/start" || *t == "/tasks/exit")
        .map(|t| if t == "/tasks/start" { "start" } else { "exit" })
        .collect();
    assert_eq!(topics, ["start", "exit", "start", "exit"]);
    env.ok(&["rm", "-f", "ev", "rs"]);
}

/// `ExecIDs` after berthd was SIGKILLed and started again: the exec that still runs is listed
/// by the new berthd (read back from its monitor's directory), and goes once it ends.
#[test]
fn exec_ids_survive_a_killed_daemon() {
    let mut env = BerthdEnv::start();
    let img = env.busybox();
    env.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "ek",
        &img,
        "sleep",
        "300",
    ]);
    env.ok(&["exec", "-d", "ek", "sleep", "201"]);
    let ids = env.inspect("ek")["ExecIDs"].clone();
    assert_eq!(ids.as_array().map(Vec::len), Some(1), "{ids}");

    env.kill_daemon();
    env.restart_daemon();
    assert_eq!(env.inspect("ek")["ExecIDs"], ids, "after berthd's restart");
    let events = subscribe(&env, "ek", "events.out");

    // Ends the exec'd `sleep 201` (found by its exact command line inside the container).
    let script = "for p in /proc/[0-9]*; do \
                  [ \"$(tr '\\0' ' ' < $p/cmdline 2>/dev/null)\" = 'sleep 201 ' ] && kill ${p#/proc/}; \
                  done; true";
    env.ok(&["exec", "ek", "sh", "-c", script]);
    env.eventually("the adopted exec's exit is seen", || {
        env.inspect("ek")["ExecIDs"].is_null()
    });
    // With the pid it had (the runtime's pid file), not 0: the previous berthd saw it start.
    let exec_id = ids[0].as_str().unwrap();
    env.eventually("the adopted exec's exec_die", || {
        events.line("/tasks/exec-exited", exec_id).is_some()
    });
    let die = events.line("/tasks/exec-exited", exec_id).unwrap();
    let pid = die.split("pid=").nth(1).and_then(|p| p.split(' ').next());
    assert!(
        pid.is_some_and(|p| p != "0" && p.parse::<u32>().is_ok()),
        "{die}"
    );
    env.ok(&["rm", "-f", "ek"]);
}

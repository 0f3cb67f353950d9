//! Restart policies: on-failure:N gives up after N restarts, `always` comes back after its
//! process died while berthd was SIGKILLed, `stop` suspends the policy until `start`, and bad
//! policies are refused before anything is created.

use berth_integration::berthd_env::{code, stderr, BerthdEnv};

#[test]
fn on_failure_gives_up_and_bad_policies_are_refused() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    for (policy, words) in [
        ("sometimes", "unknown policy 'sometimes'"),
        ("on-failure:-1", "maximum retry count cannot be negative"),
        ("always:3", "can only be used with 'on-failure'"),
    ] {
        let out = env.berth(&["run", "-d", "--restart", policy, &img, "true"]);
        assert_eq!(code(&out), 125, "{policy}: {}", stderr(&out));
        assert!(stderr(&out).contains(words), "{policy}: {}", stderr(&out));
    }
    assert!(env.all_ids().is_empty(), "a refused run left a container");

    // Exits 1 three times: the first run and two restarts, then it stays exited.
    env.ok(&[
        "run",
        "-d",
        "--name",
        "rf",
        "--restart",
        "on-failure:2",
        &img,
        "sh",
        "-c",
        "exit 1",
    ]);
    env.eventually("on-failure:2 used up", || {
        let j = env.inspect("rf");
        j["RestartCount"] == 2
            && j["State"]["Status"] == "exited"
            && j["State"]["Restarting"] == false
    });
    let j = env.inspect("rf");
    assert_eq!(j["State"]["ExitCode"], 1);
    assert_eq!(j["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(j["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 2);
    assert!(env.ok(&["ps", "-a"]).contains("Exited (1)"));

    // update --restart: a bad policy changes nothing; a good one is what inspect shows.
    let out = env.berth(&["update", "--restart", "on-failure:-1", "rf"]);
    assert_eq!(code(&out), 125, "{}", stderr(&out));
    assert_eq!(
        env.inspect("rf")["HostConfig"]["RestartPolicy"]["MaximumRetryCount"],
        2
    );
    assert_eq!(
        env.ok(&["update", "--restart", "unless-stopped", "rf"]),
        "rf\n"
    );
    assert_eq!(
        env.inspect("rf")["HostConfig"]["RestartPolicy"]["Name"],
        "unless-stopped"
    );
    env.ok(&["rm", "rf"]);
}

#[test]
fn always_survives_a_killed_daemon_and_stop_suspends_it() {
    let mut env = BerthdEnv::start();
    let img = env.busybox();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "ra",
        "--restart",
        "always",
        &img,
        "sleep",
        "300",
    ]);
    let pid = env.inspect("ra")["State"]["Pid"].as_i64().unwrap();
    assert!(pid > 0);

    // The container's process dies while berthd is down: the monitor records the exit, the
    // restarted berthd finds it and the policy starts the container again.
    env.kill_daemon();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    env.restart_daemon();
    env.eventually("always restarted after berthd came back", || {
        let j = env.inspect("ra");
        j["State"]["Status"] == "running" && j["RestartCount"] == 1
    });
    assert_ne!(env.inspect("ra")["State"]["Pid"].as_i64().unwrap(), pid);

    // stop suspends the policy; start resumes it (and counts from zero, as Docker).
    env.ok(&["stop", "-t", "1", "ra"]);
    let j = env.inspect("ra");
    assert_eq!(j["State"]["Status"], "exited");
    assert_eq!(j["State"]["Restarting"], false);
    env.ok(&["start", "ra"]);
    let j = env.inspect("ra");
    assert_eq!(j["State"]["Status"], "running");
    assert_eq!(j["RestartCount"], 0);
    env.ok(&["rm", "-f", "ra"]);
    env.eventually("no restart after rm -f", || env.all_ids().is_empty());
}

/// The back-off delays (ms) berthd's log says it scheduled for container `id`.
fn logged_delays(log: &std::path::Path, id: &str) -> Vec<u64> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("next start scheduled") && l.contains(id))
        .filter_map(|l| l.split("delay_ms=").nth(1))
        .filter_map(|d| d.split(|c: char| !c.is_ascii_digit()).next())
        .filter_map(|d| d.parse().ok())
        .collect()
}

#[test]
fn backoff_and_count_continue_after_a_killed_daemon() {
    let mut env = BerthdEnv::start();
    let img = env.busybox();
    let id = env
        .ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "rb",
            "--restart",
            "always",
            &img,
            "sh",
            "-c",
            "exit 1",
        ])
        .trim()
        .to_string();
    // 100, 200, 400 ms, … : after four restarts the delay is at least 800 ms.
    env.eventually("four restarts", || {
        env.inspect("rb")["RestartCount"].as_u64() >= Some(4)
    });
    let old_log = env.daemon().log.clone();
    let count_before = env.inspect("rb")["RestartCount"].as_u64().unwrap();
    env.kill_daemon();
    let before = logged_delays(&old_log, &id);
    let last = *before.last().expect("delays logged before the kill");
    assert!(last >= 800, "{before:?}");

    env.restart_daemon();
    let new_log = env.daemon().log.clone();
    env.eventually("the new berthd schedules a restart", || {
        !logged_delays(&new_log, &id).is_empty()
    });
    // Going on from the stored delay (doubled at least once); a reset would give 100 or 200.
    let after = logged_delays(&new_log, &id)[0];
    assert!(
        after >= (2 * last).min(60_000),
        "back-off reset by the restart: {before:?} then {after}"
    );
    assert!(env.inspect("rb")["RestartCount"].as_u64().unwrap() >= count_before);

    // A start by the user begins again at 100 ms.
    env.ok(&["stop", "rb"]);
    let n = logged_delays(&new_log, &id).len();
    env.ok(&["start", "rb"]);
    env.eventually("a restart after the user's start", || {
        logged_delays(&new_log, &id).len() > n
    });
    let delays = logged_delays(&new_log, &id);
    assert_eq!(delays[n], 100, "{delays:?}");
    env.ok(&["rm", "-f", "rb"]);
    env.eventually("no restart after rm -f", || env.all_ids().is_empty());
}

/// `rm -f` of a container whose policy keeps restarting it: a restart that was due when the
/// remove ran must not create a task after the record is gone (that left a runtime container,
/// its monitor and cgroups nobody owned). And `--rm` with a restart policy is Docker's conflict.
#[test]
fn rm_of_a_restarting_container_leaves_nothing() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    env.fails_with(
        &["run", "--rm", "--restart", "always", &img, "true"],
        125,
        "Conflicting options: --restart and --rm",
    );
    assert!(env.all_ids().is_empty(), "a refused run left a container");

    for i in 0..5 {
        let name = format!("flap{i}");
        let id = env
            .ok(&[
                "run",
                "-d",
                "--name",
                &name,
                "--restart",
                "always",
                &img,
                "sh",
                "-c",
                "exit 1",
            ])
            .trim()
            .to_string();
        env.eventually("the policy restarted it", || {
            env.inspect(&name)["RestartCount"].as_u64().unwrap_or(0) >= 1
        });
        env.ok(&["rm", "-f", &name]);
        // Longer than the back-off after a few restarts: a restart racing the remove has landed.
        std::thread::sleep(std::time::Duration::from_secs(1));
        env.assert_gone(&id, None);
        let runtime_state = env.daemon().dirs.state.join("runtime");
        for rt in std::fs::read_dir(&runtime_state)
            .into_iter()
            .flatten()
            .flatten()
        {
            assert!(
                !rt.path().join(&id).exists(),
                "the runtime still has container {id} under {}",
                rt.path().display()
            );
        }
    }
}

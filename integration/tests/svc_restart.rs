//! Restart policies: on-failure:N gives up after N restarts, `always` comes back after its
//! process died while berthd was SIGKILLed, `stop` suspends the policy until `start`, and bad
//! policies are refused before anything is created.

use berth_integration::berthd_env::{code, stderr, BerthdEnv};

fn inspect(env: &BerthdEnv, name: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["inspect", name])).unwrap();
    v[0].clone()
}

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
        let j = inspect(&env, "rf");
        j["RestartCount"] == 2
            && j["State"]["Status"] == "exited"
            && j["State"]["Restarting"] == false
    });
    let j = inspect(&env, "rf");
    assert_eq!(j["State"]["ExitCode"], 1);
    assert_eq!(j["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(j["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 2);
    assert!(env.ok(&["ps", "-a"]).contains("Exited (1)"));

    // update --restart: a bad policy changes nothing; a good one is what inspect shows.
    let out = env.berth(&["update", "--restart", "on-failure:-1", "rf"]);
    assert_eq!(code(&out), 125, "{}", stderr(&out));
    assert_eq!(
        inspect(&env, "rf")["HostConfig"]["RestartPolicy"]["MaximumRetryCount"],
        2
    );
    assert_eq!(
        env.ok(&["update", "--restart", "unless-stopped", "rf"]),
        "rf\n"
    );
    assert_eq!(
        inspect(&env, "rf")["HostConfig"]["RestartPolicy"]["Name"],
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
    let pid = inspect(&env, "ra")["State"]["Pid"].as_i64().unwrap();
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
        let j = inspect(&env, "ra");
        j["State"]["Status"] == "running" && j["RestartCount"] == 1
    });
    assert_ne!(inspect(&env, "ra")["State"]["Pid"].as_i64().unwrap(), pid);

    // stop suspends the policy; start resumes it (and counts from zero, as Docker).
    env.ok(&["stop", "-t", "1", "ra"]);
    let j = inspect(&env, "ra");
    assert_eq!(j["State"]["Status"], "exited");
    assert_eq!(j["State"]["Restarting"], false);
    env.ok(&["start", "ra"]);
    let j = inspect(&env, "ra");
    assert_eq!(j["State"]["Status"], "running");
    assert_eq!(j["RestartCount"], 0);
    env.ok(&["rm", "-f", "ra"]);
    env.eventually("no restart after rm -f", || env.all_ids().is_empty());
}

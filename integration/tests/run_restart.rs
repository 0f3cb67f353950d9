//! berthd SIGKILLed while containers run, then restarted: containers are still listed and
//! controllable, and exits that happened meanwhile carry the right code.

use berth_integration::berthd_env::BerthdEnv;

#[test]
fn daemon_sigkill_and_restart_keeps_containers() {
    let mut env = BerthdEnv::start();
    let img = env.busybox();
    let gate = env.gate();
    let long = env
        .ok(&["run", "-d", "--name", "long", &img, "sleep", "300"])
        .trim()
        .to_string();
    let short = env
        .ok(&[
            "run",
            "-d",
            "--name",
            "short",
            "-v",
            &gate.volume,
            &img,
            "sh",
            "-c",
            "while [ ! -e /gate/go ]; do sleep 0.05; done; exit 7",
        ])
        .trim()
        .to_string();

    env.kill_daemon();
    // Let `short` exit while berthd is down; its monitor records the exit.
    gate.open("go");
    let exit_file = env.task_dir(&short).join("exit.json");
    env.eventually("short's monitor recorded its exit", || exit_file.exists());
    env.restart_daemon();

    let ps = env.ok(&["ps", "-a"]);
    let line = |name: &str| {
        ps.lines()
            .find(|l| l.ends_with(name))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line("long").contains("Up "), "{ps}");
    assert!(line("short").contains("Exited (7)"), "{ps}");
    assert_eq!(env.ok(&["wait", "short"]).trim(), "7");

    // The survivor is still controllable.
    let monitor = env.monitor_pid(&long);
    env.ok(&["stop", "-t", "1", "long"]);
    assert_eq!(env.ok(&["wait", "long"]).trim(), "137");
    env.ok(&["rm", "long", "short"]);
    env.assert_gone(&long, monitor);
    env.assert_gone(&short, None);
}

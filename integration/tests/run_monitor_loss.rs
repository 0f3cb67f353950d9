//! A container whose monitor (berth-monitor) died: `stop` still ends it, and berthd still learns
//! its real exit code and time, also across a daemon restart. Where nobody could see the exit
//! (monitor and berthd both gone), the code and time are reported unknown, never invented.
//!
//! Monitors are found by the pid berthd's state records (`<state>/tasks/<id>/monitor.pid`) and
//! killed by that pid only.

use berth_integration::berthd_env::BerthdEnv as Env;
use berth_integration::host::pid_alive as process_alive;

/// Full id of container `name`.
fn id_of(env: &Env, name: &str) -> String {
    env.inspect(name)["Id"].as_str().unwrap().to_string()
}

/// SIGKILLs the monitor of container `id` (pid from berthd's state) and waits until it is gone.
fn kill_monitor(env: &Env, id: &str) -> i32 {
    let pid = env
        .monitor_pid(id)
        .expect("monitor.pid of a running container");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    env.eventually("the killed monitor is gone", || !process_alive(pid));
    pid
}

/// The ps -a line of container `name`.
fn ps_line(env: &Env, name: &str) -> String {
    let ps = env.ok(&["ps", "-a"]);
    ps.lines()
        .find(|l| l.ends_with(name))
        .unwrap_or_else(|| panic!("{name} not in ps -a:\n{ps}"))
        .to_string()
}

/// Asserts that `name` is exited with `code` and a real, stable FinishedAt on every query path.
fn assert_exited(env: &Env, name: &str, code: i32) {
    let line = ps_line(env, name);
    assert!(line.contains(&format!("Exited ({code})")), "{line}");
    let first = env.inspect(name);
    assert_eq!(first["State"]["Status"], "exited", "{first}");
    assert_eq!(first["State"]["ExitCode"], code, "{first}");
    let finished = first["State"]["FinishedAt"].clone();
    assert!(finished.is_string(), "no FinishedAt: {first}");
    // A made-up "now" would differ from one query to the next.
    let again = env.inspect(name);
    assert_eq!(again["State"]["FinishedAt"], finished, "{again}");
    assert_eq!(env.ok(&["wait", name]).trim(), code.to_string());
}

#[test]
fn stop_after_monitor_killed_ends_the_process_with_its_real_code() {
    let env = Env::start();
    let img = env.busybox();

    // PID 1 without a handler ignores SIGTERM: only the SIGKILL after the timeout ends it.
    env.ok(&["run", "-d", "--name", "ml-stubborn", &img, "sleep", "300"]);
    // Traps SIGTERM and exits with its own code.
    env.ok(&[
        "run",
        "-d",
        "--name",
        "ml-trap",
        &img,
        "sh",
        "-c",
        "trap 'exit 42' TERM; while true; do sleep 0.1; done",
    ]);
    for (name, stop_timeout, code) in [("ml-stubborn", "1", 137), ("ml-trap", "30", 42)] {
        let id = id_of(&env, name);
        let init = env.inspect(name)["State"]["Pid"].as_i64().unwrap() as i32;
        assert!(process_alive(init));
        kill_monitor(&env, &id);
        // The container still runs and says so.
        assert!(
            ps_line(&env, name).contains("Up "),
            "{}",
            ps_line(&env, name)
        );
        assert_eq!(env.inspect(name)["State"]["Running"], true);

        env.ok(&["stop", "-t", stop_timeout, name]);
        assert!(!process_alive(init), "{name}: init {init} survived stop");
        assert_exited(&env, name, code);
    }
    env.ok(&["rm", "ml-stubborn", "ml-trap"]);
}

#[test]
fn exit_after_monitor_killed_is_recorded_with_its_real_code() {
    let env = Env::start();
    let img = env.busybox();
    let gate = env.gate();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "ml-self",
        "-v",
        &gate.volume,
        &img,
        "sh",
        "-c",
        "while [ ! -e /gate/go ]; do sleep 0.05; done; exit 7",
    ]);
    let id = id_of(&env, "ml-self");
    kill_monitor(&env, &id);
    gate.open("go");
    assert_eq!(env.ok(&["wait", "ml-self"]).trim(), "7");
    assert_exited(&env, "ml-self", 7);
    env.ok(&["rm", "ml-self"]);
}

#[test]
fn monitor_loss_and_daemon_restart() {
    let mut env = Env::start();
    let img = env.busybox();
    let gate = env.gate();
    let waiter = |name: &str, file: &str| {
        vec![
            "run".to_string(),
            "-d".into(),
            "--name".into(),
            name.into(),
            "-v".into(),
            gate.volume.clone(),
            img.clone(),
            "sh".into(),
            "-c".into(),
            format!(
                "trap 'exit 42' TERM; while [ ! -e /gate/{file} ]; do sleep 0.05; done; exit 7"
            ),
        ]
    };
    let run = |env: &Env, args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        env.ok(&args);
    };
    // a: monitor killed while berthd runs, then berthd restarts; stopped afterwards.
    run(&env, waiter("ml-a", "a"));
    // b: monitor killed while berthd runs; exits by itself while berthd is down.
    run(&env, waiter("ml-b", "b"));
    // c: berthd restarts first, then the monitor is killed; stopped afterwards.
    run(&env, waiter("ml-c", "c"));
    // d: monitor killed while berthd is down and it exits then too: nobody saw the exit.
    run(&env, waiter("ml-d", "d"));
    let (a, b, c, d) = (
        id_of(&env, "ml-a"),
        id_of(&env, "ml-b"),
        id_of(&env, "ml-c"),
        id_of(&env, "ml-d"),
    );
    kill_monitor(&env, &a);
    kill_monitor(&env, &b);
    // berthd noticed the losses once the containers show as running again through a query.
    assert!(ps_line(&env, "ml-a").contains("Up "));
    assert!(ps_line(&env, "ml-b").contains("Up "));

    env.kill_daemon();
    gate.open("b");
    let exit_b = env.task_dir(&b).join("exit.json");
    env.eventually("b's exit was recorded while berthd was down", || {
        exit_b.exists()
    });
    kill_monitor(&env, &d);
    let d_init = std::fs::read_to_string(env.task_dir(&d).join("init.pid"))
        .unwrap()
        .trim()
        .parse::<i32>()
        .unwrap();
    gate.open("d");
    // Reaped by its new parent, not only exited: nobody holds a pidfd on it, so its status is gone.
    let d_proc = std::path::PathBuf::from(format!("/proc/{d_init}"));
    env.eventually("d exited and was reaped", || !d_proc.exists());
    env.restart_daemon();

    assert!(
        ps_line(&env, "ml-a").contains("Up "),
        "{}",
        ps_line(&env, "ml-a")
    );
    env.ok(&["stop", "-t", "30", "ml-a"]);
    assert_exited(&env, "ml-a", 42);

    assert_exited(&env, "ml-b", 7);

    assert!(ps_line(&env, "ml-c").contains("Up "));
    kill_monitor(&env, &c);
    env.ok(&["stop", "-t", "30", "ml-c"]);
    assert_exited(&env, "ml-c", 42);

    let line = ps_line(&env, "ml-d");
    assert!(line.contains("Exited (unknown)"), "{line}");
    let j = env.inspect("ml-d");
    assert!(j["State"]["ExitCode"].is_null(), "{j}");
    assert!(j["State"]["FinishedAt"].is_null(), "{j}");

    env.ok(&["rm", "ml-a", "ml-b", "ml-c", "ml-d"]);
}

/// Zombie children of `parent` (pids whose stat says state Z and that parent).
fn zombie_children(parent: u32) -> Vec<i32> {
    let mut out = Vec::new();
    for ent in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = ent.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let (state, ppid) = (fields.next(), fields.next().and_then(|p| p.parse().ok()));
        if state == Some("Z") && ppid == Some(parent) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn berthd_reaps_the_monitors_it_adopts_as_subreaper() {
    let env = Env::start();
    let img = env.busybox();
    let berthd = env.daemon().pid().unwrap();
    // A create that fails (its monitor exits after reporting the error) ...
    let out = env.berth(&["run", "--name", "ml-missing", &img, "no-such-command"]);
    assert_eq!(out.status.code(), Some(127));
    // ... one that exits normally, and one whose monitor was killed.
    assert_eq!(env.ok(&["run", "--name", "ml-done", &img, "true"]), "");
    env.ok(&["run", "-d", "--name", "ml-lost", &img, "sleep", "300"]);
    kill_monitor(&env, &id_of(&env, "ml-lost"));
    env.ok(&["stop", "-t", "1", "ml-lost"]);
    assert_exited(&env, "ml-lost", 137);
    env.ok(&["rm", "ml-missing", "ml-done", "ml-lost"]);
    env.eventually("berthd reaped every child it adopted", || {
        zombie_children(berthd).is_empty()
    });
}

#[test]
fn exec_whose_monitor_is_killed_ends_with_an_unknown_exit() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let env = Env::start();
    let img = env.busybox();
    env.ok(&["run", "-d", "--name", "ml-exec", &img, "sleep", "300"]);
    let id = id_of(&env, "ml-exec");
    let out = env.tmp().join("ml-exec.out");
    let mut client = env
        .daemon()
        .berth_command(&["exec", "ml-exec", "sh", "-c", "echo started; sleep 300"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Its output reached the client: the exec runs and berthd follows it through its monitor.
    env.eventually("the exec's first output", || {
        std::fs::read_to_string(&out).is_ok_and(|s| s.contains("started"))
    });
    let exec_dir = env.task_dir(&id).join("exec");
    let monitor: i32 = std::fs::read_dir(&exec_dir)
        .unwrap()
        .flatten()
        .find_map(|e| std::fs::read_to_string(e.path().join("monitor.pid")).ok())
        .and_then(|s| s.trim().parse().ok())
        .expect("the exec monitor's pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // berthd waited for an exit record nobody would write: the client never returned.
    let start = Instant::now();
    let status = loop {
        if let Some(s) = client.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = client.kill();
            let _ = client.wait();
            env.ok(&["rm", "-f", "ml-exec"]);
            panic!("berth exec still waits after its monitor was killed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Nobody saw the process exit: unknown, never a made-up code.
    assert_eq!(status.code(), Some(125), "{status:?}");
    env.ok(&["rm", "-f", "ml-exec"]);
}

//! create/start/stop/restart/kill/wait/rm/ps/inspect/logs/prune/events with real containers.

use berth_integration::berthd_env::{code, stderr, stdout, BerthdEnv};
use std::io::{BufRead, BufReader};
use std::process::Stdio;

#[test]
fn create_start_wait_restart_rm() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    let id = env
        .ok(&[
            "create",
            "--name",
            "c1",
            "-e",
            "GREETING=hi",
            "--label",
            "team=a",
            &img,
            "sh",
            "-c",
            "echo $GREETING; exit 3",
        ])
        .trim()
        .to_string();
    assert_eq!(id.len(), 64);
    let ps = env.ok(&["ps", "-a"]);
    assert!(ps.contains("Created") && ps.contains("c1"), "{ps}");
    let j = env.inspect(&id[..8]);
    assert_eq!(j["Name"], "c1");
    assert_eq!(j["Labels"]["team"], "a");
    assert_eq!(j["State"]["Status"], "created");

    let out = env.berth(&["start", "-a", "c1"]);
    assert_eq!(code(&out), 3);
    assert_eq!(stdout(&out), "hi\n");
    assert_eq!(env.ok(&["wait", "c1"]).trim(), "3");
    assert!(env.ok(&["ps", "-a"]).contains("Exited (3)"));

    // restart runs it again; logs keep both runs.
    env.ok(&["restart", "c1"]);
    assert_eq!(env.ok(&["wait", "c1"]).trim(), "3");
    assert_eq!(env.ok(&["logs", "c1"]), "hi\nhi\n");
    assert_eq!(env.ok(&["logs", "--tail", "1", "c1"]), "hi\n");
    let ts = env.ok(&["logs", "-t", "c1"]);
    assert!(
        ts.lines().all(|l| l.contains('T') && l.ends_with(" hi")),
        "{ts}"
    );

    // start of a stopped container without -a runs it in the background.
    assert_eq!(env.ok(&["start", "c1"]).trim(), "c1");
    assert_eq!(env.ok(&["wait", "c1"]).trim(), "3");

    // Stopping a stopped container succeeds quietly, like Docker.
    assert_eq!(env.ok(&["stop", "c1"]).trim(), "c1");
    // Killing it does not.
    env.fails_saying(&["kill", "c1"], "is not running");

    env.ok(&["rm", "c1"]);
    env.assert_gone(&id, None);
    let out = env.berth(&["inspect", "c1"]);
    assert_ne!(code(&out), 0);
    assert!(stderr(&out).contains("No such container: c1"));
}

#[test]
fn kill_and_stop_exit_codes() {
    let env = BerthdEnv::start();
    let img = env.busybox();

    // kill → 137
    env.ok(&["run", "-d", "--name", "kk", &img, "sleep", "300"]);
    env.ok(&["kill", "kk"]);
    assert_eq!(env.ok(&["wait", "kk"]).trim(), "137");
    assert!(env.ok(&["ps", "-a"]).contains("Exited (137)"));

    // kill -s TERM of a process that traps it → its own code
    env.ok(&[
        "run",
        "-d",
        "--name",
        "trap",
        &img,
        "sh",
        "-c",
        "trap 'exit 42' TERM; echo trapped; while true; do sleep 0.1; done",
    ]);
    // A SIGTERM before the trap is set would be ignored by PID 1 (then SIGKILL, 137).
    berth_integration::wait::until("trap installed", std::time::Duration::from_secs(30), || {
        env.ok(&["logs", "trap"]).contains("trapped").then_some(())
    });
    env.ok(&["stop", "-t", "30", "trap"]);
    assert_eq!(env.ok(&["wait", "trap"]).trim(), "42");

    // stop whose timeout runs out: PID 1 ignores an unhandled SIGTERM → SIGKILL → 137
    env.ok(&["run", "-d", "--name", "stubborn", &img, "sleep", "300"]);
    env.ok(&["stop", "-t", "1", "stubborn"]);
    assert_eq!(env.ok(&["wait", "stubborn"]).trim(), "137");
    let j = env.inspect("stubborn");
    assert_eq!(j["State"]["ExitCode"], 137);
    assert_eq!(j["State"]["Running"], false);

    // kill -s with a name
    env.ok(&[
        "run",
        "-d",
        "--name",
        "usr",
        &img,
        "sh",
        "-c",
        "trap 'exit 7' USR1; echo trapped; while true; do sleep 0.1; done",
    ]);
    // As for TERM: PID 1 ignores a USR1 that comes before its handler (and `wait` never ends).
    berth_integration::wait::until("trap installed", std::time::Duration::from_secs(30), || {
        env.ok(&["logs", "usr"]).contains("trapped").then_some(())
    });
    env.ok(&["kill", "-s", "USR1", "usr"]);
    assert_eq!(env.ok(&["wait", "usr"]).trim(), "7");
}

#[test]
fn logs_follow_streams_until_exit() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    // The container waits for a file we create, so the follow starts before the output.
    let gate = env.gate();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "ff",
        "-v",
        &gate.volume,
        &img,
        "sh",
        "-c",
        "echo first; while [ ! -e /gate/go ]; do sleep 0.05; done; echo second; echo third >&2",
    ]);
    let mut child = env
        .daemon()
        .berth_command(&["logs", "-f", "ff"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "first");
    gate.open("go");
    assert_eq!(lines.next().unwrap().unwrap(), "second");
    assert!(lines.next().is_none());
    let status = child.wait().unwrap();
    assert!(status.success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(err, "third\n");
}

#[test]
fn rm_flag_removes_container_on_exit() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    let out = env.berth(&[
        "run",
        "--rm",
        "--name",
        "tmp1",
        &img,
        "sh",
        "-c",
        "echo bye; exit 5",
    ]);
    assert_eq!(code(&out), 5);
    assert_eq!(stdout(&out), "bye\n");
    assert!(env.all_ids().is_empty(), "{:?}", env.all_ids());
    // Detached --rm goes when it exits, even with no client.
    env.ok(&["run", "-d", "--rm", "--name", "tmp2", &img, "true"]);
    env.eventually("tmp2 removed", || env.all_ids().is_empty());
    assert!(env.container_dirs_left().is_empty());
    assert!(env.mounts_left().is_empty(), "{:?}", env.mounts_left());
}

#[test]
fn addressing_ps_prune_df_events() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    let mut events = env
        .daemon()
        .berth_command(&["events"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let seen = seen.clone();
        let out = events.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let mut s = seen.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        })
    };
    // Subscribing is asynchronous: probe until an event arrives.
    env.eventually("events subscription active", || {
        let id = env.ok(&["create", &img]).trim().to_string();
        env.ok(&["rm", &id]);
        seen.lock().unwrap().contains("/containers/delete")
    });
    // A pull (even of an image we have) is published with its name and digest.
    env.ok(&["pull", "-q", &img]);
    let a = env.ok(&["create", &img]).trim().to_string();
    let b = env.ok(&["create", &img]).trim().to_string();
    // Generated names are adjective_surname.
    let ps = env.ok(&["ps", "-a"]);
    let names: Vec<&str> = ps
        .lines()
        .skip(1)
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert!(names.iter().all(|n| n.contains('_')), "{ps}");
    // Two ids sharing a first hex digit, for the ambiguity error: of 17 ids two always do, so
    // create more (removed again) until a pair does.
    let shared = |x: &str, y: &str| x.chars().zip(y.chars()).take_while(|(p, q)| p == q).count();
    let mut extra: Vec<String> = Vec::new();
    let (x, y) = loop {
        let ids: Vec<String> = [a.clone(), b.clone()]
            .into_iter()
            .chain(extra.clone())
            .collect();
        let pair = ids.iter().enumerate().find_map(|(i, x)| {
            ids[i + 1..]
                .iter()
                .find(|y| shared(x, y) > 0)
                .map(|y| (x.clone(), y.clone()))
        });
        if let Some(pair) = pair {
            break pair;
        }
        assert!(
            extra.len() < 15,
            "17 ids without a shared first digit: {ids:?}"
        );
        extra.push(env.ok(&["create", &img]).trim().to_string());
    };
    let out = env.berth(&["inspect", &x[..shared(&x, &y)]]);
    assert!(
        stderr(&out).contains("Multiple IDs found with provided prefix"),
        "{}",
        stderr(&out)
    );
    for id in &extra {
        env.ok(&["rm", id]);
    }
    let common = shared(&a, &b);
    assert_eq!(env.inspect(&a[..common + 1])["Id"], a.as_str());
    env.ok(&["run", "-d", "--name", "alive", &img, "sleep", "300"]);
    assert_eq!(env.ok(&["ps", "-q"]).lines().count(), 1);
    assert_eq!(env.ok(&["ps", "-aq"]).lines().count(), 3);

    let df = env.ok(&["system", "df"]);
    assert!(df.contains("Images") && df.contains("Containers"), "{df}");

    let pruned = env.ok(&["container", "prune", "-f"]);
    assert!(pruned.contains(&a) && pruned.contains(&b), "{pruned}");
    assert!(pruned.contains("Total reclaimed space"));
    assert_eq!(env.ok(&["ps", "-aq"]).lines().count(), 1);
    // system prune asks first; "n" keeps everything.
    let mut p = env
        .daemon()
        .berth_command(&["system", "prune"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    p.stdin.take().unwrap().write_all(b"n\n").unwrap();
    let out = p.wait_with_output().unwrap();
    assert!(stdout(&out).contains("Are you sure you want to continue? [y/N]"));
    env.ok(&["rm", "-f", "alive"]);
    let out = env.ok(&["image", "prune", "-a", "-f"]);
    assert!(out.contains("Total reclaimed space"), "{out}");
    assert!(!env.ok(&["images"]).contains("busybox"));

    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(events.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    events.wait().unwrap();
    reader.join().unwrap();
    let ev = seen.lock().unwrap().clone();
    for topic in [
        "/containers/create",
        "/tasks/start",
        "/tasks/exit",
        "/containers/delete",
    ] {
        assert!(ev.contains(topic), "missing {topic} in {ev}");
    }
    assert!(ev.contains("exitCode=137"), "{ev}");
    let pull = ev.lines().find(|l| l.contains(" /images/pull "));
    let pull = pull.unwrap_or_else(|| panic!("missing /images/pull in {ev}"));
    assert!(
        pull.contains("busybox") && pull.contains("digest=sha256:"),
        "{pull}"
    );
    let delete = ev.lines().find(|l| l.contains(" /images/delete "));
    let delete = delete.unwrap_or_else(|| panic!("missing /images/delete in {ev}"));
    assert!(
        delete.contains("name=") && delete.contains("busybox"),
        "{delete}"
    );
    assert!(env.container_dirs_left().is_empty());
    assert!(env.mounts_left().is_empty());
}

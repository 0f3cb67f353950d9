//! Resource limits: what the container and its cgroups see, a memory limit below Docker's
//! minimum refused, and an OOM kill reported as Exited (137), OOMKilled and an `oom` event.

use berth_integration::berthd_env::{cgroup_dirs_of, code, stderr, BerthdEnv};
use std::io::{BufRead, BufReader};

fn cgroup_file(id: &str, name: &str) -> Option<String> {
    cgroup_dirs_of(id)
        .into_iter()
        .find_map(|d| std::fs::read_to_string(d.join(name)).ok())
        .map(|s| s.trim().to_string())
}

#[test]
fn limits_are_applied_and_bad_ones_refused() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    env.fails_with(
        &["run", "-d", "--memory", "1k", &img, "true"],
        125,
        "Minimum memory limit allowed is 6MB",
    );
    let out = env.berth(&["run", "-d", "--ulimit", "nofile=2:1", &img, "true"]);
    assert_eq!(code(&out), 125, "{}", stderr(&out));
    assert!(env.all_ids().is_empty(), "a refused run left a container");

    env.ok(&[
        "run",
        "-d",
        "--name",
        "lim",
        "--memory",
        "64m",
        "--memory-swap",
        "64m",
        "--memory-reservation",
        "32m",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "0",
        "--pids-limit",
        "50",
        "--ulimit",
        "nofile=100:200",
        "--oom-score-adj",
        "500",
        "--shm-size",
        "8m",
        &img,
        "sleep",
        "300",
    ]);
    let out = env.ok(&[
        "exec",
        "lim",
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; df -k /dev/shm | tail -1",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..3], &["100", "200", "500"], "{out}");
    assert!(lines[3].contains("8192"), "{out}");
    let id = env.inspect("lim")["Id"].as_str().unwrap().to_string();
    let limit =
        cgroup_file(&id, "memory.limit_in_bytes").or_else(|| cgroup_file(&id, "memory.max"));
    assert_eq!(limit.as_deref(), Some("67108864"));
    let pids = cgroup_file(&id, "pids.max");
    assert_eq!(pids.as_deref(), Some("50"));
    if let Some(quota) = cgroup_file(&id, "cpu.cfs_quota_us") {
        assert_eq!(quota, "50000");
        assert_eq!(cgroup_file(&id, "cpu.shares").as_deref(), Some("512"));
    }

    // update: a refused value changes nothing; accepted ones reach the running cgroup.
    let out = env.berth(&["update", "--memory", "1k", "lim"]);
    assert_eq!(code(&out), 125, "{}", stderr(&out));
    assert_eq!(
        cgroup_file(&id, "memory.limit_in_bytes")
            .or_else(|| cgroup_file(&id, "memory.max"))
            .as_deref(),
        Some("67108864")
    );
    env.ok(&[
        "update",
        "--memory",
        "128m",
        "--memory-swap",
        "128m",
        "--pids-limit",
        "60",
        "lim",
    ]);
    assert_eq!(
        cgroup_file(&id, "memory.limit_in_bytes")
            .or_else(|| cgroup_file(&id, "memory.max"))
            .as_deref(),
        Some("134217728")
    );
    assert_eq!(cgroup_file(&id, "pids.max").as_deref(), Some("60"));
    env.ok(&["rm", "-f", "lim"]);
}

#[test]
fn oom_kill_is_reported() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    let mut events = env
        .daemon()
        .berth_command(&["events"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = events.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The subscription is live once it reports a container made after it.
    env.ok(&["create", "--name", "probe", &img, "true"]);
    let limit = std::time::Duration::from_secs(30);
    while !rx
        .recv_timeout(limit)
        .unwrap()
        .contains("/containers/create")
    {}
    let out = env.berth(&[
        "run",
        "--name",
        "oom",
        "--memory",
        "8m",
        "--memory-swap",
        "8m",
        &img,
        "sh",
        "-c",
        "dd if=/dev/zero of=/dev/null bs=64M count=1",
    ]);
    assert_eq!(code(&out), 137, "{}", stderr(&out));
    let j = env.inspect("oom");
    assert_eq!(j["State"]["OOMKilled"], true);
    assert_eq!(j["State"]["ExitCode"], 137);
    assert!(env.ok(&["ps", "-a"]).contains("Exited (137)"));
    let id = j["Id"].as_str().unwrap().to_string();
    let mut seen = false;
    while let Ok(line) = rx.recv_timeout(limit) {
        if line.contains("/tasks/oom") && line.contains(&id) {
            seen = true;
            break;
        }
    }
    let _ = events.kill();
    let _ = events.wait();
    assert!(seen, "no oom event");
    env.ok(&["rm", "oom"]);
}

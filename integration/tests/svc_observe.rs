//! `berth stats`, `top`, `pause`/`unpause`, `rename` on one running container.

use berth_integration::berthd_env::{code, stderr, stdout, BerthdEnv};

#[test]
fn stats_top_pause_and_rename_observe_one_container() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    let id = env.ok(&[
        "run",
        "-d",
        "--name",
        "obs-one",
        &img,
        "sh",
        "-c",
        "sleep 1000 & sleep 1001",
    ]);
    let id = id.trim().to_string();

    // stats: one JSON line with Docker's fields, read from the container's cgroup.
    let out = env.ok(&["stats", "--no-stream", "--format", "json", "obs-one"]);
    let row: serde_json::Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(row["Name"], "obs-one", "{row}");
    assert_eq!(row["ID"], &id[..12], "{row}");
    // busybox sh execs its last command: two sleeps, no shell.
    assert_eq!(row["PIDs"], "2", "{row}");
    assert!(row["CPUPerc"].as_str().unwrap().ends_with('%'), "{row}");
    let mem = row["MemUsage"].as_str().unwrap();
    assert!(mem.contains(" / ") && mem.contains("iB"), "{row}");
    assert!(row["NetIO"].as_str().unwrap().contains(" / "), "{row}");
    // The default table and a template.
    let table = env.ok(&["stats", "--no-stream"]);
    let head = table.lines().next().unwrap();
    for col in [
        "CONTAINER ID",
        "NAME",
        "CPU %",
        "MEM USAGE / LIMIT",
        "MEM %",
        "NET I/O",
        "BLOCK I/O",
        "PIDS",
    ] {
        assert!(head.contains(col), "{table}");
    }
    assert!(table.contains("obs-one"), "{table}");
    let t = env.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}:{{.PIDs}}",
        "obs-one",
    ]);
    assert_eq!(t, "obs-one:2\n");

    // top: the host's ps narrowed to the container's processes.
    let top = env.ok(&["top", "obs-one"]);
    assert!(top.lines().next().unwrap().contains("PID"), "{top}");
    assert!(
        top.contains("sleep 1000") && top.contains("sleep 1001"),
        "{top}"
    );
    assert_eq!(top.lines().count(), 3, "{top}");
    let top = env.ok(&["top", "obs-one", "-o", "pid,comm"]);
    assert!(top.starts_with("PID"), "{top}");

    // pause / unpause.
    assert_eq!(env.ok(&["pause", "obs-one"]), "obs-one\n");
    let st = env.ok(&["ps", "--format", "{{.Status}}", "--filter", "name=obs-one"]);
    assert!(st.contains("(Paused)"), "{st}");
    assert_eq!(env.ok(&["unpause", "obs-one"]), "obs-one\n");
    let st = env.ok(&["ps", "--format", "{{.Status}}", "--filter", "name=obs-one"]);
    assert!(st.starts_with("Up") && !st.contains("Paused"), "{st}");

    // rename, and the refusals.
    env.ok(&["run", "-d", "--name", "obs-two", &img, "true"]);
    env.fails_with(&["rename", "obs-one", "obs-two"], 1, "is already in use");
    env.fails_with(&["rename", "obs-one", "obs-one"], 1, "same name");
    let out = env.berth(&["rename", "obs-one", "bad/name"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(
        stdout(&env.berth(&["rename", "obs-one", "obs-renamed"])),
        ""
    );
    let names = env.ok(&["ps", "--format", "{{.Names}}"]);
    assert_eq!(names, "obs-renamed\n");
    assert!(env.ok(&["top", &id[..12]]).contains("sleep 1000"));

    // Stopped: stats shows dashes, top refuses.
    env.ok(&["kill", "obs-renamed"]);
    env.eventually("container exits", || {
        env.ok(&["ps", "-q"]).trim().is_empty()
    });
    let s = env.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.PIDs}} {{.CPUPerc}}",
        "obs-renamed",
    ]);
    assert_eq!(s, "-- --\n");
    env.fails_with(&["top", "obs-renamed"], 1, "is not running");
    env.ok(&["rm", "-f", "obs-renamed", "obs-two"]);
}

#[test]
fn logs_since_until_tail_and_timestamps() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    let out = env.berth(&[
        "run",
        "--name",
        "logs-window",
        &img,
        "sh",
        "-c",
        "echo one; echo two; echo three >&2",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = env.berth(&["logs", "-t", "logs-window"]);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    let stamps: Vec<&str> = all
        .lines()
        .map(|l| l.split_once(' ').map(|(t, _)| t).unwrap_or_default())
        .collect();
    assert_eq!(stamps.len(), 3, "{all}");
    for t in &stamps {
        assert!(
            t.len() == 30 && t.as_bytes()[10] == b'T' && t.ends_with('Z'),
            "not RFC 3339 with nanoseconds: {t} in {all}"
        );
    }
    // Everything was written in the last hour, nothing in the future; --until now-1h shows nothing.
    let out = env.berth(&["logs", "--since", "1h", "logs-window"]);
    assert_eq!(stdout(&out), "one\ntwo\n");
    assert_eq!(stderr(&out), "three\n");
    let out = env.berth(&["logs", "--until", "1h", "logs-window"]);
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out), "");
    let future = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600)
        .to_string();
    assert_eq!(
        stdout(&env.berth(&["logs", "--since", &future, "logs-window"])),
        ""
    );
    // --tail counts after the window (stdout and stderr interleave in the monitor's order).
    let out = env.berth(&["logs", "--since", "1h", "--tail", "2", "logs-window"]);
    assert_eq!(
        format!("{}{}", stdout(&out), stderr(&out)).lines().count(),
        2
    );
    let out = env.berth(&["logs", "--until", "1h", "--tail", "2", "logs-window"]);
    assert_eq!(format!("{}{}", stdout(&out), stderr(&out)), "");
    env.fails_with(
        &["logs", "--since", "yesterday", "logs-window"],
        1,
        "failed to parse value as time or duration",
    );
}

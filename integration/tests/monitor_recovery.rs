//! The monitor outlives the process that created the task, and a new task manager (a restarted
//! berthd) recovers running and exited tasks from the state dirs.

use berth_integration::task_env::{make_bundle, monitor_binary, rss_kb, unique, wait_until};
use berth_integration::task_env::{TaskEnv, TempDir};
use berth_manager::tasks::{StdioOptions, TaskError, TaskManager, TaskManagerConfig, TaskStatus};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Not a test: run by the tests below in a child process playing a berthd that creates and
/// starts a task, then disappears.
#[test]
#[ignore = "helper process for the recovery tests"]
fn helper_create_and_leave() {
    let var = |k: &str| std::env::var(k).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config = TaskManagerConfig::with_binaries(
            Path::new(&var("BERTH_HELPER_ROOT")),
            berth_integration::runtime::runtime_under_test(),
            monitor_binary(),
        );
        let manager = TaskManager::new(config).unwrap();
        let id = var("BERTH_HELPER_ID");
        manager
            .create(
                &id,
                Path::new(&var("BERTH_HELPER_BUNDLE")),
                StdioOptions::default(),
            )
            .await
            .unwrap();
        manager.start(&id).await.unwrap();
    });
    // Leave like a killed daemon: no cleanup, no destructors.
    std::process::exit(0);
}

/// Creates and starts task `id` from a separate process that exits; returns that process's pid.
fn create_from_helper(root: &Path, id: &str, bundle: &Path) -> u32 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_create_and_leave",
            "--ignored",
            "--nocapture",
        ])
        .env("BERTH_HELPER_ROOT", root)
        .env("BERTH_HELPER_ID", id)
        .env("BERTH_HELPER_BUNDLE", bundle)
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(child.wait().unwrap().success(), "helper failed");
    pid
}

fn parent_of(pid: u32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn session_of(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command: state ppid pgrp session …
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.split_whitespace().nth(3).unwrap().parse().unwrap()
}

#[tokio::test]
async fn monitor_survives_its_starter_and_is_recovered() {
    let root = TempDir::new("survive-state");
    let bundles = TempDir::new("survive-bundle");
    let bundle = bundles.0.join("b");
    make_bundle(
        &bundle,
        &["sh", "-c", "echo started; exec sleep 1000"],
        false,
    );
    let id = unique("survive");
    let helper = create_from_helper(&root.0, &id, &bundle);

    let env = TaskEnv::at(root, "survive");
    let found = env.manager.recover().await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].info.id, id);
    assert!(found[0].exit.is_none(), "{:?}", found[0].exit);
    let monitor = found[0].info.monitor_pid;
    assert_ne!(parent_of(monitor), helper);
    assert_eq!(
        session_of(monitor),
        monitor,
        "the monitor leads its own session"
    );
    assert_eq!(
        parent_of(found[0].info.pid),
        monitor,
        "container init is the monitor's child"
    );
    assert_eq!(env.manager.state(&id).await.unwrap(), TaskStatus::Running);
    let (rss, hwm) = rss_kb(monitor);
    println!("monitor {monitor}: VmRSS {rss} kB, VmHWM {hwm} kB");

    // The shell has written "started" once it has exec'd sleep; killing it before would race.
    let init = found[0].info.pid;
    wait_until("init execs sleep", Duration::from_secs(30), || {
        std::fs::read_to_string(format!("/proc/{init}/comm"))
            .ok()
            .filter(|c| c.trim() == "sleep")
    });
    env.manager.kill(&id, 9, false).await.unwrap();
    let status = env.manager.wait(&id).await.unwrap();
    assert_eq!((status.code, status.signal), (Some(137), Some(9)));
    let mut logs = env.manager.logs(&id, Default::default()).await.unwrap();
    assert_eq!(logs.recv().await.unwrap().unwrap().text, b"started");
    env.manager.delete(&id, false).await.unwrap();
}

#[tokio::test]
async fn exit_while_daemon_absent_is_read_from_exit_file() {
    let root = TempDir::new("absent-state");
    let bundles = TempDir::new("absent-bundle");
    let bundle = bundles.0.join("b");
    make_bundle(&bundle, &["sh", "-c", "sleep 0.3; exit 3"], false);
    let id = unique("absent");
    create_from_helper(&root.0, &id, &bundle);
    let exit_file = root.0.join("tasks").join(&id).join("exit.json");
    wait_until("exit.json", Duration::from_secs(60), || {
        exit_file.exists().then_some(())
    });

    let env = TaskEnv::at(root, "absent");
    let found = env.manager.recover().await.unwrap();
    assert_eq!(found.len(), 1);
    let exit = found[0].exit.clone().unwrap();
    assert_eq!((exit.code, exit.signal), (Some(3), None));
    assert_eq!(env.manager.wait(&id).await.unwrap().code, Some(3));
    assert_eq!(env.manager.state(&id).await.unwrap(), TaskStatus::Stopped);
    env.manager.delete(&id, false).await.unwrap();
}

#[tokio::test]
async fn killed_monitor_still_yields_the_real_exit() {
    let env = TaskEnv::new("unknown");
    let id = unique("unknown");
    let bundle = env.bundle(&["sleep", "1000"], false);
    let info = env.create_and_start(&id, &bundle).await;
    // This test started the monitor (through the manager), so it may kill exactly that pid.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(info.monitor_pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // The container itself still runs: it is not stopped, and deleting needs force.
    assert_eq!(env.manager.state(&id).await.unwrap(), TaskStatus::Running);
    assert!(matches!(
        env.manager.delete(&id, false).await,
        Err(TaskError::NotStopped(_))
    ));
    assert_eq!(env.manager.exit_status(&id).unwrap(), None);
    // Killed through the runtime, the orphaned init's real status is still learned (this test
    // process is not a subreaper: pid 1 reaps it and the kernel hands the status to pidfds).
    env.manager.kill(&id, libc::SIGKILL, false).await.unwrap();
    let status = env.manager.wait(&id).await.unwrap();
    assert_eq!(
        (status.code, status.signal),
        (Some(137), Some(9)),
        "{status:?}"
    );
    assert!(status.exited_at.is_some());
    assert_eq!(env.manager.state(&id).await.unwrap(), TaskStatus::Stopped);
    let status = env.manager.delete(&id, false).await.unwrap();
    assert_eq!(status.code, Some(137));
    assert!(!env.manager.config().runtime_root.join(&id).exists());
}

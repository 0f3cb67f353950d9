//! Task manager + monitor against a real runtime (`$BERTH_TEST_RUNTIME`, default berth-runc):
//! exit codes, signals, create errors, pause/resume, runtime timeouts.

use berth_integration::task_env::{unique, TaskEnv, TempDir};
use berth_manager::oci_runtime::{Runtime, RuntimeError};
use berth_manager::tasks::{LogOptions, StdioOptions, TaskError, TaskStatus};
use std::time::Duration;

async fn run_to_exit(env: &TaskEnv, args: &[&str]) -> berth_manager::tasks::ExitStatus {
    let id = unique("exit");
    let bundle = env.bundle(args, false);
    env.create_and_start(&id, &bundle).await;
    let status = env.manager.wait(&id).await.unwrap();
    assert_eq!(env.manager.state(&id).await.unwrap(), TaskStatus::Stopped);
    env.manager.delete(&id, false).await.unwrap();
    status
}

#[tokio::test]
async fn exit_codes() {
    let env = TaskEnv::new("codes");
    let ok = run_to_exit(&env, &["true"]).await;
    assert_eq!((ok.code, ok.signal, ok.oom), (Some(0), None, false));
    assert!(ok.exited_at.is_some());
    assert_eq!(
        run_to_exit(&env, &["sh", "-c", "exit 1"]).await.code,
        Some(1)
    );
    assert_eq!(
        run_to_exit(&env, &["sh", "-c", "no-such-command"])
            .await
            .code,
        Some(127)
    );
}

#[tokio::test]
async fn missing_executable_fails_create_cleanly() {
    let env = TaskEnv::new("nocmd");
    let id = unique("nocmd");
    let bundle = env.bundle(&["/no/such/binary"], false);
    let err = env
        .manager
        .create(&id, &bundle, StdioOptions::default())
        .await
        .unwrap_err();
    let text = err.to_string();
    println!("create error: {text}");
    assert!(matches!(err, TaskError::Monitor { .. }), "{text}");
    assert_eq!(err.exec_failure_code(), Some(127), "{text}");
    assert!(
        text.contains("no such file")
            || text.contains("not found")
            || text.contains("No such file"),
        "{text}"
    );
    // Nothing left behind: no state dir, no runtime state, no task.
    assert!(!env.manager.config().tasks_dir.join(&id).exists());
    assert!(!env.manager.config().runtime_root.join(&id).exists());
    assert!(matches!(env.manager.get(&id), Err(TaskError::NotFound(_))));
}

#[tokio::test]
async fn sigkill_gives_137() {
    let env = TaskEnv::new("kill");
    let id = unique("kill");
    let bundle = env.bundle(&["sleep", "1000"], false);
    let info = env.create(&id, &bundle).await;
    assert!(info.pid > 0 && info.monitor_pid > 0);
    assert_eq!(env.manager.state(&id).await.unwrap(), TaskStatus::Created);
    env.manager.start(&id).await.unwrap();
    assert_eq!(env.manager.state(&id).await.unwrap(), TaskStatus::Running);
    // A running task cannot be deleted without force.
    assert!(matches!(
        env.manager.delete(&id, false).await,
        Err(TaskError::NotStopped(_))
    ));
    let mut events = env.manager.subscribe();
    env.manager.kill(&id, 9, false).await.unwrap();
    let status = env.manager.wait(&id).await.unwrap();
    assert_eq!((status.code, status.signal), (Some(137), Some(9)));
    let ev = events.recv().await.unwrap();
    assert_eq!((ev.id.as_str(), ev.status.code), (id.as_str(), Some(137)));
    env.manager.delete(&id, false).await.unwrap();
    assert!(!info.state_dir.exists());
}

#[tokio::test]
async fn trapped_sigterm_exits_with_own_code() {
    let env = TaskEnv::new("term");
    let id = unique("term");
    let script = "trap 'exit 42' TERM; echo ready; while true; do sleep 0.1; done";
    let bundle = env.bundle(&["sh", "-c", script], false);
    env.create_and_start(&id, &bundle).await;
    // Signal only once the trap is installed (pid 1 ignores an unhandled TERM).
    let opts = LogOptions {
        follow: true,
        ..Default::default()
    };
    let mut lines = env.manager.logs(&id, opts).await.unwrap();
    let first = lines.recv().await.unwrap().unwrap();
    assert_eq!(first.text, b"ready");
    env.manager.kill(&id, 15, false).await.unwrap();
    let status = env.manager.wait(&id).await.unwrap();
    assert_eq!((status.code, status.signal), (Some(42), None));
    env.manager.delete(&id, false).await.unwrap();
}

#[tokio::test]
async fn pause_resume_and_force_delete() {
    let env = TaskEnv::new("pause");
    let id = unique("pause");
    let bundle = env.bundle(&["sleep", "1000"], false);
    env.create_and_start(&id, &bundle).await;
    env.manager.pause(&id).await.unwrap();
    assert_eq!(env.manager.state(&id).await.unwrap(), TaskStatus::Paused);
    env.manager.resume(&id).await.unwrap();
    assert_eq!(env.manager.state(&id).await.unwrap(), TaskStatus::Running);
    let status = env.manager.delete(&id, true).await.unwrap();
    assert_eq!(status.code, Some(137));
    assert!(matches!(env.manager.get(&id), Err(TaskError::NotFound(_))));
}

#[tokio::test]
async fn runtime_errors_are_clean() {
    let env = TaskEnv::new("rterr");
    let cfg = env.manager.config();
    let rt = Runtime::new(
        cfg.runtime.clone(),
        cfg.runtime_root.clone(),
        env.root.0.join("rt.log"),
        Duration::from_secs(30),
    );
    let err = rt.kill("no-such-container", 9, false).await.unwrap_err();
    println!("kill error: {err}");
    assert!(err.is_not_found(), "{err}");
    assert!(err.to_string().contains("no-such-container"));
}

#[tokio::test]
async fn hanging_runtime_is_killed() {
    let dir = TempDir::new("hang");
    let script = dir.0.join("hang-runtime");
    std::fs::write(&script, "#!/bin/sh\nexec sleep 1000\n").unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&script).unwrap().permissions(),
        0o755,
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let rt = Runtime::new(
        script,
        dir.0.join("root"),
        dir.0.join("log"),
        Duration::from_secs(1),
    );
    let err = rt.start("x").await.unwrap_err();
    assert!(matches!(err, RuntimeError::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn oom_kill_is_recorded() {
    let env = TaskEnv::new("oom");
    let id = unique("oom");
    // The shell itself (pid 1) accumulates 256 MiB in a variable under a 32 MiB limit.
    let bundle = env.bundle(
        &[
            "sh",
            "-c",
            "x=$(head -c 268435456 /dev/zero | tr '\\0' a); echo survived",
        ],
        false,
    );
    berth_integration::task_env::set_memory_limit(&bundle, 32 << 20);
    env.create_and_start(&id, &bundle).await;
    let status = env.manager.wait(&id).await.unwrap();
    println!("oom status: {status:?}");
    assert!(status.oom, "{status:?}");
    assert_ne!(status.code, Some(0));
    env.manager.delete(&id, false).await.unwrap();
}

#[tokio::test]
async fn terminal_mismatch_is_refused() {
    let env = TaskEnv::new("ttymis");
    let id = unique("ttymis");
    let bundle = env.bundle(&["true"], false);
    let stdio = StdioOptions {
        tty: true,
        stdin: false,
    };
    let err = env.manager.create(&id, &bundle, stdio).await.unwrap_err();
    assert!(matches!(err, TaskError::Bundle { .. }), "{err}");
    assert!(!env.manager.config().tasks_dir.join(&id).exists());
}

#[tokio::test]
async fn stopped_state_comes_with_its_exit_status() {
    let env = TaskEnv::new("stopped");
    let id = unique("stopped");
    let bundle = env.bundle(&["sh", "-c", "exit 5"], false);
    env.create_and_start(&id, &bundle).await;
    // Poll the state the way `ps` would, never calling wait().
    let start = std::time::Instant::now();
    while env.manager.state(&id).await.unwrap() != TaskStatus::Stopped {
        assert!(start.elapsed() < Duration::from_secs(60), "never stopped");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let status = env.manager.exit_status(&id).unwrap();
    assert_eq!(status.and_then(|s| s.code), Some(5));
    // Deleting right away (no wait()) works for a stopped task.
    env.manager.delete(&id, false).await.unwrap();
}

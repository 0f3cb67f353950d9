//! 20 containers started concurrently, then everything removed: nothing left behind.

use berth_integration::berthd_env::{code, stderr, BerthdEnv};

#[test]
fn twenty_concurrent_runs_then_clean() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let cmd = env.daemon().berth_command(&[
                "run",
                "-d",
                "--name",
                &format!("c{i}"),
                &img,
                "sh",
                "-c",
                &format!("echo n{i}; sleep 300"),
            ]);
            std::thread::spawn(move || {
                let mut cmd = cmd;
                cmd.output().unwrap()
            })
        })
        .collect();
    for h in handles {
        let out = h.join().unwrap();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    assert_eq!(env.ok(&["ps", "-q"]).lines().count(), 20);
    for i in 0..20 {
        let name = format!("c{i}");
        env.eventually("output logged", || {
            env.ok(&["logs", &name]) == format!("n{i}\n")
        });
    }
    let ids = env.all_ids();
    let monitors: Vec<_> = ids.iter().map(|id| env.monitor_pid(id)).collect();
    let mut args = vec!["rm", "-f"];
    args.extend(ids.iter().map(String::as_str));
    env.ok(&args);
    for (id, m) in ids.iter().zip(monitors) {
        env.assert_gone(id, m);
    }
    assert!(env.all_ids().is_empty());
    assert!(env.mounts_left().is_empty(), "{:?}", env.mounts_left());
    assert!(env.task_dirs_left().is_empty());
    assert!(env.container_dirs_left().is_empty());
    // Snapshots of the containers are gone; only image layers remain.
    env.ok(&["image", "prune", "-a", "-f"]);
}

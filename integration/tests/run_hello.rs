//! `berth run hello-world` end to end, exit codes and bad input.

use berth_integration::berthd_env::{code, stderr, stdout, BerthdEnv};

#[test]
fn hello_world_pulls_then_runs_and_exits_zero() {
    let env = BerthdEnv::start();
    let out = env.berth(&["run", "hello-world"]);
    let (o, e) = (stdout(&out), stderr(&out));
    assert_eq!(code(&out), 0, "stdout: {o}\nstderr: {e}");
    // As Docker's client: the pull that run makes is reported on stderr, in this order;
    // stdout holds only the container's output.
    let mut at = 0;
    for line in [
        "Unable to find image 'hello-world:latest' locally",
        "latest: Pulling from library/hello-world",
        "Pull complete",
        "Digest: sha256:",
        "Status: Downloaded newer image for hello-world:latest",
    ] {
        let found = e[at..].find(line).map(|i| i + at);
        at = found.unwrap_or_else(|| panic!("{line:?} not in stderr, in order: {e}"));
    }
    assert!(!o.contains("Pull"), "pull progress on stdout: {o}");
    assert!(o.trim_start().starts_with("Hello from Berth!"), "{o}");
    assert!(
        o.contains("This message shows that your installation appears to be working correctly.")
    );

    // Second run: image present, no pull.
    let out = env.berth(&["run", "hello-world"]);
    assert_eq!(code(&out), 0);
    assert!(!stderr(&out).contains("Unable to find image"));
    assert!(stdout(&out).contains("Hello from Berth!"));

    // Both runs are listed as exited with code 0.
    let ps = env.ok(&["ps", "-a"]);
    assert_eq!(ps.matches("Exited (0)").count(), 2, "{ps}");
    assert!(ps.lines().next().unwrap().starts_with("CONTAINER ID"));
    assert!(ps.contains("\"/hello\""), "{ps}");
    // Not running: plain `ps` shows only the header.
    assert_eq!(env.ok(&["ps"]).lines().count(), 1);
}

#[test]
fn exit_codes_match_docker() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    let out = env.berth(&["run", &img, "sh", "-c", "exit 0"]);
    assert_eq!(code(&out), 0);
    let out = env.berth(&["run", &img, "sh", "-c", "exit 1"]);
    assert_eq!(code(&out), 1);
    let out = env.berth(&["run", &img, "sh", "-c", "exit 42"]);
    assert_eq!(code(&out), 42);
    let out = env.berth(&["run", "--name", "nocmd", &img, "foo"]);
    assert_eq!(code(&out), 127, "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("exec: \"foo\": executable file not found in $PATH"),
        "{}",
        stderr(&out)
    );
    let inspect: serde_json::Value = serde_json::from_str(&env.ok(&["inspect", "nocmd"])).unwrap();
    assert_eq!(inspect[0]["State"]["ExitCode"], 127);
    assert_eq!(inspect[0]["State"]["Status"], "created");
    // The failed start left no task behind.
    let id = inspect[0]["Id"].as_str().unwrap().to_string();
    assert!(!env.task_dir(&id).exists());
}

#[test]
fn output_streams_and_detach() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    let out = env.berth(&["run", &img, "sh", "-c", "echo to-out; echo to-err >&2"]);
    assert_eq!(code(&out), 0);
    assert_eq!(stdout(&out), "to-out\n");
    assert_eq!(stderr(&out), "to-err\n");

    let out = env.berth(&["run", "-d", "--name", "bg", &img, "sleep", "300"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    assert_eq!(id.len(), 64, "{id}");
    let ps = env.ok(&["ps"]);
    assert!(
        ps.contains(&id[..12]) && ps.contains("Up ") && ps.contains("bg"),
        "{ps}"
    );
    env.ok(&["rm", "-f", "bg"]);
    assert!(!env.all_ids().contains(&id));
    assert_eq!(env.all_ids().len(), 1);

    // `id=$(berth run -d IMAGE)` of an image that is not local yet: the pull goes to stderr,
    // stdout is the id alone (Docker's client does the same).
    let out = env.berth(&["run", "-d", &env.image("hello-world:latest")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let printed = stdout(&out);
    let id = printed.trim_end();
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) && printed == format!("{id}\n"),
        "stdout: {printed}"
    );
    assert!(stderr(&out).contains("Pull complete"), "{}", stderr(&out));
    env.ok(&["rm", "-f", id]);
}

#[test]
fn bad_input_gives_clear_errors_and_leaves_nothing() {
    let env = BerthdEnv::start();
    let img = env.busybox();

    // Missing image in a registry: the pull fails, nothing is created.
    env.fails_saying(
        &["run", &env.image("does-not-exist:latest")],
        "Unable to find image",
    );
    assert!(env.all_ids().is_empty());

    // Name in use.
    env.ok(&["create", "--name", "web", &img]);
    let out = env.berth(&["create", "--name", "web", &img]);
    assert_ne!(code(&out), 0);
    assert!(
        stderr(&out)
            .contains("Conflict. The container name \"/web\" is already in use by container"),
        "{}",
        stderr(&out)
    );

    // Bind-mount source that does not exist.
    env.fails_saying(
        &["run", "-v", "/definitely/not/here:/mnt", &img, "true"],
        "bind source path does not exist: /definitely/not/here",
    );
    assert_eq!(env.all_ids().len(), 1);

    // rm of a running container without -f.
    env.ok(&["run", "-d", "--name", "busy", &img, "sleep", "300"]);
    let out = env.berth(&["rm", "busy"]);
    assert_ne!(code(&out), 0);
    assert!(
        stderr(&out).contains("You cannot remove a running container")
            && stderr(&out)
                .contains("Stop the container before attempting removal or force remove"),
        "{}",
        stderr(&out)
    );

    // Unknown container and ambiguous prefix.
    let out = env.berth(&["stop", "nosuchthing"]);
    assert!(stderr(&out).contains("No such container: nosuchthing"));
    env.ok(&["rm", "-f", "busy", "web"]);
    assert!(env.container_dirs_left().is_empty());
    assert!(env.task_dirs_left().is_empty());
    assert!(env.mounts_left().is_empty(), "{:?}", env.mounts_left());
}

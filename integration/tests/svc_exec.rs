//! `berth exec`: environment, user, workdir, exit codes (own, 126, 127), detached processes,
//! stdin, a terminal of the client's size, and refusal for paused and stopped containers.

use berth_integration::berthd_env::{code, stderr, stdout, BerthdEnv};
use std::process::Command;

#[test]
fn exec_in_a_running_container() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "ex1",
        "-e",
        "FROM_RUN=r",
        "-w",
        "/tmp",
        &img,
        "sleep",
        "300",
    ]);

    // The container's environment and working directory by default; -e and -w override.
    let out = env.ok(&["exec", "ex1", "sh", "-c", "echo $FROM_RUN; pwd; id -u"]);
    assert_eq!(out, "r\n/tmp\n0\n");
    let file = env.tmp().join("exec.env");
    std::fs::write(&file, "# comment\nFROM_FILE=f\n").unwrap();
    let out = env.ok(&[
        "exec",
        "-e",
        "FROM_RUN=x",
        "--env-file",
        file.to_str().unwrap(),
        "-w",
        "/",
        "-u",
        "nobody",
        "ex1",
        "sh",
        "-c",
        "echo $FROM_RUN $FROM_FILE; pwd; id -un",
    ]);
    assert_eq!(out, "x f\n/\nnobody\n");

    // The command's exit code passes through; Docker's 127 / 126 when it cannot run.
    let out = env.berth(&["exec", "ex1", "sh", "-c", "echo e >&2; exit 7"]);
    assert_eq!(code(&out), 7);
    assert_eq!(stderr(&out), "e\n");
    env.fails_with(&["exec", "ex1", "no-such-command"], 127, "no-such-command");
    let out = env.berth(&["exec", "ex1", "/etc/passwd"]);
    assert_eq!(code(&out), 126, "{}", stderr(&out));

    // stdin reaches the process with -i.
    let mut child = env_command(
        &env,
        &["exec", "-i", "ex1", "sh", "-c", "read x; echo got:$x"],
    );
    child.stdin(std::process::Stdio::piped());
    child.stdout(std::process::Stdio::piped());
    let mut child = child.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"hello\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(stdout(&out), "got:hello\n");

    // -d returns at once; the process runs on in the container and is reaped.
    env.ok(&[
        "exec",
        "-d",
        "ex1",
        "sh",
        "-c",
        "echo bg > /tmp/bg; sleep 1",
    ]);
    env.eventually("detached exec ran", || {
        env.berth(&["exec", "ex1", "cat", "/tmp/bg"]).stdout == b"bg\n"
    });

    // --privileged: every capability.
    let eff = |extra: &[&str]| {
        let mut a = vec!["exec"];
        a.extend_from_slice(extra);
        a.extend_from_slice(&["ex1", "grep", "CapEff", "/proc/self/status"]);
        env.ok(&a)
    };
    let plain = eff(&[]);
    let privileged = eff(&["--privileged"]);
    assert_ne!(plain, privileged);
    // CAP_SYS_ADMIN (bit 21) is not in Docker's default set.
    let bits = |s: &str| u64::from_str_radix(s.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_eq!(bits(&plain) & (1 << 21), 0, "{plain}");
    assert_ne!(bits(&privileged) & (1 << 21), 0, "{privileged}");

    // Paused and stopped containers refuse, with Docker's words, and stay as they were.
    let j: serde_json::Value = serde_json::from_str(&env.ok(&["inspect", "ex1"])).unwrap();
    let id = j[0]["Id"].as_str().unwrap().to_string();
    runtime(&env, "pause", &id);
    env.fails_saying(
        &["exec", "ex1", "true"],
        "is paused, unpause the container before exec",
    );
    runtime(&env, "resume", &id);
    env.ok(&["kill", "ex1"]);
    env.ok(&["wait", "ex1"]);
    env.fails_saying(&["exec", "ex1", "true"], "is not running");
    assert!(env.ok(&["ps", "-a"]).contains("Exited (137)"));
    env.ok(&["rm", "ex1"]);
}

#[test]
fn exec_with_a_terminal() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    env.ok(&["run", "-d", "--name", "ext", &img, "sleep", "300"]);
    let exec = "exec -it ext sh -c 'tty; stty size; read x; echo got:$x; exit 5'";
    let out = env.berth_on_tty(91, 27, exec, b"hello\n");
    let text = stdout(&out);
    assert!(text.contains("/dev/pts/"), "{text}");
    assert!(text.contains("27 91"), "{text}");
    assert!(text.contains("got:hello"), "{text}");
    assert_eq!(code(&out), 5, "{text}");
    env.ok(&["rm", "-f", "ext"]);
}

/// `pause`/`resume` through the runtime itself (berthd's own commands are not this test's).
fn runtime(env: &BerthdEnv, verb: &str, id: &str) {
    let bin = berth_integration::runtime::runtime_under_test();
    let root = env
        .dirs
        .state
        .join("runtime")
        .join(bin.file_name().unwrap());
    let st = Command::new(&bin)
        .arg("--root")
        .arg(root)
        .args([verb, id])
        .status()
        .unwrap();
    assert!(st.success(), "{verb} {id}");
}

fn env_command(env: &BerthdEnv, args: &[&str]) -> Command {
    let mut c = Command::new(berth_integration::daemon::bin("berth"));
    c.env("BERTH_ADDRESS", &env.dirs.address).args(args);
    c
}

//! `run -it` through a real pseudo-terminal (`script -qec` gives berth a pty as its terminal).

use berth_integration::berthd_env::{code, stdout, BerthdEnv};
use std::process::Command;

#[test]
fn interactive_tty_session() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    // The container sees a terminal of the client's size, reads our stdin, and exits with the
    // code of the last command.
    let run =
        format!("run -it --name tt {img} sh -c 'tty; stty size; read x; echo got:$x; exit 9'");
    let out = env.berth_on_tty(97, 31, &run, b"hello\n");
    let text = stdout(&out);
    // A NUL reaching the container's terminal shows up echoed as `^@`, or raw.
    assert!(
        !out.stdout.contains(&0) && !text.contains("^@"),
        "NUL byte in the session: {:?}",
        text
    );
    assert!(text.contains("/dev/pts/"), "{text}");
    assert!(text.contains("31 97"), "{text}");
    assert!(text.contains("got:hello"), "{text}");
    assert_eq!(code(&out), 9, "{text}");
    let j: serde_json::Value = serde_json::from_str(&env.ok(&["inspect", "tt"])).unwrap();
    assert_eq!(j[0]["Config"]["Tty"], true);
    assert_eq!(j[0]["State"]["ExitCode"], 9);
}

#[test]
fn long_state_dir_runs_and_attaches() {
    // <state>/tasks/<64-hex id>/attach.sock is well over the 108-byte socket path limit here.
    let env = BerthdEnv::start_under("a-long-state-directory-for-berth-socket-paths-0123");
    assert!(env.dirs.state.as_os_str().len() + "/tasks/".len() + 64 + "/attach.sock".len() > 108);
    let img = env.busybox();
    // Plain run attaches to the monitor's attach socket for the output.
    let out = env.berth(&[
        "run",
        "--name",
        "longp",
        &img,
        "sh",
        "-c",
        "echo out-ok; exit 3",
    ]);
    assert_eq!(
        code(&out),
        3,
        "{}",
        berth_integration::berthd_env::stderr(&out)
    );
    assert!(stdout(&out).contains("out-ok"), "{}", stdout(&out));
    // A terminal also needs the console socket in the same directory.
    let berth = berth_integration::daemon::bin("berth");
    let cmd = format!(
        "BERTH_ADDRESS={} {} run -it --name longt {} sh -c 'tty; exit 4'",
        env.dirs.address.display(),
        berth.display(),
        img
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("/dev/pts/"), "{text}");
    assert_eq!(code(&out), 4, "{text}");
}

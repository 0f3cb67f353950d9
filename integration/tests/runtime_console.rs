//! Terminals: `process.terminal` with `--console-socket` hands the pty master to the caller,
//! the container sees a tty on 0/1/2 and /dev/console. Needs root and the runtime under test.

use berth_integration::console::{read_pty, write_pty, ConsoleSocket};
use berth_integration::TestEnv;
use serde_json::json;
use std::time::Duration;

#[test]
fn console_socket_receives_pty_master() {
    let env = TestEnv::new("console");
    let sock = ConsoleSocket::bind(&env.path("console.sock"));
    let mut b = env.bundle("b");
    b.set("/process/terminal", json!(true));
    b.sh("test -t 0 && test -t 1 && test -t 2 && echo all-tty; tty; stat -c '%t:%T' /dev/console; echo done");
    let id = env.id("c");
    let master = env.start_on_console(&b, &id, &sock);
    let out = read_pty(&master, Duration::from_secs(20)).replace('\r', "");
    assert!(out.contains("all-tty\n"), "{out:?}");
    assert!(out.contains("/dev/pts/0"), "{out:?}");
    // /dev/console is the pty slave bind-mounted: devpts major 136.
    assert!(
        out.contains("88:0"),
        "/dev/console is not the pty slave: {out:?}"
    );
    assert!(out.contains("done"), "{out:?}");
    assert_eq!(env.wait_status(&id, "stopped"), "stopped");
}

#[test]
fn console_input_reaches_process() {
    let env = TestEnv::new("consolein");
    let sock = ConsoleSocket::bind(&env.path("console.sock"));
    let mut b = env.bundle("b");
    b.set("/process/terminal", json!(true));
    b.sh("read line; echo \"got:$line\"");
    let id = env.id("c");
    let master = env.start_on_console(&b, &id, &sock);
    write_pty(&master, b"ping-berth\n");
    let out = read_pty(&master, Duration::from_secs(20)).replace('\r', "");
    assert!(out.contains("got:ping-berth"), "{out:?}");
}

#[test]
fn terminal_without_console_socket_fails() {
    let env = TestEnv::new("consolemissing");
    let mut b = env.bundle("b");
    b.set("/process/terminal", json!(true));
    let id = env.id("c");
    let cg = TestEnv::cgroup_path(&b);
    let o = env.create(&b, &id).fails();
    assert!(
        o.all().contains("console-socket") || o.all().contains("console socket"),
        "{o}"
    );
    env.assert_nothing_left(&id, &cg);
}

#[test]
fn console_socket_without_terminal_fails() {
    let env = TestEnv::new("consolenoterm");
    let sock = env.path("console.sock");
    let _listener = ConsoleSocket::bind(&sock);
    let b = env.bundle("b");
    let id = env.id("c");
    let cg = TestEnv::cgroup_path(&b);
    let o = env.create_on_console(&b, &id, &sock).fails();
    assert!(
        o.all().contains("terminal") || o.all().contains("console"),
        "{o}"
    );
    env.assert_nothing_left(&id, &cg);
}

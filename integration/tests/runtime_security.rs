//! Escapes that have hit runc: CVE-2019-5736 (overwriting the host runtime binary through
//! /proc/<pid>/exe) and CVE-2024-21626 (host fds leaking into the container, cwd through
//! /proc/self/fd/N). The runtime used here is a COPY in the temp dir, so a failing test cannot
//! damage the real binary. Needs root and the runtime under test.

use berth_integration::runtime::{run_captured, Runtime, COMMAND_TIMEOUT};
use berth_integration::task_env::wait_until;
use berth_integration::{Bundle, TestEnv};
use serde_json::json;
use std::path::PathBuf;

/// Copies the runtime under test into the temp dir and returns a runtime using the copy.
fn runtime_copy(env: &TestEnv) -> (Runtime, PathBuf, Vec<u8>) {
    let copy = env.path("runtime-copy");
    std::fs::copy(&env.rt.bin, &copy).unwrap();
    let original = std::fs::read(&copy).unwrap();
    let rt = Runtime {
        bin: copy.clone(),
        ..env.rt.clone()
    };
    (rt, copy, original)
}

const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_ADMIN",
    "CAP_MKNOD",
    "CAP_AUDIT_WRITE",
    "CAP_SETFCAP",
];

/// Shell that tries every way it knows to write to the exe of `targets` (a glob of /proc pids).
fn overwrite_attempt(targets: &str) -> String {
    format!(
        "for p in {targets}; do \
           (exec 3>>$p/exe && echo PWNED >&3) 2>/dev/null && echo \"wrote via $p\"; \
           (echo PWNED > $p/exe) 2>/dev/null && echo \"truncated via $p\"; \
           (exec 4<$p/exe && exec 5>>/proc/self/fd/4 && echo PWNED >&5) 2>/dev/null && echo \"reopened via $p\"; \
         done; true"
    )
}

#[test]
fn cve_2019_5736_start_container_hook_cannot_overwrite_runtime() {
    let env = TestEnv::new("cve5736hook");
    let (rt, copy, original) = runtime_copy(&env);
    let mut b = env.bundle("b");
    for set in ["bounding", "effective", "permitted"] {
        b.set(&format!("/process/capabilities/{set}"), json!(ALL_CAPS));
    }
    // startContainer hooks run inside the container while the runtime's own init process is
    // still there (its parent, pid 1): the exact window CVE-2019-5736 used.
    let script = format!(
        "echo parent-exe=$(readlink /proc/$PPID/exe); {}",
        overwrite_attempt("/proc/$PPID /proc/1 /proc/[0-9]*")
    );
    std::fs::write(
        b.rootfs().join("attack.sh"),
        // Hooks' output is not the container's: log to a file to prove the hook ran.
        format!("#!/bin/sh\n{{ {script}; }} > /attack.log 2>&1\n"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        b.rootfs().join("attack.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    b.set(
        "/hooks",
        json!({"startContainer": [{"path": "/attack.sh", "args": ["attack.sh"]}]}),
    );
    b.sh(&overwrite_attempt("/proc/[0-9]*"));
    b.write();
    let id = env.id("c");
    let mut c = rt.command(&["run", "--bundle"]);
    c.arg(&b.dir).arg(&id);
    let o = run_captured(&mut c, &env.rt.scratch, COMMAND_TIMEOUT);
    eprintln!("attack output: {o}");
    assert!(
        std::fs::read(&copy).unwrap() == original,
        "runtime binary was modified from inside: {o}"
    );
    assert!(
        !o.all().contains("wrote via") && !o.all().contains("truncated via"),
        "{o}"
    );
    let log = std::fs::read_to_string(b.rootfs().join("attack.log")).unwrap_or_default();
    eprintln!("hook saw: {log}");
    assert!(
        log.contains("parent-exe="),
        "the startContainer attack hook did not run: {o}"
    );
    for bad in ["wrote via", "truncated via", "reopened via"] {
        assert!(!log.contains(bad), "{log}");
    }
}

/// Container A, created by the runtime copy `rt` and not started (its pid 1 is the copy's init),
/// and the bundle of a container B in A's pid namespace with every capability, to attack it.
fn created_container_and_attacker(env: &TestEnv, rt: &Runtime) -> (String, Bundle) {
    let mut a = env.bundle("a");
    a.args(&["sleep", "1000"]);
    a.write();
    let aid = env.id("a");
    let mut c = rt.command(&["create", "--bundle"]);
    c.arg(&a.dir).arg(&aid);
    run_captured(&mut c, &env.rt.scratch, COMMAND_TIMEOUT).assert_success();
    let pid = env.state(&aid)["pid"].as_i64().unwrap();
    let mut b = env.bundle("b");
    b.remove_namespace("pid");
    b.add_namespace(json!({"type": "pid", "path": format!("/proc/{pid}/ns/pid")}));
    for set in ["bounding", "effective", "permitted"] {
        b.set(&format!("/process/capabilities/{set}"), json!(ALL_CAPS));
    }
    (aid, b)
}

#[test]
fn cve_2019_5736_process_in_shared_pid_ns_cannot_overwrite_runtime_init() {
    let env = TestEnv::new("cve5736pidns");
    let (rt, copy, original) = runtime_copy(&env);
    // Container B joins the pid namespace of A (created, not started) and attacks pid 1.
    let (aid, mut b) = created_container_and_attacker(&env, &rt);
    b.set("/process/noNewPrivileges", json!(false));
    b.sh(&format!(
        "readlink /proc/1/exe; {}",
        overwrite_attempt("/proc/1")
    ));
    b.write();
    let bid = env.id("b");
    let mut c = rt.command(&["run", "--bundle"]);
    c.arg(&b.dir).arg(&bid);
    let o = run_captured(&mut c, &env.rt.scratch, COMMAND_TIMEOUT).assert_success();
    eprintln!("attack output: {o}");
    assert!(
        std::fs::read(&copy).unwrap() == original,
        "runtime binary was modified through /proc/1/exe: {o}"
    );
    assert!(
        !o.stdout.contains("wrote via") && !o.stdout.contains("truncated via"),
        "{o}"
    );
    // The created container still starts: the attack did not corrupt its init either.
    env.start_until(&aid, "running");
}

/// The exploit as published: hold an fd of the runtime's exe while the runtime runs it (writes
/// fail with ETXTBSY then), and reopen it for writing through /proc/self/fd once no runtime
/// process executes the binary any more. Only a copy no one can write survives that.
#[test]
fn cve_2019_5736_exe_fd_held_past_the_runtime_cannot_be_reopened_for_writing() {
    let env = TestEnv::new("cve5736held");
    let (rt, copy, original) = runtime_copy(&env);
    // Container B, in the pid namespace of A (created by the copy, not started), holds
    // /proc/1/exe open and keeps trying to reopen it for writing for 3 s after A has started.
    let (aid, mut b) = created_container_and_attacker(&env, &rt);
    b.sh(
        "exec 3</proc/1/exe || { echo no-fd > /result; exit 0; }; touch /held; \
          while [ ! -e /go ]; do sleep 0.05; done; i=0; \
          while [ $i -lt 30 ]; do \
            if (exec 4>>/proc/self/fd/3 && echo PWNED >&4) 2>/dev/null; then \
              echo wrote > /result; exit 0; fi; \
            i=$((i + 1)); sleep 0.1; \
          done; echo refused > /result",
    );
    let bid = env.id("b");
    env.create(&b, &bid).assert_success();
    env.rt(&["start", &bid]).assert_success();
    let rootfs = b.rootfs();
    wait_until("container B holds A's exe", COMMAND_TIMEOUT, || {
        (rootfs.join("held").exists() || rootfs.join("result").exists()).then_some(())
    });
    // A's init execs its program: no process of the runtime runs the binary any more.
    let mut c = rt.command(&["start", &aid]);
    run_captured(&mut c, &env.rt.scratch, COMMAND_TIMEOUT).assert_success();
    std::fs::write(rootfs.join("go"), "").unwrap();
    assert_eq!(env.wait_status(&bid, "stopped"), "stopped");
    let result = std::fs::read_to_string(rootfs.join("result")).unwrap_or_default();
    assert!(
        std::fs::read(&copy).unwrap() == original,
        "runtime binary was modified through a held /proc/1/exe fd ({result})"
    );
    assert_eq!(
        result.trim(),
        "refused",
        "the attack did not run as planned"
    );
}

#[test]
fn cve_2024_21626_no_host_fds_in_container() {
    let env = TestEnv::new("cve21626fds");
    let mut b = env.bundle("b");
    let out = env.run_sh(
        &mut b,
        "ls /proc/$$/fd; for f in /proc/$$/fd/*; do echo \"$f -> $(readlink $f)\"; done",
    );
    let fds: Vec<&str> = out.lines().take_while(|l| !l.contains("->")).collect();
    assert_eq!(
        fds,
        ["0", "1", "2"],
        "unexpected fds inside the container:\n{out}"
    );
}

#[test]
fn cve_2024_21626_preserved_fds_are_only_the_requested_ones() {
    let env = TestEnv::new("cve21626preserve");
    let mut b = env.bundle("b");
    // `; true` keeps sh from exec-ing ls (whose own directory fd would show up).
    b.sh("ls /proc/$$/fd; true");
    b.write();
    let id = env.id("c");
    let extra = std::fs::File::open("/dev/null").unwrap();
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let raw = extra.as_raw_fd();
    let mut c = env.rt.command(&["run", "--preserve-fds", "1", "--bundle"]);
    c.arg(&b.dir).arg(&id);
    // SAFETY: dup2 and fcntl are async-signal-safe; fd 3 becomes the one preserved fd. If the
    // file already is fd 3, dup2 is a no-op that keeps O_CLOEXEC, so clear it explicitly.
    unsafe {
        c.pre_exec(move || {
            if raw != 3 && libc::dup2(raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = run_captured(&mut c, &env.rt.scratch, COMMAND_TIMEOUT).assert_success();
    let fds: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "{o}");
}

#[test]
fn cve_2024_21626_cwd_through_proc_self_fd_gives_no_host_access() {
    let env = TestEnv::new("cve21626cwd");
    let mut b = env.bundle("b");
    for n in 3..=9 {
        b.set("/process/cwd", json!(format!("/proc/self/fd/{n}")));
        b.sh("readlink /proc/$$/cwd; ls -a ../../../../ 2>/dev/null | head -50");
        let id = env.id(&format!("fd{n}"));
        let o = env.run(&b, &id);
        if !o.success() {
            continue; // Refusing the cwd is the safe outcome.
        }
        let first = o.stdout.lines().next().unwrap_or_default();
        assert!(
            !first.contains("unreachable"),
            "cwd /proc/self/fd/{n} escaped the container root: {o}"
        );
        assert!(
            !o.stdout
                .contains(env.dir.file_name().unwrap().to_str().unwrap()),
            "host paths visible: {o}"
        );
    }
}

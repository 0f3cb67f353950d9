//! `linux.seccomp`: every action, errno values, argument filters (every operator, several
//! arguments per rule, runc's split of conditions on one argument), a seccomp agent that
//! receives the notify fd and answers notifications, Docker's and podman's default profiles, and
//! bad profiles. Every expectation holds for runc 1.1 too (`BERTH_TEST_RUNTIME=runc`).
//!
//! The container runs `berth-syscall-probe` (this crate's helper binary, copied into the rootfs
//! with its shared libraries), which makes raw syscalls and prints each result.

use berth_integration::runtime::testing_runc;
use berth_integration::{Bundle, TestEnv};
use serde_json::{json, Value};
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

const PROBE: &str = env!("CARGO_BIN_EXE_berth-syscall-probe");
const SIGSYS_EXIT: i32 = 128 + libc::SIGSYS;

/// Copies the probe to `/bin/probe` in the rootfs, with the shared libraries `ldd` lists.
fn install_probe(b: &Bundle) {
    let rootfs = b.rootfs();
    std::fs::copy(PROBE, rootfs.join("bin/probe")).unwrap();
    for lib in berth_integration::host::shared_libraries(Path::new(PROBE)) {
        let dest = rootfs.join(lib.strip_prefix("/").unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&lib, &dest).unwrap();
    }
}

fn probe_bundle(env: &TestEnv, seccomp: Value, calls: &[&str]) -> Bundle {
    let mut b = env.bundle("b");
    install_probe(&b);
    let mut args = vec!["/bin/probe"];
    args.extend_from_slice(calls);
    b.args(&args);
    b.set("/linux/seccomp", seccomp);
    b
}

fn profile(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("testdata/{name}"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// Runs the probe under `seccomp`; returns (exit code, stdout).
fn run_probe(env: &TestEnv, seccomp: Value, calls: &[&str]) -> (Option<i32>, String) {
    let b = probe_bundle(env, seccomp, calls);
    let id = env.id("p");
    let o = env.run(&b, &id);
    (o.code, o.stdout)
}

fn one_rule(action: &str, extra: Value) -> Value {
    rule_for("getppid", action, extra)
}

/// A profile that allows everything but `name`, which gets `action` (plus `extra`'s fields).
fn rule_for(name: &str, action: &str, extra: Value) -> Value {
    let mut rule = json!({"names": [name], "action": action});
    if let (Some(r), Some(x)) = (rule.as_object_mut(), extra.as_object()) {
        r.extend(x.clone());
    }
    json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule]})
}

#[test]
fn errno_action_returns_eperm_or_errno_ret() {
    let env = TestEnv::new("scerrno");
    let (code, out) = run_probe(
        &env,
        one_rule("SCMP_ACT_ERRNO", json!({})),
        &["getppid", "getpid"],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("getppid errno 1\n"), "{out}");
    assert!(
        out.contains("getpid = 1\n"),
        "other syscalls are untouched: {out}"
    );
    let (code, out) = run_probe(
        &env,
        one_rule("SCMP_ACT_ERRNO", json!({"errnoRet": 5})),
        &["getppid"],
    );
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out, "getppid errno 5\n");
}

#[test]
fn default_action_and_default_errno_ret() {
    let env = TestEnv::new("scdefault");
    // Docker's profile with another default errno, and getppid left out of its allow list.
    let mut seccomp = profile("seccomp-docker-default.json");
    seccomp["defaultErrnoRet"] = json!(95);
    let names = seccomp["syscalls"][0]["names"].as_array_mut().unwrap();
    names.retain(|n| n != "getppid");
    let (code, out) = run_probe(&env, seccomp, &["getppid", "getpid"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out, "getppid errno 95\ngetpid = 1\n");
}

#[test]
fn kill_actions_kill_with_sigsys() {
    let env = TestEnv::new("sckill");
    for action in [
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_KILL_PROCESS",
    ] {
        let (code, out) = run_probe(
            &env,
            one_rule(action, json!({})),
            &["getpid", "getppid", "getpid"],
        );
        assert_eq!(code, Some(SIGSYS_EXIT), "{action}: {out}");
        assert_eq!(
            out, "getpid = 1\n",
            "{action}: killed at getppid, before the handler"
        );
    }
}

#[test]
fn trap_sends_sigsys_to_the_handler() {
    let env = TestEnv::new("sctrap");
    let (code, out) = run_probe(
        &env,
        one_rule("SCMP_ACT_TRAP", json!({})),
        &["getppid", "getpid"],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("sigsys\n"), "{out}");
    assert!(out.ends_with("getpid = 1\n"), "{out}");
}

#[test]
fn trace_without_tracer_fails_with_enosys() {
    let env = TestEnv::new("sctrace");
    let (code, out) = run_probe(
        &env,
        one_rule("SCMP_ACT_TRACE", json!({"errnoRet": 3})),
        &["getppid"],
    );
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out, format!("getppid errno {}\n", libc::ENOSYS));
}

#[test]
fn log_and_allow_let_the_call_through() {
    let env = TestEnv::new("sclog");
    for action in ["SCMP_ACT_LOG", "SCMP_ACT_ALLOW"] {
        let mut seccomp = one_rule(action, json!({}));
        // A default other than the rule's action, so that the rule is not dropped as redundant.
        seccomp["defaultAction"] = if action == "SCMP_ACT_LOG" {
            json!("SCMP_ACT_ALLOW")
        } else {
            json!("SCMP_ACT_LOG")
        };
        let (code, out) = run_probe(&env, seccomp, &["getppid"]);
        assert_eq!(code, Some(0), "{action}: {out}");
        assert_eq!(out, "getppid = 0\n", "{action}");
    }
}

#[test]
fn flags_are_accepted() {
    let env = TestEnv::new("scflags");
    for flags in [
        json!(["SECCOMP_FILTER_FLAG_TSYNC"]),
        json!(["SECCOMP_FILTER_FLAG_LOG"]),
        json!(["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]),
        json!([]),
    ] {
        let mut seccomp = one_rule("SCMP_ACT_ERRNO", json!({}));
        seccomp["flags"] = flags.clone();
        let (code, out) = run_probe(&env, seccomp, &["getppid"]);
        if testing_runc() && flags != json!([]) {
            // Debian's runc 1.1.5 refuses every flag: "seccomp flags are not yet supported".
            assert_eq!(code, Some(1), "{flags}: {out}");
            continue;
        }
        assert_eq!(code, Some(0), "{flags}: {out}");
        assert_eq!(out, "getppid errno 1\n", "{flags}");
    }
}

#[test]
fn architectures_and_unknown_syscalls() {
    let env = TestEnv::new("scarch");
    let seccomp = json!({"defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [
        {"names": ["no_such_syscall_berth", "getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7}
    ]});
    let (code, out) = run_probe(&env, seccomp, &["getppid"]);
    assert_eq!(
        code,
        Some(0),
        "an unknown name is skipped, not an error: {out}"
    );
    assert_eq!(out, "getppid errno 7\n");
}

/// The probe's verdicts for getppid(a0) under one rule `arg0 <op> 10` (ERRNO when it matches).
fn op_verdicts(env: &TestEnv, op: &str, value: u64, value_two: u64) -> String {
    let seccomp = one_rule(
        "SCMP_ACT_ERRNO",
        json!({"args": [{"index": 0, "value": value, "valueTwo": value_two, "op": op}]}),
    );
    let (code, out) = run_probe(env, seccomp, &["getppid,5", "getppid,10", "getppid,18"]);
    assert_eq!(code, Some(0), "{op}: {out}");
    out.lines()
        .map(|l| if l.contains("errno 1") { 'D' } else { 'a' })
        .collect()
}

#[test]
fn every_argument_operator() {
    let env = TestEnv::new("scops");
    // getppid(5), getppid(10), getppid(18): D = denied (EPERM), a = allowed.
    assert_eq!(op_verdicts(&env, "SCMP_CMP_NE", 10, 0), "DaD");
    assert_eq!(op_verdicts(&env, "SCMP_CMP_LT", 10, 0), "Daa");
    assert_eq!(op_verdicts(&env, "SCMP_CMP_LE", 10, 0), "DDa");
    assert_eq!(op_verdicts(&env, "SCMP_CMP_EQ", 10, 0), "aDa");
    assert_eq!(op_verdicts(&env, "SCMP_CMP_GE", 10, 0), "aDD");
    assert_eq!(op_verdicts(&env, "SCMP_CMP_GT", 10, 0), "aaD");
    // Masked: (arg & value) == valueTwo. 5 = 0b101, 10 = 0b1010, 18 = 0b10010.
    assert_eq!(op_verdicts(&env, "SCMP_CMP_MASKED_EQ", 8, 8), "aDa");
    assert_eq!(op_verdicts(&env, "SCMP_CMP_MASKED_EQ", 3, 2), "aDD");
}

#[test]
fn several_args_per_rule() {
    let env = TestEnv::new("scargs");
    // Different arguments: one rule, all conditions must hold.
    let and = one_rule(
        "SCMP_ACT_ERRNO",
        json!({"args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                        {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]}),
    );
    let (code, out) = run_probe(&env, and, &["getppid,1,2", "getppid,1,3", "getppid,0,2"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        out,
        "getppid,1,2 errno 1\ngetppid,1,3 = 0\ngetppid,0,2 = 0\n"
    );
    // The same argument twice: runc adds one rule per condition, so either one matches.
    let or = one_rule(
        "SCMP_ACT_ERRNO",
        json!({"args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                        {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}),
    );
    let (code, out) = run_probe(&env, or, &["getppid,1", "getppid,2", "getppid,3"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out, "getppid,1 errno 1\ngetppid,2 errno 1\ngetppid,3 = 0\n");
    // The last argument (index 5).
    let last = one_rule(
        "SCMP_ACT_ERRNO",
        json!({"args": [{"index": 5, "value": 9, "op": "SCMP_CMP_EQ"}]}),
    );
    let (code, out) = run_probe(&env, last, &["getppid,0,0,0,0,0,9", "getppid,0,0,0,0,0,8"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        out,
        "getppid,0,0,0,0,0,9 errno 1\ngetppid,0,0,0,0,0,8 = 0\n"
    );
}

#[test]
fn filter_applies_without_no_new_privileges() {
    // getpgrp, not getppid: without noNewPrivileges runc 1.1 loads the filter before its
    // parent check (getppid() != the parent it started with, then SIGKILL itself); a filtered
    // getppid makes that check fail, the SIGKILL is ignored by the pid namespace's init, Init
    // returns a nil error and runc panics on it. No runtime calls getpgrp after the load.
    let env = TestEnv::new("scnonnp");
    let rule = rule_for("getpgrp", "SCMP_ACT_ERRNO", json!({}));
    let mut b = probe_bundle(&env, rule, &["getpgrp"]);
    b.set("/process/noNewPrivileges", json!(false));
    b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    let id = env.id("p");
    let o = env.run(&b, &id);
    assert_eq!(o.code, Some(0), "{o}");
    assert_eq!(o.stdout, "getpgrp errno 1\n");
}

/// What the test's seccomp agent saw.
struct AgentReport {
    state: Value,
    fds: usize,
    syscalls: Vec<(String, u64)>,
}

fn recv_state(conn: RawFd) -> (Value, Vec<OwnedFd>) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = vec![0u8; 65536];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let msg = recvmsg::<()>(conn, &mut iov, Some(&mut space), MsgFlags::empty()).unwrap();
    let mut fds = Vec::new();
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(list) = c {
            // SAFETY: SCM_RIGHTS delivered these fds to us; nothing else owns them.
            fds.extend(
                list.into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    let n = msg.bytes;
    (serde_json::from_slice(&buf[..n]).unwrap(), fds)
}

/// Accepts one connection, reads the state and fd, answers `answers.len()` notifications: the
/// first with return value 4242, the others with EXDEV.
fn spawn_agent(listener: UnixListener, answers: usize) -> mpsc::Receiver<AgentReport> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let (state, fds) = recv_state(conn.as_raw_fd());
        let notify = fds[0].as_raw_fd();
        let mut syscalls = Vec::new();
        for i in 0..answers {
            let req = libseccomp::ScmpNotifReq::receive(notify).unwrap();
            let name = req.data.syscall.get_name().unwrap_or_default();
            syscalls.push((name, req.data.args[0]));
            let resp = if i == 0 {
                libseccomp::ScmpNotifResp::new_val(
                    req.id,
                    4242,
                    libseccomp::ScmpNotifRespFlags::empty(),
                )
            } else {
                libseccomp::ScmpNotifResp::new_error(
                    req.id,
                    -libc::EXDEV,
                    libseccomp::ScmpNotifRespFlags::empty(),
                )
            };
            resp.respond(notify).unwrap();
        }
        let _ = tx.send(AgentReport {
            state,
            fds: fds.len(),
            syscalls,
        });
    });
    rx
}

#[test]
fn notify_hands_the_fd_to_the_agent_which_answers() {
    let env = TestEnv::new("scnotify");
    let sock = env.path("agent.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let report = spawn_agent(listener, 2);
    let seccomp = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock, "listenerMetadata": "berth-test-metadata",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]});
    let mut b = probe_bundle(&env, seccomp, &["getppid,7", "getppid,8", "getpid"]);
    b.set("/annotations", json!({"org.example.seccomp": "yes"}));
    let id = env.id("n");
    let o = env.run(&b, &id);
    assert_eq!(o.code, Some(0), "{o}");
    assert_eq!(
        o.stdout,
        format!(
            "getppid,7 = 4242\ngetppid,8 errno {}\ngetpid = 1\n",
            libc::EXDEV
        )
    );
    let r = report
        .recv_timeout(Duration::from_secs(60))
        .expect("agent finished");
    assert_eq!(r.fds, 1);
    assert_eq!(r.state["fds"], json!(["seccompFd"]), "{}", r.state);
    assert_eq!(r.state["metadata"], "berth-test-metadata");
    assert_eq!(r.state["state"]["id"], id.as_str());
    assert_eq!(r.state["state"]["status"], "creating", "{}", r.state);
    assert_eq!(
        r.state["state"]["annotations"]["org.example.seccomp"], "yes",
        "{}",
        r.state
    );
    assert!(r.state["pid"].as_i64().unwrap_or(0) > 0, "{}", r.state);
    assert_eq!(
        r.state["state"]["bundle"],
        std::fs::canonicalize(&b.dir).unwrap().to_str().unwrap()
    );
    assert_eq!(
        r.syscalls,
        vec![("getppid".to_string(), 7), ("getppid".to_string(), 8)]
    );
}

#[test]
fn unreachable_agent_fails_create_and_leaves_nothing() {
    let env = TestEnv::new("scnoagent");
    let sock = env.path("nobody-listens.sock");
    let seccomp = json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock,
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]});
    let b = probe_bundle(&env, seccomp, &["getppid"]);
    let id = env.id("n");
    let o = env.create(&b, &id);
    assert_eq!(o.code, Some(1), "{o}");
    if !testing_runc() {
        assert!(
            o.stderr.contains(sock.to_str().unwrap()),
            "names the socket: {o}"
        );
    }
    env.assert_nothing_left(&id, &TestEnv::cgroup_path(&b));
}

#[test]
fn docker_default_profile_runs_a_shell_and_refuses_unshare_mount_keyctl() {
    let env = TestEnv::new("scdocker");
    let mut b = probe_bundle(&env, profile("seccomp-docker-default.json"), &[]);
    b.sh("echo shell works; ls /bin/probe; \
          probe unshare,0x20000 mount keyctl,0,-3 clone3 getppid; \
          unshare -m true 2>/dev/null; echo unshare-applet=$?");
    let id = env.id("d");
    let o = env.run(&b, &id);
    assert_eq!(o.code, Some(0), "{o}");
    assert_eq!(
        o.stdout,
        "shell works\n/bin/probe\n\
         unshare,0x20000 errno 1\nmount errno 1\nkeyctl,0,-3 errno 1\nclone3 errno 38\ngetppid = 1\n\
         unshare-applet=1\n",
        "{o}"
    );
}

#[test]
fn syscalls_newer_than_the_profile_get_enosys() {
    let env = TestEnv::new("scenosys");
    // 452 (fchmodat2, Linux 6.6) and 460 are newer than every syscall Docker's profile names, so
    // runc returns ENOSYS for them (libc then falls back); add_key (248) is older and unlisted,
    // so it gets the default action (EPERM).
    let mut b = probe_bundle(&env, profile("seccomp-docker-default.json"), &[]);
    b.args(&["/bin/probe", "nr452,0,0,0,0", "nr460", "add_key", "getpid"]);
    let id = env.id("e");
    let o = env.run(&b, &id);
    assert_eq!(o.code, Some(0), "{o}");
    assert_eq!(
        o.stdout,
        format!(
            "nr452,0,0,0,0 errno {e}\nnr460 errno {e}\nadd_key errno 1\ngetpid = 1\n",
            e = libc::ENOSYS
        ),
        "{o}"
    );
}

#[test]
fn podman_default_profile_runs_a_shell_and_uses_enosys_by_default() {
    let env = TestEnv::new("scpodman");
    let mut b = probe_bundle(&env, profile("seccomp-podman-default.json"), &[]);
    b.sh("echo shell works; probe add_key bpf getppid; echo done");
    let id = env.id("p");
    let o = env.run(&b, &id);
    assert_eq!(o.code, Some(0), "{o}");
    assert_eq!(
        o.stdout,
        format!(
            "shell works\nadd_key errno {}\nbpf errno 1\ngetppid = 1\ndone\n",
            libc::ENOSYS
        ),
        "{o}"
    );
}

#[test]
fn bad_profiles_fail_cleanly_naming_the_field() {
    let env = TestEnv::new("scbad");
    let cases = [
        (
            "unknown action",
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_EXPLODE"}]}),
            "linux.seccomp.syscalls[0].action",
        ),
        (
            "bad operator",
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO",
                                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}),
            "linux.seccomp.syscalls[0].args[0].op",
        ),
        (
            "argument index 6",
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO",
                                 "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
            "linux.seccomp.syscalls[0].args[0].index",
        ),
        (
            "relative listenerPath",
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "agent.sock",
                   "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]}),
            "linux.seccomp.listenerPath",
        ),
    ];
    for (what, seccomp, field) in cases {
        let b = probe_bundle(&env, seccomp, &["getppid"]);
        let id = env.id("bad");
        let o = env.create(&b, &id);
        assert_eq!(o.code, Some(1), "{what}: {o}");
        if !testing_runc() {
            assert!(o.stderr.contains(field), "{what}: {o}");
            assert_eq!(
                o.stderr.trim().lines().count(),
                1,
                "{what}: one error line: {o}"
            );
        }
        env.assert_nothing_left(&id, &TestEnv::cgroup_path(&b));
    }
}

#[test]
fn features_list_seccomp_support() {
    let env = TestEnv::new("scfeatures");
    let o = env.rt(&["features"]).assert_success();
    let f: Value = serde_json::from_str(&o.stdout).unwrap();
    let s = &f["linux"]["seccomp"];
    assert_eq!(s["enabled"], true, "{s}");
    let list = |k: &str| -> Vec<String> {
        s[k].as_array()
            .unwrap_or_else(|| panic!("{k} missing: {s}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    for a in [
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_LOG",
        "SCMP_ACT_NOTIFY",
    ] {
        assert!(list("actions").contains(&a.to_string()), "{a}: {s}");
    }
    assert_eq!(list("operators").len(), 7, "{s}");
    for a in [
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_X86",
        "SCMP_ARCH_X32",
        "SCMP_ARCH_AARCH64",
    ] {
        assert!(list("archs").contains(&a.to_string()), "{a}: {s}");
    }
    if !testing_runc() {
        // runc 1.1.5 predates the flags lists (and refuses every flag).
        assert!(list("knownFlags").contains(&"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV".into()));
        for fl in [
            "SECCOMP_FILTER_FLAG_TSYNC",
            "SECCOMP_FILTER_FLAG_LOG",
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        ] {
            assert!(
                list("supportedFlags").contains(&fl.to_string()),
                "{fl}: {s}"
            );
        }
    }
}

/// Starts the probe bundle's container detached with `sleep` as its init; returns the id.
fn running_probe(env: &TestEnv, b: &mut Bundle, name: &str) -> String {
    b.args(&["sleep", "100000"]);
    env.run_detached(b, name)
}

#[test]
fn exec_gets_the_containers_filter() {
    let env = TestEnv::new("scexec");
    let seccomp = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7},
        {"names": ["keyctl"], "action": "SCMP_ACT_KILL"}]});
    let mut b = probe_bundle(&env, seccomp, &[]);
    let id = running_probe(&env, &mut b, "e");
    let o = env.rt(&["exec", &id, "/bin/probe", "getppid", "getpid"]);
    assert_eq!(o.code, Some(0), "{o}");
    // The pid is not 1: the exec'd process is not the init, but in its pid namespace.
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.first().copied(), Some("getppid errno 7"), "{o}");
    assert!(
        lines.get(1).is_some_and(|l| l.starts_with("getpid = ")),
        "{o}"
    );
    // A process given with --process (its own noNewPrivileges) is filtered as well.
    let proc_file = env.path("process.json");
    let process = json!({"args": ["/bin/probe", "keyctl,0,-3"], "cwd": "/",
        "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}, "noNewPrivileges": true});
    std::fs::write(&proc_file, process.to_string()).unwrap();
    let o = env.rt(&["exec", "--process", proc_file.to_str().unwrap(), &id]);
    assert_eq!(o.code, Some(SIGSYS_EXIT), "{o}");
    // The container keeps running and a second exec still works.
    let o = env.rt(&["exec", &id, "/bin/probe", "getppid"]);
    assert_eq!(o.stdout, "getppid errno 7\n", "{o}");
    assert_eq!(env.wait_status(&id, "running"), "running");
}

#[test]
fn exec_hands_its_notify_fd_to_the_agent() {
    let env = TestEnv::new("scexecnotify");
    let sock = env.path("agent.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let seccomp = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock, "listenerMetadata": "exec-metadata",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]});
    let mut b = probe_bundle(&env, seccomp, &[]);
    // The init's listener: accepted and answered by the first agent, which never sees a call
    // (sleep makes no getppid), so it only takes the fd.
    let init_agent = std::thread::spawn({
        let listener = listener.try_clone().unwrap();
        move || {
            let (conn, _) = listener.accept().unwrap();
            let (state, fds) = recv_state(conn.as_raw_fd());
            (state, fds)
        }
    });
    let id = running_probe(&env, &mut b, "n");
    let (init_state, _init_fds) = init_agent.join().unwrap();
    assert_eq!(init_state["state"]["status"], "creating", "{init_state}");
    let report = spawn_agent(listener, 2);
    let o = env.rt(&["exec", &id, "/bin/probe", "getppid,5", "getppid,6"]);
    assert_eq!(o.code, Some(0), "{o}");
    assert_eq!(
        o.stdout,
        format!("getppid,5 = 4242\ngetppid,6 errno {}\n", libc::EXDEV),
        "{o}"
    );
    let r = report
        .recv_timeout(Duration::from_secs(60))
        .expect("agent finished");
    assert_eq!(r.fds, 1);
    assert_eq!(r.state["metadata"], "exec-metadata", "{}", r.state);
    assert_eq!(r.state["state"]["id"], id.as_str());
    assert_eq!(r.state["state"]["status"], "running", "{}", r.state);
    let init_pid = env.state(&id)["pid"].as_i64().unwrap();
    assert_eq!(
        r.state["state"]["pid"].as_i64(),
        Some(init_pid),
        "{}",
        r.state
    );
    let pid = r.state["pid"].as_i64().unwrap_or(0);
    assert!(
        pid > 0 && pid != init_pid,
        "the exec'd process's pid: {}",
        r.state
    );
    assert_eq!(
        r.syscalls,
        vec![("getppid".to_string(), 5), ("getppid".to_string(), 6)]
    );
}

#[test]
fn exec_without_no_new_privileges_loads_the_filter_before_the_user_change() {
    // getpgrp for the reason given in filter_applies_without_no_new_privileges.
    let env = TestEnv::new("scexecnnp");
    let rule = rule_for("getpgrp", "SCMP_ACT_ERRNO", json!({}));
    let mut b = probe_bundle(&env, rule, &[]);
    let id = running_probe(&env, &mut b, "e");
    // As uid 1000 without no_new_privs, loading a filter needs CAP_SYS_ADMIN: it must happen
    // before the uid change drops it.
    let proc_file = env.path("process.json");
    let process = json!({"args": ["/bin/probe", "getpgrp"], "cwd": "/", "env": ["PATH=/bin"],
        "user": {"uid": 1000, "gid": 1000}, "noNewPrivileges": false});
    std::fs::write(&proc_file, process.to_string()).unwrap();
    let o = env.rt(&["exec", "--process", proc_file.to_str().unwrap(), &id]);
    assert_eq!(o.code, Some(0), "{o}");
    assert_eq!(o.stdout, "getpgrp errno 1\n", "{o}");
}

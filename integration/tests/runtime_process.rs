//! The container process: args, env, cwd, user/groups/umask, capabilities, rlimits,
//! noNewPrivileges, oomScoreAdj, stdio passthrough. Needs root and the runtime under test.

use berth_integration::{host, TestEnv};
use serde_json::json;

#[test]
fn args_env_cwd() {
    let env = TestEnv::new("argsenv");
    let mut b = env.bundle("b");
    std::fs::create_dir_all(b.rootfs().join("work/dir")).unwrap();
    b.set(
        "/process/env",
        json!(["PATH=/bin:/usr/bin", "BERTH_A=one", "BERTH_B=two words"]),
    );
    b.set("/process/cwd", json!("/work/dir"));
    b.args(&[
        "sh",
        "-c",
        "echo \"$0|$1|$2\"; pwd; echo \"$BERTH_A\"; echo \"$BERTH_B\"; env | grep -c BERTH_",
        "zero",
        "first arg",
        "x",
    ]);
    let id = env.id("c");
    let out = env.run(&b, &id).assert_success().stdout;
    assert_eq!(out, "zero|first arg|x\n/work/dir\none\ntwo words\n2\n");
}

#[test]
fn user_groups_umask() {
    let env = TestEnv::new("user");
    let mut b = env.bundle("b");
    b.set(
        "/process/user",
        json!({"uid": 1000, "gid": 1000, "umask": 0o027, "additionalGids": [5, 100]}),
    );
    let out = env.run_sh(&mut b, "id -u; id -g; id -G; umask; cat /proc/self/status");
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "1000");
    assert_eq!(l[1], "1000");
    let mut groups: Vec<&str> = l[2].split_whitespace().collect();
    groups.sort();
    assert_eq!(groups, ["100", "1000", "5"], "{out}");
    assert_eq!(l[3], "0027");
    assert_eq!(
        host::status_field(&out, "Uid"),
        Some("1000\t1000\t1000\t1000")
    );
    assert_eq!(
        host::status_field(&out, "Gid"),
        Some("1000\t1000\t1000\t1000")
    );
}

#[test]
fn default_umask_is_0022() {
    let env = TestEnv::new("umask");
    let mut b = env.bundle("b");
    assert_eq!(env.run_sh(&mut b, "umask").trim(), "0022");
}

/// Parses a `Cap*:` hex mask.
fn mask(out: &str, field: &str) -> u64 {
    u64::from_str_radix(
        host::status_field(out, field).unwrap_or_else(|| panic!("no {field}")),
        16,
    )
    .unwrap()
}

#[test]
fn capabilities_sets() {
    let env = TestEnv::new("caps");
    let mut b = env.bundle("b");
    // CAP_KILL=5, CAP_NET_BIND_SERVICE=10, CAP_AUDIT_WRITE=29, CAP_CHOWN=0, CAP_SYS_ADMIN=21
    b.set(
        "/process/capabilities",
        json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN"],
            "effective": ["CAP_CHOWN", "CAP_KILL"],
            "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "ambient": ["CAP_KILL"]
        }),
    );
    // Read the status of sh itself (exec'd process), not of a child whose caps follow exec rules.
    let out = env.run_sh(&mut b, "cat /proc/$$/status");
    let bit = |n: u32| 1u64 << n;
    assert_eq!(
        mask(&out, "CapBnd"),
        bit(0) | bit(5) | bit(10) | bit(21),
        "{out}"
    );
    assert_eq!(mask(&out, "CapInh"), bit(5) | bit(10));
    assert_eq!(mask(&out, "CapAmb"), bit(5));
    // Permitted never exceeds the spec's permitted set; effective follows the effective set.
    assert_eq!(
        mask(&out, "CapPrm") & !(bit(0) | bit(5) | bit(10)),
        0,
        "CapPrm beyond permitted: {out}"
    );
    assert!(
        mask(&out, "CapEff") & bit(21) == 0,
        "CAP_SYS_ADMIN effective though not in the effective set"
    );
    assert!(
        mask(&out, "CapEff") & bit(5) != 0,
        "CAP_KILL missing from CapEff"
    );
}

#[test]
fn capabilities_default_runc_set() {
    let env = TestEnv::new("capsdefault");
    let mut b = env.bundle("b");
    let out = env.run_sh(&mut b, "cat /proc/$$/status");
    let want = (1u64 << 5) | (1u64 << 10) | (1u64 << 29);
    for f in ["CapBnd", "CapEff", "CapPrm"] {
        assert_eq!(mask(&out, f), want, "{f}: {out}");
    }
    // The kernel only lets a capability be ambient if it is also inheritable; the default
    // spec has no inheritable set, so runc's result is an empty ambient set.
    assert_eq!(mask(&out, "CapInh"), 0);
    assert_eq!(mask(&out, "CapAmb"), 0);
}

#[test]
fn non_root_user_caps_from_ambient() {
    let env = TestEnv::new("capsuser");
    let mut b = env.bundle("b");
    b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    b.set(
        "/process/capabilities",
        json!({
            "bounding": ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
            "effective": ["CAP_NET_BIND_SERVICE"],
            "permitted": ["CAP_NET_BIND_SERVICE"],
            "inheritable": ["CAP_NET_BIND_SERVICE"],
            "ambient": ["CAP_NET_BIND_SERVICE"]
        }),
    );
    let out = env.run_sh(&mut b, "cat /proc/$$/status");
    assert_eq!(mask(&out, "CapEff"), 1 << 10, "{out}");
    assert_eq!(mask(&out, "CapAmb"), 1 << 10, "{out}");
    assert_eq!(mask(&out, "CapBnd"), (1 << 10) | (1 << 5), "{out}");
}

#[test]
fn rlimits() {
    let env = TestEnv::new("rlimits");
    let mut b = env.bundle("b");
    b.set(
        "/process/rlimits",
        json!([
            {"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 321},
            {"type": "RLIMIT_NPROC", "hard": 2000, "soft": 1000},
            {"type": "RLIMIT_CORE", "hard": 0, "soft": 0}
        ]),
    );
    let out = env.run_sh(
        &mut b,
        "ulimit -n; ulimit -Hn; ulimit -u; ulimit -c; grep 'Max open files' /proc/self/limits",
    );
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(&l[..4], ["321", "4096", "1000", "0"], "{out}");
    let limits: Vec<&str> = l[4].split_whitespace().collect();
    assert_eq!(&limits[3..5], ["321", "4096"], "{out}");
}

#[test]
fn no_new_privileges() {
    let env = TestEnv::new("nnp");
    let mut b = env.bundle("b");
    assert_eq!(
        host::status_field(&env.run_sh(&mut b, "cat /proc/$$/status"), "NoNewPrivs"),
        Some("1")
    );
    b.set("/process/noNewPrivileges", json!(false));
    assert_eq!(
        host::status_field(&env.run_sh(&mut b, "cat /proc/$$/status"), "NoNewPrivs"),
        Some("0")
    );
}

#[test]
fn oom_score_adj() {
    let env = TestEnv::new("oom");
    let mut b = env.bundle("b");
    b.set("/process/oomScoreAdj", json!(523));
    assert_eq!(
        env.run_sh(&mut b, "cat /proc/self/oom_score_adj").trim(),
        "523"
    );
}

#[test]
fn stdio_passthrough_without_terminal() {
    let env = TestEnv::new("stdio");
    let mut b = env.bundle("b");
    b.sh("read line; echo \"out:$line\"; echo \"err:$line\" >&2; test -t 0 && echo tty-in; test -t 1 && echo tty-out; exit 0");
    b.write();
    let id = env.id("c");
    let input = env.path("input");
    std::fs::write(&input, "hello stdin\n").unwrap();
    let mut c = env.rt.command(&["run", "--bundle"]);
    c.arg(&b.dir)
        .arg(&id)
        .stdin(std::fs::File::open(&input).unwrap());
    let o = berth_integration::runtime::run_captured(
        &mut c,
        &env.rt.scratch,
        berth_integration::runtime::COMMAND_TIMEOUT,
    )
    .assert_success();
    assert_eq!(o.stdout, "out:hello stdin\n", "{o}");
    assert!(o.stderr.contains("err:hello stdin"), "{o}");
}

#[test]
fn missing_executable_fails_run() {
    let env = TestEnv::new("noexe");
    let mut b = env.bundle("b");
    b.args(&["/bin/does-not-exist"]);
    let id = env.id("c");
    let o = env.run(&b, &id).fails();
    assert!(
        o.all().contains("does-not-exist"),
        "error should name the executable: {o}"
    );
}

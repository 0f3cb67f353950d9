//! Capabilities (Docker's default set, --cap-add, --cap-drop incl. ALL, --privileged) read from
//! /proc/self/status, no-new-privileges, --read-only, --group-add, and refused bad values.

use berth_integration::berthd_env::BerthdEnv;

fn cap_eff(out: &str) -> u64 {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap_or_else(|| panic!("no CapEff in {out}"));
    u64::from_str_radix(line.trim(), 16).unwrap()
}

const CHOWN: u64 = 1 << 0;
const NET_ADMIN: u64 = 1 << 12;
const SYS_ADMIN: u64 = 1 << 21;

#[test]
fn capabilities_and_security_options() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    let run = |flags: &[&str], cmd: &str| {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(flags);
        a.extend_from_slice(&[&img, "sh", "-c", cmd]);
        env.ok(&a)
    };
    let status = "cat /proc/self/status";
    let default = cap_eff(&run(&[], status));
    assert_ne!(default & CHOWN, 0);
    assert_eq!(default & (NET_ADMIN | SYS_ADMIN), 0);
    let added = cap_eff(&run(
        &["--cap-add", "net_admin", "--cap-drop", "CHOWN"],
        status,
    ));
    assert_ne!(added & NET_ADMIN, 0);
    assert_eq!(added & CHOWN, 0);
    assert_eq!(cap_eff(&run(&["--cap-drop", "ALL"], status)), 0);
    assert_ne!(cap_eff(&run(&["--privileged"], status)) & SYS_ADMIN, 0);

    let nnp = run(&["--security-opt", "no-new-privileges"], status);
    assert!(nnp.contains("NoNewPrivs:\t1"), "{nnp}");
    let out = run(
        &["--read-only", "--group-add", "4242"],
        "touch /x 2>&1; id -G",
    );
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(out.split_whitespace().any(|g| g == "4242"), "{out}");

    for (flags, words) in [
        (
            &["--cap-add", "CAP_NOPE"][..],
            "unknown capability: \"CAP_NOPE\"",
        ),
        (
            &["--security-opt", "seccomp=/no/such/profile.json"][..],
            "seccomp",
        ),
    ] {
        env.assert_run_refused(flags, &img, words);
    }
    assert!(env.all_ids().is_empty(), "a refused run left a container");
}

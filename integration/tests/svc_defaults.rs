//! Docker's default security profile on `berth run` containers: the default seccomp profile
//! (and `--security-opt seccomp=unconfined|FILE`, `--privileged`), masked and read-only paths
//! (and `systempaths=unconfined`), with bad values refused before anything is created.

use berth_integration::berthd_env::{code, stderr, stdout, BerthdEnv};

/// The raw-syscall probe (this crate's helper binary).
const PROBE: &str = env!("CARGO_BIN_EXE_berth-syscall-probe");

/// A directory with the probe and the shared libraries it needs, to bind-mount at `/p` in a
/// busybox container (which has no libc); run it as [`PROBE_CMD`].
fn probe_dir(env: &BerthdEnv) -> std::path::PathBuf {
    let dir = env.tmp().join("probe");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(PROBE, dir.join("probe")).unwrap();
    for lib in berth_integration::host::shared_libraries(std::path::Path::new(PROBE)) {
        // Copies follow the links (ld-linux-x86-64.so.2 is one).
        std::fs::copy(&lib, dir.join(lib.file_name().unwrap())).unwrap();
    }
    dir
}

/// The probe in a container with [`probe_dir`] at `/p`, through the loader it came with.
const PROBE_CMD: &str = "/p/ld-linux-x86-64.so.2 --library-path /p /p/probe";

/// The `Seccomp:` mode of /proc/self/status (0 none, 2 filter).
fn seccomp_mode(status: &str) -> u32 {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .unwrap_or_else(|| panic!("no Seccomp line in {status}"))
        .trim()
        .parse()
        .unwrap()
}

/// Runs `sh -c cmd` in a new busybox container with `flags`; returns (exit code, stdout+stderr).
fn run(env: &BerthdEnv, img: &str, flags: &[&str], cmd: &str) -> (i32, String) {
    let mut a = vec!["run", "--rm", "--network", "none"];
    a.extend_from_slice(flags);
    a.extend_from_slice(&[img, "sh", "-c", cmd]);
    let out = env.berth(&a);
    (code(&out), format!("{}{}", stdout(&out), stderr(&out)))
}

#[test]
fn default_seccomp_profile_and_its_overrides() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    let status = "cat /proc/self/status";

    // The default profile: a shell runs, the filter is on, unshare and mount are refused.
    let (c, out) = run(&env, &img, &[], status);
    assert_eq!(c, 0, "{out}");
    assert_eq!(seccomp_mode(&out), 2, "{out}");
    // A user namespace needs no capability: only the profile refuses it.
    let (c, out) = run(&env, &img, &[], "unshare -U true");
    assert_ne!(c, 0, "unshare allowed under the default profile: {out}");
    assert!(out.contains("Operation not permitted"), "{out}");
    let (c, out) = run(&env, &img, &[], "mkdir -p /m && mount -t tmpfs t /m");
    assert_ne!(c, 0, "mount allowed under the default profile: {out}");

    // The kernel keyring is not namespaced: Docker's profile refuses keyctl and add_key (EPERM)
    // whatever the capabilities, and unconfined lets them through (the session keyring the
    // runtime joined answers). The probe makes the raw calls; busybox has no keyctl.
    let probe = format!("{}:/p:ro", probe_dir(&env).display());
    let keyring = &format!("{PROBE_CMD} keyctl,0,-3,1 add_key,0,0,0,0,0");
    let (c, out) = run(&env, &img, &["-v", &probe], keyring);
    assert_eq!(c, 0, "{out}");
    assert!(out.contains("keyctl,0,-3,1 errno 1"), "{out}");
    assert!(out.contains("add_key,0,0,0,0,0 errno 1"), "{out}");
    let (c, out) = run(&env, &img, &["-v", &probe, "--cap-add", "ALL"], keyring);
    assert_eq!(c, 0, "{out}");
    assert!(
        out.contains("keyctl,0,-3,1 errno 1"),
        "--cap-add ALL: {out}"
    );
    let (c, out) = run(
        &env,
        &img,
        &["-v", &probe, "--security-opt", "seccomp=unconfined"],
        keyring,
    );
    assert_eq!(c, 0, "{out}");
    assert!(out.contains("keyctl,0,-3,1 = "), "unconfined: {out}");

    // An exec'd process gets the container's filter too.
    let id = env
        .ok(&["run", "-d", "--network", "none", &img, "sleep", "60"])
        .trim()
        .to_string();
    let out = env.berth(&["exec", &id, "cat", "/proc/self/status"]);
    assert_eq!(seccomp_mode(&stdout(&out)), 2, "{}", stderr(&out));
    let out = env.berth(&["exec", &id, "unshare", "-U", "true"]);
    assert_ne!(
        code(&out),
        0,
        "unshare allowed in an exec: {}",
        stdout(&out)
    );
    env.ok(&["rm", "-f", &id]);

    // unconfined allows what the profile refused.
    let unconfined = ["--security-opt", "seccomp=unconfined"];
    let (c, out) = run(&env, &img, &unconfined, status);
    assert_eq!((c, seccomp_mode(&out)), (0, 0), "{out}");
    let (c, out) = run(&env, &img, &unconfined, "unshare -U true && echo unshared");
    assert_eq!(c, 0, "{out}");
    assert!(out.contains("unshared"), "{out}");

    // The profile's rules follow the capabilities, as Docker resolves them: with CAP_SYS_ADMIN
    // the mount family is allowed (and the filter is still on).
    let (c, out) = run(
        &env,
        &img,
        &["--cap-add", "SYS_ADMIN"],
        "mkdir -p /m && mount -t tmpfs t /m && grep -c Seccomp:.2 /proc/self/status",
    );
    assert_eq!(c, 0, "{out}");
    assert!(out.trim().ends_with('1'), "{out}");

    // --privileged runs without a filter, as Docker's.
    let (c, out) = run(&env, &img, &["--privileged"], status);
    assert_eq!((c, seccomp_mode(&out)), (0, 0), "{out}");

    // A profile file: it replaces the default (unshare allowed), its rules apply (mount refused
    // although the capability is there).
    let profile = env.tmp().join("no-mount.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
    )
    .unwrap();
    let file_opt = format!("seccomp={}", profile.display());
    let (c, out) = run(
        &env,
        &img,
        &["--cap-add", "SYS_ADMIN", "--security-opt", &file_opt],
        "unshare -U true && echo unshared; mkdir -p /m && mount -t tmpfs t /m",
    );
    assert_ne!(c, 0, "mount allowed by a profile refusing it: {out}");
    assert!(out.contains("unshared"), "{out}");
    assert!(
        out.contains("Permission denied"),
        "errnoRet 13 not seen: {out}"
    );

    // inspect shows the options as given (a profile file inlined, as Docker's client does).
    let id = env
        .ok(&[
            "create",
            "--security-opt",
            "seccomp=unconfined",
            "--security-opt",
            "no-new-privileges",
            &img,
            "true",
        ])
        .trim()
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["inspect", &id])).unwrap();
    let v = if v.is_array() { v[0].clone() } else { v };
    assert_eq!(
        v["HostConfig"]["SecurityOpt"],
        serde_json::json!(["seccomp=unconfined", "no-new-privileges"]),
        "{v}"
    );
    env.ok(&["rm", &id]);
}

/// Docker's masked paths (hidden: /dev/null over a file, an empty read-only tmpfs over a
/// directory) and read-only paths.
const MASKED: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];
const READ_ONLY: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The mount options of the mount at `path` in a mountinfo text, if there is one.
fn mount_opts<'a>(mountinfo: &'a str, path: &str) -> Option<&'a str> {
    mountinfo
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some(path))
        .and_then(|l| l.split(' ').nth(5))
}

#[test]
fn masked_and_read_only_paths_as_docker() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    // Only what this kernel has can be masked (e.g. no /proc/kcore without CONFIG_PROC_KCORE).
    let masked: Vec<&str> = MASKED
        .into_iter()
        .filter(|p| std::path::Path::new(p).exists())
        .collect();
    let read_only: Vec<&str> = READ_ONLY
        .into_iter()
        .filter(|p| std::path::Path::new(p).exists())
        .collect();
    assert!(!masked.is_empty() && !read_only.is_empty());
    let (c, mounts) = run(&env, &img, &[], "cat /proc/self/mountinfo");
    assert_eq!(c, 0, "{mounts}");
    for p in &masked {
        assert!(
            mount_opts(&mounts, p).is_some(),
            "{p} not masked:\n{mounts}"
        );
        let (c, out) = run(
            &env,
            &img,
            &[],
            &format!("if [ -d {p} ]; then ls -A {p} | wc -l; else wc -c < {p}; fi"),
        );
        assert_eq!((c, out.trim()), (0, "0"), "{p} shows content: {out}");
    }
    for p in &read_only {
        let opts = mount_opts(&mounts, p).unwrap_or_else(|| panic!("{p} not mounted:\n{mounts}"));
        assert!(
            opts.split(',').any(|o| o == "ro"),
            "{p} not read-only: {opts}"
        );
    }
    // Even with CAP_SYS_ADMIN /proc/sys stays read-only.
    let (_, out) = run(
        &env,
        &img,
        &["--cap-add", "SYS_ADMIN"],
        "echo 1 > /proc/sys/kernel/ns_last_pid",
    );
    assert!(out.contains("Read-only file system"), "{out}");

    // systempaths=unconfined: nothing masked, /proc/sys as the rest of /proc.
    let (c, out) = run(
        &env,
        &img,
        &["--security-opt", "systempaths=unconfined"],
        "cat /proc/self/mountinfo",
    );
    assert_eq!(c, 0, "{out}");
    for p in masked.iter().chain(&read_only) {
        assert!(
            mount_opts(&out, p).is_none(),
            "{p} still masked or read-only with systempaths=unconfined:\n{out}"
        );
    }
}

#[test]
fn bad_security_options_leave_nothing() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    let not_json = env.tmp().join("not-json.json");
    std::fs::write(&not_json, "{ this is not json").unwrap();
    let wrong = env.tmp().join("wrong.json");
    std::fs::write(&wrong, r#"{"defaultAction": "SCMP_ACT_NOPE"}"#).unwrap();
    let opt = |p: &std::path::Path| format!("seccomp={}", p.display());
    let cases = [
        (
            "seccomp=/no/such/profile.json".to_string(),
            "opening seccomp profile (/no/such/profile.json) failed",
        ),
        (opt(&not_json), "compacting json for seccomp profile"),
        (opt(&wrong), "Decoding seccomp profile failed"),
        (
            "foo=bar".to_string(),
            "invalid --security-opt 2: \"foo=bar\"",
        ),
        (
            "nonsense".to_string(),
            "invalid --security-opt 1: \"nonsense\"",
        ),
        (
            "no-new-privileges=maybe".to_string(),
            "invalid --security-opt 2",
        ),
        ("systempaths=open".to_string(), "invalid --security-opt 2"),
    ];
    for (value, words) in &cases {
        let out = env.berth(&["run", "-d", "--security-opt", value, &img, "true"]);
        assert_eq!(code(&out), 125, "{value}: {}", stderr(&out));
        assert!(stderr(&out).contains(words), "{value}: {}", stderr(&out));
        assert_eq!(
            stderr(&out)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .count(),
            1,
            "{value}: not one error line: {}",
            stderr(&out)
        );
    }
    assert!(env.all_ids().is_empty(), "a refused run left a container");
    assert!(env.container_dirs_left().is_empty());
    assert!(env.mounts_left().is_empty(), "{:?}", env.mounts_left());
}

#[test]
fn tmpfs_devices_and_group_names() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    let mount_line = |out: &str, p: &str| {
        out.lines()
            .find(|l| l.split(' ').nth(4) == Some(p))
            .unwrap_or_else(|| panic!("no mount at {p}:\n{out}"))
            .to_string()
    };
    // Docker's defaults: noexec, nosuid, nodev.
    let (c, out) = run(
        &env,
        &img,
        &["--tmpfs", "/scratch"],
        "cat /proc/self/mountinfo; printf '#!/bin/sh\\necho ran\\n' > /scratch/x && chmod +x /scratch/x && /scratch/x",
    );
    assert_ne!(c, 0, "a script ran from a noexec tmpfs: {out}");
    let line = mount_line(&out, "/scratch");
    for o in ["nosuid", "nodev", "noexec"] {
        assert!(
            line.split([' ', ',']).any(|x| x == o),
            "{o} missing: {line}"
        );
    }
    assert!(line.contains(" - tmpfs "), "{line}");
    // Options given are merged over them.
    let (c, out) = run(
        &env,
        &img,
        &["--tmpfs", "/scratch:exec,size=1m"],
        "cat /proc/self/mountinfo; df -k /scratch | tail -1; printf '#!/bin/sh\\necho ran\\n' > /scratch/x && chmod +x /scratch/x && /scratch/x",
    );
    assert_eq!(c, 0, "{out}");
    assert!(out.contains("ran"), "{out}");
    let line = mount_line(&out, "/scratch");
    assert!(!line.split([' ', ',']).any(|x| x == "noexec"), "{line}");
    assert!(line.contains("size=1024k"), "{line}");

    // A device node with its cgroup rule.
    let (c, out) = run(
        &env,
        &img,
        &["--device", "/dev/null:/dev/mynull"],
        "ls -l /dev/mynull && echo hi > /dev/mynull && echo wrote",
    );
    assert_eq!(c, 0, "{out}");
    let ls: Vec<&str> = out.split_whitespace().collect();
    assert!(
        ls[0].starts_with('c') && ls[4] == "1," && ls[5] == "3",
        "{out}"
    );
    assert!(out.contains("wrote"), "{out}");

    // --privileged: the host's devices, as Docker's.
    let host_only = std::fs::read_dir("/dev")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_type()
                .map(|t| std::os::unix::fs::FileTypeExt::is_char_device(&t))
                .unwrap_or(false)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| {
            ["kmsg", "loop-control", "mem", "fuse", "vhost-net", "rtc0"].contains(&n.as_str())
        });
    if let Some(dev) = host_only {
        let probe = format!("test -c /dev/{dev} && echo present || echo absent");
        assert!(
            run(&env, &img, &["--privileged"], &probe)
                .1
                .contains("present"),
            "/dev/{dev}"
        );
        assert!(
            run(&env, &img, &[], &probe).1.contains("absent"),
            "/dev/{dev}"
        );
    }

    // --group-add NAME from the image's /etc/group.
    let (c, out) = run(
        &env,
        &img,
        &["--group-add", "nogroup", "--group-add", "4243"],
        "grep ^nogroup: /etc/group | cut -d: -f3; id -G",
    );
    assert_eq!(c, 0, "{out}");
    let mut lines = out.lines();
    let gid = lines.next().unwrap().trim().to_string();
    let groups: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert!(
        groups.contains(&gid.as_str()) && groups.contains(&"4243"),
        "{out}"
    );

    for (flags, words) in [
        (
            &["--tmpfs", "/x:bogus"][..],
            "Invalid tmpfs option [\"bogus\"]",
        ),
        (&["--tmpfs", "relative"][..], "mount path must be absolute"),
        (
            &["--device", "/dev/no-such-device"][..],
            "error gathering device information while adding custom device \"/dev/no-such-device\"",
        ),
        (&["--device", "/etc/hostname"][..], "not a device node"),
        (
            &["--device", "/dev/null:rel"][..],
            "rel is not an absolute path",
        ),
        (
            &["--device", "/dev/null:/dev/n:rwx"][..],
            "bad mode specified: rwx",
        ),
        (
            &["--group-add", "no-such-group"][..],
            "unable to find group \"no-such-group\"",
        ),
    ] {
        env.assert_run_refused(flags, &img, words);
    }
    assert!(env.all_ids().is_empty(), "a refused run left a container");
    assert!(env.container_dirs_left().is_empty());
    assert!(env.mounts_left().is_empty(), "{:?}", env.mounts_left());
}

#[test]
fn init_as_pid_one() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    // The init is pid 1, the command its child.
    let (c, out) = run(&env, &img, &["--init"], "ps -o pid,ppid,comm");
    assert_eq!(c, 0, "{out}");
    let pid1 = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some("1"))
        .unwrap_or_else(|| panic!("no pid 1 in {out}"));
    assert!(pid1.contains("docker-init"), "{out}");
    assert!(
        out.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() == 3 && f[1] == "1" && (f[2] == "sh" || f[2] == "ps")
        }),
        "the command is not the init's child: {out}"
    );
    // The exit code passes through; with a terminal too (the command takes its foreground).
    assert_eq!(run(&env, &img, &["--init"], "exit 7").0, 7);
    let (c, out) = run(&env, &img, &["--init", "-t"], "ps -o pid,pgid,comm; exit 5");
    assert_eq!(c, 5, "{out}");
    // Orphans are reaped: no zombie is left after the orphan's parent is gone.
    let (c, out) = run(
        &env,
        &img,
        &["--init"],
        "sh -c 'sleep 0.2 &' ; sleep 1; ps -o stat,comm | grep -c '^Z' || true",
    );
    assert_eq!((c, out.trim()), (0, "0"), "{out}");

    // Signals reach the command: stop's SIGTERM runs its trap.
    let id = env
        .ok(&[
            "run",
            "-d",
            "--init",
            "--network",
            "none",
            &img,
            "sh",
            "-c",
            "trap 'exit 42' TERM; while :; do sleep 0.2; done",
        ])
        .trim()
        .to_string();
    env.ok(&["stop", "-t", "20", &id]);
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["inspect", &id])).unwrap();
    let v = if v.is_array() { v[0].clone() } else { v };
    assert_eq!(v["State"]["ExitCode"], 42, "{v}");
    assert_eq!(v["HostConfig"]["Init"], true, "{v}");
    // inspect and ps show the command as given, not the init.
    assert_eq!(v["Args"][0], "sh", "{v}");
    env.ok(&["rm", &id]);
}

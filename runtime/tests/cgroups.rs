//! Real cgroup tests: run as root on a v1/hybrid host and, through scripts/test-cgroup2-vm, on a cgroup2 guest.
//!
//! Each test makes its own cgroup `/berth-test-<pid>-<n>`, moves a child it spawned into it, checks the files
//! the kernel shows, and removes everything in a Drop guard even when an assertion fails.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use berth_runtime::cgroups::{detect_mode, Cgroup, CgroupError, FreezerState, Mode};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::{
    LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxHugepageLimitBuilder,
    LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder,
};

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}berth-test-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A test cgroup and the child in it; Drop thaws, kills the child (by its pid) and removes the cgroup.
struct Guard {
    cg: Cgroup,
    child: Option<Child>,
}

impl Guard {
    fn new(path: &str) -> Guard {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the cgroup tests need root"
        );
        let cg = Cgroup::new(Some(Path::new(path)), "unused").unwrap();
        Guard { cg, child: None }
    }

    fn spawn(&mut self, cmd: &mut Command) -> Pid {
        let child = cmd.spawn().unwrap();
        let pid = Pid::from_raw(child.id() as i32);
        self.child = Some(child);
        pid
    }

    fn spawn_sleep(&mut self) -> Pid {
        self.spawn(Command::new("sleep").arg("600"))
    }

    /// The directory holding `file` for this cgroup: the v1 hierarchy with `controller`, or the unified dir.
    fn dir(&self, controller: &str) -> PathBuf {
        if self.cg.mode == Mode::Unified {
            return self.cg.unified.clone().unwrap();
        }
        self.cg
            .v1
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == controller))
            .map(|h| h.dir.clone())
            .unwrap_or_else(|| panic!("no v1 {controller} hierarchy"))
    }

    fn read(&self, controller: &str, file: &str) -> String {
        let p = self.dir(controller).join(file);
        std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .trim()
            .to_string()
    }

    fn all_dirs(&self) -> Vec<PathBuf> {
        self.cg
            .v1
            .iter()
            .map(|h| h.dir.clone())
            .chain(self.cg.unified.clone())
            .collect()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.cg.thaw();
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::kill(Pid::from_raw(c.id() as i32), Signal::SIGKILL);
            let _ = c.wait();
        }
        if let Err(e) = self.cg.destroy() {
            eprintln!("cleanup of {:?} failed: {e}", self.cg.path);
        }
    }
}

fn is_v2() -> bool {
    detect_mode().unwrap() == Mode::Unified
}

fn mib(n: i64) -> i64 {
    n * 1024 * 1024
}

#[test]
fn resolves_layout_of_this_host() {
    let g = Guard::new(&unique("/"));
    let mode = detect_mode().unwrap();
    assert_eq!(g.cg.mode, mode);
    match mode {
        Mode::Unified => {
            assert!(g.cg.v1.is_empty());
            assert!(g.cg.unified.as_ref().unwrap().starts_with("/sys/fs/cgroup"));
        }
        Mode::Hybrid | Mode::Legacy => {
            let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
            let v1_mounts = mounts.lines().filter(|l| l.contains(" - cgroup ")).count();
            assert_eq!(g.cg.v1.len(), v1_mounts, "one dir per v1 hierarchy");
            if mounts.contains("name=systemd") {
                assert!(g.cg.v1.iter().any(|h| h.controllers == ["name=systemd"]));
            }
            assert_eq!(g.cg.unified.is_some(), mode == Mode::Hybrid);
        }
    }
    for d in g.all_dirs() {
        assert!(d.ends_with(g.cg.path.strip_prefix("/").unwrap()));
    }
}

#[test]
fn applies_memory_pids_cpu_and_kills_all() {
    let mut g = Guard::new(&unique("/"));
    let pid = g.spawn_sleep();
    let r = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(mib(64))
                .reservation(mib(32))
                .build()
                .unwrap(),
        )
        .pids(LinuxPidsBuilder::default().limit(32).build().unwrap())
        .cpu(
            LinuxCpuBuilder::default()
                .shares(512u64)
                .quota(50_000)
                .period(100_000u64)
                .cpus("0")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    g.cg.apply(pid, Some(&r)).unwrap();

    if is_v2() {
        assert_eq!(g.read("", "memory.max"), mib(64).to_string());
        assert_eq!(g.read("", "memory.low"), mib(32).to_string());
        assert_eq!(g.read("", "pids.max"), "32");
        assert_eq!(g.read("", "cpu.max"), "50000 100000");
        let weight = berth_runtime::cgroups::v2::shares_to_weight(512);
        assert_eq!(g.read("", "cpu.weight"), weight.to_string());
        assert_eq!(g.read("", "cpuset.cpus"), "0");
    } else {
        assert_eq!(
            g.read("memory", "memory.limit_in_bytes"),
            mib(64).to_string()
        );
        assert_eq!(
            g.read("memory", "memory.soft_limit_in_bytes"),
            mib(32).to_string()
        );
        assert_eq!(g.read("pids", "pids.max"), "32");
        assert_eq!(g.read("cpu", "cpu.shares"), "512");
        assert_eq!(g.read("cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(g.read("cpu", "cpu.cfs_period_us"), "100000");
        assert_eq!(g.read("cpuset", "cpuset.cpus"), "0");
    }
    // The child is in the cgroup in every hierarchy.
    assert_eq!(g.cg.pids().unwrap(), vec![pid]);
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let leaf = g.cg.path.to_str().unwrap().to_string();
    let lines: Vec<&str> = own.lines().collect();
    assert!(
        lines.iter().all(|l| l.ends_with(&leaf)),
        "{pid} not in {leaf} everywhere: {own}"
    );

    g.cg.kill_all(Signal::SIGKILL).unwrap();
    // Removing right away exercises the EBUSY retry while the killed task exits.
    g.cg.destroy().unwrap();
    let status = g.child.take().unwrap().wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    for d in g.all_dirs() {
        assert!(!d.exists(), "{} still exists", d.display());
    }
    // Destroying again is not an error.
    g.cg.destroy().unwrap();
}

/// containerd's default: deny everything, then allow a list. /dev/null must open, /dev/zero must not.
#[test]
fn device_rules_deny_all_then_allow_list() {
    let mut g = Guard::new(&unique("/"));
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("read _; head -c1 /dev/null; echo null=$?; head -c1 /dev/zero >/dev/null 2>&1; echo zero=$?")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let pid = g.spawn(&mut cmd);
    let dev =
        |allow: bool, typ: Option<LinuxDeviceType>, major: Option<i64>, minor: Option<i64>| {
            let mut b = LinuxDeviceCgroupBuilder::default()
                .allow(allow)
                .access("rwm");
            if let Some(t) = typ {
                b = b.typ(t);
            }
            if let Some(m) = major {
                b = b.major(m);
            }
            if let Some(m) = minor {
                b = b.minor(m);
            }
            b.build().unwrap()
        };
    let rules = vec![
        dev(false, None, None, None),
        dev(true, Some(LinuxDeviceType::C), Some(1), Some(3)),
        dev(true, Some(LinuxDeviceType::C), Some(136), Some(-1)),
    ];
    let r = LinuxResourcesBuilder::default()
        .devices(rules)
        .build()
        .unwrap();
    g.cg.apply(pid, Some(&r)).unwrap();
    // `update` applies the same rules again: v2 replaces the attached program, v1 rewrites the lists.
    g.cg.set_resources(Some(&r)).unwrap();
    if !is_v2() {
        let list = g.read("devices", "devices.list");
        assert_eq!(list, "c 1:3 rwm\nc 136:* rwm");
    }
    let child = g.child.as_mut().unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "null=0\nzero=1\n");
}

#[test]
fn freeze_thaw_and_kill_paused() {
    let mut g = Guard::new(&unique("/"));
    let pid = g.spawn_sleep();
    g.cg.apply(pid, None).unwrap();
    assert_eq!(g.cg.state().unwrap(), FreezerState::Thawed);
    g.cg.freeze().unwrap();
    assert_eq!(g.cg.state().unwrap(), FreezerState::Frozen);
    g.cg.thaw().unwrap();
    assert_eq!(g.cg.state().unwrap(), FreezerState::Thawed);
    g.cg.freeze().unwrap();
    // A paused container still dies from kill --all KILL.
    g.cg.kill_all(Signal::SIGKILL).unwrap();
    let status = g.child.take().unwrap().wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

#[test]
fn kill_all_with_term_signals_every_process() {
    let mut g = Guard::new(&unique("/"));
    let pid = g.spawn_sleep();
    g.cg.apply(pid, None).unwrap();
    g.cg.kill_all(Signal::SIGTERM).unwrap();
    let status = g.child.take().unwrap().wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    assert_eq!(g.cg.state().unwrap(), FreezerState::Thawed);
}

#[test]
fn relative_path_is_below_own_cgroup() {
    let name = unique("");
    let mut g = Guard::new(&name);
    let pid = g.spawn_sleep();
    g.cg.apply(pid, None).unwrap();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let child = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for (mine, theirs) in own.lines().zip(child.lines()) {
        let base = mine.rsplit(':').next().unwrap();
        let base = if g.cg.mode == Mode::Unified {
            // cgroup2-only hosts: below the parent of the runtime's cgroup, as runc does.
            Path::new(base)
                .parent()
                .unwrap_or(Path::new("/"))
                .to_path_buf()
        } else {
            PathBuf::from(base)
        };
        let want = base.join(&name);
        assert_eq!(
            theirs.rsplit(':').next().unwrap(),
            want.to_str().unwrap(),
            "{theirs}"
        );
    }
}

#[test]
fn hugepage_limits_apply_or_are_refused() {
    let mut g = Guard::new(&unique("/"));
    let pid = g.spawn_sleep();
    let r = LinuxResourcesBuilder::default()
        .hugepage_limits(vec![LinuxHugepageLimitBuilder::default()
            .page_size("2MB")
            .limit(0)
            .build()
            .unwrap()])
        .build()
        .unwrap();
    let has_2mb = Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists();
    match g.cg.apply(pid, Some(&r)) {
        Ok(()) => {
            assert!(has_2mb);
            let v1 =
                g.cg.v1
                    .iter()
                    .find(|h| h.controllers.iter().any(|c| c == "hugetlb"));
            let file = match v1 {
                Some(h) => h.dir.join("hugetlb.2MB.limit_in_bytes"),
                None => g.cg.unified.clone().unwrap().join("hugetlb.2MB.max"),
            };
            assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), "0");
        }
        Err(CgroupError::Unsupported(m)) => assert!(m.contains("hugetlb"), "{m}"),
        Err(e) => assert!(!has_2mb, "unexpected error: {e}"),
    }
}

#[test]
fn unsupported_settings_are_refused_not_dropped() {
    let g = Guard::new(&unique("/"));
    let r = if is_v2() {
        LinuxResourcesBuilder::default()
            .cpu(
                LinuxCpuBuilder::default()
                    .realtime_runtime(1000)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    } else {
        // On v1 hosts the unified hierarchy (if any) has no memory controller.
        let mut u = HashMap::new();
        u.insert("memory.high".to_string(), "1000000".to_string());
        LinuxResourcesBuilder::default().unified(u).build().unwrap()
    };
    match g.cg.set_resources(Some(&r)) {
        Err(CgroupError::Unsupported(m)) if is_v2() => assert!(m.contains("realtime"), "{m}"),
        // runc's words for unified keys that v1 controls.
        Err(CgroupError::Refused(m)) if !is_v2() => {
            assert_eq!(m, berth_runtime::cgroups::ERR_V1_NO_UNIFIED)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn unified_keys_are_written() {
    let mut g = Guard::new(&unique("/"));
    if g.cg.unified.is_none() {
        // Legacy host: refused (checked in unsupported_settings_are_refused_not_dropped's sibling).
        let mut u = HashMap::new();
        u.insert("cgroup.max.descendants".to_string(), "5".to_string());
        let r = LinuxResourcesBuilder::default().unified(u).build().unwrap();
        assert!(matches!(
            g.cg.set_resources(Some(&r)),
            Err(CgroupError::Refused(_))
        ));
        return;
    }
    let pid = g.spawn_sleep();
    let mut u = HashMap::new();
    u.insert("cgroup.max.descendants".to_string(), "5".to_string());
    if is_v2() {
        u.insert("pids.max".to_string(), "7".to_string());
    }
    let r: LinuxResources = LinuxResourcesBuilder::default().unified(u).build().unwrap();
    g.cg.apply(pid, Some(&r)).unwrap();
    let dir = g.cg.unified.clone().unwrap();
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(read("cgroup.max.descendants"), "5");
    if is_v2() {
        assert_eq!(read("pids.max"), "7");
    }
    let mut bad = HashMap::new();
    bad.insert("../cgroup.procs".to_string(), "1".to_string());
    let r = LinuxResourcesBuilder::default()
        .unified(bad)
        .build()
        .unwrap();
    assert!(matches!(
        g.cg.set_resources(Some(&r)),
        Err(CgroupError::Invalid(_))
    ));
}

#[test]
fn missing_files_are_named_in_errors() {
    let mut g = Guard::new(&unique("/"));
    let pid = g.spawn_sleep();
    // A cpuset outside the machine's CPUs: the kernel refuses and the error names the file.
    let r = LinuxResourcesBuilder::default()
        .cpu(LinuxCpuBuilder::default().cpus("4095").build().unwrap())
        .build()
        .unwrap();
    let err = g.cg.apply(pid, Some(&r)).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("cpuset.cpus"), "{msg}");
}

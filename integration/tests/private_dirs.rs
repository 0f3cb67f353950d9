//! Nothing under berthd's root and state dirs (unpacked layers with setuid binaries and device
//! nodes, blobs, bundles, logs, monitor files, the runtime's state) is reachable by another user:
//! a probe running as `nobody` gets EACCES for every path. Modes left wider by an older version
//! are fixed at startup (berthd) and when berth-runc opens its `--root`. A second berthd on the
//! same state dir is refused.

use berth_integration::berthd_env::BerthdEnv as Env;
use berth_integration::daemon::{bin, Daemon, DaemonDirs};
use berth_integration::host::run_ok;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every path under `dir` (not following symlinks), `dir` included.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    out.push(dir.to_path_buf());
    let Ok(md) = std::fs::symlink_metadata(dir) else {
        return;
    };
    if !md.is_dir() {
        return;
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            walk(&e.path(), out);
        }
    }
}

/// Runs probe-open as nobody over `paths`; returns (path, None for opened / Some(errno)).
fn probe_as_nobody(scratch: &Path, paths: &[PathBuf]) -> Vec<(String, Option<i32>)> {
    use std::os::unix::ffi::OsStrExt;
    let list = scratch.join("paths");
    let mut bytes = Vec::new();
    for p in paths {
        bytes.extend_from_slice(p.as_os_str().as_bytes());
        bytes.push(b'\n');
    }
    std::fs::write(&list, bytes).unwrap();
    std::fs::set_permissions(&list, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_probe-open"))
        .arg(&list)
        .output()
        .expect("setpriv (util-linux) runs");
    assert!(
        out.status.success(),
        "probe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            if let Some(p) = l.strip_prefix("OK ") {
                (p.to_string(), None)
            } else {
                let rest = l.strip_prefix("ERR ").expect("OK or ERR line");
                let (errno, p) = rest.split_once(' ').expect("ERR errno path");
                (p.to_string(), Some(errno.parse().unwrap()))
            }
        })
        .collect()
}

/// A directory nobody can reach (0755 all the way from /tmp) for the probe's list.
fn open_scratch(base: &Path) -> PathBuf {
    let d = base.join("probe");
    std::fs::create_dir_all(&d).unwrap();
    for p in [base, &d] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    d
}

#[test]
fn nothing_under_root_or_state_is_reachable_by_other_users() {
    berth_integration::require_root();
    let env = Env::start();
    let image = env.busybox();
    // A running container (monitor, attach socket, runtime state, mounted rootfs), a stopped one
    // (log, bundle), and the pulled image (blobs, layer snapshots with setuid busybox bits).
    let running = env.ok(&["run", "-d", &image, "sleep", "600"]);
    let running = running.trim();
    // Closing the host side must not close the container's: a non-root process in it still
    // reads its /, and the /etc files berthd bind-mounts from the (0700) bundle dir.
    let out = env.ok(&[
        "run",
        "--user",
        "65534:65534",
        &image,
        "sh",
        "-c",
        "ls / >/dev/null && cat /etc/hosts /etc/resolv.conf /etc/hostname >/dev/null && echo reachable",
    ]);
    assert!(out.contains("reachable"), "{out}");
    let scratch = open_scratch(env.tmp());

    let mut paths = Vec::new();
    walk(&env.dirs.root, &mut paths);
    walk(&env.dirs.state, &mut paths);
    let snapshot_files = paths
        .iter()
        .filter(|p| p.to_string_lossy().contains("/snapshots/") && p.ends_with("bin/busybox"))
        .count();
    assert!(
        snapshot_files >= 1 && paths.len() > 100,
        "the walk must cover unpacked layers ({snapshot_files} busybox copies, {} paths)",
        paths.len()
    );
    // Positive control: the probe can reach what is open, so EACCES below means something.
    paths.push(scratch.clone());
    let results = probe_as_nobody(&scratch, &paths);
    assert_eq!(results.len(), paths.len());
    let control = scratch.display().to_string();
    let mut reachable = Vec::new();
    for (p, errno) in &results {
        if *p == control {
            assert_eq!(*errno, None, "the probe cannot open its own open directory");
        } else if *errno != Some(libc::EACCES) {
            reachable.push(format!("{p}: {errno:?}"));
        }
    }
    assert!(
        reachable.is_empty(),
        "{} of {} paths are not EACCES for nobody (None = opened), e.g.:\n{}",
        reachable.len(),
        results.len() - 1,
        reachable
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    env.ok(&["rm", "-f", running]);
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn wide_modes_left_by_an_older_version_are_fixed_at_start() {
    berth_integration::require_root();
    let tmp = tempfile::tempdir().unwrap();
    let dirs = DaemonDirs::under(tmp.path());
    std::fs::write(&dirs.config, "").unwrap();
    // The tree an older berthd made: 0711 root, 0755 stores, a readable database.
    let old_dirs = [
        dirs.root.clone(),
        dirs.root.join("blobs/sha256"),
        dirs.root.join("ingest"),
        dirs.root.join("snapshots/overlay/snapshots"),
        dirs.root.join("containers"),
        dirs.state.join("tasks"),
        dirs.state.join("runtime/berth-runc"),
    ];
    for d in &old_dirs {
        std::fs::create_dir_all(d).unwrap();
    }
    for d in [
        dirs.root.join("blobs"),
        dirs.root.join("blobs/sha256"),
        dirs.root.join("ingest"),
        dirs.root.join("snapshots"),
        dirs.root.join("containers"),
        dirs.state.join("tasks"),
        dirs.state.join("runtime"),
    ] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(&dirs.root, std::fs::Permissions::from_mode(0o711)).unwrap();
    std::fs::set_permissions(&dirs.state, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut d = Daemon::spawn(&dirs, tmp.path().join("berthd.log")).unwrap();
    d.wait_ready().unwrap();
    assert_eq!(mode(&dirs.root), 0o700, "root");
    assert_eq!(mode(&dirs.state), 0o711, "state");
    for p in [
        "blobs",
        "ingest",
        "snapshots",
        "containers",
        "metadata.redb",
        "berthd.lock",
    ] {
        let m = mode(&dirs.root.join(p));
        assert_eq!(m & 0o077, 0, "{p} is {m:o}");
    }
    for p in ["tasks", "runtime", "berthd.lock"] {
        let m = mode(&dirs.state.join(p));
        assert_eq!(m & 0o077, 0, "state/{p} is {m:o}");
    }
    d.stop().unwrap();
}

#[test]
fn berth_runc_closes_an_open_root() {
    berth_integration::require_root();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("runc-root");
    std::fs::create_dir(&root).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    run_ok(
        Command::new(bin("berth-runc"))
            .arg("--root")
            .arg(&root)
            .arg("list"),
    );
    assert_eq!(mode(&root), 0o700);
}

#[test]
fn a_second_daemon_on_the_same_state_dir_is_refused() {
    berth_integration::require_root();
    let first = Daemon::start().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // Its own root, config and socket; only the state dir is shared.
    let mut dirs = DaemonDirs::under(tmp.path());
    dirs.state = first.dirs.state.clone();
    dirs.address = tmp.path().join("second.sock");
    std::fs::write(&dirs.config, "").unwrap();
    let mut second = Daemon::spawn(&dirs, tmp.path().join("second.log")).unwrap();
    let err = second
        .wait_ready()
        .expect_err("a second berthd must not serve on a shared state dir");
    let msg = err.to_string();
    assert!(
        msg.contains("another berthd is already running on this state dir"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("pid {}", first.pid().unwrap())),
        "the refusal names the holder: {msg}"
    );
    // The first daemon is unaffected.
    assert!(first.berth(&["version"]).status.success());
}

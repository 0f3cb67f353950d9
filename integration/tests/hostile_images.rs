//! Images built to hurt the daemon: a FIFO or a symlink out of the rootfs at /etc/passwd or
//! /etc/hosts, a 1 GiB /etc/passwd. `berth run` must fail promptly (exit 125) and leave nothing:
//! no container record or directory, no mount, no snapshot beyond the image's own layers.
//! Also: a `run --rm` whose start fails leaves no container.

use berth_integration::berthd_env::{code, stderr, BerthdEnv as Env};
use berth_integration::oci_image::{busybox_layer, layer_tar, write_layout, Node};
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

/// Bound for one `berth` call: a hang (the bug) must fail the test, not block it forever.
const CALL_BOUND: Duration = Duration::from_secs(90);

/// `berth ARGS`, failing the test if it hangs past [`CALL_BOUND`].
fn berth_bounded(env: &Env, args: &[&str]) -> Output {
    env.berth_bounded(args, CALL_BOUND)
}

/// Loads an image of the busybox layer plus `top` as `hostile.test/NAME:latest`.
fn load(env: &Env, name: &str, top: &[Node], cmd: &[&str]) -> String {
    let dir = env.tmp().join(format!("layout-{name}"));
    let reference = format!("hostile.test/{name}:latest");
    write_layout(
        &dir,
        &reference,
        &[layer_tar(&busybox_layer()), layer_tar(top)],
        cmd,
    )
    .unwrap();
    env.ok(&["load", "-q", "-i", dir.to_str().unwrap()]);
    reference
}

/// Layer snapshot directories (one per unpacked layer; a container's own snapshot adds one).
fn snapshot_dirs(env: &Env) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for kind in ["overlay", "copying"] {
        let d = env.dirs.root.join("snapshots").join(kind).join("snapshots");
        if let Ok(rd) = std::fs::read_dir(&d) {
            out.extend(rd.flatten().map(|e| e.path()));
        }
    }
    out
}

/// A failed run: exit 125, an error naming `what`, and nothing left but `layers` layer snapshots.
fn assert_failed_cleanly(env: &Env, out: &Output, what: &str, layers: usize) {
    assert_eq!(code(out), 125, "expected exit 125; stderr: {}", stderr(out));
    assert!(
        stderr(out).contains(what),
        "error should mention {what:?}: {}",
        stderr(out)
    );
    assert!(
        env.all_ids().is_empty(),
        "container records left: {:?}",
        env.all_ids()
    );
    assert!(
        env.container_dirs_left().is_empty(),
        "container dirs left: {:?}",
        env.container_dirs_left()
    );
    assert!(
        env.mounts_left().is_empty(),
        "mounts left: {:?}",
        env.mounts_left()
    );
    let snaps = snapshot_dirs(env);
    assert_eq!(
        snaps.len(),
        layers,
        "only the image layers' snapshots may remain: {snaps:?}"
    );
    // The daemon still works.
    env.ok(&["ps", "-a"]);
}

/// One hostile image: name, its top layer, extra `run` flags, and the file the error names.
type Case = (&'static str, Vec<Node>, Vec<&'static str>, &'static str);

/// Loads and runs each case (all with `--rm`), checking each fails cleanly.
fn run_cases(env: &Env, cases: Vec<Case>) {
    let mut layers = 1; // the shared busybox layer
    for (name, top, extra, what) in cases {
        let image = load(env, name, &top, &["true"]);
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(&extra);
        args.push(&image);
        let out = berth_bounded(env, &args);
        layers += 1;
        assert_failed_cleanly(env, &out, what, layers);
    }
}

#[test]
fn fifo_etc_files_fail_the_run_without_hanging_and_leave_nothing() {
    berth_integration::require_root();
    let env = Env::start();
    let passwd = Node::file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    run_cases(
        &env,
        vec![
            (
                "fifo-passwd",
                vec![Node::dir("etc"), Node::fifo("etc/passwd")],
                vec![],
                "/etc/passwd",
            ),
            (
                "fifo-group",
                vec![Node::dir("etc"), passwd, Node::fifo("etc/group")],
                vec![],
                "/etc/group",
            ),
            (
                "fifo-hosts",
                vec![Node::dir("etc"), Node::fifo("etc/hosts")],
                vec![],
                "/etc/hosts",
            ),
            (
                "fifo-resolv",
                vec![Node::dir("etc"), Node::fifo("etc/resolv.conf")],
                vec![],
                "/etc/resolv.conf",
            ),
            (
                // Not only the last component: a FIFO where /etc should be is never opened.
                "fifo-etc",
                vec![Node::fifo("etc")],
                vec![],
                "/etc/passwd",
            ),
            (
                "dir-hostname",
                vec![Node::dir("etc"), Node::dir("etc/hostname")],
                vec![],
                "/etc/hostname",
            ),
        ],
    );
}

#[test]
fn symlinked_passwd_out_of_the_rootfs_fails_the_run_and_leaves_nothing() {
    berth_integration::require_root();
    let env = Env::start();
    // A host file that the symlink tries to reach: if it were read, `--user evil` would resolve.
    let host_file = env.tmp().join("host-passwd");
    std::fs::write(&host_file, "evil:x:4242:4242::/:/bin/sh\n").unwrap();
    let escape: &'static str =
        Box::leak(format!("/../../../../../../..{}", host_file.display()).into_boxed_str());
    run_cases(
        &env,
        vec![
            (
                "symlink-passwd-user",
                vec![Node::dir("etc"), Node::symlink("etc/passwd", escape)],
                vec!["--user", "evil"],
                "/etc/passwd",
            ),
            (
                // As root no entry is needed: an unusable /etc/passwd must still fail the run.
                "symlink-passwd-root",
                vec![Node::dir("etc"), Node::symlink("etc/passwd", "/etc/shadow")],
                vec![],
                "/etc/passwd",
            ),
        ],
    );
}

#[test]
fn a_huge_passwd_is_refused_without_reading_it() {
    berth_integration::require_root();
    let env = Env::start();
    let image = load(
        &env,
        "huge-passwd",
        &[
            Node::dir("etc"),
            Node::file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
        ],
        &["true"],
    );
    // Unpacks both layers; the run works while /etc/passwd is small.
    env.ok(&["run", "--rm", &image]);
    assert!(env.all_ids().is_empty());
    // Grow the unpacked layer's /etc/passwd to 1 GiB. Sparse: the rootfs sees a 1 GiB file that
    // costs no disk, and only a daemon that reads it pays (in memory).
    let passwd = snapshot_dirs(&env)
        .into_iter()
        .map(|d| d.join("fs/etc/passwd"))
        .find(|p| p.is_file())
        .expect("the top layer's snapshot holds etc/passwd");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&passwd)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let out = berth_bounded(&env, &["run", "--rm", &image]);
    assert_failed_cleanly(&env, &out, "/etc/passwd", 2);
    assert!(
        stderr(&out).contains("bytes allowed"),
        "the error should give the size limit: {}",
        stderr(&out)
    );
    let pid = env.daemon().pid().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let hwm_kib: u64 = berth_integration::host::status_field(&status, "VmHWM")
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in /proc/PID/status");
    assert!(
        hwm_kib < 512 * 1024,
        "berthd's peak RSS is {hwm_kib} KiB: the file was read"
    );
}

#[test]
fn run_rm_whose_start_fails_leaves_no_container() {
    berth_integration::require_root();
    let env = Env::start();
    let image = env.busybox();
    for detach in [false, true] {
        let mut args = vec!["run", "--rm"];
        if detach {
            args.push("-d");
        }
        args.extend_from_slice(&[&image, "/no/such/program"]);
        let out = berth_bounded(&env, &args);
        assert!(
            env.all_ids().is_empty(),
            "a --rm container whose start failed is left (detach={detach}): {}",
            env.ok(&["ps", "-a"])
        );
        assert_eq!(code(&out), 127, "stderr: {}", stderr(&out));
        assert!(env.container_dirs_left().is_empty());
        assert!(env.mounts_left().is_empty(), "{:?}", env.mounts_left());
    }
    // Without --rm the failed container stays, as Docker keeps it (Created, exit 127).
    let out = berth_bounded(&env, &["run", &image, "/no/such/program"]);
    assert_eq!(code(&out), 127);
    assert_eq!(env.all_ids().len(), 1);
}

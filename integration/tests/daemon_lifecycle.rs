//! berthd lifecycle: serving, the root lock, clean shutdown, and the CLI's hint when it is down.

use berth_integration::daemon::{bin, Daemon, DaemonDirs};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn version_and_info_are_served() {
    let d = Daemon::start().unwrap();
    let out = d.berth(&["version"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Server:"), "{stdout}");
    assert!(stdout.contains(env!("CARGO_PKG_VERSION")), "{stdout}");

    let out = d.berth(&["info"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("Root Dir: {}", d.dirs.root.display())),
        "{stdout}"
    );
    assert!(stdout.contains("Images: 0"), "{stdout}");
    assert!(stdout.contains("Runtime: berth-runc"), "{stdout}");
}

/// `berth info` names, on stderr after the facts, what would make runs fail on this setup.
#[test]
fn info_warns_about_missing_cni_plugins() {
    let d =
        Daemon::start_with_config("[network]\nplugin_dirs = [\"/nonexistent-cni-dir\"]\n").unwrap();
    let out = d.berth(&["info"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(!stdout.contains("WARNING"), "{stdout}");
    assert!(
        stderr.contains(
            "WARNING: bridge networks will not work: CNI plugin \"bridge\" not found in /nonexistent-cni-dir"
        ),
        "{stderr}"
    );

    let ok = Daemon::start().unwrap();
    let out = ok.berth(&["info"]);
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("CNI plugin"), "{stderr}");
}

/// contrib/systemd/berthd.socket: berthd serves on the socket systemd made and passed as fd 3,
/// and leaves it in place at exit (systemd owns it and will start berthd again on it).
#[test]
fn serves_a_socket_passed_by_systemd() {
    use std::os::unix::fs::FileTypeExt;
    let mut d = Daemon::start_socket_activated("").unwrap();
    let out = d.berth(&["version"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        d.log_text().contains("socket_activated=true"),
        "{}",
        d.log_text()
    );
    let status = d.stop().unwrap();
    assert!(status.success(), "{status}; log:\n{}", d.log_text());
    let meta = std::fs::symlink_metadata(&d.dirs.address).unwrap();
    assert!(meta.file_type().is_socket());
}

#[test]
fn socket_has_mode_0660() {
    use std::os::unix::fs::PermissionsExt;
    let d = Daemon::start().unwrap();
    let mode = std::fs::metadata(&d.dirs.address)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o660);
}

#[test]
fn second_instance_on_same_root_is_refused() {
    let first = Daemon::start().unwrap();
    let mut dirs = first.dirs.clone();
    // Different socket, same root: the lock must refuse it.
    dirs.address = dirs.state.join("second.sock");
    let out = std::process::Command::new(bin("berthd"))
        .args(dirs.berthd_args())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("already running"), "{stderr}");
    assert!(
        stderr.contains(&format!("pid {}", first.pid().unwrap())),
        "{stderr}"
    );
    assert!(!dirs.address.exists());
    // The first one still serves.
    assert!(first.berth(&["version"]).status.success());
}

#[test]
fn sigterm_shuts_down_cleanly_and_removes_socket() {
    let mut d = Daemon::start().unwrap();
    assert!(d.dirs.address.exists());
    let status = d.stop().unwrap();
    assert!(
        status.success(),
        "berthd exited with {status}; log:\n{}",
        d.log_text()
    );
    assert!(!d.dirs.address.exists(), "socket left behind");
    assert!(d.log_text().contains("SIGTERM"), "{}", d.log_text());
    // The root can be served again (lock released, database closed).
    let tmp = tempfile::tempdir().unwrap();
    let mut again = Daemon::spawn(&d.dirs, tmp.path().join("log")).unwrap();
    again.wait_ready().unwrap();
    assert!(again.stop().unwrap().success());
}

#[test]
fn berth_without_daemon_prints_hint_and_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = DaemonDirs::under(tmp.path());
    for args in [&["version"][..], &["images"][..]] {
        let out = std::process::Command::new(bin("berth"))
            .env("BERTH_ADDRESS", &dirs.address)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = text(&out.stderr);
        let expected = format!(
            "Cannot connect to the Berth daemon at unix://{}. Is berthd running? Start it with: berthd &",
            dirs.address.display()
        );
        assert!(stderr.contains(&expected), "{stderr}");
        assert_eq!(
            stderr.lines().filter(|l| !l.trim().is_empty()).count(),
            1,
            "{stderr}"
        );
    }
}

#[test]
fn missing_explicit_config_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let mut dirs = DaemonDirs::under(tmp.path());
    dirs.config = tmp.path().join("absent.toml");
    let out = std::process::Command::new(bin("berthd"))
        .args(dirs.berthd_args())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("absent.toml"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_stalled_client_does_not_block_shutdown() {
    use std::io::Write;
    let mut d = Daemon::start().unwrap();
    // An HTTP/2 client that sends the preface and then nothing: graceful shutdown alone would wait
    // for it forever (like a `berth events` that never ends).
    let mut s = std::os::unix::net::UnixStream::connect(&d.dirs.address).unwrap();
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap();
    let status = d.stop().unwrap();
    assert!(
        status.success(),
        "berthd exited with {status}; log:\n{}",
        d.log_text()
    );
    assert!(!d.dirs.address.exists());
    drop(s);
}

//! Bundle generation rules.

use std::fs;
use std::path::Path;

use oci_spec::image::ImageConfiguration;
use oci_spec::runtime::{Capability, LinuxNamespaceType, PosixRlimitType};

use super::process::{command, environment, DEFAULT_PATH};
use super::user::{resolve_user, ResolvedUser};
use super::volumes::parse_volume;
use super::*;
use crate::rootfs_fs::FileError;

fn v(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

#[test]
fn entrypoint_and_cmd_follow_docker() {
    let ep = v(&["/entry", "-x"]);
    let cmd = v(&["serve"]);
    assert_eq!(
        command(&ep, &cmd, None, &[]).unwrap(),
        v(&["/entry", "-x", "serve"])
    );
    assert_eq!(
        command(&ep, &cmd, None, &v(&["run", "1"])).unwrap(),
        v(&["/entry", "-x", "run", "1"])
    );
    assert_eq!(command(&[], &cmd, None, &[]).unwrap(), v(&["serve"]));
    assert_eq!(command(&[], &cmd, None, &v(&["sh"])).unwrap(), v(&["sh"]));
    // --entrypoint drops the image's Cmd.
    assert_eq!(
        command(&ep, &cmd, Some(&v(&["/bin/sh"])), &[]).unwrap(),
        v(&["/bin/sh"])
    );
    assert_eq!(
        command(&ep, &cmd, Some(&v(&["/bin/sh"])), &v(&["-c", "x"])).unwrap(),
        v(&["/bin/sh", "-c", "x"])
    );
    // --entrypoint "" clears it.
    assert_eq!(
        command(&ep, &cmd, Some(&[]), &v(&["ls"])).unwrap(),
        v(&["ls"])
    );
    assert!(matches!(
        command(&ep, &cmd, Some(&[]), &[]),
        Err(BundleError::NoCommand)
    ));
    assert!(matches!(
        command(&[], &[], None, &[]),
        Err(BundleError::NoCommand)
    ));
}

#[test]
fn environment_merges_and_defaults() {
    let env = environment(
        &v(&["A=1", "B=2"]),
        &v(&["B=3", "C=4=5"]),
        &[("HOME", "/root")],
    )
    .unwrap();
    assert_eq!(
        env,
        v(&[
            &format!("PATH={DEFAULT_PATH}"),
            "A=1",
            "B=3",
            "C=4=5",
            "HOME=/root"
        ])
    );
    let env = environment(&v(&["PATH=/x", "HOME=/h"]), &[], &[("HOME", "/root")]).unwrap();
    assert_eq!(env, v(&["PATH=/x", "HOME=/h"]));
    let env = environment(&[], &v(&["PATH=/mine", "EMPTY="]), &[]).unwrap();
    assert_eq!(env, v(&["PATH=/mine", "EMPTY="]));
    assert!(environment(&[], &v(&["BARE"]), &[]).is_err());
    assert!(environment(&[], &v(&["=x"]), &[]).is_err());
}

#[test]
fn volumes_parse_and_check_sources() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().to_str().unwrap();
    let vol = parse_volume(&format!("{src}:/data")).unwrap();
    assert_eq!(
        (vol.destination.as_path(), vol.read_only),
        (Path::new("/data"), false)
    );
    assert!(parse_volume(&format!("{src}:/data:ro")).unwrap().read_only);
    assert!(!parse_volume(&format!("{src}:/data:rw")).unwrap().read_only);
    let missing = parse_volume(&format!("{src}/nope:/data")).unwrap_err();
    assert!(missing.to_string().contains("does not exist"), "{missing}");
    assert!(parse_volume("named:/data")
        .unwrap_err()
        .to_string()
        .contains("named volumes"));
    assert!(parse_volume(&format!("{src}:data")).is_err());
    assert!(parse_volume(&format!("{src}:/a/../b")).is_err());
    assert!(parse_volume(&format!("{src}:/data:rx")).is_err());
    assert!(parse_volume(src).is_err());
}

fn rootfs_with_users() -> tempfile::TempDir {
    let r = tempfile::tempdir().unwrap();
    fs::create_dir(r.path().join("etc")).unwrap();
    fs::write(
        r.path().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\n# comment\nalice:x:1000:1000::/home/alice:/bin/sh\nbroken line\n",
    )
    .unwrap();
    fs::write(
        r.path().join("etc/group"),
        "root:x:0:\nwheel:x:10:root,alice\nalice:x:1000:\nstaff:x:50:alice\n",
    )
    .unwrap();
    r
}

#[test]
fn users_resolve_from_the_image() {
    let r = rootfs_with_users();
    let p = r.path();
    let ru = |uid, gid, g: &[u32], home: &str| ResolvedUser {
        uid,
        gid,
        additional_gids: g.to_vec(),
        home: home.into(),
    };
    assert_eq!(resolve_user(p, "").unwrap(), ru(0, 0, &[10], "/root"));
    assert_eq!(
        resolve_user(p, "alice").unwrap(),
        ru(1000, 1000, &[10, 50], "/home/alice")
    );
    assert_eq!(
        resolve_user(p, "1000").unwrap(),
        ru(1000, 1000, &[10, 50], "/home/alice")
    );
    assert_eq!(resolve_user(p, "4242").unwrap(), ru(4242, 0, &[], "/"));
    assert_eq!(
        resolve_user(p, "alice:staff").unwrap(),
        ru(1000, 50, &[], "/home/alice")
    );
    assert_eq!(
        resolve_user(p, "alice:777").unwrap(),
        ru(1000, 777, &[], "/home/alice")
    );
    assert_eq!(
        resolve_user(p, "4242:staff").unwrap(),
        ru(4242, 50, &[], "/")
    );
    let e = resolve_user(p, "bob").unwrap_err();
    assert!(matches!(e, BundleError::UnknownUser { .. }), "{e}");
    assert!(e.to_string().contains("bob"));
    assert!(matches!(
        resolve_user(p, "alice:nogroup"),
        Err(BundleError::UnknownGroup { .. })
    ));
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(resolve_user(empty.path(), "").unwrap(), ru(0, 0, &[], "/"));
    assert!(resolve_user(empty.path(), "alice")
        .unwrap_err()
        .to_string()
        .contains("no /etc/passwd"));
}

#[test]
fn passwd_symlink_cannot_read_host_files() {
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("passwd"), "evil:x:7:7::/:/bin/sh\n").unwrap();
    let r = tempfile::tempdir().unwrap();
    fs::create_dir(r.path().join("etc")).unwrap();
    let target = format!("../../../../../../..{}/passwd", outside.path().display());
    std::os::unix::fs::symlink(&target, r.path().join("etc/passwd")).unwrap();
    let e = resolve_user(r.path(), "evil").unwrap_err();
    assert!(
        matches!(e, BundleError::ImageFile(FileError::Symlink { .. })),
        "{e}"
    );
    // Even for root, which needs no entry: an unusable /etc/passwd is an error, not "missing".
    assert!(resolve_user(r.path(), "").is_err());
}

#[test]
fn passwd_fifo_or_huge_fails_without_blocking_or_reading() {
    let r = tempfile::tempdir().unwrap();
    fs::create_dir(r.path().join("etc")).unwrap();
    nix::unistd::mkfifo(
        &r.path().join("etc/passwd"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let e = resolve_user(r.path(), "").unwrap_err();
    assert!(
        matches!(e, BundleError::ImageFile(FileError::NotRegular { .. })),
        "{e}"
    );
    fs::remove_file(r.path().join("etc/passwd")).unwrap();
    fs::File::create(r.path().join("etc/passwd"))
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let e = resolve_user(r.path(), "").unwrap_err();
    assert!(
        matches!(e, BundleError::ImageFile(FileError::TooLarge { .. })),
        "{e}"
    );
}

fn image(config: serde_json::Value) -> ImageConfiguration {
    let j = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": []},
    });
    ImageConfiguration::from_reader(serde_json::to_vec(&j).unwrap().as_slice()).unwrap()
}

#[test]
fn generated_spec_has_docker_defaults() {
    let r = rootfs_with_users();
    let img = image(serde_json::json!({
        "Entrypoint": ["/bin/app"], "Cmd": ["--serve"], "Env": ["FOO=bar"],
        "WorkingDir": "/srv", "User": "alice",
    }));
    let opts = RunOptions {
        container_id: "0123456789abcdef0123".into(),
        tty: true,
        labels: [("team".to_string(), "core".to_string())].into(),
        ..Default::default()
    };
    let spec = generate(&img, r.path(), &opts).unwrap();
    assert_eq!(spec.hostname().as_deref(), Some("0123456789ab"));
    assert_eq!(spec.root().as_ref().unwrap().path(), r.path());
    assert_eq!(spec.annotations().as_ref().unwrap()["team"], "core");
    let p = spec.process().as_ref().unwrap();
    assert_eq!(p.args().as_ref().unwrap(), &v(&["/bin/app", "--serve"]));
    assert_eq!(p.cwd(), Path::new("/srv"));
    assert_eq!((p.user().uid(), p.user().gid()), (1000, 1000));
    assert_eq!(p.user().additional_gids().as_ref().unwrap(), &vec![10, 50]);
    assert_eq!(p.terminal(), Some(true));
    assert_eq!(p.no_new_privileges(), Some(false));
    let env = p.env().as_ref().unwrap();
    for e in [
        "FOO=bar",
        "HOSTNAME=0123456789ab",
        "HOME=/home/alice",
        "TERM=xterm",
    ] {
        assert!(env.contains(&e.to_string()), "{e} in {env:?}");
    }
    assert!(env[0].starts_with("PATH="));
    let caps = p.capabilities().as_ref().unwrap();
    let bounding = caps.bounding().as_ref().unwrap();
    assert_eq!(bounding.len(), 14);
    assert!(bounding.contains(&Capability::NetBindService));
    assert!(!bounding.contains(&Capability::SysAdmin));
    assert_eq!(caps.effective(), caps.bounding());
    assert!(caps.inheritable().as_ref().unwrap().is_empty());
    let rl = &p.rlimits().as_ref().unwrap()[0];
    let l = defaults::nofile_limit();
    assert_eq!(
        (rl.typ(), rl.soft(), rl.hard()),
        (PosixRlimitType::RlimitNofile, l, l)
    );
    let l = spec.linux().as_ref().unwrap();
    assert!(
        l.seccomp().is_none(),
        "no seccomp until the runtime supports it"
    );
    assert_eq!(
        l.cgroups_path().as_deref(),
        Some(Path::new("/berth/0123456789abcdef0123"))
    );
    let ns: Vec<_> = l
        .namespaces()
        .as_ref()
        .unwrap()
        .iter()
        .map(|n| n.typ())
        .collect();
    assert_eq!(
        ns,
        [
            LinuxNamespaceType::Pid,
            LinuxNamespaceType::Ipc,
            LinuxNamespaceType::Uts,
            LinuxNamespaceType::Mount,
            LinuxNamespaceType::Network
        ]
    );
    assert!(l
        .masked_paths()
        .as_ref()
        .unwrap()
        .contains(&"/proc/kcore".to_string()));
    assert!(l
        .readonly_paths()
        .as_ref()
        .unwrap()
        .contains(&"/proc/sys".to_string()));
    let dsts: Vec<_> = spec
        .mounts()
        .as_ref()
        .unwrap()
        .iter()
        .map(|m| m.destination().display().to_string())
        .collect();
    assert_eq!(
        dsts,
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/sys",
            "/sys/fs/cgroup",
            "/dev/mqueue",
            "/dev/shm"
        ]
    );
    // Round-trips as JSON the runtime will read.
    let json = serde_json::to_string(&spec).unwrap();
    assert!(!json.contains("seccomp"));
}

#[test]
fn options_override_the_image() {
    let r = rootfs_with_users();
    let vol = tempfile::tempdir().unwrap();
    let img = image(serde_json::json!({"Cmd": ["sh"], "User": "alice", "WorkingDir": "/srv"}));
    let opts = RunOptions {
        container_id: "abc".into(),
        args: v(&["echo", "hi"]),
        user: Some("0:0".into()),
        workdir: Some("/tmp".into()),
        hostname: Some("box".into()),
        env: v(&["X=1"]),
        volumes: vec![format!("{}:/data:ro", vol.path().display())],
        cgroups_path: Some("/custom/abc".into()),
        read_only: true,
        ..Default::default()
    };
    let spec = generate(&img, r.path(), &opts).unwrap();
    let p = spec.process().as_ref().unwrap();
    assert_eq!(p.args().as_ref().unwrap(), &v(&["echo", "hi"]));
    assert_eq!((p.user().uid(), p.user().gid()), (0, 0));
    assert_eq!(p.cwd(), Path::new("/tmp"));
    assert_eq!(spec.hostname().as_deref(), Some("box"));
    assert_eq!(spec.root().as_ref().unwrap().readonly(), Some(true));
    let m = spec.mounts().as_ref().unwrap().last().unwrap();
    assert_eq!(m.destination(), Path::new("/data"));
    assert!(m.options().as_ref().unwrap().contains(&"ro".to_string()));
    let bad = RunOptions {
        user: Some("nobody".into()),
        ..opts.clone()
    };
    assert!(matches!(
        generate(&img, r.path(), &bad),
        Err(BundleError::UnknownUser { .. })
    ));
    let bad = RunOptions {
        workdir: Some("rel".into()),
        ..opts
    };
    assert!(generate(&img, r.path(), &bad).is_err());
}

#[test]
fn bundle_directory_is_written() {
    let b = tempfile::tempdir().unwrap();
    let rootfs = create_bundle_dir(b.path()).unwrap();
    fs::create_dir(rootfs.join("etc")).unwrap();
    fs::write(rootfs.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
    let img = image(serde_json::json!({"Cmd": ["sh"], "WorkingDir": "/work/dir"}));
    let opts = RunOptions {
        container_id: "bundletest".into(),
        ..Default::default()
    };
    let spec = write_bundle(b.path(), &img, &opts).unwrap();
    let on_disk: oci_spec::runtime::Spec =
        serde_json::from_slice(&fs::read(b.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(on_disk, spec);
    assert_eq!(
        fs::read_to_string(b.path().join("hostname")).unwrap(),
        "bundletest\n"
    );
    assert!(fs::read_to_string(b.path().join("hosts"))
        .unwrap()
        .contains("\tbundletest\n"));
    assert!(b.path().join("resolv.conf").exists());
    for f in ["hosts", "hostname", "resolv.conf"] {
        assert!(rootfs.join("etc").join(f).exists(), "mount point {f}");
        let m = spec
            .mounts()
            .as_ref()
            .unwrap()
            .iter()
            .find(|m| m.destination() == Path::new("/etc").join(f).as_path())
            .unwrap();
        assert_eq!(m.source().as_deref(), Some(b.path().join(f).as_path()));
    }
    assert!(
        rootfs.join("work/dir").is_dir(),
        "working directory created"
    );
}

#[test]
fn resolv_conf_drops_loopback_nameservers() {
    let out = files::resolv_conf(
        "nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch example\nnameserver ::1\n",
    );
    assert_eq!(out, "nameserver 10.0.0.2\nsearch example\n");
}

#[test]
fn nofile_limit_is_docker_s_unless_it_cannot_be_granted() {
    assert_eq!(
        defaults::nofile_limit_for(true, 1024, Some(1_048_576)),
        1_048_576
    );
    assert_eq!(
        defaults::nofile_limit_for(false, 20_000, Some(1_048_576)),
        20_000
    );
    assert_eq!(
        defaults::nofile_limit_for(false, 2_000_000, Some(1_048_576)),
        1_048_576
    );
    assert_eq!(defaults::nofile_limit_for(true, 1024, Some(65_536)), 65_536);
    assert_eq!(defaults::nofile_limit_for(true, 1024, None), 1_048_576);
}

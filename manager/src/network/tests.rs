//! `Networks` without running plugins: request checks at create and network records.

use super::*;
use std::os::unix::fs::PermissionsExt;

struct Fixture {
    _dir: tempfile::TempDir,
    nets: Arc<Networks>,
}

/// A subsystem over a temp root/state, with stand-in plugin binaries (never run here).
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("cni-bin");
    std::fs::create_dir_all(&plugins).unwrap();
    for p in [
        "loopback",
        "bridge",
        "host-local",
        "portmap",
        "firewall",
        "tuning",
    ] {
        let f = plugins.join(p);
        std::fs::write(&f, "#!/bin/sh\nexit 1\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut config = Config {
        root: dir.path().join("root"),
        state: dir.path().join("state"),
        ..Config::default()
    };
    config.network.plugin_dirs = vec![plugins];
    config.network.conf_dir = dir.path().join("conf");
    config.network.subnet = "10.251.0.0/24".into();
    std::fs::create_dir_all(&config.root).unwrap();
    let md = Metadata::open(&config.metadata_path()).unwrap();
    let nets = Networks::open(&config, &md).unwrap();
    Fixture { _dir: dir, nets }
}

fn opts(f: impl FnOnce(&mut RunOptions)) -> RunOptions {
    let mut o = RunOptions::default();
    f(&mut o);
    o
}

#[test]
fn the_default_network_is_recorded_and_its_conflist_written_when_needed() {
    let f = fixture();
    let n = f.nets.network("bridge").unwrap();
    assert!(n.builtin);
    assert_eq!(
        (n.subnet.as_str(), n.gateway.as_str()),
        ("10.251.0.0/24", "10.251.0.1")
    );
    assert!(!f.nets.conflist_path("bridge").exists());
    let l = f.nets.conflist("bridge").unwrap();
    assert_eq!(l.name, "bridge");
    assert!(f.nets.conflist_path("bridge").exists());
}

#[test]
fn plan_checks_modes_ports_and_etc_entries() {
    let f = fixture();
    let id = "a".repeat(64);
    let p = f
        .nets
        .plan(&id, &opts(|o| o.publish = vec!["8080:80".into()]), &[], &[]);
    let p = match p {
        Ok(p) => p,
        // The test machine may use 8080 itself: that is the check working.
        Err(NetworkError::Port(PortError::Allocated { .. })) => return,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(p.mode, NetworkMode::Network("bridge".into()));
    assert_eq!(p.ports.len(), 1);
    assert_eq!(p.netns, Some(f.nets.netns_path(&id)));

    let all = f
        .nets
        .plan(
            &id,
            &opts(|o| o.publish_all = true),
            &["80/tcp".into(), "53/udp".into()],
            &[],
        )
        .unwrap();
    assert_eq!(all.ports.len(), 2);
    assert!(
        all.ports.iter().all(|m| m.host_port != 0),
        "{:?}",
        all.ports
    );

    let err = |o: RunOptions| f.nets.plan(&id, &o, &[], &[]).unwrap_err().to_string();
    assert_eq!(
        err(opts(|o| o.publish = vec!["abc".into()])),
        "invalid containerPort: abc"
    );
    assert_eq!(
        err(opts(|o| o.network = "nosuch".into())),
        "network nosuch not found"
    );
    assert!(err(opts(|o| {
        o.network = "none".into();
        o.publish = vec!["80".into()];
    }))
    .contains("conflicting options"));
    assert!(err(opts(|o| o.extra_hosts = vec!["nocolon".into()])).contains("add-host"));
    assert!(err(opts(|o| o.extra_hosts = vec!["db:notanip".into()])).contains("invalid IP address"));
    assert!(err(opts(|o| o.dns = vec!["x".into()])).contains("not an ip address"));

    let host = f
        .nets
        .plan(
            &id,
            &opts(|o| {
                o.network = "host".into();
                o.publish = vec!["80".into()];
            }),
            &[],
            &[],
        )
        .unwrap();
    assert!(host.ports.is_empty() && host.netns.is_none() && host.hostname.is_some());
}

#[test]
fn a_listening_port_is_allocated() {
    let f = fixture();
    let l = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let e = f
        .nets
        .plan(
            "b",
            &opts(|o| o.publish = vec![format!("{port}:80")]),
            &[],
            &[],
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("Bind for 0.0.0.0:{port} failed: port is already allocated")
    );
    assert_eq!(e.code(), tonic::Code::AlreadyExists);
}

#[test]
fn user_networks_are_checked_created_and_removed() {
    let f = fixture();
    let n = f.nets.create_network("web1", "10.251.1.0/24", "").unwrap();
    assert_eq!(n.gateway, "10.251.1.1");
    assert!(n.bridge.starts_with("br-") && n.bridge.len() <= 15);
    assert!(f.nets.conflist_path("web1").exists());
    let e = |r: Result<NetworkRecord, NetworkError>| r.unwrap_err().to_string();
    assert!(e(f.nets.create_network("web1", "10.251.2.0/24", "")).contains("already exists"));
    assert!(e(f.nets.create_network("web2", "10.251.1.128/25", "")).contains("Pool overlaps"));
    assert!(e(f.nets.create_network("web2", "10.251.0.0/16", "")).contains("Pool overlaps"));
    assert!(
        e(f.nets.create_network("web2", "10.251.2.0/24", "10.251.3.1"))
            .contains("not a host address")
    );
    assert!(e(f.nets.create_network("host", "10.251.2.0/24", "")).contains("invalid network name"));
    assert!(e(f.nets.create_network("web2", "banana", "")).contains("invalid subnet"));
    assert!(f
        .nets
        .remove_network("bridge", &[])
        .unwrap_err()
        .to_string()
        .contains("pre-defined"));
    assert!(f
        .nets
        .remove_network("web1", &["c1".into()])
        .unwrap_err()
        .to_string()
        .contains("active endpoints"));
    assert_eq!(f.nets.network(&n.id[..8]).unwrap().name, "web1");
    assert_eq!(f.nets.remove_network("web1", &[]).unwrap(), "web1");
    assert!(!f.nets.conflist_path("web1").exists());
    assert!(f.nets.network("web1").is_err());
}

//! `--network none|host|container:NAME`, `--hostname`, `--add-host`, `--dns`, `--dns-search`, and
//! user networks: name resolution through /etc/hosts (updated as containers start and stop),
//! `network create|ls|inspect|rm|prune`, subnets overlapping a network or a host route, unknown
//! networks.

mod net_common;

use net_common::{code, stderr, NetEnv};

#[test]
fn none_has_only_loopback_up() {
    let n = NetEnv::start("none");
    let img = n.busybox();
    let out = n.ok(&["run", "--rm", "--network", "none", &img, "ip", "-o", "link"]);
    let names: Vec<&str> = out.lines().filter_map(|l| l.split(": ").nth(1)).collect();
    assert_eq!(names, ["lo"], "{out}");
    assert!(out.contains("UP"), "lo is down: {out}");
    n.assert_clean();
}

#[test]
fn host_shares_the_hosts_namespace_and_files() {
    let n = NetEnv::start("host");
    let img = n.busybox();
    let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
    let out = n.ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        &img,
        "readlink",
        "/proc/self/ns/net",
    ]);
    assert_eq!(out.trim(), ours.display().to_string());
    let hostname = nix::unistd::gethostname().unwrap().into_string().unwrap();
    assert_eq!(
        n.ok(&["run", "--rm", "--network", "host", &img, "hostname"])
            .trim(),
        hostname
    );
    n.assert_clean();
}

#[test]
fn container_mode_joins_the_other_containers_namespace() {
    let n = NetEnv::start("joined");
    let web = n.nginx();
    let bb = n.busybox();
    n.ok(&["run", "-d", "--name", "web", &web]);
    let page = n.ok(&[
        "run",
        "--rm",
        "--network",
        "container:web",
        &bb,
        "wget",
        "-qO-",
        "http://127.0.0.1/",
    ]);
    assert!(page.contains("Welcome to nginx!"), "{page}");
    let host = n.ok(&["run", "--rm", "--network", "container:web", &bb, "hostname"]);
    let id = n.ok(&["inspect", "web"]);
    let v: serde_json::Value = serde_json::from_str(&id).unwrap();
    assert_eq!(host.trim(), &v[0]["Id"].as_str().unwrap()[..12]);
    // Publishing ports on a joined namespace is refused, like Docker.
    n.fails_with(
        &[
            "run",
            "--rm",
            "--network",
            "container:web",
            "-p",
            "9:9",
            &bb,
            "true",
        ],
        125,
        "conflicting options",
    );
    n.ok(&["rm", "-f", "web"]);
    n.assert_clean();
}

#[test]
fn hostname_add_host_dns_and_search_are_written_like_docker() {
    let n = NetEnv::start("etcfiles");
    let img = n.busybox();
    let out = n.ok(&[
        "run", "--rm", "--hostname", "h1", "--add-host", "db.test:10.1.2.3", "--dns", "10.9.9.9",
        "--dns-search", "example.test", &img, "sh", "-c",
        "cat /etc/hostname; echo ---; cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; ip -4 -o addr show eth0",
    ]);
    let parts: Vec<&str> = out.split("---\n").collect();
    assert_eq!(parts[0].trim(), "h1");
    assert!(parts[1].contains("10.1.2.3\tdb.test"), "{out}");
    assert!(parts[1].contains("127.0.0.1\tlocalhost"), "{out}");
    let ip = parts[3]
        .split_whitespace()
        .nth(3)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    assert!(ip.starts_with(&n.prefix), "{out}");
    assert!(parts[1].contains(&format!("{ip}\th1")), "{out}");
    assert!(parts[2].contains("nameserver 10.9.9.9"), "{out}");
    assert!(parts[2].contains("search example.test"), "{out}");
    assert!(!parts[2].contains("nameserver 127."), "{out}");
    n.assert_clean();
}

#[test]
fn user_network_names_resolve_and_its_lifecycle_is_checked() {
    let n = NetEnv::start("usernet");
    let web = n.nginx();
    let bb = n.busybox();
    let net = format!("tn{}", std::process::id());
    n.ok(&["network", "create", "--subnet", &n.user_subnet, &net]);
    assert!(n.ok(&["network", "ls"]).contains(&net));
    // Overlaps: with the user network, and with the default one.
    for s in [n.user_subnet.clone(), format!("{}0/25", n.prefix)] {
        n.fails_saying(&["network", "create", "--subnet", &s, "other"], "overlaps");
    }
    // A client started first learns the server's name when the server starts.
    n.ok(&[
        "run",
        "-d",
        "--name",
        "cli",
        "--network",
        &net,
        &bb,
        "sleep",
        "600",
    ]);
    n.ok(&["run", "-d", "--name", "srv", "--network", &net, &web]);
    let page = n.ok(&[
        "run",
        "--rm",
        "--network",
        &net,
        &bb,
        "wget",
        "-qO-",
        "http://srv/",
    ]);
    assert!(page.contains("Welcome to nginx!"), "{page}");
    let cli: serde_json::Value = serde_json::from_str(&n.ok(&["inspect", "cli"])).unwrap();
    let hosts = std::path::Path::new(cli[0]["BundleDir"].as_str().unwrap()).join("hosts");
    let srv_line = |h: &str| h.lines().any(|l| l.ends_with("\tsrv"));
    assert!(srv_line(&std::fs::read_to_string(&hosts).unwrap()));
    let inside = n.ok(&[
        "run",
        "--rm",
        "--network",
        "container:cli",
        &bb,
        "cat",
        "/etc/hosts",
    ]);
    assert!(srv_line(&inside), "{inside}");
    n.ok(&["stop", "srv"]);
    assert!(!srv_line(&std::fs::read_to_string(&hosts).unwrap()));
    let v: serde_json::Value = serde_json::from_str(&n.ok(&["network", "inspect", &net])).unwrap();
    assert_eq!(v[0]["Containers"].as_object().unwrap().len(), 1, "{v}");

    n.fails_saying(&["network", "rm", &net], "has active endpoints");
    n.fails_with(
        &["run", "--rm", "--network", "nosuchnet", &bb, "true"],
        125,
        "network nosuchnet not found",
    );
    assert_eq!(n.all_ids().len(), 2);

    n.ok(&["rm", "-f", "cli", "srv"]);
    n.ok(&["network", "rm", &net]);
    assert!(!n.ok(&["network", "ls"]).contains(&net));
    let out = n.berth(&["network", "rm", "bridge"]);
    assert!(
        stderr(&out).contains("pre-defined network"),
        "{}",
        stderr(&out)
    );
    // A subnet that overlaps a host route: the test's own veth pair routes the (now free) user
    // subnet; creating a network on it fails and leaves no network behind.
    let dummy = RoutedLink::new(&format!("brl{}", std::process::id() % 1_000_000));
    dummy.route(&format!("{}1/24", n.user_prefix));
    let out = n.berth(&["network", "create", "--subnet", &n.user_subnet, &net]);
    assert_ne!(code(&out), 0);
    assert!(
        stderr(&out).contains("overlaps the host route") && stderr(&out).contains(&dummy.0),
        "{}",
        stderr(&out)
    );
    assert!(!n.ok(&["network", "ls"]).contains(&net));
    drop(dummy);
    n.assert_clean();
}

/// A veth pair of the test's own (`NAME`, `NAMEp`; the kernel may lack the dummy type), deleted
/// on drop.
struct RoutedLink(String);

impl RoutedLink {
    fn new(name: &str) -> RoutedLink {
        let peer = format!("{name}p");
        let ok = std::process::Command::new("ip")
            .args(["link", "add", name, "type", "veth", "peer", "name", &peer])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "ip link add {name} type veth");
        let link = RoutedLink(name.to_string());
        let ok = std::process::Command::new("ip")
            .args(["link", "set", &peer, "up"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "ip link set {peer} up");
        link
    }

    /// Gives the link `addr` (CIDR) and brings it up: the kernel adds the subnet's route.
    fn route(&self, addr: &str) {
        for args in [
            vec!["addr", "add", addr, "dev", &self.0],
            vec!["link", "set", &self.0, "up"],
        ] {
            let ok = std::process::Command::new("ip")
                .args(&args)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "ip {args:?}");
        }
    }
}

impl Drop for RoutedLink {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "delete", &self.0])
            .status();
    }
}

//! `berth run -p`: the nginx walkthrough on 127.0.0.1, several containers and ports, conflicts
//! with a container and with a plain listener, UDP, `-P`, bad `-p` values; after each, nothing of
//! the network is left (veths, namespaces, iptables rules, leases). Needs root, Debian's
//! containernetworking-plugins and iptables.

mod net_common;

use net_common::{code, free_port, stderr, stdout, NetEnv};
use std::net::{TcpListener, UdpSocket};
use std::time::{Duration, Instant};

#[test]
fn welcome_page_on_localhost_and_stop_start_keep_the_mapping() {
    let n = NetEnv::start("welcome");
    let img = n.nginx();
    let port = free_port();
    let id = n.run_published(&img, "web", port);
    let page = n.http_get(port);
    assert!(page.contains("Welcome to nginx!"), "{page}");
    // Also on the host's other addresses: here the gateway address of the test's own bridge.
    let gw: std::net::Ipv4Addr = format!("{}1", n.prefix).parse().unwrap();
    let page = net_common::try_http_get(gw, port).expect("no answer on the bridge address");
    assert!(page.contains("Welcome to nginx!"), "{page}");

    let ps = n.ok(&["ps"]);
    assert!(ps.contains(&format!("0.0.0.0:{port}->80/tcp")), "{ps}");
    assert_eq!(
        n.ok(&["port", "web"]).trim(),
        format!("80/tcp -> 0.0.0.0:{port}")
    );
    let inspect: serde_json::Value = serde_json::from_str(&n.ok(&["inspect", "web"])).unwrap();
    let ns = &inspect[0]["NetworkSettings"];
    assert!(
        ns["IPAddress"].as_str().unwrap().starts_with(&n.prefix),
        "{ns}"
    );
    assert_eq!(ns["Gateway"].as_str().unwrap(), format!("{}1", n.prefix));
    assert_eq!(ns["MacAddress"].as_str().unwrap().len(), 17, "{ns}");
    assert_eq!(ns["Ports"]["80/tcp"][0]["HostPort"], port.to_string());
    // The access log goes to the container's stdout.
    assert!(n.ok(&["logs", "web"]).contains("\"GET / HTTP/1.0\" 200"));

    n.ok(&["stop", "web"]);
    n.assert_clean();
    let ps = n.ok(&["ps", "-a"]);
    assert!(ps.contains("Exited") && !ps.contains("->80/tcp"), "{ps}");

    n.ok(&["start", "web"]);
    assert!(n.http_get(port).contains("Welcome to nginx!"));
    assert_eq!(
        n.ok(&["port", "web"]).trim(),
        format!("80/tcp -> 0.0.0.0:{port}")
    );
    n.ok(&["stop", "web"]);
    n.ok(&["rm", &id]);
    n.assert_clean();
}

#[test]
fn two_containers_on_two_ports_and_a_taken_port_leaves_nothing() {
    let n = NetEnv::start("twoports");
    let img = n.nginx();
    let (p1, p2) = (free_port(), free_port());
    let (a, b) = (format!("{p1}:80"), format!("{p2}:80"));
    n.ok(&["run", "-d", "-p", &a, &img]);
    n.ok(&["run", "-d", "-p", &b, &img]);
    assert!(n.http_get(p1).contains("Welcome to nginx!"));
    assert!(n.http_get(p2).contains("Welcome to nginx!"));

    let before = n.all_ids();
    n.fails_with(
        &["run", "-d", "-p", &a, &img],
        125,
        &format!("Bind for 0.0.0.0:{p1} failed: port is already allocated"),
    );
    assert_eq!(
        n.all_ids(),
        before,
        "a container was left by the failed run"
    );
    // The first one still serves.
    assert!(n.http_get(p1).contains("Welcome to nginx!"));
    for id in before {
        n.ok(&["rm", "-f", &id]);
    }
    n.assert_clean();
}

#[test]
fn a_port_held_by_another_process_is_refused_before_the_container_exists() {
    let n = NetEnv::start("listener");
    let img = n.nginx();
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    n.fails_with(
        &["run", "-d", "-p", &format!("{port}:80"), &img],
        125,
        &format!("Bind for 0.0.0.0:{port} failed: port is already allocated"),
    );
    assert!(n.all_ids().is_empty());
    n.assert_clean();
    drop(listener);
}

#[test]
fn publish_all_maps_the_exposed_port_to_a_free_host_port() {
    let n = NetEnv::start("publishall");
    let img = n.nginx();
    n.ok(&["run", "-d", "--name", "pall", "-P", &img]);
    let line = n.ok(&["port", "pall"]);
    let port: u16 = line
        .trim()
        .strip_prefix("80/tcp -> 0.0.0.0:")
        .unwrap_or_else(|| panic!("port said {line:?}"))
        .parse()
        .unwrap();
    assert!(n.http_get(port).contains("Welcome to nginx!"));
    n.ok(&["rm", "-f", "pall"]);
    n.assert_clean();
}

/// A static UDP echo server for the container (busybox has none): built with the host's gcc.
fn udp_echo_binary(dir: &std::path::Path) -> std::path::PathBuf {
    let src = dir.join("udpecho.c");
    std::fs::write(
        &src,
        r#"#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET; a.sin_port = htons(atoi(argv[1])); a.sin_addr.s_addr = INADDR_ANY;
    if (bind(s, (struct sockaddr *)&a, sizeof a)) return 1;
    for (;;) {
        char buf[512]; struct sockaddr_in from; socklen_t l = sizeof from;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &l);
        if (n > 0) sendto(s, buf, n, 0, (struct sockaddr *)&from, l);
    }
}
"#,
    )
    .unwrap();
    let bin = dir.join("udpecho");
    let st = std::process::Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(&bin)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success(), "gcc failed");
    bin
}

#[test]
fn udp_ports_are_published() {
    let n = NetEnv::start("udp");
    let img = n.busybox();
    let dir = tempfile::tempdir().unwrap();
    udp_echo_binary(dir.path());
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = {
        let probe = UdpSocket::bind("0.0.0.0:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let vol = format!("{}:/t:ro", dir.path().display());
    n.ok(&[
        "run",
        "-d",
        "--name",
        "udp",
        "-v",
        &vol,
        "-p",
        &format!("{port}:5353/udp"),
        &img,
        "/t/udpecho",
        "5353",
    ]);
    assert_eq!(
        n.ok(&["port", "udp"]).trim(),
        format!("5353/udp -> 0.0.0.0:{port}")
    );
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 64];
    loop {
        sock.send_to(b"berth-udp", ("127.0.0.1", port)).unwrap();
        if let Ok((len, _)) = sock.recv_from(&mut buf) {
            assert_eq!(&buf[..len], b"berth-udp");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no UDP echo through 127.0.0.1:{port}"
        );
    }
    n.ok(&["rm", "-f", "udp"]);
    n.assert_clean();
}

#[test]
fn bad_publish_values_are_one_clear_error_each_and_leave_nothing() {
    let n = NetEnv::start("badports");
    let img = n.nginx();
    for (spec, want) in [
        ("99999:80", "invalid hostPort: 99999"),
        ("abc", "invalid containerPort: abc"),
        ("80/sctp", "invalid proto: sctp"),
        ("8080-8081:80", "invalid ranges specified"),
    ] {
        let out = n.berth(&["run", "-d", "-p", spec, &img]);
        assert_eq!(code(&out), 125, "-p {spec}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(want), "-p {spec}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "-p {spec}: {err}");
        assert!(stdout(&out).is_empty());
    }
    assert!(n.all_ids().is_empty());
    n.assert_clean();
}

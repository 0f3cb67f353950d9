//! Shared fixture of the `net_*` tests: a `BerthdEnv` (seeded registry, private berthd whose
//! default network has a bridge name and subnet of its own, so tests never meet each other or a
//! real berthd), host ports chosen free, HTTP on 127.0.0.1, and the "nothing left" checks.
#![allow(dead_code, unused_imports)]

pub use berth_integration::berthd_env::{code, stderr, stdout, BerthdEnv as Env};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// A test's networking environment.
pub struct NetEnv {
    /// The daemon and registry (None once dropped).
    pub env: Option<Env>,
    /// The default network's bridge.
    pub bridge: String,
    /// First three octets of the default network's /24, with the trailing dot (`10.244.18.`).
    pub prefix: String,
    /// A second /24 for a user network of the test.
    pub user_subnet: String,
    /// Prefix of `user_subnet`.
    pub user_prefix: String,
}

/// A host port nobody uses now (the kernel's choice for port 0).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0")
}

impl NetEnv {
    /// Starts the environment for test `name`; `extra` is more `[network]` config (TOML lines).
    pub fn start(name: &str) -> NetEnv {
        Self::start_with(name, "")
    }

    /// Like [`NetEnv::start`] with extra `[network]` lines (e.g. `plugin_dirs = [...]`).
    pub fn start_with(_name: &str, extra: &str) -> NetEnv {
        let env = Env::start_with("", extra);
        let net = env.net.clone();
        NetEnv {
            env: Some(env),
            bridge: net.bridge,
            prefix: net.prefix,
            user_subnet: format!("{}0/24", net.user_prefix),
            user_prefix: net.user_prefix,
        }
    }

    /// The environment.
    pub fn env(&self) -> &Env {
        self.env.as_ref().expect("env")
    }

    /// Restarts berthd gracefully (it reads its config again).
    pub fn restart(&mut self) {
        let env = self.env.as_mut().expect("env");
        if let Some(mut d) = env.daemon.take() {
            let _ = d.stop();
        }
        env.restart_daemon();
    }

    /// `berth ARGS`, required to succeed; stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.env().ok(args)
    }

    /// `berth ARGS`, which must exit with `exit_code` and say `words` on stderr.
    #[track_caller]
    pub fn fails_with(&self, args: &[&str], exit_code: i32, words: &str) -> std::process::Output {
        self.env().fails_with(args, exit_code, words)
    }

    /// `berth ARGS`, which must exit non-zero and say `words` on stderr.
    #[track_caller]
    pub fn fails_saying(&self, args: &[&str], words: &str) -> std::process::Output {
        self.env().fails_saying(args, words)
    }

    /// `berth ARGS`.
    pub fn berth(&self, args: &[&str]) -> std::process::Output {
        self.env().berth(args)
    }

    /// The seeded nginx image, pulled.
    pub fn nginx(&self) -> String {
        let img = self.env().image("nginx:latest");
        self.ok(&["pull", "-q", &img]);
        img
    }

    /// Runs `img` (nginx) detached as `name` with its port 80 published on host port `port`;
    /// returns the container id.
    pub fn run_published(&self, img: &str, name: &str, port: u16) -> String {
        let publish = format!("{port}:80");
        self.ok(&["run", "-d", "--name", name, "-p", &publish, img])
            .trim()
            .to_string()
    }

    /// The seeded busybox image, pulled.
    pub fn busybox(&self) -> String {
        self.env().busybox()
    }

    /// The body of `GET /` on 127.0.0.1:`port` once it answers (bounded wait), or panics.
    pub fn http_get(&self, port: u16) -> String {
        let start = Instant::now();
        loop {
            if let Some(body) = try_http_get(Ipv4Addr::LOCALHOST, port) {
                return body;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "nothing answered HTTP on 127.0.0.1:{port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Veths still enslaved to the test's bridge.
    pub fn veths_left(&self) -> Vec<String> {
        let out = Command::new("ip")
            .args(["-o", "link", "show", "master", &self.bridge])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        out.lines().map(str::to_string).collect()
    }

    /// iptables rules (nat and filter) naming an address of the test's subnets.
    pub fn rules_left(&self) -> Vec<String> {
        self.env()
            .net
            .rules()
            .into_iter()
            .map(|(t, l)| format!("{t}: {l}"))
            .collect()
    }

    /// host-local leases left (files named by an address) in the daemon's IPAM directory.
    pub fn leases_left(&self) -> Vec<PathBuf> {
        let dir = self.env().dirs.root.join("cni").join("networks");
        let mut out = Vec::new();
        for net in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            for f in std::fs::read_dir(net.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                if f.file_name().to_string_lossy().parse::<Ipv4Addr>().is_ok() {
                    out.push(f.path());
                }
            }
        }
        out
    }

    /// Pinned namespaces left.
    pub fn netns_left(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.env().dirs.state.join("netns"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect()
    }

    /// Asserts that no veth, namespace, iptables rule or lease of the test is left.
    pub fn assert_clean(&self) {
        assert_eq!(self.veths_left(), Vec::<String>::new(), "veths left");
        assert_eq!(self.netns_left(), Vec::<PathBuf>::new(), "namespaces left");
        assert_eq!(
            self.rules_left(),
            Vec::<String>::new(),
            "iptables rules left"
        );
        assert_eq!(self.leases_left(), Vec::<PathBuf>::new(), "leases left");
    }

    /// Container ids (`ps -aq`).
    pub fn all_ids(&self) -> Vec<String> {
        self.env().all_ids()
    }
}

/// One `GET /` over a plain TCP connection (no HTTP client crate needed for a welcome page).
pub fn try_http_get(ip: Ipv4Addr, port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect_timeout(&(ip, port).into(), Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.starts_with("HTTP/").then_some(buf)
}

impl Drop for NetEnv {
    fn drop(&mut self) {
        // BerthdEnv's guard removes containers and networks, stops berthd, unmounts, and
        // deletes the rules naming the test's subnets and its bridge.
        self.env.take();
    }
}

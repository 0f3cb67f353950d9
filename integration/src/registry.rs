//! A real `docker-registry` for tests: loopback, a free port, temporary storage. Dropping it
//! kills exactly the process it started.

use berth_manager::registry::HostConfig;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running docker-registry owned by one test.
pub struct TestRegistry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// Its temp dir (config, storage, log).
    pub dir: tempfile::TempDir,
}

/// The repository root (for scripts/ and images/).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("integration/ has a parent")
        .to_path_buf()
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Registry settings that reach each of `hosts` over plain HTTP, with no mirrors: what a
/// `RegistryContext` needs to talk to test registries on loopback.
pub fn plain_http_hosts(hosts: &[&str]) -> HashMap<String, HostConfig> {
    hosts
        .iter()
        .map(|h| {
            let config = HostConfig {
                mirrors: vec![],
                plain_http: true,
            };
            (h.to_string(), config)
        })
        .collect()
}

/// Status code of a plain `GET` to `http://host/path` (None if nothing answers).
pub fn http_status(host: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let line = String::from_utf8_lossy(&buf[..n]);
    line.split_whitespace().nth(1)?.parse().ok()
}

impl TestRegistry {
    /// Starts a plain-HTTP registry; `auth_yaml` is inserted as its `auth:` section if given.
    pub fn start(auth_yaml: Option<&str>) -> TestRegistry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let auth = auth_yaml
            .map(|a| format!("auth:\n{a}\n"))
            .unwrap_or_default();
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n{auth}",
            dir.path().join("storage").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("docker-registry is installed (apt-get install docker-registry)");
        let reg = TestRegistry { child, host, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while http_status(&reg.host, "/v2/").is_none() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not start: {}",
                reg.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        reg
    }

    /// A plain-HTTP registry (no auth) seeded with the project's images ([`TestRegistry::seed`]).
    pub fn seeded() -> TestRegistry {
        let reg = TestRegistry::start(None);
        reg.seed();
        reg
    }

    /// The registry's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Pushes the project's own images with scripts/seed-registry (builds cached in target/).
    pub fn seed(&self) {
        let port = self.host.rsplit(':').next().unwrap();
        let build = repo_root().join("target/seed-images");
        let out = Command::new(repo_root().join("scripts/seed-registry"))
            .args(["--port", port, "--dir"])
            .arg(self.dir.path().join("seed"))
            .arg("--build-dir")
            .arg(&build)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "seed-registry failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The OCI layouts seed-registry built (`busybox`, `hello-world`, `busybox-zstd`, …).
    pub fn layout(name: &str) -> PathBuf {
        repo_root().join("target/seed-images").join(name)
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

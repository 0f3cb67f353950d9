//! A containerd of a test's own (runtime_containerd, runtime_cri): its config and log in a
//! directory of the test, run as a child that the [`TestEnv`] kills on drop.

use crate::TestEnv;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Writes `config` to `<base>/config.toml` and starts containerd on it as a child of `env`, its
/// output in `<base>/containerd.log`. Wait for its socket with [`wait_for_socket`].
pub fn spawn(env: &TestEnv, base: &Path, config: &str) {
    std::fs::write(base.join("config.toml"), config).unwrap();
    let log = std::fs::File::create(base.join("containerd.log")).unwrap();
    env.spawn(
        Command::new("containerd")
            .arg("--config")
            .arg(base.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log),
    );
}

/// Waits until containerd has created its socket `address`; fails the test after 30 s.
#[track_caller]
pub fn wait_for_socket(address: &Path) {
    let start = Instant::now();
    while !address.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "containerd did not create {}",
            address.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

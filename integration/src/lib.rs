//! Shared harness for the end-to-end tests in `integration/tests/`: fixtures, binaries, cleanup guards.
//!
//! Every test that runs containers needs root and the workspace binaries built
//! (`cargo build --workspace --bins`); such tests call [`require_root`] first so a non-root
//! run fails loudly instead of passing vacuously.

pub mod berthd_env;
pub mod blob_store;
pub mod bundle;
pub mod console;
pub mod containerd;
pub mod crictl;
pub mod daemon;
pub mod env;
pub mod fake_registry;
pub mod host;
pub mod oci_image;
pub mod oci_layout;
pub mod registry;
pub mod runtime;
pub mod task_env;
pub mod token_server;
pub mod wait;

pub use berthd_env::BerthdEnv;
pub use bundle::{default_spec, make_busybox_rootfs, Bundle};
pub use env::TestEnv;
pub use runtime::{Output, Runtime};
pub use task_env::TaskEnv;

use std::path::PathBuf;

/// Root of the cargo workspace this crate lives in.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Path of a workspace binary: `$BERTH_BIN_DIR/<name>` if set, else `<target dir>/debug/<name>`.
pub fn bin_path(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("BERTH_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_relative() {
                workspace_root().join(p)
            } else {
                p
            }
        })
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("debug").join(name)
}

/// Panics unless running as root: these tests create namespaces, mounts and cgroups.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root (it runs real containers); run the suite as root"
    );
}

/// True inside the cgroup2 QEMU guest of `scripts/test-runtime-cgroup2` (it sets
/// `BERTH_IN_CGROUP2_VM=1`): no network, no containerd state, software emulation.
pub fn in_cgroup2_vm() -> bool {
    std::env::var_os("BERTH_IN_CGROUP2_VM").is_some_and(|v| v == "1")
}

/// Prints `SKIPPED: <test>: <reason>` (the guest runner counts these lines) and returns true
/// when running in the cgroup2 guest; the caller returns early. Elsewhere returns false.
pub fn skip_in_cgroup2_vm(test: &str, reason: &str) -> bool {
    if in_cgroup2_vm() {
        eprintln!("SKIPPED: {test}: {reason} (BERTH_IN_CGROUP2_VM=1)");
        return true;
    }
    false
}

//! A busybox OCI image layout built with umoci, for the real callers' tests (podman, containerd's
//! CRI plug-in) to import: no registry and no network involved.

use crate::runtime::{run_captured, Output};
use crate::{make_busybox_rootfs, TestEnv};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn ok(env: &TestEnv, cmd: &mut Command) -> Output {
    run_captured(cmd, &env.rt.scratch, Duration::from_secs(120)).assert_success()
}

/// Builds `<env>/<name>` (an OCI layout whose index names the manifest `latest`) holding one
/// busybox layer, `PATH` set and `cmd` as the image's command.
pub fn busybox_layout(env: &TestEnv, name: &str, cmd: &[&str]) -> PathBuf {
    let layout = env.path(name);
    let unpacked = env.path(&format!("{name}-unpacked"));
    let image = format!("{}:latest", layout.display());
    ok(
        env,
        Command::new("umoci")
            .args(["init", "--layout"])
            .arg(&layout),
    );
    ok(env, Command::new("umoci").args(["new", "--image", &image]));
    ok(
        env,
        Command::new("umoci")
            .args(["unpack", "--image", &image])
            .arg(&unpacked),
    );
    make_busybox_rootfs(&unpacked.join("rootfs"));
    ok(
        env,
        Command::new("umoci")
            .args(["repack", "--image", &image])
            .arg(&unpacked),
    );
    let mut config = Command::new("umoci");
    config.args([
        "config",
        "--image",
        &image,
        "--config.env",
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
    ]);
    for c in cmd {
        config.args(["--config.cmd", c]);
    }
    ok(env, &mut config);
    let _ = std::fs::remove_dir_all(&unpacked);
    layout
}

/// `tar` of the layout (what `ctr image import` and `podman load` read).
pub fn tar_layout(env: &TestEnv, layout: &std::path::Path) -> PathBuf {
    let tar = layout.with_extension("tar");
    ok(
        env,
        Command::new("tar")
            .arg("-C")
            .arg(layout)
            .arg("-cf")
            .arg(&tar)
            .arg("."),
    );
    tar
}

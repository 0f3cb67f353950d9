//! CNI plugin faults: a missing plugin (named, with how to install it), a plugin that fails and one
//! that hangs (killed after `plugin_timeout_secs`): one clear error each, nothing of the network
//! left. And a container whose interface was deleted behind berthd's back: nothing left either.

mod net_common;

use berth_integration::host::run_ok;
use net_common::{code, stderr, NetEnv};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A plugin directory with the real plugins, `tuning` replaced by `script`.
fn plugins_with_tuning(dir: &Path, script: &str) {
    for e in std::fs::read_dir("/usr/lib/cni").unwrap().flatten() {
        if e.file_name() != "tuning" {
            std::os::unix::fs::symlink(e.path(), dir.join(e.file_name())).unwrap();
        }
    }
    let t = dir.join("tuning");
    std::fs::write(&t, script).unwrap();
    std::fs::set_permissions(&t, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_missing_plugin_is_named_with_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap();
    let n = NetEnv::start_with(
        "noplugin",
        &format!("plugin_dirs = [\"{}\"]", dir.path().display()),
    );
    let img = n.busybox();
    let out = n.berth(&["run", "--rm", &img, "true"]);
    assert_eq!(code(&out), 125, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("CNI plugin \"loopback\" not found"), "{err}");
    assert!(
        err.contains("apt-get install containernetworking-plugins"),
        "{err}"
    );
    assert!(n.all_ids().is_empty());
    n.assert_clean();
}

#[test]
fn a_failing_plugin_is_reported_and_undone() {
    let dir = tempfile::tempdir().unwrap();
    plugins_with_tuning(
        dir.path(),
        "#!/bin/sh\ncat >/dev/null\n[ \"$CNI_COMMAND\" = ADD ] || exit 0\necho '{\"cniVersion\":\"1.0.0\",\"code\":999,\"msg\":\"tuning refused\"}'\nexit 1\n",
    );
    let n = NetEnv::start_with(
        "failplugin",
        &format!("plugin_dirs = [\"{}\"]", dir.path().display()),
    );
    let img = n.busybox();
    let out = n.berth(&[
        "run",
        "-d",
        "--name",
        "fail1",
        "-p",
        "127.0.0.1::80",
        &img,
        "sleep",
        "60",
    ]);
    assert_eq!(code(&out), 125, "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("CNI plugin \"tuning\" ADD for network bridge failed: tuning refused"),
        "{}",
        stderr(&out)
    );
    // As with Docker, a container whose start failed stays (Created, with the error); its network does not.
    n.assert_clean();
    n.ok(&["rm", "fail1"]);
    n.assert_clean();
}

#[test]
fn a_hanging_plugin_times_out_and_is_undone() {
    let dir = tempfile::tempdir().unwrap();
    plugins_with_tuning(dir.path(), "#!/bin/sh\nexec sleep 600\n");
    let n = NetEnv::start_with(
        "hangplugin",
        &format!(
            "plugin_dirs = [\"{}\"]\nplugin_timeout_secs = 2",
            dir.path().display()
        ),
    );
    let img = n.busybox();
    n.fails_with(
        &["run", "-d", "--name", "hang1", &img, "sleep", "60"],
        125,
        "CNI plugin \"tuning\" ADD for network bridge timed out after 2s",
    );
    n.assert_clean();
    n.ok(&["rm", "hang1"]);
    n.assert_clean();
}

#[test]
fn a_container_whose_interface_is_gone_leaves_no_masquerade_rule() {
    let n = NetEnv::start("vethgone");
    let img = n.busybox();
    n.ok(&["run", "-d", "--name", "gone1", &img, "sleep", "300"]);
    // The container's veth, deleted from the host side (its peer in the container goes with it).
    let veths = n.veths_left();
    assert_eq!(veths.len(), 1, "{veths:?}");
    let name = veths[0]
        .split(':')
        .nth(1)
        .and_then(|s| s.trim().split('@').next())
        .unwrap()
        .to_string();
    assert!(name.starts_with("veth"), "{veths:?}");
    run_ok(std::process::Command::new("ip").args(["link", "delete", &name]));
    let rules = n.rules_left();
    let chain = rules
        .iter()
        .find(|r| r.contains("POSTROUTING"))
        .and_then(|r| r.split(" -j ").nth(1))
        .map(|c| c.split_whitespace().next().unwrap_or_default().to_string())
        .unwrap_or_else(|| panic!("no masquerade rule while the container runs: {rules:?}"));
    assert!(chain.starts_with("CNI-"), "{rules:?}");
    // The bridge plugin's DEL finds no address on the missing interface and removes no rule;
    // berthd removes its rule and chain.
    n.ok(&["rm", "-f", "gone1"]);
    n.assert_clean();
    let listed = std::process::Command::new("iptables")
        .args(["-w", "-t", "nat", "-S", &chain])
        .output()
        .unwrap();
    assert!(!listed.status.success(), "chain {chain} left");
}

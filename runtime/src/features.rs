//! `berth-runc features`: what this runtime implements, in the runtime-spec features.md format.

use serde_json::{json, Value};

/// Mount options understood by the mount code (`rootfs::mounts`).
pub const MOUNT_OPTIONS: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "private",
    "rbind",
    "relatime",
    "remount",
    "ro",
    "rprivate",
    "rshared",
    "rslave",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "sync",
    "unbindable",
];

/// The features document.
pub fn features() -> Value {
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::OCI_VERSION,
        "potentiallyUnsafeConfigAnnotations": [],
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": MOUNT_OPTIONS,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps::all().iter().map(|c| c.to_string()).collect::<std::collections::BTreeSet<_>>(),
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": true},
            "seccomp": seccomp_features(),
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}}
        },
        "annotations": {
            "io.github.berth.runtime.version": env!("CARGO_PKG_VERSION"),
            "io.github.berth.runtime.name": "berth-runc"
        }
    })
}

/// `linux.seccomp` of the features document: what runtime-spec defines, filtered by what this
/// libseccomp and kernel support (`knownFlags` lists every flag, `supportedFlags` the usable ones).
fn seccomp_features() -> Value {
    use crate::seccomp::support;
    json!({
        "enabled": true,
        "actions": support::filter_supported(support::ACTIONS, support::action_supported),
        "operators": support::OPERATORS,
        "archs": support::filter_supported(support::ARCHS, support::arch_supported),
        "knownFlags": support::KNOWN_FLAGS,
        "supportedFlags": support::filter_supported(support::KNOWN_FLAGS, support::flag_supported)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn seccomp_section_is_filled() {
        let f = super::features();
        let s = &f["linux"]["seccomp"];
        assert_eq!(s["enabled"], true);
        assert!(s["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "SCMP_ACT_ERRNO"));
        assert_eq!(s["operators"].as_array().unwrap().len(), 7);
        assert!(!s["archs"].as_array().unwrap().is_empty());
        assert!(s["supportedFlags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "SECCOMP_FILTER_FLAG_TSYNC"));
    }
}

//! The default config.json written by `berth-runc spec`, the same bundle runc's `spec` produces.

use serde_json::{json, Value};

/// The default spec: a busybox-style `sh` with runc's mounts, masks and capabilities.
pub fn default_spec() -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": crate::OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// The rootless variant (`spec --rootless`): a user namespace mapping `uid`/`gid` to root, no network
/// namespace, `/sys` bind-mounted, no devpts `gid=5` and no device rules.
pub fn rootless_spec(uid: u32, gid: u32) -> Value {
    let mut spec = default_spec();
    let linux = &mut spec["linux"];
    linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
    linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    linux["namespaces"] = json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"}]);
    if let Some(obj) = linux.as_object_mut() {
        obj.remove("resources");
    }
    let mut mounts = Vec::new();
    if let Some(list) = spec["mounts"].as_array() {
        for m in list {
            match m["destination"].as_str() {
                Some("/sys") => mounts.push(json!({"destination": "/sys", "type": "none", "source": "/sys",
                    "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})),
                Some("/dev/pts") => mounts.push(json!({"destination": "/dev/pts", "type": "devpts",
                    "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]})),
                _ => mounts.push(m.clone()),
            }
        }
    }
    spec["mounts"] = Value::Array(mounts);
    spec
}

/// Serialises a spec the way runc writes config.json: tab-indented.
pub fn to_config_json(spec: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    // Serialising a Value into a Vec cannot fail.
    let _ = serde::Serialize::serialize(spec, &mut ser);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_parses_as_oci_spec() {
        let bytes = to_config_json(&default_spec());
        let spec: oci_spec::runtime::Spec = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            spec.process().as_ref().unwrap().args().as_ref().unwrap(),
            &vec!["sh".to_string()]
        );
        assert_eq!(spec.mounts().as_ref().unwrap().len(), 7);
        assert_eq!(
            spec.linux()
                .as_ref()
                .unwrap()
                .namespaces()
                .as_ref()
                .unwrap()
                .len(),
            5
        );
        assert!(String::from_utf8(bytes)
            .unwrap()
            .contains("\n\t\"process\""));
    }

    #[test]
    fn rootless_spec_maps_user_and_drops_resources() {
        let v = rootless_spec(1000, 1001);
        let spec: oci_spec::runtime::Spec = serde_json::from_value(v).unwrap();
        let linux = spec.linux().as_ref().unwrap();
        assert_eq!(linux.uid_mappings().as_ref().unwrap()[0].host_id(), 1000);
        assert_eq!(linux.gid_mappings().as_ref().unwrap()[0].host_id(), 1001);
        assert!(spec
            .mounts()
            .as_ref()
            .unwrap()
            .iter()
            .any(|m| m.destination().to_str() == Some("/sys/fs/cgroup")));
        assert!(linux.resources().is_none());
    }
}

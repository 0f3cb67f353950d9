//! OCI bundle fixtures: a busybox rootfs and a default `config.json` kept as `serde_json::Value`
//! so tests can tweak any field.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where Debian's busybox-static puts its binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// Every kind of OCI hook (`hooks.<kind>` in the spec), in the order the spec lists them.
pub const HOOK_KINDS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// Builds a busybox rootfs at `rootfs`: `/bin/busybox`, the applet symlinks
/// `busybox --install -s` would make (absolute links to `/bin/busybox`), and a minimal /etc.
pub fn make_busybox_rootfs(rootfs: &Path) {
    for d in [
        "bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "etc", "root", "run",
        "var", "mnt",
    ] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::copy(BUSYBOX, rootfs.join("bin/busybox"))
        .expect("copy /bin/busybox (install busybox-static)");
    // The links `busybox --install -s` makes, made from the host's busybox: exec'ing the fresh
    // copy could hit ETXTBSY while another test thread forks with the copy's fd still open.
    let list = Command::new(BUSYBOX)
        .arg("--list-full")
        .output()
        .expect("run busybox --list-full");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let link = rootfs.join(applet);
        if applet.is_empty() || applet == "bin/busybox" || link.exists() {
            continue;
        }
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::os::unix::fs::symlink("/bin/busybox", &link).unwrap();
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nuser:x:1000:1000:user:/tmp:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        rootfs.join("etc/group"),
        "root:x:0:\ntty:x:5:\nusers:x:100:\nnogroup:x:65534:\nuser:x:1000:\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(rootfs.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
}

/// The default spec: what `runc spec` writes, but without a terminal, with a writable root
/// (tests that need a read-only root set it), `sh` as the process and the given cgroups path.
pub fn default_spec(cgroups_path: &str) -> Value {
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "berth-test",
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
            "cgroupsPath": cgroups_path,
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// A bundle directory with a busybox rootfs and a spec that is written on [`Bundle::write`].
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The bundle directory (holds `config.json` and `rootfs/`).
    pub dir: PathBuf,
    /// The spec; edit freely, then it is written before each create/run.
    pub spec: Value,
}

impl Bundle {
    /// Creates `dir/rootfs` with busybox and a default spec using `cgroups_path`.
    pub fn new(dir: &Path, cgroups_path: &str) -> Self {
        make_busybox_rootfs(&dir.join("rootfs"));
        Bundle {
            dir: dir.to_path_buf(),
            spec: default_spec(cgroups_path),
        }
    }

    /// The rootfs directory.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// Writes `config.json`.
    pub fn write(&self) {
        std::fs::write(
            self.dir.join("config.json"),
            serde_json::to_vec_pretty(&self.spec).unwrap(),
        )
        .unwrap();
    }

    /// Sets the process args.
    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.spec["process"]["args"] = json!(args);
        self
    }

    /// Sets the process to `sh -c <script>`.
    pub fn sh(&mut self, script: &str) -> &mut Self {
        self.args(&["sh", "-c", script])
    }

    /// Sets the field at JSON pointer `ptr` (e.g. `/process/cwd`), creating objects on the way.
    pub fn set(&mut self, ptr: &str, value: Value) -> &mut Self {
        let mut cur = &mut self.spec;
        let parts: Vec<&str> = ptr.trim_start_matches('/').split('/').collect();
        for (i, p) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                match cur {
                    Value::Array(a) => {
                        let idx: usize = p.parse().expect("array index");
                        a[idx] = value;
                    }
                    _ => cur[*p] = value,
                }
                break;
            }
            cur = match cur {
                Value::Array(a) => &mut a[p.parse::<usize>().expect("array index")],
                _ => {
                    if cur.get(*p).is_none() {
                        cur[*p] = json!({});
                    }
                    &mut cur[*p]
                }
            };
        }
        self
    }

    /// Appends a mount to `mounts`.
    pub fn add_mount(&mut self, mount: Value) -> &mut Self {
        self.spec["mounts"].as_array_mut().unwrap().push(mount);
        self
    }

    /// Appends a namespace entry to `linux.namespaces`.
    pub fn add_namespace(&mut self, ns: Value) -> &mut Self {
        self.spec["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(ns);
        self
    }

    /// Maps container ids 0..65536 to host ids `host_id`.. (uid and gid) and chowns the rootfs to
    /// `host_id`: the mapped root must own the rootfs to use it. The caller adds the user
    /// namespace.
    pub fn map_root_to(&mut self, host_id: u32) -> &mut Self {
        let map = json!([{"containerID": 0, "hostID": host_id, "size": 65536}]);
        self.set("/linux/uidMappings", map.clone());
        self.set("/linux/gidMappings", map);
        crate::host::run_ok(
            Command::new("chown")
                .args(["-R", "-h", &format!("{host_id}:{host_id}")])
                .arg(self.rootfs()),
        );
        self
    }

    /// Removes the namespace of type `ty` from `linux.namespaces`.
    pub fn remove_namespace(&mut self, ty: &str) -> &mut Self {
        self.spec["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != ty);
        self
    }
}

//! CRI stats and resource updates, driven by crictl: `crictl stats` / `statsp` read a running
//! container's and its pod's cgroup counters and writable layer, and `crictl update` changes
//! the live cgroup (checked on the host) and what ContainerStatus reports; a negative OOM score
//! berthd may not set is raised instead of failing the start.

use berth_integration::berthd_env::BerthdEnv;
use berth_integration::crictl::{write_config, Crictl};
use serde_json::json;
use std::time::Duration;

/// The host directory of `pid`'s cgroup in the v1 `memory` hierarchy or the v2 tree.
fn memory_cgroup(pid: u64) -> std::path::PathBuf {
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for l in own.lines() {
        let mut f = l.splitn(3, ':');
        let (_, ctl, path) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        if ctl.split(',').any(|c| c == "memory") {
            return std::path::Path::new("/sys/fs/cgroup/memory")
                .join(path.trim_start_matches('/'));
        }
    }
    let path = own.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
    std::path::Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'))
}

fn u64_at(v: &serde_json::Value, path: &[&str]) -> u64 {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    // crictl prints uint64 wrappers as strings or numbers depending on the field.
    cur.as_u64()
        .or_else(|| cur.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("no number at {path:?} in {v}"))
}

#[test]
fn stats_of_container_and_pod_and_live_update() {
    let env = BerthdEnv::start();
    let cri = Crictl::for_env(&env);
    cri.ok(&["pull", "busybox"]);
    let dir = env.tmp().join("cri");
    std::fs::create_dir_all(&dir).unwrap();
    let pod_cfg = json!({
        "metadata": { "name": "stats", "namespace": "cri-stats", "uid": "uid-stats", "attempt": 0 },
        "log_directory": env.tmp().join("pods/stats").display().to_string(),
        "labels": { "app": "stats" },
        "linux": {}
    });
    let pod_json = write_config(&dir, "pod.json", &pod_cfg);
    let pod = cri.ok(&["runp", &pod_json]).trim().to_string();
    // 4 MiB written into the writable layer, some CPU spent, then idle.
    let ctr = json!({
        "metadata": { "name": "worker" },
        "image": { "image": "busybox" },
        "command": ["sh", "-c",
            "dd if=/dev/urandom of=/big bs=1M count=4 2>/dev/null; touch /ready; exec sleep 600"],
        "labels": { "role": "worker" },
        "log_path": "worker.log",
        "linux": { "resources": { "cpu_shares": 512, "memory_limit_in_bytes": 134217728, "oom_score_adj": -500 } }
    });
    let ctr_json = write_config(&dir, "ctr.json", &ctr);
    let c = cri
        .ok(&["create", &pod, &ctr_json, &pod_json])
        .trim()
        .to_string();
    cri.ok(&["start", &c]);
    berth_integration::wait::until("the worker wrote its file", Duration::from_secs(30), || {
        cri.run(&["exec", "-s", &c, "test", "-f", "/ready"])
            .status
            .success()
            .then_some(())
    });

    let st = cri.json(&["stats", "-o", "json", "--id", &c]);
    let s = &st["stats"][0];
    assert_eq!(s["attributes"]["id"], c.as_str(), "{st}");
    assert_eq!(s["attributes"]["metadata"]["name"], "worker", "{st}");
    assert_eq!(s["attributes"]["labels"]["role"], "worker", "{st}");
    assert!(u64_at(s, &["cpu", "timestamp"]) > 0, "{st}");
    assert!(
        u64_at(s, &["cpu", "usageCoreNanoSeconds", "value"]) > 0,
        "{st}"
    );
    assert!(
        u64_at(s, &["memory", "workingSetBytes", "value"]) > 0,
        "{st}"
    );
    assert!(
        u64_at(s, &["writableLayer", "usedBytes", "value"]) >= 4 << 20,
        "the 4 MiB file is in the writable layer: {st}"
    );
    assert!(
        u64_at(s, &["writableLayer", "inodesUsed", "value"]) >= 2,
        "{st}"
    );

    // The pod: its processes' counters and the container's stats inside.
    let sp = cri.json(&["statsp", "-o", "json", "--id", &pod]);
    let p = &sp["stats"][0];
    assert_eq!(p["attributes"]["id"], pod.as_str(), "{sp}");
    assert_eq!(p["attributes"]["metadata"]["name"], "stats", "{sp}");
    assert!(
        u64_at(p, &["linux", "cpu", "usageCoreNanoSeconds", "value"]) > 0,
        "{sp}"
    );
    assert!(
        u64_at(p, &["linux", "memory", "workingSetBytes", "value"]) > 0,
        "{sp}"
    );
    // pause, and the worker's shell exec'd into sleep.
    assert!(
        u64_at(p, &["linux", "process", "processCount", "value"]) >= 2,
        "{sp}"
    );
    assert_eq!(
        p["linux"]["network"]["defaultInterface"]["name"], "eth0",
        "{sp}"
    );
    assert_eq!(
        p["linux"]["containers"][0]["attributes"]["id"],
        c.as_str(),
        "{sp}"
    );
    // Filters: another pod id matches nothing.
    let none = cri.json(&["stats", "-o", "json", "--pod", "ffffffffffff"]);
    assert!(
        none["stats"].as_array().is_none_or(|a| a.is_empty()),
        "{none}"
    );

    // The limits of CreateContainer are on the cgroup; UpdateContainerResources changes them.
    let info = cri.json(&["inspect", &c]);
    let pid = info["info"]["pid"].as_u64().expect("pid in verbose info");
    // kubelet's negative OOM scores start even where berthd may not lower its children's
    // (no CAP_SYS_RESOURCE here): raised to berthd's own score, else as asked.
    let adj: i32 = std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let berthd_adj: i32 = std::fs::read_to_string(format!(
        "/proc/{}/oom_score_adj",
        env.daemon().pid().unwrap()
    ))
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    assert!(
        adj == -500 || adj == berthd_adj.max(-500),
        "oom_score_adj {adj}"
    );
    let cg = memory_cgroup(pid);
    let limit_file = if cg.join("memory.limit_in_bytes").exists() {
        cg.join("memory.limit_in_bytes")
    } else {
        cg.join("memory.max")
    };
    let read_limit = || {
        std::fs::read_to_string(&limit_file)
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(read_limit(), "134217728");
    assert_eq!(
        info["status"]["resources"]["linux"]["memoryLimitInBytes"], "134217728",
        "{info}"
    );
    cri.ok(&[
        "update",
        "--memory",
        "67108864",
        "--cpu-quota",
        "50000",
        "--cpu-period",
        "100000",
        &c,
    ]);
    assert_eq!(read_limit(), "67108864");
    let after = cri.json(&["inspect", &c]);
    let res = &after["status"]["resources"]["linux"];
    assert_eq!(res["memoryLimitInBytes"], "67108864", "{after}");
    assert_eq!(res["cpuQuota"], "50000", "{after}");
    // A limit berth refuses changes nothing.
    let err = cri.fails(&["update", "--memory", "1024", &c]);
    assert!(err.contains("Minimum memory limit"), "{err}");
    assert_eq!(read_limit(), "67108864");
    let unknown = cri.json(&["stats", "-o", "json", "0123456789abcdef"]);
    assert_eq!(unknown["stats"], json!([]), "{unknown}");

    cri.ok(&["stopp", &pod]);
    cri.ok(&["rmp", &pod]);
    assert!(env.all_ids().is_empty(), "left: {:?}", env.all_ids());
}

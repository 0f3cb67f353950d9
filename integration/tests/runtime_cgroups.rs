//! linux.cgroupsPath and linux.resources as seen from the host and from inside: the init joins
//! the cgroup, limits are written, and delete removes the cgroup. Works on cgroup v1/hybrid and
//! cgroup2-only hosts. Needs root and the runtime under test.

use berth_integration::host::{self, cgroup2_only, read_cgroup_file};
use berth_integration::TestEnv;
use serde_json::json;

#[test]
fn init_joins_cgroups_path_and_delete_removes_it() {
    let env = TestEnv::new("cgjoin");
    let mut b = env.bundle("b");
    b.args(&["sleep", "1000"]);
    let cg = TestEnv::cgroup_path(&b);
    let id = env.id("c");
    env.create(&b, &id).assert_success();
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in own.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap_or_default();
        // Named hierarchies (name=systemd) and an empty hybrid v2 line may be left alone by
        // runtimes; every controller hierarchy must hold the container.
        let ctrls = line.split(':').nth(1).unwrap_or_default();
        if ctrls.is_empty() && !cgroup2_only() || ctrls.starts_with("name=") {
            continue;
        }
        assert!(path.ends_with(&cg), "init not in {cg}: {line}\n{own}");
    }
    assert!(!host::cgroup_dirs(&cg).is_empty());
    env.rt(&["delete", "--force", &id]).assert_success();
    env.assert_nothing_left(&id, &cg);
}

#[test]
fn memory_and_pids_limits_applied() {
    let env = TestEnv::new("cglimits");
    let mut b = env.bundle("b");
    b.args(&["sleep", "1000"]);
    b.set(
        "/linux/resources/memory",
        json!({"limit": 64 * 1024 * 1024}),
    );
    b.set("/linux/resources/pids", json!({"limit": 42}));
    let cg = TestEnv::cgroup_path(&b);
    let id = env.id("c");
    env.create(&b, &id).assert_success();
    if cgroup2_only() {
        assert_eq!(
            read_cgroup_file("", &cg, "memory.max"),
            (64 * 1024 * 1024).to_string()
        );
        assert_eq!(read_cgroup_file("", &cg, "pids.max"), "42");
    } else {
        assert_eq!(
            read_cgroup_file("memory", &cg, "memory.limit_in_bytes"),
            (64 * 1024 * 1024).to_string()
        );
        assert_eq!(read_cgroup_file("pids", &cg, "pids.max"), "42");
    }
}

#[test]
fn container_sees_its_own_limit() {
    let env = TestEnv::new("cginside");
    let mut b = env.bundle("b");
    b.set("/linux/resources/pids", json!({"limit": 77}));
    // The cgroup mount inside shows the container's own cgroup as the hierarchy root. On v1
    // runtimes bind-mount the container's directory of each hierarchy; on cgroup2 runc mounts
    // cgroup2 afresh, which shows the root of the container's cgroup namespace (without one,
    // the host's root, which has no pids.max), so v2 needs the cgroup namespace runc's spec adds.
    let file = if cgroup2_only() {
        b.add_namespace(json!({"type": "cgroup"}));
        "/sys/fs/cgroup/pids.max"
    } else {
        "/sys/fs/cgroup/pids/pids.max"
    };
    assert_eq!(env.run_sh(&mut b, &format!("cat {file}")).trim(), "77");
}

#[test]
fn cpu_shares_or_weight_applied() {
    let env = TestEnv::new("cgcpu");
    let mut b = env.bundle("b");
    b.args(&["sleep", "1000"]);
    b.set("/linux/resources/cpu", json!({"shares": 512}));
    let cg = TestEnv::cgroup_path(&b);
    let id = env.id("c");
    env.create(&b, &id).assert_success();
    if cgroup2_only() {
        // runc's conversion: weight = 1 + ((shares - 2) * 9999) / 262142.
        assert_eq!(
            read_cgroup_file("", &cg, "cpu.weight"),
            (1 + ((512 - 2) * 9999) / 262142).to_string()
        );
    } else {
        assert_eq!(read_cgroup_file("cpu", &cg, "cpu.shares"), "512");
    }
}

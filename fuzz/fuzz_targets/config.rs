//! berth-runc's config.json path: `config::parse` (with the raw seccomp check), `config::check`
//! and `version_warning`, then what `create` derives from an accepted config without touching
//! the system: mount options, device nodes and device cgroup rules, the owner of exec.fifo,
//! sysctl paths, rlimit resources and the seccomp filter (built, never loaded).
//!
//! Input: the bytes of config.json.

#![no_main]

use std::path::Path;

use berth_runtime::config;
use berth_runtime::namespaces::host_id;
use berth_runtime::rootfs::{dev_nodes, options, paths};
use berth_runtime::{rlimits, seccomp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("/fuzz/bundle/config.json");
    let Ok(spec) = config::parse(path, data) else {
        return;
    };
    let _ = config::version_warning(&spec);
    if config::check(path, &spec).is_err() {
        return;
    }
    let linux = spec
        .linux()
        .as_ref()
        .expect("check accepts only configs with a linux section");
    let process = spec
        .process()
        .as_ref()
        .expect("check accepts only configs with a process");
    assert!(process.args().as_ref().is_some_and(|a| !a.is_empty()));
    assert!(process.cwd().is_absolute());

    let mounts = spec.mounts().as_deref().unwrap_or_default();
    for m in mounts {
        assert!(m.destination().is_absolute(), "{:?}", m.destination());
        let _ = options::parse(m.options().as_deref().unwrap_or_default());
    }
    let _ = dev_nodes::needs_dev_setup(mounts);
    for d in linux.devices().as_deref().unwrap_or_default() {
        let _ = dev_nodes::from_spec(d);
    }
    let _ = dev_nodes::cgroup_rules(linux);
    // create gives exec.fifo to the container's root, and the init runs as the process user.
    let uid = process.user().uid();
    let gid = process.user().gid();
    for id in [0, uid] {
        let _ = host_id("uid", linux.uid_mappings().as_deref(), id);
    }
    for id in [0, gid] {
        let _ = host_id("gid", linux.gid_mappings().as_deref(), id);
    }
    for key in linux.sysctl().iter().flat_map(|s| s.keys()) {
        let p = paths::sysctl_path(key);
        assert!(!p.contains("/../"), "sysctl {key:?} escapes /proc/sys: {p}");
    }
    for r in process.rlimits().as_deref().unwrap_or_default() {
        let _ = rlimits::resource(r.typ());
    }
    let _ = seccomp::load_point(process);
    if let Some(sc) = linux.seccomp() {
        let _ = seccomp::filter::uses_notify(sc);
        let _ = seccomp::filter::build(sc);
    }
});

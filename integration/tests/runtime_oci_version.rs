//! `ociVersion`: every 1.0.x to 1.2.x config runs silently, a later 1.x runs with a warning,
//! another major version is refused (berth-runc; runc 1.1.5 does not look at the field).

use berth_integration::runtime::testing_runc;
use berth_integration::TestEnv;
use serde_json::json;

#[test]
fn versions_one_zero_to_one_two_run_silently() {
    let env = TestEnv::new("ociver");
    let mut b = env.bundle("b");
    b.args(&["true"]);
    for v in [
        "1.0.0",
        "1.0.1",
        "1.0.2",
        "1.0.2-dev",
        "1.1.0",
        "1.1.0-rc.1",
        "1.2.0",
        "1.2.1",
    ] {
        b.set("/ociVersion", json!(v));
        let id = env.id("v");
        let o = env.run(&b, &id);
        assert_eq!(o.code, Some(0), "{v}: {o}");
        assert!(!o.stderr.contains("ociVersion"), "{v}: no warning: {o}");
    }
}

#[test]
fn later_minor_version_runs_with_a_warning() {
    let env = TestEnv::new("ocivernew");
    let mut b = env.bundle("b");
    b.args(&["true"]);
    b.set("/ociVersion", json!("1.3.0"));
    let id = env.id("v");
    let o = env.run(&b, &id);
    assert_eq!(o.code, Some(0), "{o}");
    if !testing_runc() {
        assert!(
            o.stderr.contains("warning") && o.stderr.contains("ociVersion 1.3.0"),
            "{o}"
        );
    }
}

#[test]
fn other_major_versions_are_refused_cleanly() {
    if testing_runc() {
        eprintln!("skipped under runc: runc 1.1.5 does not check ociVersion");
        return;
    }
    let env = TestEnv::new("ociverbad");
    let mut b = env.bundle("b");
    b.args(&["true"]);
    for v in ["2.0.0", "0.9.0", "latest"] {
        b.set("/ociVersion", json!(v));
        let id = env.id("v");
        let o = env.create(&b, &id);
        assert_eq!(o.code, Some(1), "{v}: {o}");
        assert!(o.stderr.contains("ociVersion"), "{v}: {o}");
        env.assert_nothing_left(&id, &TestEnv::cgroup_path(&b));
    }
}

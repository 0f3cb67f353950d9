//! berthd restarts and teardown paths: a SIGKILLed berthd leaves published containers serving and
//! cleans up after them later; a container that ended while berthd was down has its network
//! released at start-up; `container prune` and `system prune` leave nothing of the network.

mod net_common;

use berth_integration::host::run_ok;
use net_common::{free_port, NetEnv};

#[test]
fn sigkill_of_berthd_keeps_serving_and_rm_cleans_up_after_restart() {
    let mut n = NetEnv::start("sigkill");
    let img = n.nginx();
    let port = free_port();
    n.run_published(&img, "kill1", port);
    assert!(n.http_get(port).contains("Welcome to nginx!"));
    n.env.as_mut().unwrap().kill_daemon();
    assert!(
        n.http_get(port).contains("Welcome to nginx!"),
        "stopped serving without berthd"
    );
    n.env.as_mut().unwrap().restart_daemon();
    assert!(n.http_get(port).contains("Welcome to nginx!"));
    assert!(n.ok(&["ps"]).contains(&format!("0.0.0.0:{port}->80/tcp")));
    n.ok(&["rm", "-f", "kill1"]);
    n.assert_clean();
}

#[test]
fn a_container_that_ended_while_berthd_was_down_has_its_network_released_at_start() {
    let mut n = NetEnv::start("downexit");
    let img = n.nginx();
    let port = free_port();
    n.run_published(&img, "down1", port);
    assert!(n.http_get(port).contains("Welcome to nginx!"));
    let v: serde_json::Value = serde_json::from_str(&n.ok(&["inspect", "down1"])).unwrap();
    let pid = v[0]["State"]["Pid"].as_i64().unwrap() as i32;
    n.env.as_mut().unwrap().kill_daemon();
    // Only the container this test started: its init pid, from inspect.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    n.env
        .as_ref()
        .unwrap()
        .eventually("container init gone", || {
            !berth_integration::host::pid_alive(pid)
        });
    n.env.as_mut().unwrap().restart_daemon();
    n.env.as_ref().unwrap().eventually("network released", || {
        n.veths_left().is_empty() && n.netns_left().is_empty()
    });
    n.assert_clean();
    assert!(n.ok(&["ps", "-a"]).contains("Exited (137)"));
}

#[test]
fn container_and_system_prune_leave_no_network_behind() {
    let n = NetEnv::start("prune");
    let img = n.nginx();
    let net = format!("pn{}", std::process::id());
    n.ok(&["network", "create", "--subnet", &n.user_subnet, &net]);
    let v: serde_json::Value = serde_json::from_str(&n.ok(&["network", "inspect", &net])).unwrap();
    let user_bridge = v[0]["Bridge"].as_str().unwrap().to_string();
    let p = free_port();
    n.run_published(&img, "pa1", p);
    n.ok(&["run", "-d", "--name", "pb1", "--network", &net, &img]);
    assert!(n.http_get(p).contains("Welcome to nginx!"));
    let links = std::process::Command::new("ip")
        .args(["-o", "link"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&links.stdout).contains(&format!(": {user_bridge}:")));
    n.ok(&["stop", "pa1", "pb1"]);
    n.assert_clean();
    n.ok(&["container", "prune", "-f"]);
    let out = n.ok(&["system", "prune", "-f"]);
    assert!(
        out.contains("Deleted Networks:") && out.contains(&net),
        "{out}"
    );
    assert!(n.all_ids().is_empty());
    let links = std::process::Command::new("ip")
        .args(["-o", "link"])
        .output()
        .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&n.ok(&["network", "inspect", "bridge"])).unwrap();
    assert!(v[0]["Containers"].as_object().unwrap().is_empty());
    assert!(!String::from_utf8_lossy(&links.stdout).contains(&format!(": {user_bridge}:")));
    n.assert_clean();
}

/// The CNI CHECK that berthd runs at start for running containers: a network that is no longer
/// as its ADD left it (here the container's default route was deleted while berthd was down) is
/// said in `inspect`'s `State.Error`, not only in berthd's log; `restart` sets it up again and
/// clears it.
#[test]
fn a_failed_check_at_start_is_shown_and_restart_repairs_it() {
    let mut n = NetEnv::start("chkfail");
    let img = n.busybox();
    n.ok(&["run", "-d", "--name", "chk1", &img, "sleep", "300"]);
    let v = n.env().inspect("chk1");
    assert_eq!(v["State"]["Error"], "");
    let netns = v["NetworkSettings"]["SandboxKey"]
        .as_str()
        .unwrap()
        .to_string();
    n.env.as_mut().unwrap().kill_daemon();
    // In the test's own container: its default route goes (CHECK compares the routes with
    // ADD's result).
    run_ok(
        std::process::Command::new("nsenter")
            .arg(format!("--net={netns}"))
            .args(["ip", "route", "del", "default"]),
    );
    n.env.as_mut().unwrap().restart_daemon();
    let v = n.env().inspect("chk1");
    let error = v["State"]["Error"].as_str().unwrap();
    assert!(
        error.starts_with("network check failed: ") && error.contains("berth restart"),
        "{v}"
    );
    assert_eq!(
        v["State"]["Status"], "running",
        "a failed CHECK stopped the container"
    );

    n.ok(&["restart", "-t", "1", "chk1"]);
    let v = n.env().inspect("chk1");
    assert_eq!(v["State"]["Error"], "", "{v}");
    assert!(!v["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .is_empty());
    n.ok(&["rm", "-f", "chk1"]);
    n.assert_clean();
}

//! berthd as a CRI runtime, driven by crictl: a pod of two containers sharing localhost and the
//! hostname, logs in kubelet's format at the requested path, `exec -s` (with a timeout),
//! requests kubelet can get wrong answered with the right gRPC code and no state left behind,
//! and a SIGKILL of berthd in the middle: the pod, its containers and their logs survive.

use berth_integration::berthd_env::BerthdEnv;
use berth_integration::crictl::{write_config, Crictl};
use serde_json::json;

fn pod_config(env: &BerthdEnv, name: &str) -> serde_json::Value {
    json!({
        "metadata": { "name": name, "namespace": "cri-test", "uid": format!("uid-{name}"), "attempt": 0 },
        "hostname": format!("{name}-host"),
        "log_directory": env.tmp().join("pods").join(name).display().to_string(),
        "labels": { "app": name },
        "linux": {}
    })
}

fn container_config(name: &str, image: &str, script: &str) -> serde_json::Value {
    json!({
        "metadata": { "name": name },
        "image": { "image": image },
        "command": ["sh", "-c", script],
        "log_path": format!("{name}.log"),
        "labels": { "ctr": name },
        "linux": {}
    })
}

/// crictl arguments for the client container `c` fetching the server's page on the pod's
/// loopback.
fn fetch_from_server(c: &str) -> [&str; 8] {
    [
        "exec",
        "-s",
        c,
        "wget",
        "-q",
        "-O",
        "-",
        "http://127.0.0.1:8080/",
    ]
}

/// Number of berth containers (sandboxes and CRI containers are berth containers).
fn berth_count(env: &BerthdEnv) -> usize {
    env.all_ids().len()
}

#[test]
fn pod_lifecycle_shared_localhost_logs_exec_restart() {
    let mut env = BerthdEnv::start();
    let cri = Crictl::for_env(&env);
    let version = cri.ok(&["version"]);
    assert!(version.contains("RuntimeApiVersion:  v1"), "{version}");
    let info = cri.json(&["info"]);
    let conds = info["status"]["conditions"].as_array().unwrap().clone();
    assert!(
        conds.iter().all(|c| c["status"] == json!(true)),
        "runtime and network ready: {conds:?}"
    );

    // Through the docker.io mirror of the test registry, as `berth pull busybox` would.
    cri.ok(&["pull", "busybox"]);
    let images = cri.ok(&["images"]);
    assert!(images.contains("docker.io/library/busybox"), "{images}");

    let dir = env.tmp().join("cri");
    std::fs::create_dir_all(&dir).unwrap();
    let pod_cfg = pod_config(&env, "web");
    let pod_json = write_config(&dir, "pod.json", &pod_cfg);
    let pod = cri.ok(&["runp", &pod_json]).trim().to_string();
    let status = cri.json(&["inspectp", &pod]);
    assert_eq!(status["status"]["state"], "SANDBOX_READY", "{status}");
    let ip = status["status"]["network"]["ip"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        ip.starts_with(&env.net.prefix),
        "pod ip {ip} in {}",
        env.net.prefix
    );

    let server = container_config(
        "server",
        "busybox",
        "mkdir -p /tmp/w && echo shared-lo > /tmp/w/index.html && echo hello && echo oops >&2 && exec httpd -f -p 127.0.0.1:8080 -h /tmp/w",
    );
    let client = container_config("client", "busybox", "exec sleep 600");
    let server_json = write_config(&dir, "server.json", &server);
    let client_json = write_config(&dir, "client.json", &client);
    let s = cri
        .ok(&["create", &pod, &server_json, &pod_json])
        .trim()
        .to_string();
    let c = cri
        .ok(&["create", &pod, &client_json, &pod_json])
        .trim()
        .to_string();
    cri.ok(&["start", &s]);
    cri.ok(&["start", &c]);

    // The client reaches the server on the pod's loopback and sees the pod's hostname.
    let page = berth_integration::wait::until(
        "the server answers on the pod's localhost",
        std::time::Duration::from_secs(30),
        || {
            let out = cri.run(&fetch_from_server(&c));
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        },
    );
    assert_eq!(page.trim(), "shared-lo");
    assert_eq!(cri.ok(&["exec", "-s", &c, "hostname"]).trim(), "web-host");

    // Logs: crictl reads the file at the path kubelet asked for, in CRI format.
    let logs = cri.run(&["logs", &s]);
    let (out, err) = (
        String::from_utf8_lossy(&logs.stdout).into_owned(),
        String::from_utf8_lossy(&logs.stderr).into_owned(),
    );
    assert!(
        out.contains("hello") && err.contains("oops"),
        "stdout {out:?} stderr {err:?}"
    );
    let file = env.tmp().join("pods/web/server.log");
    let text = std::fs::read_to_string(&file).unwrap();
    for line in text.lines() {
        let f: Vec<&str> = line.splitn(4, ' ').collect();
        assert!(
            f.len() == 4
                && f[0].ends_with('Z')
                && matches!(f[1], "stdout" | "stderr")
                && matches!(f[2], "F" | "P"),
            "not a CRI log line: {line:?}"
        );
    }

    // ExecSync past its timeout: DeadlineExceeded.
    let err = cri.fails(&["exec", "-s", "--timeout", "1", &c, "sleep", "30"]);
    assert!(err.contains("DeadlineExceeded"), "{err}");

    // Bad requests: the right code, nothing created.
    let before = berth_count(&env);
    let err = cri.fails(&["create", "0123456789ab", &client_json, &pod_json]);
    assert!(err.contains("NotFound"), "{err}");
    let unpulled = write_config(
        &dir,
        "unpulled.json",
        &container_config("unpulled", "hello-world", "true"),
    );
    let err = cri.fails(&["create", &pod, &unpulled, &pod_json]);
    assert!(err.contains("NotFound"), "{err}");
    let err = cri.fails(&["create", &pod, &client_json, &pod_json]);
    assert!(
        err.contains("AlreadyExists") && err.contains("name is reserved"),
        "{err}"
    );
    let err = cri.fails(&["runp", &pod_json]);
    assert!(
        err.contains("AlreadyExists") && err.contains("name is reserved"),
        "{err}"
    );
    let mut escaping = client.clone();
    escaping["metadata"]["name"] = json!("escaping");
    escaping["log_path"] = json!("../../escape.log");
    let err = cri.fails(&[
        "create",
        &pod,
        &write_config(&dir, "escaping.json", &escaping),
        &pod_json,
    ]);
    assert!(err.contains("InvalidArgument"), "{err}");
    assert_eq!(
        berth_count(&env),
        before,
        "a refused request left a container"
    );
    assert_eq!(cri.ok(&["ps", "-aq"]).lines().count(), 2);

    // berthd is SIGKILLed and started again: the pod and its containers are still there.
    env.kill_daemon();
    env.restart_daemon();
    let pods = cri.ok(&["pods", "-q"]);
    assert_eq!(pods.trim(), pod);
    assert_eq!(
        cri.json(&["inspectp", &pod])["status"]["state"],
        "SANDBOX_READY"
    );
    let running = cri.ok(&["ps", "-q", "--state", "running"]);
    assert_eq!(running.lines().count(), 2, "{running}");
    assert_eq!(cri.ok(&fetch_from_server(&c)).trim(), "shared-lo");
    let logs = cri.run(&["logs", &s]);
    assert!(String::from_utf8_lossy(&logs.stdout).contains("hello"));

    // Stop: SIGTERM, then SIGKILL after the timeout; the exit is reported with a reason.
    cri.ok(&["stop", "--timeout", "1", &c]);
    let st = cri.json(&["inspect", &c]);
    assert_eq!(st["status"]["state"], "CONTAINER_EXITED", "{st}");
    assert_eq!(st["status"]["reason"], "Error", "{st}");
    assert_eq!(st["status"]["exitCode"], 143, "{st}");
    cri.ok(&["stopp", &pod]);
    assert_eq!(
        cri.json(&["inspectp", &pod])["status"]["state"],
        "SANDBOX_NOTREADY"
    );
    cri.ok(&["rmp", &pod]);
    assert_eq!(cri.ok(&["pods", "-q"]).trim(), "");
    assert_eq!(cri.ok(&["ps", "-aq"]).trim(), "");
    // The images stay; only the pause image was added beside busybox.
    assert_eq!(
        berth_count(&env),
        0,
        "pod containers left: {:?}",
        env.all_ids()
    );
    // The log file outlives the container (kubelet removes it).
    assert!(file.exists());
}

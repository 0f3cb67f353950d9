//! `berth run --explain`: every step of a pull-and-run and of a cached run, timed, after the
//! container's own output, on stderr; `--explain=json` for tools.

use berth_integration::berthd_env::{code, stderr, stdout, BerthdEnv};

/// The client steps of a JSON explanation, by name.
fn step_names(v: &serde_json::Value) -> Vec<String> {
    v["steps"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| s["step"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// berthd's steps inside the client step `name`.
fn daemon_steps(v: &serde_json::Value, name: &str) -> Vec<String> {
    v["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["step"] == name)
        .flat_map(|s| s["daemon"].as_array().cloned().unwrap_or_default())
        .map(|d| d["step"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn explain_lists_every_step_of_a_pull_and_of_a_cached_run() {
    let env = BerthdEnv::start();
    // Pull and run: the JSON has the pull with its layers and bytes.
    let out = env.berth(&["run", "--explain=json", "hello-world"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("Hello from Berth!"));
    let err = stderr(&out);
    let json_line = err.lines().last().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(json_line).unwrap_or_else(|e| {
        panic!("last stderr line is not JSON ({e}): {err}");
    });
    let names = step_names(&v);
    for want in [
        "client -> daemon",
        "image not found locally",
        "image pulled",
        "container created",
        "task created",
        "attached",
        "task started",
        "output streamed",
        "exit code recorded",
        "container kept until rm",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    let pulled = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "image pulled")
        .unwrap();
    let detail = pulled["detail"].as_str().unwrap();
    assert!(detail.contains("1 layer(s) downloaded"), "{detail}");
    assert!(pulled["ms"].as_f64().is_some_and(|ms| ms > 0.0), "{pulled}");
    for want in [
        "image found locally",
        "snapshot prepared",
        "rootfs mounted",
        "bundle written",
        "container recorded",
    ] {
        assert!(
            daemon_steps(&v, "container created")
                .iter()
                .any(|n| n == want),
            "{want} missing in {v}"
        );
    }
    let created = daemon_steps(&v, "task created");
    assert!(created.iter().any(|n| n == "runtime create"), "{v}");
    assert!(
        daemon_steps(&v, "task started")
            .iter()
            .any(|n| n == "runtime start"),
        "{v}"
    );
    assert!(v["total_ms"].as_f64().is_some(), "{v}");
    let rt_create = v.to_string();
    assert!(rt_create.contains("namespaces"), "{rt_create}");
    assert!(rt_create.contains("Exited (0)"), "{rt_create}");

    // Cached run, text: after the container's output (stdout is separate; the container's
    // stderr comes before the table on stderr).
    let img = env.busybox();
    let out = env.berth(&[
        "run",
        "--rm",
        "--explain",
        &img,
        "sh",
        "-c",
        "echo out; echo err-line >&2; exit 3",
    ]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(stdout(&out), "out\n");
    let err = stderr(&out);
    eprintln!("{err}");
    let table = err
        .find("berth run --explain")
        .expect("explanation printed");
    assert!(err.find("err-line").is_some_and(|i| i < table), "{err}");
    assert!(!err.contains("image pulled"), "{err}");
    assert!(!err.contains("Unable to find image"), "{err}");
    for want in [
        "client -> daemon",
        "container created",
        "image found locally",
        "snapshot prepared",
        "bundle written",
        "runtime create",
        "runtime start",
        "output streamed",
        "exit code 3",
        "container removed (--rm)",
        "total",
    ] {
        assert!(err.contains(want), "{want} missing: {err}");
    }
    // Each step line starts with its milliseconds (or "-" for states).
    for line in err[table..].lines().skip(2) {
        let first = line.split_whitespace().next().unwrap_or_default();
        assert!(
            first == "-" || first.parse::<f64>().is_ok(),
            "no milliseconds: {line}"
        );
    }
    // A run without --explain prints none of it.
    let out = env.berth(&["run", "--rm", &img, "true"]);
    assert_eq!(code(&out), 0);
    assert!(!stderr(&out).contains("--explain"), "{}", stderr(&out));
}

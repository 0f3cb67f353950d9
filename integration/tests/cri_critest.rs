//! The CRI validation suite (critest, cri-tools v1.31.1, in shared/tools/) against a test
//! berthd: every conformance spec must pass but those this machine cannot run, each skipped by
//! name below with the reason (docs/cri.md has the counts and containerd's figure beside them).
//!
//! critest's specs pull `registry.k8s.io/e2e-test-images/*`, which is not reachable here:
//! `scripts/critest-images` pushes look-alikes of them into the test's registry, and berthd
//! mirrors registry.k8s.io there.

use berth_integration::berthd_env::BerthdEnv;
use berth_integration::crictl::cri_tool;
use berth_integration::registry::repo_root;
use std::process::Command;

/// Specs skipped, with why: they cannot pass on this machine with any runtime.
const SKIPPED: &[(&str, &str)] = &[
    (
        "Image Manager",
        "pulls fixed registry.k8s.io and gcr.io images by digest, unreachable offline",
    ),
    (
        "should support MaskedPaths",
        "Debian's busybox-static runs `ls` inside `sh`, so masking /bin/ls is never seen \
         (containerd with runc fails it the same way here)",
    ),
    (
        "portforward in host net",
        "pulls a gcr.io image (containerd fails it the same way here)",
    ),
];

#[test]
fn critest_conformance() {
    let mut env = BerthdEnv::start_under("critest");
    let host = env.registry.host.clone();
    let out = Command::new(repo_root().join("scripts/critest-images"))
        .args(["--registry", &host])
        .output()
        .expect("run scripts/critest-images");
    assert!(
        out.status.success(),
        "critest-images failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // berthd reads its config at start: add the mirror, then start it again (nothing runs yet).
    let mut config = std::fs::read_to_string(&env.dirs.config).unwrap();
    config.push_str(&format!(
        "\n[registries.\"registry.k8s.io\"]\nmirrors = [\"http://{host}\"]\n"
    ));
    std::fs::write(&env.dirs.config, config).unwrap();
    env.kill_daemon();
    env.restart_daemon();

    let images = env.tmp().join("critest-images.yaml");
    std::fs::write(
        &images,
        format!(
            "defaultTestContainerImage: {host}/e2e-test-images/busybox:1.29-2\n\
             webServerTestImage: {host}/library/nginx:latest\n"
        ),
    )
    .unwrap();
    let sock = format!("unix://{}", env.dirs.state.join("cri.sock").display());
    let skip = SKIPPED
        .iter()
        .map(|(name, _)| regex_escape(name))
        .collect::<Vec<_>>()
        .join("|");
    let report = env.tmp().join("critest-report");
    std::fs::create_dir_all(&report).unwrap();
    let out = Command::new(cri_tool("critest"))
        .arg("--runtime-endpoint")
        .arg(&sock)
        .arg("--image-endpoint")
        .arg(&sock)
        .arg("--test-images-file")
        .arg(&images)
        .arg("--report-dir")
        .arg(&report)
        .arg(format!("--ginkgo.skip={skip}"))
        .arg("--ginkgo.no-color")
        .arg("--ginkgo.timeout=20m")
        .current_dir(env.tmp())
        .output()
        .expect("run critest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The summary and the failures, not the whole log of every spec.
    let summary: Vec<&str> = stdout
        .lines()
        .filter(|l| {
            l.contains("[FAIL]")
                || l.starts_with("Ran ")
                || l.contains("Passed")
                || l.contains("FAIL!")
                || l.starts_with("SUCCESS!")
        })
        .collect();
    eprintln!("critest: {}", summary.join("\n"));
    assert!(
        out.status.success(),
        "critest failed:\n{}\n--- stderr tail:\n{}",
        summary.join("\n"),
        tail(&String::from_utf8_lossy(&out.stderr), 40)
    );
    assert!(
        summary.iter().any(|l| l.starts_with("Ran ")),
        "no spec ran:\n{}",
        tail(&stdout, 40)
    );
}

/// `s` with the characters regexp treats specially escaped (ginkgo's skip is a regexp).
fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The last `n` lines of `s`.
fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

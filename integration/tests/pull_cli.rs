//! The real `berth` CLI against a real berthd (its socket) and a real docker-registry: pull via a
//! docker.io mirror, re-pull, images, tag, push, rmi, load, concurrent pulls, login with a token
//! registry, and failing registries (non-zero exit, one clear line, nothing partial stored).

use std::process::Output;

use berth_integration::daemon::Daemon;
use berth_integration::fake_registry::{BlobFault, FakeConfig, FakeRegistry};
use berth_integration::host;
use berth_integration::registry::TestRegistry;
use berth_integration::token_server::TokenServer;

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ok(o: Output) -> String {
    let (out, err) = text(&o);
    assert!(o.status.success(), "failed: {err}\n{out}");
    out
}

fn daemon_for(registry: &str, mirror: bool) -> Daemon {
    let mirror = if mirror {
        format!("[registries.\"docker.io\"]\nmirrors = [\"http://{registry}\"]\n")
    } else {
        String::new()
    };
    Daemon::start_with_config(&format!(
        "{mirror}[registries.\"{registry}\"]\nplain_http = true\n"
    ))
    .unwrap()
}

#[test]
fn pull_through_mirror_images_tag_push_rmi() {
    let reg = TestRegistry::seeded();
    let d = daemon_for(&reg.host, true);

    let out = ok(d.berth(&["pull", "hello-world"]));
    assert!(
        out.contains("latest: Pulling from library/hello-world"),
        "{out}"
    );
    assert_eq!(out.matches("Pulling from").count(), 1, "{out}");
    assert!(out.contains(": Pull complete"), "{out}");
    assert!(
        out.contains("Status: Downloaded newer image for hello-world:latest"),
        "{out}"
    );
    let again = ok(d.berth(&["pull", "hello-world"]));
    assert!(again.contains(": Already exists"), "{again}");
    assert!(
        again.contains("Status: Image is up to date for hello-world:latest"),
        "{again}"
    );

    let images = ok(d.berth(&["images"]));
    assert!(
        images
            .lines()
            .any(|l| l.starts_with("hello-world ") && l.contains("latest")),
        "{images}"
    );

    let dest = format!("{}/mine/hello:v1", reg.host);
    ok(d.berth(&["tag", "hello-world", &dest]));
    let pushed = ok(d.berth(&["push", &dest]));
    assert!(
        pushed.contains("Pushed") || pushed.contains("Layer already exists"),
        "{pushed}"
    );
    let again = ok(d.berth(&["push", &dest]));
    assert!(
        again.contains("Layer already exists") && !again.contains("Pushed"),
        "{again}"
    );

    ok(d.berth(&["rmi", &dest]));
    let images = ok(d.berth(&["images"]));
    assert!(!images.contains("mine/hello"), "{images}");
    let back = ok(d.berth(&["pull", &dest]));
    assert!(back.contains("Already exists"), "{back}");
}

#[test]
fn multi_layer_zstd_platforms_and_concurrent_pulls() {
    let reg = TestRegistry::seeded();
    let d = daemon_for(&reg.host, false);
    let name = format!("{}/library/busybox:latest", reg.host);
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| d.berth(&["pull", &name]));
        let b = s.spawn(|| d.berth(&["pull", &name]));
        (a.join().unwrap(), b.join().unwrap())
    });
    let (a, b) = (ok(a), ok(b));
    let completes = a.matches("Pull complete").count() + b.matches("Pull complete").count();
    assert_eq!(
        completes, 2,
        "each of the two layers downloaded once:\n{a}\n{b}"
    );

    let zstd = ok(d.berth(&["pull", &format!("{}/library/busybox:zstd", reg.host)]));
    assert_eq!(zstd.matches("Pull complete").count(), 2, "{zstd}");

    let multi = format!("{}/library/hello-world:multiarch", reg.host);
    ok(d.berth(&["pull", "--platform", "linux/arm64", &multi]));
    let o = d.berth(&["pull", "--platform", "linux/s390x", &multi]);
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(
        err.contains("linux/s390x") && err.contains("linux/amd64, linux/arm64/v8"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn load_layout_dir_and_tar() {
    let reg = TestRegistry::seeded();
    let d = daemon_for(&reg.host, false);
    let out = ok(d.berth(&[
        "load",
        "-i",
        TestRegistry::layout("busybox").to_str().unwrap(),
    ]));
    assert!(out.contains("busybox:latest"), "{out}");
    let tmp = tempfile::tempdir().unwrap();
    let tar = tmp.path().join("hello.tar");
    assert!(std::process::Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(TestRegistry::layout("hello-world"))
        .arg(".")
        .status()
        .unwrap()
        .success());
    let out = ok(d.berth(&["load", "-i", tar.to_str().unwrap()]));
    assert!(out.contains("hello-world:latest"), "{out}");
    let images = ok(d.berth(&["images"]));
    assert!(
        images.contains("busybox") && images.contains("hello-world"),
        "{images}"
    );
}

#[test]
fn login_and_pull_from_token_registry() {
    let tokens = TokenServer::start("alice", "s3cret");
    let secured = TestRegistry::start(Some(&tokens.registry_auth_yaml()));
    let plain = TestRegistry::seeded();
    let d = Daemon::start_with_config(&format!(
        "[registries.\"{}\"]\nplain_http = true\n[registries.\"{}\"]\nplain_http = true\n",
        secured.host, plain.host
    ))
    .unwrap();
    ok(d.berth(&[
        "pull",
        &format!("{}/library/hello-world:latest", plain.host),
    ]));
    let dest = format!("{}/team/hello:1", secured.host);
    ok(d.berth(&[
        "tag",
        &format!("{}/library/hello-world:latest", plain.host),
        &dest,
    ]));

    let o = d.berth(&["push", &dest]);
    assert!(!o.status.success(), "anonymous push must fail");
    let o = d.berth(&["login", "-u", "alice", "-p", "wrong", &secured.host]);
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(err.contains("refused the credentials"), "{err}");
    let out = ok(d.berth(&["login", "-u", "alice", "-p", "s3cret", &secured.host]));
    assert!(out.contains("Login Succeeded"), "{out}");
    ok(d.berth(&["push", &dest]));
    ok(d.berth(&["rmi", &dest]));
    let out = ok(d.berth(&["pull", &dest]));
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {dest}")),
        "{out}"
    );
}

fn failing_pull(fault: BlobFault) -> String {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fake = rt.block_on(FakeRegistry::start(FakeConfig {
        fault,
        credentials: None,
    }));
    let d = daemon_for(&fake.host, false);
    let o = d.berth(&["pull", &format!("{}/test/app:latest", fake.host)]);
    let (_, err) = text(&o);
    assert!(!o.status.success(), "{fault:?} pull succeeded");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    let root = &d.dirs.root;
    assert!(
        host::file_names(&root.join("ingest")).is_empty(),
        "ingest/ not empty after {fault:?}"
    );
    let blobs = host::file_names(&root.join("blobs/sha256"));
    let layer_hex = &fake.image.layer_digest["sha256:".len()..];
    assert!(
        !blobs.iter().any(|b| b == layer_hex),
        "layer stored after {fault:?}"
    );
    let images = ok(d.berth(&["images", "-q"]));
    assert!(images.trim().is_empty(), "{images}");
    err
}

#[test]
fn corrupted_truncated_missing_blobs_fail_cleanly() {
    let err = failing_pull(BlobFault::Corrupt);
    assert!(err.contains("does not match its digest"), "{err}");
    let err = failing_pull(BlobFault::Truncate);
    assert!(err.contains("sha256:"), "{err}");
    let err = failing_pull(BlobFault::Missing);
    assert!(err.contains("blob unknown"), "{err}");
}

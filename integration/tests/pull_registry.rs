//! Pulls, pushes and loads against a real docker-registry seeded with the project's own images,
//! through the registry library and a directory content store.

use std::time::Duration;

use berth_integration::blob_store::DirStore;
use berth_integration::registry::{plain_http_hosts, TestRegistry};
use berth_manager::reference::Reference;
use berth_manager::registry::{
    self, HostConfig, Platform, PullEvent, PullOptions, PullStatus, RegistryContext,
};
use tokio::sync::mpsc;

type PullResult = Result<registry::PulledImage, registry::RegistryError>;

fn ctx_for(host: &str) -> RegistryContext {
    RegistryContext {
        hosts: plain_http_hosts(&[host]),
        read_timeout: Duration::from_secs(5),
        ..RegistryContext::default()
    }
}

/// What most tests here start from: a seeded registry, an empty store and a context that
/// reaches the registry.
struct Seeded {
    reg: TestRegistry,
    store: DirStore,
    ctx: RegistryContext,
}

impl Seeded {
    fn start() -> Seeded {
        let reg = TestRegistry::seeded();
        let ctx = ctx_for(&reg.host);
        Seeded {
            reg,
            store: DirStore::temp(),
            ctx,
        }
    }

    /// `REGISTRY/library/REPO_TAG`, one of the seeded images.
    fn image(&self, repo_tag: &str) -> String {
        format!("{}/library/{repo_tag}", self.reg.host)
    }

    /// Pulls `reference` into the store with default options.
    async fn pull(&self, reference: &str) -> (PullResult, Vec<PullEvent>) {
        self.pull_with(reference, PullOptions::default()).await
    }

    async fn pull_with(&self, reference: &str, opts: PullOptions) -> (PullResult, Vec<PullEvent>) {
        pull_collect(&self.ctx, reference, opts, &self.store).await
    }
}

async fn pull_collect(
    ctx: &RegistryContext,
    reference: &str,
    opts: PullOptions,
    store: &DirStore,
) -> (PullResult, Vec<PullEvent>) {
    let (tx, mut rx) = mpsc::channel(1024);
    let r = Reference::parse(reference).unwrap();
    let result = registry::pull(ctx, &r, &opts, store, tx).await;
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    (result, events)
}

fn for_platform(platform: &str) -> PullOptions {
    PullOptions {
        platform: Some(Platform::parse(platform).unwrap()),
        ..Default::default()
    }
}

/// Pushes `manifest` (from `store`) to `dest`; returns the status message of every event.
async fn push_messages(
    ctx: &RegistryContext,
    dest: &Reference,
    manifest: &registry::Descriptor,
    store: &DirStore,
) -> Vec<String> {
    let (tx, mut rx) = mpsc::channel(64);
    registry::push(ctx, dest, manifest, None, store, tx)
        .await
        .unwrap();
    let mut messages = Vec::new();
    while let Ok(e) = rx.try_recv() {
        messages.push(e.status.message());
    }
    messages
}

fn statuses(events: &[PullEvent], digest: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.digest == digest && !matches!(e.status, PullStatus::Downloading { .. }))
        .map(|e| e.status.message())
        .collect()
}

#[tokio::test]
async fn pulls_multi_layer_image_then_finds_it_present() {
    let s = Seeded::start();
    let name = s.image("busybox:latest");
    let (pulled, events) = s.pull(&name).await;
    let pulled = pulled.unwrap();
    assert_eq!(pulled.layers.len(), 2);
    assert_eq!(pulled.downloaded, 3, "two layers and the config");
    let blobs = s.store.blobs();
    for d in pulled.layers.iter().map(|l| l.digest().to_string()).chain([
        pulled.config.digest().to_string(),
        pulled.target.digest().to_string(),
    ]) {
        assert!(blobs.contains(&d), "{d} missing from store");
    }
    for layer in &pulled.layers {
        assert_eq!(
            statuses(&events, layer.digest().as_ref()),
            [
                "Pulling fs layer",
                "Verifying Checksum",
                "Download complete",
                "Pull complete"
            ]
        );
    }
    assert!(s.store.ingest_leftovers().is_empty());

    let (again, events) = s.pull(&name).await;
    let again = again.unwrap();
    assert_eq!(again.downloaded, 0);
    assert_eq!(again.target, pulled.target);
    for layer in &again.layers {
        assert_eq!(
            statuses(&events, layer.digest().as_ref()),
            ["Already exists"]
        );
    }
}

#[tokio::test]
async fn pulls_zstd_layers_and_selects_platform_from_index() {
    let s = Seeded::start();
    let (zstd, _) = s.pull(&s.image("busybox:zstd")).await;
    let zstd = zstd.unwrap();
    assert!(zstd
        .layers
        .iter()
        .all(|l| l.media_type().as_ref().ends_with("+zstd")));

    let multi = s.image("hello-world:multiarch");
    let (amd, _) = s.pull_with(&multi, for_platform("linux/amd64")).await;
    let amd = amd.unwrap();
    assert_eq!(
        amd.target.media_type().as_ref(),
        "application/vnd.oci.image.index.v1+json"
    );
    assert_ne!(
        amd.manifest.digest().to_string(),
        amd.target.digest().to_string()
    );
    let (arm, _) = s.pull_with(&multi, for_platform("linux/arm64")).await;
    let arm = arm.unwrap();
    assert_eq!(arm.target, amd.target);
    assert_ne!(
        arm.manifest.digest().to_string(),
        amd.manifest.digest().to_string()
    );
    let (none, _) = s.pull_with(&multi, for_platform("linux/s390x")).await;
    let msg = none.unwrap_err().to_string();
    assert!(
        msg.contains("linux/s390x") && msg.contains("linux/amd64, linux/arm64/v8"),
        "{msg}"
    );
    // A single-platform image pulled for another platform is refused too.
    let (wrong, _) = s
        .pull_with(&s.image("busybox:latest"), for_platform("linux/arm64"))
        .await;
    let msg = wrong.unwrap_err().to_string();
    assert!(
        msg.contains("linux/arm64") && msg.contains("actual: linux/amd64"),
        "{msg}"
    );
}

#[tokio::test]
async fn concurrent_pulls_share_the_work() {
    let s = Seeded::start();
    let name = s.image("busybox:latest");
    let (a, b) = tokio::join!(s.pull(&name), s.pull(&name));
    let (a, b) = (a.0.unwrap(), b.0.unwrap());
    assert_eq!(a.target, b.target);
    assert_eq!(
        a.downloaded + b.downloaded,
        3,
        "each blob fetched once in total"
    );
    assert!(s.store.ingest_leftovers().is_empty());
}

#[tokio::test]
async fn mirror_serves_docker_hub_names() {
    let reg = TestRegistry::seeded();
    let store = DirStore::temp();
    let mut ctx = RegistryContext {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(5),
        ..RegistryContext::default()
    };
    ctx.hosts.insert(
        "docker.io".into(),
        HostConfig {
            mirrors: vec![format!("http://{}", reg.host)],
            plain_http: false,
        },
    );
    let (pulled, _) = pull_collect(&ctx, "hello-world", PullOptions::default(), &store).await;
    let pulled = pulled.unwrap();
    assert_eq!(pulled.served_by, reg.host);
    assert_eq!(pulled.reference.familiar(), "hello-world:latest");
    assert_eq!(pulled.layers.len(), 1);
}

#[tokio::test]
async fn missing_tag_is_a_clear_error() {
    let s = Seeded::start();
    let (r, _) = s.pull(&s.image("busybox:nope")).await;
    let msg = r.unwrap_err().to_string();
    assert!(
        msg.contains("library/busybox:nope") && msg.contains("not found") && !msg.contains('\n'),
        "{msg}"
    );
    assert!(s.store.blobs().is_empty());
}

#[tokio::test]
async fn push_then_pull_under_a_new_name() {
    let s = Seeded::start();
    let (pulled, _) = s.pull(&s.image("busybox:latest")).await;
    let pulled = pulled.unwrap();
    let dest = Reference::parse(&format!("{}/mine/box:v1", s.reg.host)).unwrap();
    let events = push_messages(&s.ctx, &dest, &pulled.manifest, &s.store).await;
    // A new repository: cross-repository blobs are still uploaded (no mount), so Pushed.
    assert!(
        events
            .iter()
            .any(|e| e == "Pushed" || e == "Layer already exists"),
        "{events:?}"
    );
    // Pushing again finds every layer present.
    let second = push_messages(&s.ctx, &dest, &pulled.manifest, &s.store).await;
    assert_eq!(
        second,
        [
            "Preparing",
            "Preparing",
            "Layer already exists",
            "Layer already exists"
        ]
    );

    let store2 = DirStore::temp();
    let (back, _) = pull_collect(&s.ctx, &dest.to_string(), PullOptions::default(), &store2).await;
    assert_eq!(
        back.unwrap().manifest.digest().to_string(),
        pulled.manifest.digest().to_string()
    );
}

#[tokio::test]
async fn loads_oci_layout_directory_and_tar() {
    let _reg = TestRegistry::seeded(); // builds the layouts
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::new(dir.path());
    let loaded = registry::load_layout(&TestRegistry::layout("busybox"), &store)
        .await
        .unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].ref_name.as_deref(), Some("latest"));
    assert_eq!(
        loaded[0]
            .reference
            .as_ref()
            .map(|r| r.to_string())
            .as_deref(),
        Some("docker.io/library/busybox:latest")
    );
    assert!(store
        .blobs()
        .contains(&loaded[0].target.digest().to_string()));
    assert_eq!(store.blobs().len(), 4, "manifest, config, two layers");

    let tar_path = dir.path().join("hello.tar");
    let status = std::process::Command::new("tar")
        .arg("-cf")
        .arg(&tar_path)
        .arg("-C")
        .arg(TestRegistry::layout("hello-world"))
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let store2 = DirStore::new(&dir.path().join("s2"));
    let loaded = registry::load_layout(&tar_path, &store2).await.unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(store2.blobs().len(), 3);
}

#[tokio::test]
async fn load_rejects_a_tampered_layout() {
    let _reg = TestRegistry::seeded(); // builds the layouts
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("layout");
    assert!(std::process::Command::new("cp")
        .arg("-a")
        .arg(TestRegistry::layout("hello-world"))
        .arg(&copy)
        .status()
        .unwrap()
        .success());
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(copy.join("index.json")).unwrap()).unwrap();
    let mdigest = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(copy.join("blobs/sha256").join(&mdigest[7..])).unwrap(),
    )
    .unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let path = copy.join("blobs/sha256").join(&layer[7..]);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let store = DirStore::new(&dir.path().join("store"));
    let msg = registry::load_layout(&copy, &store)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains(layer) && msg.contains("does not match"),
        "{msg}"
    );
    assert!(!store.blobs().contains(&layer.to_string()));
    assert!(store.ingest_leftovers().is_empty());
}

#[tokio::test]
async fn queued_layers_wait_and_repull_is_up_to_date() {
    let mut s = Seeded::start();
    s.ctx.max_concurrent_transfers = 1;
    let name = s.image("busybox:latest");
    let (pulled, events) = s.pull(&name).await;
    let pulled = pulled.unwrap();
    let second = &pulled.layers[1].digest().to_string();
    assert_eq!(
        statuses(&events, second),
        [
            "Pulling fs layer",
            "Waiting",
            "Verifying Checksum",
            "Download complete",
            "Pull complete"
        ]
    );
    assert!(events.iter().any(
        |e| matches!(e.status, PullStatus::Downloading { current, total } if current == total)
    ));
    assert_eq!(
        pulled.status_line(None),
        format!("Status: Downloaded newer image for {name}")
    );
    let (again, _) = s.pull(&name).await;
    let again = again.unwrap();
    assert_eq!(
        again.status_line(Some(pulled.target.digest().as_ref())),
        format!("Status: Image is up to date for {name}")
    );
    assert_eq!(
        registry::pulling_from_line(&again.reference),
        "latest: Pulling from library/busybox"
    );
}

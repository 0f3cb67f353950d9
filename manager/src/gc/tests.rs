//! Collector tests on temp stores: image roots, shared layers, leases racing a collection.
//! Need root (the overlay snapshotter's probe and unpack chown).

use std::time::Duration;

use super::*;
use crate::images::rootfs::unpack_image;
use crate::images::{ImageService, ResolvedImage};
use crate::metadata::images::Descriptor;
use crate::registry::store::{put_bytes, BlobStore};
use crate::snapshots::{self, Choice};
use crate::unpack::{sha256_digest, UnpackLimits};

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const TAR: &str = "application/vnd.oci.image.layer.v1.tar";

struct Fixture {
    dir: tempfile::TempDir,
    images: ImageService,
    content: ContentStore,
    snapshotter: Arc<dyn Snapshotter>,
    collector: Collector,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let content = ContentStore::open(dir.path()).unwrap();
    let md = Metadata::open(&dir.path().join("m.redb")).unwrap();
    let images = ImageService::new(md.clone(), content.clone());
    let snapshotter = snapshots::open(dir.path(), Choice::Overlay).unwrap();
    let collector = Collector::new(
        md,
        content.clone(),
        Some(snapshotter.clone()),
        images.leases().clone(),
    );
    images.set_collector(collector.clone());
    Fixture {
        dir,
        images,
        content,
        snapshotter,
        collector,
    }
}

/// Writes `data` the way a pull or load does (through the registry's [`BlobStore`]).
async fn pulled(content: &ContentStore, data: &[u8]) -> Digest {
    let digest = Digest::of(data);
    put_bytes(content, digest.as_str(), data).await.unwrap();
    digest
}

fn tar_of(name: &str, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, name, data).unwrap();
    b.into_inner().unwrap()
}

impl Fixture {
    /// Stores an image of `layers` (uncompressed tars) named `name`, unpacks it, and returns
    /// the chain IDs of its layers.
    async fn image(&self, name: &str, layers: &[Vec<u8>]) -> Vec<String> {
        let mut descs = Vec::new();
        let mut diff_ids = Vec::new();
        for l in layers {
            let info = self.content.put(l).await.unwrap();
            descs.push(serde_json::json!({"mediaType": TAR, "digest": info.digest.to_string(), "size": info.size}));
            diff_ids.push(sha256_digest(l));
        }
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "config": {"Labels": {"name": name}},
        }))
        .unwrap();
        let ci = self.content.put(&config).await.unwrap();
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": ci.digest.to_string(), "size": ci.size},
            "layers": descs,
        }))
        .unwrap();
        let mi = self.content.put(&manifest).await.unwrap();
        self.images
            .record(&ResolvedImage {
                name: name.into(),
                target: Descriptor {
                    media_type: MANIFEST.into(),
                    digest: mi.digest.clone(),
                    size: mi.size,
                },
            })
            .unwrap();
        let (c, s, d) = (
            self.content.clone(),
            self.snapshotter.clone(),
            mi.digest.to_string(),
        );
        tokio::task::spawn_blocking(move || {
            unpack_image(&c, &*s, &d, &UnpackLimits::default())
                .unwrap()
                .chain_ids
        })
        .await
        .unwrap()
    }

    fn snapshot_keys(&self) -> Vec<String> {
        self.snapshotter
            .list()
            .unwrap()
            .into_iter()
            .map(|i| i.key)
            .collect()
    }

    fn snapshot_dirs(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("snapshots/overlay/snapshots"))
            .unwrap()
            .count()
    }

    async fn blob_count(&self) -> usize {
        self.content.list().await.unwrap().len()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmi_collects_layers_only_when_no_image_shares_them() {
    let f = fixture();
    let base = tar_of("base", b"shared base layer");
    let a = f
        .image(
            "docker.io/library/a:latest",
            &[base.clone(), tar_of("a", b"A")],
        )
        .await;
    let b = f
        .image("docker.io/library/b:latest", &[base, tar_of("b", b"B")])
        .await;
    assert_eq!(a[0], b[0], "the base layer is shared");
    assert_eq!(f.snapshot_keys().len(), 3);
    let u = f.collector.usage().await.unwrap();
    assert_eq!((u.snapshots, u.snapshots_in_use), (3, 3));
    assert_eq!((u.snapshot_reclaimable, u.blob_reclaimable), (0, 0));
    assert_eq!(u.blobs, 7, "3 layers, 2 configs, 2 manifests");
    assert!(u.snapshot_bytes > 0);

    let out = f
        .images
        .remove("docker.io/library/a:latest", false)
        .await
        .unwrap();
    assert_eq!(out.snapshots, vec![a[1].clone()], "only a's own layer goes");
    let mut keys = f.snapshot_keys();
    keys.sort();
    let mut want = b.clone();
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(f.blob_count().await, 4, "b's layers, config, manifest");

    f.images
        .remove("docker.io/library/b:latest", false)
        .await
        .unwrap();
    assert!(f.snapshot_keys().is_empty(), "{:?}", f.snapshot_keys());
    assert_eq!(f.snapshot_dirs(), 0, "no snapshot directories left");
    assert_eq!(f.blob_count().await, 0, "no blobs left");
    let u = f.collector.usage().await.unwrap();
    assert_eq!(u, DiskUsage::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreferenced_snapshots_count_as_reclaimable_until_collected() {
    let f = fixture();
    f.image("docker.io/library/a:latest", &[tar_of("a", b"A")])
        .await;
    // Everything goes with the image; then a snapshot nothing refers to appears.
    f.images
        .remove("docker.io/library/a:latest", false)
        .await
        .unwrap();
    let s = f.snapshotter.clone();
    let leftover = tokio::task::spawn_blocking(move || {
        s.prepare("orphan", None, Default::default()).unwrap();
        s.usage("orphan").unwrap().size
    })
    .await
    .unwrap();
    let u = f.collector.usage().await.unwrap();
    assert_eq!((u.snapshots, u.snapshots_in_use), (1, 0));
    assert_eq!(u.snapshot_reclaimable, leftover);
    let r = f.collector.collect().await.unwrap();
    assert_eq!(r.snapshots, vec!["orphan".to_string()]);
    assert!(f.snapshot_keys().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collection_racing_a_pull_keeps_what_the_pull_leased() {
    let f = fixture();
    let lease = f.images.leases().create("pull", Duration::from_secs(600));
    // What a pull does: write a blob under its lease, before any image record names it.
    let content = f.content.clone();
    let written = lease::scope(lease.clone(), async move {
        pulled(&content, b"a layer being pulled").await
    })
    .await;
    // A blob found present by the same pull is leased too.
    let other = f.content.put(b"already here").await.unwrap().digest;
    let content = f.content.clone();
    let o = other.clone();
    assert!(
        lease::scope(lease.clone(), async move {
            BlobStore::exists(&content, o.as_str()).await.unwrap()
        })
        .await
    );
    // An unpack in flight is leased by its snapshot key.
    let s = f.snapshotter.clone();
    let l2 = lease.clone();
    tokio::task::spawn_blocking(move || {
        s.prepare("creating", None, Default::default()).unwrap();
        l2.add_snapshot_blocking("creating");
    })
    .await
    .unwrap();

    let r = f.collector.collect().await.unwrap();
    assert!(r.blobs.is_empty() && r.snapshots.is_empty(), "{r:?}");
    assert!(f.content.exists(&written).await);
    assert!(f.content.exists(&other).await);
    assert_eq!(f.snapshot_keys(), vec!["creating".to_string()]);

    drop(lease);
    let r = f.collector.collect().await.unwrap();
    let mut want = vec![written, other];
    want.sort();
    assert_eq!(r.blobs, want);
    assert_eq!(r.snapshots, vec!["creating".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_detached_leases() {
    let f = fixture();
    let leases = f.images.leases().clone();
    let short = leases.create("short", Duration::from_millis(0));
    let content = f.content.clone();
    let d = lease::scope(short.clone(), async move {
        pulled(&content, b"short-lived").await
    })
    .await;
    // An expired lease keeps nothing, even while its handle lives.
    let r = f.collector.collect().await.unwrap();
    assert_eq!(r.blobs, vec![d]);
    drop(short);
    // A detached lease outlives its handle until deleted by id.
    let kept = leases.create_named("create-x", Duration::from_secs(600));
    let content = f.content.clone();
    let d2 = lease::scope(
        kept.clone(),
        async move { pulled(&content, b"detached").await },
    )
    .await;
    kept.detach();
    assert_eq!(leases.list(), vec!["create-x".to_string()]);
    assert!(f.collector.collect().await.unwrap().blobs.is_empty());
    leases.delete("create-x");
    assert_eq!(f.collector.collect().await.unwrap().blobs, vec![d2]);
}

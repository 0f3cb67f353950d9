use super::*;
use crate::metadata::images::Descriptor;

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

struct Fixture {
    _dir: tempfile::TempDir,
    svc: ImageService,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let content = ContentStore::open(dir.path()).unwrap();
    let md = Metadata::open(&dir.path().join("m.redb")).unwrap();
    let svc = ImageService::new(md.clone(), content.clone());
    let gc = crate::gc::Collector::new(md, content, None, svc.leases().clone());
    svc.set_collector(Arc::new(gc));
    Fixture { svc, _dir: dir }
}

/// Stores a one-layer image and returns its manifest descriptor and config digest.
async fn store_image(svc: &ImageService, layer: &[u8]) -> (Descriptor, Digest) {
    let c = svc.content();
    let l = c.put(layer).await.unwrap();
    let config = format!(
        r#"{{"created":"2024-01-02T03:04:05Z","architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        l.digest
    );
    let ci = c.put(config.as_bytes()).await.unwrap();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}}"#,
        ci.digest, ci.size, l.digest, l.size
    );
    let mi = c.put(manifest.as_bytes()).await.unwrap();
    (
        Descriptor {
            media_type: MANIFEST.into(),
            digest: mi.digest,
            size: mi.size,
        },
        ci.digest,
    )
}

#[tokio::test]
async fn record_list_and_facts() {
    let f = fixture();
    let (target, config) = store_image(&f.svc, b"layer-one").await;
    let (rec, changed) = f
        .svc
        .record(&ResolvedImage {
            name: "busybox".into(),
            target: target.clone(),
        })
        .unwrap();
    assert!(changed);
    assert_eq!(rec.name, "docker.io/library/busybox:latest");
    let (_, again) = f
        .svc
        .record(&ResolvedImage {
            name: "docker.io/library/busybox:latest".into(),
            target,
        })
        .unwrap();
    assert!(!again, "same target is up to date");
    let list = f.svc.list().await.unwrap();
    assert_eq!(list.len(), 1);
    let facts = &list[0].facts;
    assert_eq!(facts.config_digest.as_ref(), Some(&config));
    assert_eq!(facts.platform, "linux/amd64");
    assert!(facts.size > 0);
    assert_eq!(
        facts.created.unwrap().to_rfc3339(),
        "2024-01-02T03:04:05+00:00"
    );
    let by_id = f.svc.get(&config.hex()[..12]).await.unwrap();
    assert_eq!(by_id.record.name, "docker.io/library/busybox:latest");
    assert!(matches!(
        f.svc.get("nope").await,
        Err(ImageError::NotFound(_))
    ));
}

#[tokio::test]
async fn remove_keeps_shared_blobs_and_deletes_the_rest() {
    let f = fixture();
    let (t1, _) = store_image(&f.svc, b"layer-a").await;
    let (t2, _) = store_image(&f.svc, b"layer-b").await;
    for (name, t) in [("a", &t1), ("b", &t2)] {
        f.svc
            .record(&ResolvedImage {
                name: name.into(),
                target: t.clone(),
            })
            .unwrap();
    }
    f.svc.tag("a", "a2:v1").await.unwrap();
    let out = f.svc.remove("a", false).await.unwrap();
    assert_eq!(out.untagged, vec!["docker.io/library/a:latest".to_string()]);
    assert!(out.deleted.is_empty(), "a2:v1 still uses the blobs");
    let out = f.svc.remove("a2:v1", false).await.unwrap();
    assert_eq!(out.deleted.len(), 3, "manifest, config and layer go");
    assert!(!f.svc.content().exists(&t1.digest).await);
    assert!(f.svc.content().exists(&t2.digest).await);
    assert_eq!(f.svc.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn remove_by_id_with_several_names_needs_force() {
    let f = fixture();
    let (t, config) = store_image(&f.svc, b"layer").await;
    f.svc
        .record(&ResolvedImage {
            name: "x".into(),
            target: t,
        })
        .unwrap();
    f.svc.tag("x", "y").await.unwrap();
    let id = &config.hex()[..12];
    assert!(matches!(
        f.svc.remove(id, false).await,
        Err(ImageError::Conflict(_))
    ));
    let out = f.svc.remove(id, true).await.unwrap();
    assert_eq!(out.untagged.len(), 2);
    assert!(f.svc.list().await.unwrap().is_empty());
}

struct Users(bool);
impl ImageUsage for Users {
    fn users(&self, _name: &str) -> Result<Vec<super::super::ImageUser>, String> {
        Ok(vec![super::super::ImageUser {
            container_id: "c0ffee".into(),
            running: self.0,
        }])
    }
}

#[tokio::test]
async fn images_in_use_need_force_and_running_ones_stay() {
    let f = fixture();
    let (t, _) = store_image(&f.svc, b"layer").await;
    f.svc
        .record(&ResolvedImage {
            name: "x".into(),
            target: t,
        })
        .unwrap();
    f.svc.set_usage(Arc::new(Users(true)));
    assert!(matches!(
        f.svc.remove("x", true).await,
        Err(ImageError::Conflict(_))
    ));
    f.svc.set_usage(Arc::new(Users(false)));
    assert!(matches!(
        f.svc.remove("x", false).await,
        Err(ImageError::Conflict(_))
    ));
    f.svc.remove("x", true).await.unwrap();
}

#[tokio::test]
async fn pull_without_registry_support_is_a_clear_error() {
    let f = fixture();
    let err = f
        .svc
        .pull(PullOptions::default(), Progress::discard())
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::Unsupported("pull")), "{err}");
}

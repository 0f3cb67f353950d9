//! Pulls from a registry that misbehaves: each failure is one clear line and leaves nothing
//! partial in the store. Also the bearer-token flow with right and wrong credentials.

use std::time::Duration;

use berth_integration::blob_store::DirStore;
use berth_integration::fake_registry::{BlobFault, FakeConfig, FakeRegistry};
use berth_integration::registry::plain_http_hosts;
use berth_manager::reference::Reference;
use berth_manager::registry::{self, Credentials, PullOptions, RegistryContext, RegistryError};
use tokio::sync::mpsc;

fn ctx_for(host: &str) -> RegistryContext {
    RegistryContext {
        hosts: plain_http_hosts(&[host]),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(5),
        ..RegistryContext::default()
    }
}

async fn pull(
    host: &str,
    tag: &str,
    creds: Option<Credentials>,
    store: &DirStore,
) -> Result<registry::PulledImage, RegistryError> {
    let (tx, _rx) = mpsc::channel(1024);
    let r = Reference::parse(&format!("{host}/test/app:{tag}")).unwrap();
    let opts = PullOptions {
        credentials: creds,
        ..Default::default()
    };
    registry::pull(&ctx_for(host), &r, &opts, store, tx).await
}

/// A fake registry that serves its image with `fault` and needs no credentials.
async fn fake_with(fault: BlobFault) -> FakeRegistry {
    FakeRegistry::start(FakeConfig {
        fault,
        credentials: None,
    })
    .await
}

async fn failing(fault: BlobFault) -> (String, DirStore, FakeRegistry) {
    let fake = fake_with(fault).await;
    let store = DirStore::temp();
    let err = pull(&fake.host, "latest", None, &store)
        .await
        .unwrap_err()
        .to_string();
    eprintln!("{fault:?}: {err}");
    assert!(!err.contains('\n'), "one line: {err}");
    assert!(
        store.ingest_leftovers().is_empty(),
        "ingest/ not empty after {fault:?}"
    );
    assert!(
        !store.blobs().contains(&fake.image.layer_digest),
        "layer stored after {fault:?}"
    );
    assert!(
        !store.blobs().contains(&fake.image.manifest_digest),
        "manifest stored after {fault:?}"
    );
    (err, store, fake)
}

#[tokio::test]
async fn healthy_fake_registry_pulls() {
    let fake = fake_with(BlobFault::None).await;
    let store = DirStore::temp();
    let pulled = pull(&fake.host, "latest", None, &store).await.unwrap();
    assert_eq!(
        pulled.target.digest().to_string(),
        fake.image.manifest_digest
    );
    assert!(store.blobs().contains(&fake.image.layer_digest));
}

#[tokio::test]
async fn corrupted_blob_is_rejected() {
    let (err, ..) = failing(BlobFault::Corrupt).await;
    let layer = fake_with(BlobFault::None).await.image.layer_digest.clone();
    assert!(err.contains(&layer) && err.contains("digest"), "{err}");
}

#[tokio::test]
async fn truncated_blob_is_rejected() {
    let (err, ..) = failing(BlobFault::Truncate).await;
    assert!(err.contains("sha256:"), "{err}");
}

#[tokio::test]
async fn missing_blob_is_rejected() {
    let (err, ..) = failing(BlobFault::Missing).await;
    assert!(err.contains("blob unknown"), "{err}");
}

#[tokio::test]
async fn stalled_registry_times_out() {
    let (err, ..) = failing(BlobFault::Stall).await;
    assert!(
        err.contains("timed out") || err.contains("timeout"),
        "{err}"
    );
}

#[tokio::test]
async fn oversized_manifest_is_rejected() {
    let fake = fake_with(BlobFault::None).await;
    let store = DirStore::temp();
    let err = pull(&fake.host, "huge", None, &store).await.unwrap_err();
    assert!(
        matches!(err, RegistryError::ManifestTooLarge { .. }),
        "{err}"
    );
    assert!(store.blobs().is_empty());
}

#[tokio::test]
async fn nothing_listening_is_a_connection_error() {
    let port = berth_integration::registry::free_port();
    let store = DirStore::temp();
    let err = pull(&format!("127.0.0.1:{port}"), "latest", None, &store)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("connection failed") && err.contains(&port.to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn bearer_token_flow_with_credentials() {
    let creds = ("alice".to_string(), "s3cret".to_string());
    let fake = FakeRegistry::start(FakeConfig {
        fault: BlobFault::None,
        credentials: Some(creds.clone()),
    })
    .await;
    let store = DirStore::temp();
    let good = Credentials {
        username: creds.0.clone(),
        password: creds.1.clone(),
    };
    let bad = Credentials {
        username: creds.0.clone(),
        password: "wrong".into(),
    };

    let anonymous = pull(&fake.host, "latest", None, &store).await.unwrap_err();
    assert!(
        matches!(anonymous, RegistryError::Unauthorized { .. }),
        "{anonymous}"
    );
    let wrong = pull(&fake.host, "latest", Some(bad.clone()), &store)
        .await
        .unwrap_err();
    assert!(
        matches!(wrong, RegistryError::Unauthorized { .. }),
        "{wrong}"
    );
    assert!(store.blobs().is_empty());
    let pulled = pull(&fake.host, "latest", Some(good.clone()), &store)
        .await
        .unwrap();
    assert_eq!(
        pulled.target.digest().to_string(),
        fake.image.manifest_digest
    );

    let ctx = ctx_for(&fake.host);
    registry::login(&ctx, &fake.host, &good).await.unwrap();
    let err = registry::login(&ctx, &fake.host, &bad)
        .await
        .unwrap_err()
        .to_string();
    eprintln!("login: {err}\npull: {wrong}\nanonymous: {anonymous}");
    assert!(
        err.contains("authentication failed") && err.contains("refused"),
        "{err}"
    );
}

/// The daemon runs pulls on spawned tasks: the futures must be Send.
#[tokio::test]
async fn registry_futures_are_send() {
    let fake = fake_with(BlobFault::None).await;
    let store = std::sync::Arc::new(DirStore::temp());
    let host = fake.host.clone();
    let (tx, _rx) = mpsc::channel(1024);
    let task = tokio::spawn(async move {
        let r = Reference::parse(&format!("{host}/test/app:latest")).unwrap();
        let ctx = ctx_for(&host);
        let pulled = registry::pull(&ctx, &r, &PullOptions::default(), &*store, tx.clone()).await?;
        let dest = r.with_tag("copy").unwrap();
        let _ = registry::push(&ctx, &dest, &pulled.target, None, &*store, tx).await;
        registry::login(&ctx, &host, &Credentials::default()).await?;
        registry::load_layout(std::path::Path::new("/nonexistent"), &*store)
            .await
            .map(|_| ())
    });
    let err = task.await.unwrap().unwrap_err().to_string();
    assert!(err.contains("/nonexistent"), "{err}");
}

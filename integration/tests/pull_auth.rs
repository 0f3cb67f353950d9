//! docker-registry in `auth: token` mode with the harness's token service: push, login and pull
//! with right, wrong and missing credentials.

use std::time::Duration;

use berth_integration::blob_store::DirStore;
use berth_integration::registry::{plain_http_hosts, TestRegistry};
use berth_integration::token_server::TokenServer;
use berth_manager::reference::Reference;
use berth_manager::registry::{self, Credentials, PullOptions, RegistryContext, RegistryError};
use tokio::sync::mpsc;

fn ctx_for(hosts: &[&str]) -> RegistryContext {
    RegistryContext {
        hosts: plain_http_hosts(hosts),
        read_timeout: Duration::from_secs(10),
        ..RegistryContext::default()
    }
}

#[tokio::test]
async fn token_auth_push_login_pull() {
    let tokens = TokenServer::start("alice", "s3cret");
    let secured = TestRegistry::start(Some(&tokens.registry_auth_yaml()));
    let plain = TestRegistry::seeded();
    let ctx = ctx_for(&[&secured.host, &plain.host]);
    let good = Credentials {
        username: "alice".into(),
        password: "s3cret".into(),
    };
    let bad = Credentials {
        username: "alice".into(),
        password: "nope".into(),
    };

    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::new(&dir.path().join("a"));
    let (tx, _rx) = mpsc::channel(1024);
    let source = Reference::parse(&format!("{}/library/busybox:latest", plain.host)).unwrap();
    let pulled = registry::pull(&ctx, &source, &PullOptions::default(), &store, tx.clone())
        .await
        .unwrap();

    let dest = Reference::parse(&format!("{}/team/busybox:v1", secured.host)).unwrap();
    let anon = registry::push(&ctx, &dest, &pulled.target, None, &store, tx.clone())
        .await
        .unwrap_err();
    assert!(matches!(anon, RegistryError::Unauthorized { .. }), "{anon}");
    let wrong = registry::push(&ctx, &dest, &pulled.target, Some(&bad), &store, tx.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(wrong, RegistryError::Unauthorized { .. }),
        "{wrong}"
    );
    registry::push(&ctx, &dest, &pulled.target, Some(&good), &store, tx.clone())
        .await
        .unwrap();

    registry::login(&ctx, &secured.host, &good).await.unwrap();
    let refused = registry::login(&ctx, &secured.host, &bad)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("refused the credentials"),
        "{refused}"
    );

    let store2 = DirStore::new(&dir.path().join("b"));
    let opts = |c: Option<Credentials>| PullOptions {
        credentials: c,
        ..Default::default()
    };
    let anon = registry::pull(&ctx, &dest, &opts(None), &store2, tx.clone())
        .await
        .unwrap_err();
    assert!(matches!(anon, RegistryError::Unauthorized { .. }), "{anon}");
    let wrong = registry::pull(&ctx, &dest, &opts(Some(bad)), &store2, tx.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(wrong, RegistryError::Unauthorized { .. }),
        "{wrong}"
    );
    assert!(store2.blobs().is_empty());
    let back = registry::pull(&ctx, &dest, &opts(Some(good)), &store2, tx)
        .await
        .unwrap();
    assert_eq!(
        back.target.digest().to_string(),
        pulled.target.digest().to_string()
    );
    assert_eq!(store2.blobs().len(), 4);
}

use super::*;

fn ingest_files(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(root.join("ingest"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[tokio::test]
async fn write_commit_read_list_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = ContentStore::open(dir.path()).unwrap();
    let data = b"hello world".to_vec();
    let d = Digest::of(&data);
    assert!(!store.exists(&d).await);
    let mut w = store.writer(&d, Some(data.len() as u64)).await.unwrap();
    w.write_all(&data[..5]).await.unwrap();
    w.write_all(&data[5..]).await.unwrap();
    let info = w.commit().await.unwrap();
    assert_eq!(info.size, data.len() as u64);
    assert!(store.exists(&d).await);
    assert_eq!(store.read_all(&d).await.unwrap(), data);
    assert!(dir.path().join("blobs/sha256").join(d.hex()).is_file());
    assert_eq!(store.list().await.unwrap().len(), 1);
    assert!(ingest_files(dir.path()).is_empty());
    store.delete(&d).await.unwrap();
    assert!(matches!(
        store.info(&d).await,
        Err(ContentError::NotFound(_))
    ));
    assert!(matches!(
        store.delete(&d).await,
        Err(ContentError::NotFound(_))
    ));
}

#[tokio::test]
async fn digest_mismatch_is_rejected_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = ContentStore::open(dir.path()).unwrap();
    let d = Digest::of(b"expected");
    let mut w = store.writer(&d, None).await.unwrap();
    w.write_all(b"tampered").await.unwrap();
    let err = w.commit().await.unwrap_err();
    assert!(matches!(err, ContentError::DigestMismatch { .. }), "{err}");
    assert!(!store.exists(&d).await);
    assert!(ingest_files(dir.path()).is_empty());
}

#[tokio::test]
async fn size_mismatch_is_rejected_early_and_late() {
    let dir = tempfile::tempdir().unwrap();
    let store = ContentStore::open(dir.path()).unwrap();
    let d = Digest::of(b"abcdef");
    let mut w = store.writer(&d, Some(3)).await.unwrap();
    assert!(matches!(
        w.write_all(b"abcdef").await,
        Err(ContentError::SizeMismatch { .. })
    ));
    drop(w);
    let mut w = store.writer(&d, Some(10)).await.unwrap();
    w.write_all(b"abcdef").await.unwrap();
    assert!(matches!(
        w.commit().await,
        Err(ContentError::SizeMismatch { .. })
    ));
    assert!(!store.exists(&d).await);
    assert!(ingest_files(dir.path()).is_empty());
}

#[tokio::test]
async fn dropped_writer_removes_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = ContentStore::open(dir.path()).unwrap();
    let d = Digest::of(b"partial download");
    let mut w = store.writer(&d, None).await.unwrap();
    w.write_all(b"partial").await.unwrap();
    assert_eq!(ingest_files(dir.path()).len(), 1);
    drop(w);
    assert!(ingest_files(dir.path()).is_empty());
    assert!(!store.exists(&d).await);
}

#[tokio::test]
async fn stale_ingest_files_are_cleaned_on_open() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("ingest")).unwrap();
    std::fs::write(dir.path().join("ingest/leftover.123.0"), b"junk").unwrap();
    let _store = ContentStore::open(dir.path()).unwrap();
    assert!(ingest_files(dir.path()).is_empty());
}

#[tokio::test]
async fn concurrent_writers_of_one_digest_do_not_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let store = ContentStore::open(dir.path()).unwrap();
    let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let d = Digest::of(&data);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (store, d, data) = (store.clone(), d.clone(), data.clone());
        tasks.push(tokio::spawn(async move {
            let mut w = store.writer(&d, Some(data.len() as u64)).await.unwrap();
            for chunk in data.chunks(7919) {
                w.write_all(chunk).await.unwrap();
                tokio::task::yield_now().await;
            }
            w.commit().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(Digest::of(&store.read_all(&d).await.unwrap()), d);
    assert!(ingest_files(dir.path()).is_empty());
}

#[tokio::test]
async fn digest_lock_serializes_holders() {
    let dir = tempfile::tempdir().unwrap();
    let store = ContentStore::open(dir.path()).unwrap();
    let d = Digest::of(b"shared layer");
    let downloads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (store, d, downloads) = (store.clone(), d.clone(), downloads.clone());
        tasks.push(tokio::spawn(async move {
            let _g = store.lock(&d).await;
            if !store.exists(&d).await {
                downloads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::task::yield_now().await;
                store.put(b"shared layer").await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(downloads.load(std::sync::atomic::Ordering::SeqCst), 1);
}

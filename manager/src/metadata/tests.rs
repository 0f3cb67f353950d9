use super::images::{Descriptor, ImageRecord, IMAGES};
use super::*;
use crate::content::Digest;
use crate::test_support::SmallFs;

fn record(name: &str, data: &[u8]) -> ImageRecord {
    let now = chrono::Utc::now();
    ImageRecord {
        name: name.to_string(),
        target: Descriptor {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            digest: Digest::of(data),
            size: data.len() as u64,
        },
        created_at: now,
        updated_at: now,
        labels: Default::default(),
    }
}

#[test]
fn put_get_list_remove() {
    let dir = tempfile::tempdir().unwrap();
    let md = Metadata::open(&dir.path().join("m.redb")).unwrap();
    let a = record("docker.io/library/a:latest", b"a");
    let b = record("docker.io/library/b:latest", b"b");
    md.write(|tx| {
        IMAGES.put(tx, &b.name, &b)?;
        IMAGES.put(tx, &a.name, &a)?;
        Ok(())
    })
    .unwrap();
    let got = md.read(|tx| IMAGES.get(tx, &a.name)).unwrap();
    assert_eq!(got, Some(a.clone()));
    let names: Vec<String> = md
        .read(|tx| IMAGES.list(tx))
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(names, vec![a.name.clone(), b.name.clone()]);
    let removed = md.write(|tx| IMAGES.remove(tx, &a.name)).unwrap();
    assert_eq!(removed, Some(a.clone()));
    assert_eq!(md.read(|tx| IMAGES.get(tx, &a.name)).unwrap(), None);
}

#[test]
fn failed_write_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let md = Metadata::open(&dir.path().join("m.redb")).unwrap();
    let a = record("docker.io/library/a:latest", b"a");
    let res: Result<(), MetadataError> = md.write(|tx| {
        IMAGES.put(tx, &a.name, &a)?;
        Err(MetadataError::NotFound {
            table: "images",
            key: "x".into(),
        })
    });
    assert!(res.is_err());
    assert_eq!(md.read(|tx| IMAGES.get(tx, &a.name)).unwrap(), None);
}

#[test]
fn create_refuses_existing_and_data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.redb");
    let a = record("docker.io/library/a:latest", b"a");
    {
        let md = Metadata::open(&path).unwrap();
        md.write(|tx| IMAGES.create(tx, &a.name, &a)).unwrap();
        let err = md.write(|tx| IMAGES.create(tx, &a.name, &a)).unwrap_err();
        assert!(matches!(err, MetadataError::AlreadyExists { .. }), "{err}");
    }
    let md = Metadata::open(&path).unwrap();
    assert_eq!(md.read(|tx| IMAGES.get(tx, &a.name)).unwrap(), Some(a));
}

#[test]
fn unlisted_table_reads_empty_and_is_created_on_write() {
    let dir = tempfile::tempdir().unwrap();
    let md = Metadata::open(&dir.path().join("m.redb")).unwrap();
    const LATER: Table<String> = Table::new("later");
    assert_eq!(md.read(|tx| LATER.get(tx, "k")).unwrap(), None);
    assert!(md.read(|tx| LATER.list(tx)).unwrap().is_empty());
    md.write(|tx| LATER.put(tx, "k", &"v".to_string())).unwrap();
    assert_eq!(
        md.read(|tx| LATER.get(tx, "k")).unwrap(),
        Some("v".to_string())
    );
}

#[test]
fn database_works_again_after_a_full_disk_without_reopening_by_hand() {
    let fs = SmallFs::mount("2m");
    let md = Metadata::open(&fs.path().join("m.redb")).unwrap();
    md.write(|tx| IMAGES.put(tx, "first", &record("first", b"1")).map(|_| ()))
        .unwrap();
    // Fill the filesystem, then write until the database hits the full disk.
    let filler = fs.path().join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0x5au8; 64 * 1024];
    while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
    drop(f);
    let mut labels = std::collections::BTreeMap::new();
    labels.insert("pad".to_string(), "x".repeat(256 * 1024));
    let mut failed = None;
    for i in 0..64 {
        let mut r = record(&format!("n{i}"), b"n");
        r.labels = labels.clone();
        if let Err(e) = md.write(|tx| IMAGES.put(tx, &r.name, &r).map(|_| ())) {
            failed = Some(e);
            break;
        }
    }
    let failed = failed.expect("a write on a full disk fails");
    assert!(failed.to_string().contains("metadata database"), "{failed}");
    // Space comes back: the same handle works again (redb alone answers "Previous I/O error
    // occurred" to everything from now on).
    std::fs::remove_file(&filler).unwrap();
    md.write(|tx| IMAGES.put(tx, "after", &record("after", b"2")).map(|_| ()))
        .unwrap();
    let names: Vec<String> = md
        .read(|tx| IMAGES.list(tx))
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(names.contains(&"first".to_string()), "{names:?}");
    assert!(names.contains(&"after".to_string()), "{names:?}");
}

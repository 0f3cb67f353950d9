//! Snapshotter tests, run against both implementations in temp dirs. Need root (mounts).

use crate::test_support::SmallFs;
use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::images::rootfs::{
    prepare_image_rootfs, read_image, remove_stale_extractions, unpack_image, BlobSource,
    RootfsError,
};
use crate::unpack::{apply_layer, sha256_digest, LayerBlob, UnpackLimits};

const TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// The container rootfs `key` of `manifest`, with no labels and the default unpack limits.
fn rootfs(
    blobs: &dyn BlobSource,
    s: &dyn Snapshotter,
    manifest: &str,
    key: &str,
) -> Result<crate::images::rootfs::PreparedRootfs, RootfsError> {
    prepare_image_rootfs(
        blobs,
        s,
        manifest,
        key,
        Labels::new(),
        &UnpackLimits::default(),
    )
}

fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_600_000_000);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn unpack_into(s: &dyn Snapshotter, key: &str, tar: &[u8]) {
    let t = s.apply_target(key).unwrap();
    let d = sha256_digest(tar);
    let layer = LayerBlob {
        media_type: TAR,
        size: tar.len() as u64,
        diff_id: &d,
    };
    apply_layer(tar, &layer, &UnpackLimits::default(), &t).unwrap();
}

fn both() -> Vec<(tempfile::TempDir, Arc<dyn Snapshotter>)> {
    let a = tempfile::tempdir().unwrap();
    let o = open(a.path(), Choice::Overlay).unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = open(b.path(), Choice::Copying).unwrap();
    vec![(a, o), (b, c)]
}

/// Mounts `mounts` on a fresh temp dir; unmounted when the guard drops (before the dir).
struct Mounted {
    guard: Option<MountGuard>,
    dir: tempfile::TempDir,
}

impl Mounted {
    fn new(mounts: &[Mount]) -> Mounted {
        let dir = tempfile::tempdir().unwrap();
        let guard = Some(mount_all(mounts, dir.path()).unwrap());
        Mounted { guard, dir }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        self.guard.take();
    }
}

#[test]
fn overlay_probe_works_here() {
    let d = tempfile::tempdir().unwrap();
    mount::probe_overlay(d.path()).unwrap();
    assert_eq!(
        fs::read_dir(d.path()).unwrap().count(),
        0,
        "probe cleans up"
    );
}

#[test]
fn lifecycle_prepare_commit_view_remove() {
    for (_root, s) in both() {
        let name = s.name();
        s.prepare("l1-active", None, Labels::new()).unwrap();
        unpack_into(&*s, "l1-active", &layer(&[("a", b"1"), ("dir/b", b"2")]));
        s.commit("l1", "l1-active", Labels::from([("k".into(), "v".into())]))
            .unwrap();
        assert!(matches!(
            s.stat("l1-active"),
            Err(SnapshotError::NotFound(_))
        ));
        let info = s.stat("l1").unwrap();
        assert_eq!(
            (info.kind, info.labels.get("k").map(String::as_str)),
            (Kind::Committed, Some("v"))
        );
        assert!(s.usage("l1").unwrap().inodes >= 4, "{name}");
        assert!(
            s.mounts("l1").is_err(),
            "committed snapshots have no mounts"
        );

        s.prepare("l2-active", Some("l1"), Labels::new()).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_mode(0o644);
        b.append_data(&mut h, "dir/.wh.b", &[][..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        b.append_data(&mut h, "c", &b"3"[..]).unwrap();
        unpack_into(&*s, "l2-active", &b.into_inner().unwrap());
        s.commit("l2", "l2-active", Labels::new()).unwrap();

        let mounts = s.prepare("ctr", Some("l2"), Labels::new()).unwrap();
        assert_eq!(s.mounts("ctr").unwrap(), mounts);
        {
            let m = Mounted::new(&mounts);
            assert_eq!(fs::read(m.path().join("a")).unwrap(), b"1", "{name}");
            assert_eq!(fs::read(m.path().join("c")).unwrap(), b"3", "{name}");
            assert!(
                !m.path().join("dir/b").exists(),
                "{name}: whiteout hides the lower file"
            );
            fs::write(m.path().join("new"), b"w").unwrap();
            fs::remove_file(m.path().join("a")).unwrap();
        }
        assert!(s.usage("ctr").unwrap().inodes >= 1);

        // Layers are untouched by the container's writes.
        let vm = s.view("v", Some("l2"), Labels::new()).unwrap();
        assert!(vm.iter().all(|m| m.is_read_only()), "{name}: {vm:?}");
        {
            let m = Mounted::new(&vm);
            assert!(m.path().join("a").exists(), "{name}");
            assert!(!m.path().join("new").exists(), "{name}");
            assert!(
                fs::write(m.path().join("x"), b"").is_err(),
                "{name}: view is read-only"
            );
        }

        let err = s.remove("l1").unwrap_err();
        assert!(err.to_string().contains("has children"), "{name}: {err}");
        for k in ["v", "ctr", "l2", "l1"] {
            s.remove(k).unwrap();
        }
        assert!(s.list().unwrap().is_empty());
    }
}

#[test]
fn state_errors() {
    for (_root, s) in both() {
        s.prepare("a", None, Labels::new()).unwrap();
        assert!(matches!(
            s.prepare("a", None, Labels::new()),
            Err(SnapshotError::AlreadyExists(_))
        ));
        assert!(matches!(
            s.prepare("b", Some("a"), Labels::new()),
            Err(SnapshotError::FailedPrecondition { .. })
        ));
        assert!(matches!(
            s.prepare("b", Some("nope"), Labels::new()),
            Err(SnapshotError::NotFound(_))
        ));
        s.commit("c", "a", Labels::new()).unwrap();
        s.view("v", Some("c"), Labels::new()).unwrap();
        assert!(matches!(
            s.commit("d", "v", Labels::new()),
            Err(SnapshotError::FailedPrecondition { .. })
        ));
        assert!(s.apply_target("v").is_err());
        s.prepare("e", None, Labels::new()).unwrap();
        assert!(matches!(
            s.commit("c", "e", Labels::new()),
            Err(SnapshotError::AlreadyExists(_))
        ));
        let i = s
            .update_labels("e", Labels::from([("x".into(), "y".into())]))
            .unwrap();
        assert_eq!(i.labels.len(), 1);
        let keys: Vec<_> = s.list().unwrap().into_iter().map(|i| i.key).collect();
        assert_eq!(keys, ["c", "e", "v"]);
    }
}

#[test]
fn metadata_survives_reopen_and_orphans_are_removed() {
    let root = tempfile::tempdir().unwrap();
    {
        let s = open(root.path(), Choice::Overlay).unwrap();
        s.prepare("a", None, Labels::new()).unwrap();
    }
    let orphan = root.path().join("snapshots/overlay/snapshots/999");
    fs::create_dir_all(&orphan).unwrap();
    let s = open(root.path(), Choice::Overlay).unwrap();
    assert_eq!(s.stat("a").unwrap().kind, Kind::Active);
    assert!(!orphan.exists());
}

#[test]
fn copying_prepare_keeps_special_files() {
    let root = tempfile::tempdir().unwrap();
    let s = copying::CopyingSnapshotter::open(root.path()).unwrap();
    s.prepare("a", None, Labels::new()).unwrap();
    let dir = s.apply_target("a").unwrap().dir;
    fs::write(dir.join("f"), b"x").unwrap();
    fs::hard_link(dir.join("f"), dir.join("h")).unwrap();
    std::os::unix::fs::symlink("f", dir.join("s")).unwrap();
    std::os::unix::fs::lchown(dir.join("f"), Some(1234), Some(4321)).unwrap();
    xattr::set(dir.join("f"), "user.k", b"v").unwrap();
    nix::sys::stat::mknod(
        &dir.join("null"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        libc::makedev(1, 3),
    )
    .unwrap();
    s.commit("c", "a", Labels::new()).unwrap();
    s.prepare("b", Some("c"), Labels::new()).unwrap();
    let d = s.apply_target("b").unwrap().dir;
    let f = fs::metadata(d.join("f")).unwrap();
    assert_eq!((f.uid(), f.gid(), f.nlink()), (1234, 4321, 2));
    assert_eq!(fs::metadata(d.join("h")).unwrap().ino(), f.ino());
    assert_eq!(fs::read_link(d.join("s")).unwrap(), Path::new("f"));
    assert_eq!(
        xattr::get(d.join("f"), "user.k").unwrap().as_deref(),
        Some(&b"v"[..])
    );
    let n = fs::symlink_metadata(d.join("null")).unwrap();
    assert!(n.file_type().is_char_device());
    assert_eq!(n.rdev(), libc::makedev(1, 3));
}

/// Blobs in memory, counting opens per digest.
#[derive(Default)]
struct Blobs {
    data: HashMap<String, Vec<u8>>,
    opens: std::sync::Mutex<HashMap<String, usize>>,
}

impl Blobs {
    fn add(&mut self, data: Vec<u8>) -> String {
        let d = sha256_digest(&data);
        self.data.insert(d.clone(), data);
        d
    }
    fn opens(&self, d: &str) -> usize {
        self.opens.lock().unwrap().get(d).copied().unwrap_or(0)
    }
}

impl BlobSource for Blobs {
    fn open_blob(&self, digest: &str) -> std::io::Result<Box<dyn std::io::Read + '_>> {
        *self
            .opens
            .lock()
            .unwrap()
            .entry(digest.to_string())
            .or_default() += 1;
        let d = self
            .data
            .get(digest)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such blob"))?;
        Ok(Box::new(&d[..]))
    }
}

/// An image of `layers` (uncompressed tars); returns the manifest digest and layer digests.
fn image(
    blobs: &mut Blobs,
    layers: &[Vec<u8>],
    diff_ids: Option<Vec<String>>,
) -> (String, Vec<String>) {
    let diff_ids = diff_ids.unwrap_or_else(|| layers.iter().map(|l| sha256_digest(l)).collect());
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let cbytes = serde_json::to_vec(&config).unwrap();
    let csize = cbytes.len();
    let cdigest = blobs.add(cbytes);
    let mut descs = Vec::new();
    let mut digests = Vec::new();
    for l in layers {
        let size = l.len();
        let d = blobs.add(l.clone());
        descs.push(serde_json::json!({"mediaType": TAR, "digest": d, "size": size}));
        digests.push(d);
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdigest, "size": csize},
        "layers": descs,
    });
    (blobs.add(serde_json::to_vec(&manifest).unwrap()), digests)
}

#[test]
fn image_rootfs_unpacks_each_layer_once_and_shares_layers() {
    for (_root, s) in both() {
        let mut blobs = Blobs::default();
        let base = layer(&[("etc/os", b"base")]);
        let (m1, d1) = image(&mut blobs, &[base.clone(), layer(&[("app", b"one")])], None);
        let (m2, d2) = image(&mut blobs, &[base, layer(&[("app", b"two")])], None);
        let blobs = Arc::new(blobs);
        // Concurrent unpacks of the same image must not race.
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (s, b, m) = (s.clone(), blobs.clone(), m1.clone());
                std::thread::spawn(move || {
                    unpack_image(&*b, &*s, &m, &UnpackLimits::default()).map(|i| i.chain_ids)
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap().unwrap();
        }
        assert_eq!(blobs.opens(&d1[0]), 1);
        assert_eq!(blobs.opens(&d1[1]), 1);
        let p1 = rootfs(&*blobs, &*s, &m1, "c1").unwrap();
        let p2 = rootfs(&*blobs, &*s, &m2, "c2").unwrap();
        assert_eq!(
            blobs.opens(&d2[0]),
            1,
            "{}: the shared base layer is not unpacked again",
            s.name()
        );
        assert_eq!(p1.image.chain_ids[0], p2.image.chain_ids[0]);
        assert_eq!(s.stat("c1").unwrap().parent.as_deref(), p1.image.top());
        let m = Mounted::new(&p2.mounts);
        assert_eq!(fs::read(m.path().join("app")).unwrap(), b"two");
        assert_eq!(fs::read(m.path().join("etc/os")).unwrap(), b"base");
        let keys: Vec<_> = s.list().unwrap().into_iter().map(|i| i.key).collect();
        assert_eq!(
            keys.len(),
            5,
            "3 layers + 2 containers, no leftovers: {keys:?}"
        );
    }
}

#[test]
fn failed_unpack_removes_the_partial_snapshot() {
    for (_root, s) in both() {
        let mut blobs = Blobs::default();
        let l = layer(&[("a", b"1")]);
        let (m, _) = image(
            &mut blobs,
            &[l],
            Some(vec![sha256_digest(b"not the layer")]),
        );
        let err = rootfs(&blobs, &*s, &m, "c").unwrap_err();
        assert!(matches!(err, RootfsError::Unpack { index: 0, .. }), "{err}");
        assert!(
            s.list().unwrap().is_empty(),
            "{}: {:?}",
            s.name(),
            s.list().unwrap()
        );
    }
}

#[test]
fn overlay_opaque_directory_hides_lower_contents_when_mounted() {
    let root = tempfile::tempdir().unwrap();
    let s = open(root.path(), Choice::Overlay).unwrap();
    s.prepare("x", None, Labels::new()).unwrap();
    unpack_into(&*s, "x", &layer(&[("d/old", b"1"), ("d/keep/no", b"1")]));
    s.commit("l1", "x", Labels::new()).unwrap();
    s.prepare("y", Some("l1"), Labels::new()).unwrap();
    unpack_into(
        &*s,
        "y",
        &layer(&[("d/.wh..wh..opq", b""), ("d/new", b"2")]),
    );
    s.commit("l2", "y", Labels::new()).unwrap();
    let mounts = s.view("v", Some("l2"), Labels::new()).unwrap();
    let m = Mounted::new(&mounts);
    let names: Vec<_> = fs::read_dir(m.path().join("d"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["new"]);
}

/// A layer holding busybox and the files a shell needs, plus users.
fn busybox_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let dir = |b: &mut tar::Builder<Vec<u8>>, name: &str| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_data(&mut h, name, &[][..]).unwrap();
    };
    for d in ["bin", "etc", "proc", "sys", "dev", "tmp"] {
        dir(&mut b, d);
    }
    let bb = fs::read("/bin/busybox").unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o755);
    h.set_size(bb.len() as u64);
    b.append_data(&mut h, "bin/busybox", &bb[..]).unwrap();
    for app in ["sh", "cat", "id", "echo", "hostname"] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        b.append_link(&mut h, format!("bin/{app}"), "busybox")
            .unwrap();
    }
    for (name, data) in [
        (
            "etc/passwd",
            &b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/sh\n"[..],
        ),
        (
            "etc/group",
            &b"root:x:0:\nnogroup:x:65534:\nusers:x:100:nobody\n"[..],
        ),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data).unwrap();
    }
    b.into_inner().unwrap()
}

/// Deletes the runc container on drop (test cleanup even on failure).
struct RuncContainer<'a> {
    state: &'a Path,
    id: &'a str,
}

impl Drop for RuncContainer<'_> {
    fn drop(&mut self) {
        let _ = std::process::Command::new("runc")
            .arg("--root")
            .arg(self.state)
            .args(["delete", "--force", self.id])
            .output();
    }
}

/// End to end: image blobs → unpacked layers → container snapshot → bundle → `runc run`.
#[test]
fn image_to_bundle_runs_with_runc() {
    if std::process::Command::new("runc")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("runc is required for this test (Debian package runc)");
    }
    let root = tempfile::tempdir().unwrap();
    let s = open(root.path(), Choice::Auto).unwrap();
    let mut blobs = Blobs::default();
    let (m, _) = image(
        &mut blobs,
        &[busybox_layer(), layer(&[("hello", b"world\n")])],
        None,
    );
    let id = format!("berth-snap-e2e-{}", std::process::id());
    let prepared = rootfs(&blobs, &*s, &m, &id).unwrap();
    let bundle_dir = tempfile::tempdir().unwrap();
    let rootfs = crate::bundle::create_bundle_dir(bundle_dir.path()).unwrap();
    let guard = mount_all(&prepared.mounts, &rootfs).unwrap();
    let opts = crate::bundle::RunOptions {
        container_id: id.clone(),
        args: [
            "sh",
            "-c",
            "cat /hello; id -u; id -G; hostname; cat /etc/hostname",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        user: Some("nobody".into()),
        cgroups_path: Some(format!("/{id}")),
        ..Default::default()
    };
    crate::bundle::write_bundle(bundle_dir.path(), &prepared.image.config, &opts).unwrap();
    let state = tempfile::tempdir().unwrap();
    let _ctr = RuncContainer {
        state: state.path(),
        id: &id,
    };
    let out = std::process::Command::new("runc")
        .arg("--root")
        .arg(state.path())
        .args(["run", "--bundle"])
        .arg(bundle_dir.path())
        .arg(&id)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    drop(guard);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "runc: {out:?}");
    let host12: String = id.chars().take(12).collect();
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "world",
            "65534",
            "65534 100",
            host12.as_str(),
            host12.as_str()
        ],
        "{out:?}"
    );
}

#[test]
fn stale_extractions_from_another_process_are_removed() {
    let root = tempfile::tempdir().unwrap();
    let s = open(root.path(), Choice::Overlay).unwrap();
    s.prepare("extract-1-0-sha256:aa", None, Labels::new())
        .unwrap();
    let mine = format!("extract-{}-0-sha256:bb", std::process::id());
    s.prepare(&mine, None, Labels::new()).unwrap();
    s.prepare("ctr", None, Labels::new()).unwrap();
    assert_eq!(
        remove_stale_extractions(&*s).unwrap(),
        ["extract-1-0-sha256:aa"]
    );
    let keys: Vec<_> = s.list().unwrap().into_iter().map(|i| i.key).collect();
    assert_eq!(keys, ["ctr", mine.as_str()]);
}

#[test]
fn an_index_resolves_to_the_host_platform_manifest() {
    let root = tempfile::tempdir().unwrap();
    let s = open(root.path(), Choice::Overlay).unwrap();
    let mut blobs = Blobs::default();
    let (m, _) = image(&mut blobs, &[layer(&[("f", b"1")])], None);
    let arch = crate::images::rootfs::host_arch().to_string();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha256_digest(b"other"), "size": 5,
             "platform": {"os": "linux", "architecture": "s390x"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m, "size": blobs.data[&m].len(),
             "platform": {"os": "linux", "architecture": arch}},
        ],
    });
    let idx = blobs.add(serde_json::to_vec(&index).unwrap());
    let p = rootfs(&blobs, &*s, &idx, "c").unwrap();
    assert_eq!(p.image.chain_ids.len(), 1);
    let only_other = serde_json::json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m, "size": 1,
         "platform": {"os": "linux", "architecture": "s390x"}}]});
    let idx2 = blobs.add(serde_json::to_vec(&only_other).unwrap());
    let err = rootfs(&blobs, &*s, &idx2, "d").unwrap_err();
    assert!(err.to_string().contains("no manifest for linux/"), "{err}");
}

#[test]
fn nested_indexes_are_followed_to_a_bound() {
    let mut blobs = Blobs::default();
    let (m, _) = image(&mut blobs, &[layer(&[("f", b"1")])], None);
    let arch = crate::images::rootfs::host_arch().to_string();
    // Each index's only host entry claims to be a manifest but is the next index: without a
    // bound a long chain recursed once per level (a stack overflow in berthd for a long one).
    let mut top = m;
    let mut chain = Vec::new();
    for _ in 0..crate::images::rootfs::MAX_INDEX_DEPTH + 1 {
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": top, "size": blobs.data[&top].len(),
                "platform": {"os": "linux", "architecture": arch}}],
        });
        top = blobs.add(serde_json::to_vec(&index).unwrap());
        chain.push(top.clone());
    }
    // Two levels (an index of indexes) are legal OCI.
    let two = read_image(&blobs, &chain[1]).unwrap();
    assert_eq!(two.chain_ids.len(), 1);
    let err = read_image(&blobs, &top).unwrap_err().to_string();
    assert!(err.contains("nest more than"), "{err}");
    // An entry whose size is not the blob's is refused, not read as whatever the blob is.
    let lying = serde_json::json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": chain[0],
         "size": 3, "platform": {"os": "linux", "architecture": arch}}]});
    let lying = blobs.add(serde_json::to_vec(&lying).unwrap());
    let err = read_image(&blobs, &lying).unwrap_err().to_string();
    assert!(err.contains("the descriptor says 3 bytes"), "{err}");
}

#[tokio::test]
async fn rootfs_from_the_content_store() {
    let root = tempfile::tempdir().unwrap();
    let store = crate::content::ContentStore::open(root.path()).unwrap();
    let mut blobs = Blobs::default();
    let (m, _) = image(&mut blobs, &[layer(&[("from-store", b"yes")])], None);
    for data in blobs.data.values() {
        store.put(data).await.unwrap();
    }
    let s = open(root.path(), Choice::Auto).unwrap();
    let p = tokio::task::spawn_blocking(move || rootfs(&store, &*s, &m, "ctr").map(|p| p.mounts))
        .await
        .unwrap()
        .unwrap();
    let mounted = Mounted::new(&p);
    assert_eq!(fs::read(mounted.path().join("from-store")).unwrap(), b"yes");
}

#[test]
fn opening_a_root_twice_shares_one_snapshotter() {
    let root = tempfile::tempdir().unwrap();
    let a = open(root.path(), Choice::Auto).unwrap();
    let b = open(root.path(), Choice::Auto).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    let other = if a.name() == "overlayfs" {
        Choice::Copying
    } else {
        Choice::Overlay
    };
    assert!(open(root.path(), other).is_err());
    drop((a, b));
    // Once closed, it can be opened afresh (the database is released).
    let c = open(root.path(), Choice::Auto).unwrap();
    c.prepare("k", None, Labels::new()).unwrap();
}

/// Entries of the snapshotter's `snapshots/` directory (one per snapshot).
fn snapshot_dirs(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for kind in ["overlay", "copying"] {
        if let Ok(rd) = fs::read_dir(root.join("snapshots").join(kind).join("snapshots")) {
            out.extend(rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()));
        }
    }
    out
}

#[test]
fn full_disk_during_unpack_leaves_nothing_and_the_store_keeps_working() {
    for choice in [Choice::Overlay, Choice::Copying] {
        let fs_guard = SmallFs::mount("3m");
        let root = fs_guard.path().to_path_buf();
        let s = open(&root, choice).unwrap();
        let mut blobs = Blobs::default();
        let big = layer(&[("big", &vec![7u8; 6 * 1024 * 1024])]);
        let (m, _) = image(&mut blobs, &[big], None);
        let err = rootfs(&blobs, &*s, &m, "c").unwrap_err();
        assert!(err.to_string().contains("no space left"), "{err}");
        assert!(s.list().unwrap().is_empty(), "{:?}", s.list().unwrap());
        assert!(
            snapshot_dirs(&root).is_empty(),
            "{:?}",
            snapshot_dirs(&root)
        );
        // The same snapshotter (and its database) still works: a small image unpacks, runs and goes.
        let small = layer(&[("ok", b"fits")]);
        let (m2, _) = image(&mut blobs, &[small], None);
        let p = rootfs(&blobs, &*s, &m2, "c2").unwrap();
        s.remove("c2").unwrap();
        s.remove(p.image.top().unwrap()).unwrap();
        assert!(s.list().unwrap().is_empty());
        assert!(
            snapshot_dirs(&root).is_empty(),
            "{:?}",
            snapshot_dirs(&root)
        );
        drop(s);
    }
}

#[test]
fn gzip_bomb_layer_fails_naming_the_layer_and_leaves_nothing() {
    let (_root, s) = both().remove(0);
    let tar = layer(&[("zeros", &vec![0u8; 40 * 1024 * 1024])]);
    let diff_id = sha256_digest(&tar);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    let gz = gz.finish().unwrap();
    drop(tar);
    let mut blobs = Blobs::default();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }))
    .unwrap();
    let csize = config.len();
    let cdigest = blobs.add(config);
    let gsize = gz.len();
    let ldigest = blobs.add(gz);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdigest, "size": csize},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ldigest, "size": gsize}],
    }))
    .unwrap();
    let m = blobs.add(manifest);
    let err = rootfs(&blobs, &*s, &m, "c").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&ldigest), "names the layer: {msg}");
    assert!(msg.contains("max_layer_ratio"), "{msg}");
    assert!(s.list().unwrap().is_empty(), "{:?}", s.list().unwrap());
}

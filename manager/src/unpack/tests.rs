//! Layer application tests: crafted (also malicious) tars applied in temp dirs. Need root.

use crate::test_support::SmallFs;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use super::*;

/// Builds tars with raw headers, so paths the `tar` crate would refuse can be written.
struct TarMaker(tar::Builder<Vec<u8>>);

impl TarMaker {
    fn new() -> Self {
        TarMaker(tar::Builder::new(Vec::new()))
    }
    fn header(name: &str, kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        let bytes = name.as_bytes();
        assert!(bytes.len() < 100, "test names stay short");
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_600_000_000);
        h
    }
    fn raw(&mut self, mut h: tar::Header, data: &[u8]) -> &mut Self {
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }
    fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        self.raw(Self::header(name, tar::EntryType::Directory, mode, 0), &[])
    }
    fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.raw(
            Self::header(name, tar::EntryType::Regular, 0o644, data.len() as u64),
            data,
        )
    }
    fn file_owned(&mut self, name: &str, data: &[u8], mode: u32, uid: u64, gid: u64) -> &mut Self {
        let mut h = Self::header(name, tar::EntryType::Regular, mode, data.len() as u64);
        h.set_uid(uid);
        h.set_gid(gid);
        self.raw(h, data)
    }
    fn link(&mut self, kind: tar::EntryType, name: &str, target: &str) -> &mut Self {
        let mut h = Self::header(name, kind, 0o777, 0);
        let t = target.as_bytes();
        h.as_old_mut().linkname[..t.len()].copy_from_slice(t);
        self.raw(h, &[])
    }
    fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.link(tar::EntryType::Symlink, name, target)
    }
    fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.link(tar::EntryType::Link, name, target)
    }
    fn pax_file(&mut self, name: &str, data: &[u8], pax: &[(&str, &[u8])]) -> &mut Self {
        self.0.append_pax_extensions(pax.iter().copied()).unwrap();
        self.file(name, data)
    }
    fn finish(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.0, tar::Builder::new(Vec::new()));
        b.into_inner().unwrap()
    }
}

fn apply(tar: &[u8], dir: &Path, mode: WhiteoutMode) -> Result<ApplyStats, UnpackError> {
    let target = ApplyTarget {
        dir: dir.to_path_buf(),
        whiteouts: mode,
        lowers: vec![],
    };
    apply_layer(
        tar,
        &blob(TAR, tar, &sha256_digest(tar)),
        &limits(),
        &target,
    )
}

const TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// The descriptor of `data` as a layer of `media_type`.
fn blob<'a>(media_type: &'a str, data: &[u8], diff_id: &'a str) -> LayerBlob<'a> {
    LayerBlob {
        media_type,
        size: data.len() as u64,
        diff_id,
    }
}

fn limits() -> UnpackLimits {
    UnpackLimits::default()
}

#[test]
fn regular_entries_keep_their_metadata() {
    let t = tempfile::tempdir().unwrap();
    let tar = TarMaker::new()
        .dir("etc/", 0o750)
        .file_owned("etc/conf", b"hello", 0o4755, 1000, 1001)
        .symlink("etc/link", "conf")
        .hardlink("etc/hard", "etc/conf")
        .raw(
            TarMaker::header("fifo", tar::EntryType::Fifo, 0o640, 0),
            &[],
        )
        .finish();
    let stats = apply(&tar, t.path(), WhiteoutMode::Delete).unwrap();
    assert_eq!(stats.entries, 5);
    assert_eq!(stats.diff_id, sha256_digest(&tar));
    let conf = fs::metadata(t.path().join("etc/conf")).unwrap();
    assert_eq!(fs::read(t.path().join("etc/conf")).unwrap(), b"hello");
    assert_eq!(conf.permissions().mode() & 0o7777, 0o4755);
    assert_eq!((conf.uid(), conf.gid()), (1000, 1001));
    assert_eq!(conf.mtime(), 1_600_000_000);
    assert_eq!(conf.nlink(), 2);
    let etc = fs::metadata(t.path().join("etc")).unwrap();
    assert_eq!(etc.permissions().mode() & 0o7777, 0o750);
    assert_eq!(
        etc.mtime(),
        1_600_000_000,
        "directory mtime is set after its children"
    );
    assert_eq!(
        fs::read_link(t.path().join("etc/link")).unwrap(),
        Path::new("conf")
    );
    assert!(fs::symlink_metadata(t.path().join("fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
}

#[test]
fn device_nodes_are_created() {
    let t = tempfile::tempdir().unwrap();
    let mut h = TarMaker::header("dev/null", tar::EntryType::Char, 0o666, 0);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    let tar = TarMaker::new().raw(h, &[]).finish();
    apply(&tar, t.path(), WhiteoutMode::Delete).unwrap();
    let m = fs::symlink_metadata(t.path().join("dev/null")).unwrap();
    assert!(m.file_type().is_char_device());
    assert_eq!(m.rdev(), libc::makedev(1, 3));
    assert_eq!(m.permissions().mode() & 0o777, 0o666);
}

#[test]
fn pax_xattrs_are_applied_but_overlay_ones_are_not() {
    let t = tempfile::tempdir().unwrap();
    let tar = TarMaker::new()
        .pax_file(
            "f",
            b"x",
            &[
                ("SCHILY.xattr.user.color", b"blue"),
                ("SCHILY.xattr.trusted.overlay.opaque", b"y"),
            ],
        )
        .finish();
    apply(&tar, t.path(), WhiteoutMode::Overlay).unwrap();
    let f = t.path().join("f");
    assert_eq!(
        xattr::get(&f, "user.color").unwrap().as_deref(),
        Some(&b"blue"[..])
    );
    assert_eq!(xattr::get(&f, "trusted.overlay.opaque").unwrap(), None);
}

#[test]
fn wrong_diff_id_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let tar = TarMaker::new().file("a", b"1").finish();
    let target = ApplyTarget {
        dir: t.path().to_path_buf(),
        whiteouts: WhiteoutMode::Delete,
        lowers: vec![],
    };
    let wrong = sha256_digest(b"something else");
    let err = apply_layer(&tar[..], &blob(TAR, &tar, &wrong), &limits(), &target).unwrap_err();
    assert!(matches!(err, UnpackError::DigestMismatch { .. }), "{err}");
}

#[test]
fn gzip_and_zstd_layers_are_decompressed() {
    let tar = TarMaker::new().file("z", b"compressed").finish();
    let diff_id = sha256_digest(&tar);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&tar[..], 3).unwrap();
    let layer = |mt, data: &Vec<u8>, d| blob(mt, data, d);
    for (mt, blob) in [
        ("application/vnd.oci.image.layer.v1.tar+gzip", &gz),
        ("application/vnd.docker.image.rootfs.diff.tar.gzip", &gz),
        ("application/vnd.oci.image.layer.v1.tar+zstd", &zst),
    ] {
        let t = tempfile::tempdir().unwrap();
        let target = ApplyTarget {
            dir: t.path().to_path_buf(),
            whiteouts: WhiteoutMode::Delete,
            lowers: vec![],
        };
        apply_layer(&blob[..], &layer(mt, blob, &diff_id), &limits(), &target).unwrap();
        assert_eq!(fs::read(t.path().join("z")).unwrap(), b"compressed", "{mt}");
    }
    let err = Compression::from_media_type("application/x-rar").unwrap_err();
    assert!(matches!(err, UnpackError::UnsupportedMediaType(_)));
}

#[test]
fn dotdot_entries_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    fs::create_dir(&root).unwrap();
    let tar = TarMaker::new().file("../escaped", b"x").finish();
    let err = apply(&tar, &root, WhiteoutMode::Delete).unwrap_err();
    assert!(matches!(err, UnpackError::UnsafeEntry { .. }), "{err}");
    assert!(!t.path().join("escaped").exists());
    let tar = TarMaker::new().file("a/../../escaped2", b"x").finish();
    assert!(apply(&tar, &root, WhiteoutMode::Delete).is_err());
    assert!(!t.path().join("escaped2").exists());
}

#[test]
fn absolute_paths_land_inside() {
    let t = tempfile::tempdir().unwrap();
    let tar = TarMaker::new().file("/abs/file", b"x").finish();
    apply(&tar, t.path(), WhiteoutMode::Delete).unwrap();
    assert_eq!(fs::read(t.path().join("abs/file")).unwrap(), b"x");
}

#[test]
fn symlinked_parent_cannot_lead_outside() {
    let outside = tempfile::tempdir().unwrap();
    let t = tempfile::tempdir().unwrap();
    let out = outside.path().to_str().unwrap().to_string();
    // The same path exists inside the target, so the symlinks resolve (inside it).
    fs::create_dir_all(t.path().join(&out[1..])).unwrap();
    let tar = TarMaker::new()
        .symlink("abs", &out)
        .file("abs/pwned", b"x")
        .symlink("rel", "../../../../../../../..")
        .file(&format!("rel{out}/pwned2"), b"x")
        .finish();
    apply(&tar, t.path(), WhiteoutMode::Delete).unwrap();
    assert!(!outside.path().join("pwned").exists());
    assert!(!outside.path().join("pwned2").exists());
    // Resolved as if the target were `/`.
    assert!(t.path().join(&out[1..]).join("pwned").exists());
    assert!(t.path().join(&out[1..]).join("pwned2").exists());
}

#[test]
fn dangling_symlinked_parent_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    let t = tempfile::tempdir().unwrap();
    let out = outside.path().to_str().unwrap().to_string();
    let tar = TarMaker::new()
        .symlink("a", &out)
        .file("a/pwned", b"x")
        .finish();
    let err = apply(&tar, t.path(), WhiteoutMode::Delete).unwrap_err();
    assert!(err.to_string().contains("a/pwned"), "{err}");
    assert!(!outside.path().join("pwned").exists());
}

#[test]
fn file_replacing_a_symlink_does_not_write_through_it() {
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    fs::write(&victim, b"original").unwrap();
    let t = tempfile::tempdir().unwrap();
    let tar = TarMaker::new()
        .symlink("s", victim.to_str().unwrap())
        .file("s", b"overwritten")
        .finish();
    apply(&tar, t.path(), WhiteoutMode::Delete).unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"original");
    assert_eq!(fs::read(t.path().join("s")).unwrap(), b"overwritten");
}

#[test]
fn hardlinks_cannot_reach_outside() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret");
    fs::write(&secret, b"secret").unwrap();
    let t = tempfile::tempdir().unwrap();
    let out = outside.path().to_str().unwrap();
    let tar = TarMaker::new()
        .hardlink("h", &format!("../../..{out}/secret"))
        .finish();
    assert!(apply(&tar, t.path(), WhiteoutMode::Delete).is_err());
    let tar = TarMaker::new()
        .hardlink("h", &format!("{out}/secret"))
        .finish();
    assert!(apply(&tar, t.path(), WhiteoutMode::Delete).is_err());
    let tar = TarMaker::new()
        .symlink("d", out)
        .hardlink("h", "d/secret")
        .finish();
    assert!(apply(&tar, t.path(), WhiteoutMode::Delete).is_err());
    // A link to a symlink links the symlink itself, not what it points at.
    let tar = TarMaker::new()
        .symlink("s", secret.to_str().unwrap())
        .hardlink("h2", "s")
        .finish();
    apply(&tar, t.path(), WhiteoutMode::Delete).unwrap();
    assert!(fs::symlink_metadata(t.path().join("h2"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::metadata(&secret).unwrap().nlink(), 1);
}

#[test]
fn whiteouts_delete_in_copy_mode() {
    let t = tempfile::tempdir().unwrap();
    let lower = TarMaker::new()
        .dir("d/", 0o755)
        .file("d/gone", b"1")
        .file("d/kept", b"1")
        .dir("o/", 0o755)
        .file("o/old", b"1")
        .dir("o/sub/", 0o755)
        .finish();
    apply(&lower, t.path(), WhiteoutMode::Delete).unwrap();
    let upper = TarMaker::new()
        .file("d/.wh.gone", b"")
        .file("d/new", b"2")
        .file("d/.wh.new", b"")
        .dir("o/", 0o755)
        .file("o/fresh", b"2")
        .file("o/.wh..wh..opq", b"")
        .file(".wh.missing", b"")
        .finish();
    apply(&upper, t.path(), WhiteoutMode::Delete).unwrap();
    assert!(!t.path().join("d/gone").exists());
    assert!(t.path().join("d/kept").exists());
    assert!(
        t.path().join("d/new").exists(),
        "same-layer files are not whited out"
    );
    assert!(!t.path().join("o/old").exists());
    assert!(!t.path().join("o/sub").exists());
    assert!(t.path().join("o/fresh").exists());
}

#[test]
fn whiteouts_become_overlay_markers_in_overlay_mode() {
    let lower = tempfile::tempdir().unwrap();
    fs::create_dir(lower.path().join("keepmode")).unwrap();
    fs::set_permissions(
        lower.path().join("keepmode"),
        fs::Permissions::from_mode(0o711),
    )
    .unwrap();
    let t = tempfile::tempdir().unwrap();
    let tar = TarMaker::new()
        .file("keepmode/.wh.gone", b"")
        .file("o/.wh..wh..opq", b"")
        .file("o/x", b"1")
        .finish();
    let target = ApplyTarget {
        dir: t.path().to_path_buf(),
        whiteouts: WhiteoutMode::Overlay,
        lowers: vec![lower.path().to_path_buf()],
    };
    let d = sha256_digest(&tar);
    apply_layer(&tar[..], &blob(TAR, &tar, &d), &limits(), &target).unwrap();
    let w = fs::symlink_metadata(t.path().join("keepmode/gone")).unwrap();
    assert!(w.file_type().is_char_device());
    assert_eq!(w.rdev(), 0);
    let m = fs::metadata(t.path().join("keepmode")).unwrap();
    assert_eq!(
        m.permissions().mode() & 0o7777,
        0o711,
        "implicit dir copies the lower's mode"
    );
    assert_eq!(
        xattr::get(t.path().join("o"), "trusted.overlay.opaque")
            .unwrap()
            .as_deref(),
        Some(&b"y"[..])
    );
    assert!(t.path().join("o/x").exists());
}

#[test]
fn full_disk_is_a_clear_error() {
    let fs_guard = SmallFs::mount("64k");
    let big = vec![7u8; 1024 * 1024];
    let tar = TarMaker::new().file("big", &big).finish();
    let err = apply(&tar, fs_guard.path(), WhiteoutMode::Delete).unwrap_err();
    assert!(matches!(err, UnpackError::NoSpace { .. }), "{err}");
    assert!(err.to_string().contains("no space left"), "{err}");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn delete_target(dir: &Path) -> ApplyTarget {
    ApplyTarget {
        dir: dir.to_path_buf(),
        whiteouts: WhiteoutMode::Delete,
        lowers: vec![],
    }
}

/// A tar holding one file of `n` zero bytes, written without holding the tar in memory twice.
fn zeros_tar(n: usize) -> Vec<u8> {
    TarMaker::new().file("zeros", &vec![0u8; n]).finish()
}

#[test]
fn gzip_bomb_is_stopped_by_the_ratio_limit() {
    let tar = zeros_tar(64 * 1024 * 1024);
    let diff_id = sha256_digest(&tar);
    let gz = gzip(&tar);
    drop(tar);
    let t = tempfile::tempdir().unwrap();
    let layer = blob("application/vnd.oci.image.layer.v1.tar+gzip", &gz, &diff_id);
    let err = apply_layer(&gz[..], &layer, &limits(), &delete_target(t.path())).unwrap_err();
    assert!(matches!(err, UnpackError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("max_layer_ratio"), "{err}");
    // Stopped at the budget (16 MiB floor), not after writing the whole 64 MiB.
    let written = fs::metadata(t.path().join("zeros"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(written <= limits::RATIO_FLOOR, "{written} bytes written");
    // With the ratio check off the same layer unpacks.
    let t2 = tempfile::tempdir().unwrap();
    let off = UnpackLimits {
        max_layer_ratio: 0,
        ..limits()
    };
    apply_layer(&gz[..], &layer, &off, &delete_target(t2.path())).unwrap();
}

#[test]
fn layer_larger_than_max_layer_size_is_refused() {
    let tar = TarMaker::new().file("f", &vec![1u8; 300 * 1024]).finish();
    let d = sha256_digest(&tar);
    let small = UnpackLimits {
        max_layer_size: 256 * 1024,
        ..limits()
    };
    let t = tempfile::tempdir().unwrap();
    let err = apply_layer(
        &tar[..],
        &blob(TAR, &tar, &d),
        &small,
        &delete_target(t.path()),
    )
    .unwrap_err();
    assert!(
        matches!(err, UnpackError::TooLarge { limit, .. } if limit == 256 * 1024),
        "{err}"
    );
}

#[test]
fn blob_longer_than_its_descriptor_is_refused() {
    let tar = TarMaker::new().file("f", b"data").finish();
    let d = sha256_digest(&tar);
    let short = LayerBlob {
        media_type: TAR,
        size: 1024,
        diff_id: &d,
    };
    let t = tempfile::tempdir().unwrap();
    let err = apply_layer(&tar[..], &short, &limits(), &delete_target(t.path())).unwrap_err();
    assert!(
        matches!(err, UnpackError::BlobTooLong { size: 1024 }),
        "{err}"
    );
}

/// A raw extension header (`L` long name or `x` PAX) announcing `size` bytes, then its data.
fn extension_tar(kind: tar::EntryType, size: usize) -> Vec<u8> {
    let mut h = TarMaker::header("././@LongLink", kind, 0o644, size as u64);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend(std::iter::repeat_n(b'a', size));
    out.resize(out.len().div_ceil(512) * 512, 0);
    out.extend(TarMaker::new().file("after", b"x").finish());
    out
}

#[test]
fn oversized_long_name_and_pax_headers_are_refused_before_buffering() {
    for (kind, size) in [
        (tar::EntryType::GNULongName, 2 * 1024 * 1024),
        (tar::EntryType::GNULongLink, 2 * 1024 * 1024),
        (tar::EntryType::XHeader, 3 * 1024 * 1024),
    ] {
        let tar = extension_tar(kind, size);
        let d = sha256_digest(&tar);
        let t = tempfile::tempdir().unwrap();
        let err = apply_layer(
            &tar[..],
            &blob(TAR, &tar, &d),
            &limits(),
            &delete_target(t.path()),
        )
        .unwrap_err();
        assert!(
            matches!(err, UnpackError::HeaderTooLarge { .. }),
            "{kind:?}: {err}"
        );
    }
}

#[test]
fn pax_size_and_long_names_keep_the_guard_in_step() {
    // A PAX `size` record overrides the header's size field: the guard must follow it or it
    // would take file data for a header.
    let data = vec![b'p'; 1500];
    let mut pax = tar::Builder::new(Vec::new());
    pax.append_pax_extensions([("size", "1500".as_bytes())])
        .unwrap();
    let mut raw = pax.into_inner().unwrap();
    raw.truncate(raw.len() - 1024); // drop the end-of-archive marker
    let mut h = TarMaker::header("sized", tar::EntryType::Regular, 0o644, 0);
    h.set_cksum();
    raw.extend_from_slice(h.as_bytes());
    raw.extend_from_slice(&data);
    raw.resize(raw.len().div_ceil(512) * 512, 0);
    let long = format!("{}file", "dir/".repeat(40));
    let mut b = tar::Builder::new(Vec::new());
    let mut lh = tar::Header::new_gnu();
    lh.set_size(3);
    lh.set_mode(0o644);
    b.append_data(&mut lh, &long, &b"abc"[..]).unwrap();
    raw.extend(b.into_inner().unwrap());
    let t = tempfile::tempdir().unwrap();
    apply(&raw, t.path(), WhiteoutMode::Delete).unwrap();
    assert_eq!(fs::read(t.path().join("sized")).unwrap(), data);
    assert_eq!(fs::read(t.path().join(&long)).unwrap(), b"abc");
}

#[test]
fn sparse_entries_are_refused() {
    // A GNU sparse header: 512 bytes of data after a 64 MiB hole. Found by the unpack fuzz
    // target: holes are read back as zeros, so the real size (up to 2^64) was written out.
    let octal = |field: &mut [u8], n: u64| {
        let s = format!("{n:0w$o}\0", w = field.len() - 1);
        field.copy_from_slice(s.as_bytes());
    };
    let hole = 64u64 << 20;
    let mut h = TarMaker::header("sparse", tar::EntryType::GNUSparse, 0o644, 512);
    let gnu = h.as_gnu_mut().unwrap();
    octal(&mut gnu.sparse[0].offset, hole);
    octal(&mut gnu.sparse[0].numbytes, 512);
    octal(&mut gnu.realsize, hole + 512);
    let tar = TarMaker::new().raw(h, &[b'S'; 512]).finish();
    let t = tempfile::tempdir().unwrap();
    let err = apply(&tar, t.path(), WhiteoutMode::Overlay).unwrap_err();
    assert!(
        matches!(&err, UnpackError::UnsafeEntry { reason, .. } if reason.contains("sparse")),
        "{err}"
    );
    assert!(!t.path().join("sparse").exists());
}

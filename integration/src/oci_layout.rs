//! Builds OCI image layouts in a test (for `berth load`): layers made in the test, optionally on
//! top of another layout's image (e.g. the seeded busybox), so hostile images need no registry.
//!
//! ```no_run
//! use berth_integration::oci_layout::{gzip_layer, tar_of, write_image};
//! let bomb = gzip_layer(&tar_of(&[("zeros", &vec![0u8; 64 << 20])]));
//! write_image("/tmp/layout".as_ref(), "docker.io/library/bomb:latest", None, &[bomb]);
//! ```
//!
//! [`busybox_layout`] builds a busybox layout with umoci for the real callers' tests (podman,
//! containerd's CRI plug-in) to import: no registry and no network involved.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::runtime::{run_captured, Output};
use crate::{make_busybox_rootfs, TestEnv};

use sha2::{Digest, Sha256};

/// One layer: its blob as stored, media type and the digest of the uncompressed tar.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Layer media type.
    pub media_type: String,
    /// The blob bytes (compressed or not).
    pub blob: Vec<u8>,
    /// `sha256:` of the uncompressed tar.
    pub diff_id: String,
}

/// `sha256:<hex>` of `data`.
pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// A tar of regular files (mode 0644, root-owned).
pub fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_600_000_000);
        b.append_data(&mut h, name, *data).expect("tar entry");
    }
    b.into_inner().expect("tar")
}

/// `tar` as a gzip-compressed OCI layer.
pub fn gzip_layer(tar: &[u8]) -> Layer {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(tar).expect("gzip");
    Layer {
        media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
        blob: gz.finish().expect("gzip"),
        diff_id: sha256(tar),
    }
}

fn put_blob(dir: &Path, data: &[u8]) -> String {
    let d = sha256(data);
    let p = dir.join("blobs/sha256").join(&d["sha256:".len()..]);
    std::fs::create_dir_all(p.parent().expect("blob dir")).expect("mkdir blobs");
    std::fs::write(p, data).expect("write blob");
    d
}

fn read_json(dir: &Path, digest: &str) -> serde_json::Value {
    let p = dir.join("blobs/sha256").join(&digest["sha256:".len()..]);
    serde_json::from_slice(&std::fs::read(&p).expect("read layout blob")).expect("json blob")
}

/// Writes (or adds to) the layout at `dir` an image `name` made of `base`'s image (the first of
/// another layout's index, if given) plus `layers` on top. Returns the manifest digest.
pub fn write_image(dir: &Path, name: &str, base: Option<&Path>, layers: &[Layer]) -> String {
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    let mut config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": []},
    });
    if let Some(b) = base {
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(b.join("index.json")).expect("base index"))
                .expect("base index json");
        let mdigest = index["manifests"][0]["digest"]
            .as_str()
            .expect("base manifest");
        let manifest = read_json(b, mdigest);
        config = read_json(b, manifest["config"]["digest"].as_str().expect("config"));
        for l in manifest["layers"].as_array().expect("layers") {
            let d = l["digest"].as_str().expect("layer digest");
            let p = b.join("blobs/sha256").join(&d["sha256:".len()..]);
            put_blob(dir, &std::fs::read(p).expect("base layer"));
            descs.push(l.clone());
        }
        diff_ids = config["rootfs"]["diff_ids"]
            .as_array()
            .cloned()
            .unwrap_or_default();
    }
    for l in layers {
        let d = put_blob(dir, &l.blob);
        descs.push(
            serde_json::json!({"mediaType": l.media_type, "digest": d, "size": l.blob.len()}),
        );
        diff_ids.push(serde_json::Value::String(l.diff_id.clone()));
    }
    config["rootfs"]["diff_ids"] = serde_json::Value::Array(diff_ids);
    // Distinct images get distinct configs even when their layers are the same.
    config["config"]["Labels"] = serde_json::json!({"test.name": name});
    let cbytes = serde_json::to_vec(&config).expect("config");
    let cdigest = put_blob(dir, &cbytes);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdigest, "size": cbytes.len()},
        "layers": descs,
    }))
    .expect("manifest");
    let mdigest = put_blob(dir, &manifest);
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("oci-layout");
    let index_path = dir.join("index.json");
    let mut index: serde_json::Value = std::fs::read(&index_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| serde_json::json!({"schemaVersion": 2, "manifests": []}));
    index["manifests"]
        .as_array_mut()
        .expect("index manifests")
        .push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": mdigest, "size": manifest.len(),
            "annotations": {"io.containerd.image.name": name},
        }));
    std::fs::write(&index_path, serde_json::to_vec(&index).expect("index")).expect("index.json");
    mdigest
}

fn ok(env: &TestEnv, cmd: &mut Command) -> Output {
    run_captured(cmd, &env.rt.scratch, Duration::from_secs(120)).assert_success()
}

/// Builds `<env>/<name>` (an OCI layout whose index names the manifest `latest`) holding one
/// busybox layer, `PATH` set and `cmd` as the image's command.
pub fn busybox_layout(env: &TestEnv, name: &str, cmd: &[&str]) -> PathBuf {
    let layout = env.path(name);
    let unpacked = env.path(&format!("{name}-unpacked"));
    let image = format!("{}:latest", layout.display());
    ok(
        env,
        Command::new("umoci")
            .args(["init", "--layout"])
            .arg(&layout),
    );
    ok(env, Command::new("umoci").args(["new", "--image", &image]));
    ok(
        env,
        Command::new("umoci")
            .args(["unpack", "--image", &image])
            .arg(&unpacked),
    );
    make_busybox_rootfs(&unpacked.join("rootfs"));
    ok(
        env,
        Command::new("umoci")
            .args(["repack", "--image", &image])
            .arg(&unpacked),
    );
    let mut config = Command::new("umoci");
    config.args([
        "config",
        "--image",
        &image,
        "--config.env",
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
    ]);
    for c in cmd {
        config.args(["--config.cmd", c]);
    }
    ok(env, &mut config);
    let _ = std::fs::remove_dir_all(&unpacked);
    layout
}

/// `tar` of the layout (what `ctr image import` and `podman load` read).
pub fn tar_layout(env: &TestEnv, layout: &std::path::Path) -> PathBuf {
    let tar = layout.with_extension("tar");
    ok(
        env,
        Command::new("tar")
            .arg("-C")
            .arg(layout)
            .arg("-cf")
            .arg(&tar)
            .arg("."),
    );
    tar
}

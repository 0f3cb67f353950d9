//! Images built inside a test, entry by entry (hostile ones too: FIFOs, symlinks out of the
//! rootfs), written as an OCI image layout that `berth load -i DIR` imports.
//!
//! ```no_run
//! use berth_integration::oci_image::{busybox_layer, layer_tar, write_layout, Node};
//! let top = layer_tar(&[Node::dir("etc"), Node::fifo("etc/passwd")]);
//! let dir = tempfile::tempdir().unwrap();
//! write_layout(dir.path(), "hostile.test/fifo:latest", &[layer_tar(&busybox_layer()), top], &["true"]).unwrap();
//! ```

use std::path::Path;

use sha2::{Digest, Sha256};

/// One entry of a layer.
#[derive(Debug, Clone)]
pub enum Node {
    /// A directory.
    Dir {
        /// Path inside the layer (relative).
        path: String,
        /// Permission bits.
        mode: u32,
    },
    /// A regular file.
    File {
        /// Path inside the layer.
        path: String,
        /// Contents.
        data: Vec<u8>,
        /// Permission bits.
        mode: u32,
    },
    /// A symbolic link.
    Symlink {
        /// Path inside the layer.
        path: String,
        /// Where it points (as written, not resolved).
        target: String,
    },
    /// A named pipe.
    Fifo {
        /// Path inside the layer.
        path: String,
    },
}

impl Node {
    /// A 0755 directory.
    pub fn dir(path: &str) -> Node {
        Node::Dir {
            path: path.into(),
            mode: 0o755,
        }
    }
    /// A 0644 file.
    pub fn file(path: &str, data: impl Into<Vec<u8>>) -> Node {
        Node::File {
            path: path.into(),
            data: data.into(),
            mode: 0o644,
        }
    }
    /// A symlink.
    pub fn symlink(path: &str, target: &str) -> Node {
        Node::Symlink {
            path: path.into(),
            target: target.into(),
        }
    }
    /// A FIFO.
    pub fn fifo(path: &str) -> Node {
        Node::Fifo { path: path.into() }
    }
}

/// An uncompressed layer tar holding `nodes` (owned by root, in the order given).
pub fn layer_tar(nodes: &[Node]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for n in nodes {
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        let (path, data): (&str, &[u8]) = match n {
            Node::Dir { path, mode } => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(*mode);
                h.set_size(0);
                (path, &[])
            }
            Node::File { path, data, mode } => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(data.len() as u64);
                (path, data)
            }
            Node::Symlink { path, target } => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                h.set_link_name(target)
                    .expect("symlink target fits a tar header");
                (path, &[])
            }
            Node::Fifo { path } => {
                h.set_entry_type(tar::EntryType::Fifo);
                h.set_mode(0o644);
                h.set_size(0);
                (path, &[])
            }
        };
        b.append_data(&mut h, path, data)
            .expect("append to an in-memory tar");
    }
    b.into_inner().expect("finish an in-memory tar")
}

/// A layer with the host's static busybox as `/bin/busybox` and `/bin/sh`, `/bin/true`,
/// `/bin/cat` links to it: enough for a container to run a command.
pub fn busybox_layer() -> Vec<Node> {
    let busybox =
        std::fs::read("/bin/busybox").expect("/bin/busybox (apt-get install busybox-static)");
    let mut v = vec![
        Node::dir("bin"),
        Node::File {
            path: "bin/busybox".into(),
            data: busybox,
            mode: 0o755,
        },
    ];
    for a in ["sh", "true", "cat", "id", "sleep"] {
        v.push(Node::symlink(&format!("bin/{a}"), "busybox"));
    }
    v
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

fn put_blob(dir: &Path, data: &[u8]) -> std::io::Result<String> {
    let d = sha256(data);
    let hex = d.trim_start_matches("sha256:");
    std::fs::write(dir.join("blobs/sha256").join(hex), data)?;
    Ok(d)
}

/// The OCI architecture name of this host.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Writes an OCI image layout in `dir` with one image named `name` (e.g.
/// `hostile.test/fifo:latest`): `layers` (uncompressed tars, bottom first) and `Cmd` `cmd`.
pub fn write_layout(
    dir: &Path,
    name: &str,
    layers: &[Vec<u8>],
    cmd: &[&str],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("blobs/sha256"))?;
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut layer_descs = Vec::new();
    let mut diff_ids = Vec::new();
    for l in layers {
        let d = put_blob(dir, l)?;
        diff_ids.push(d.clone());
        layer_descs.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": d, "size": l.len(),
        }));
    }
    let config = serde_json::json!({
        "architecture": host_arch(), "os": "linux",
        "config": {"Cmd": cmd, "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    })
    .to_string()
    .into_bytes();
    let config_digest = put_blob(dir, &config)?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config.len()},
        "layers": layer_descs,
    })
    .to_string()
    .into_bytes();
    let manifest_digest = put_blob(dir, &manifest)?;
    let index = index_of_one(&manifest_digest, manifest.len(), name);
    std::fs::write(dir.join("index.json"), index.to_string())
}

/// An OCI image index (a layout's `index.json`) with one manifest, `manifest_digest` of
/// `manifest_size` bytes, named `name`.
pub fn index_of_one(manifest_digest: &str, manifest_size: usize, name: &str) -> serde_json::Value {
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": name},
        }],
    })
}

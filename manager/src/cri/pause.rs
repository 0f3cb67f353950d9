//! The pause image: `berth-pause` (built from `manager/pause/pause.c` by the build script and
//! embedded in berthd) as a one-layer OCI image, loaded into the image store through the same
//! OCI-layout path as `berth load`, so sandboxes are ordinary containers of a local image and no
//! registry is needed to run a pod.

use std::path::Path;

use serde_json::json;

use crate::content::Digest;
use crate::images::{ImageError, ImageService};

/// The static pause binary.
const PAUSE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/berth-pause"));

/// Name of the pause image in the image store.
pub const PAUSE_IMAGE: &str = concat!("berth.local/pause:", env!("CARGO_PKG_VERSION"));

/// The pause process's path in its image.
pub const PAUSE_PATH: &str = "/pause";

fn layer_tar() -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for dir in ["dev/", "etc/", "proc/", "sys/"] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        h.set_mtime(0);
        b.append_data(&mut h, dir, std::io::empty())?;
    }
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o755);
    h.set_size(PAUSE.len() as u64);
    h.set_mtime(0);
    b.append_data(&mut h, "pause", PAUSE)?;
    b.into_inner()
}

fn write_blob(dir: &Path, data: &[u8]) -> std::io::Result<Digest> {
    let d = Digest::of(data);
    std::fs::write(dir.join("blobs/sha256").join(d.hex()), data)?;
    Ok(d)
}

/// Writes the pause image as an OCI layout in `dir`.
fn write_layout(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("blobs/sha256"))?;
    let layer = layer_tar()?;
    let layer_digest = write_blob(dir, &layer)?;
    let platform = crate::images::host_platform();
    let (os, arch) = platform.split_once('/').unwrap_or(("linux", "amd64"));
    let config = serde_json::to_vec(&json!({
        "architecture": arch,
        "os": os,
        "created": "1970-01-01T00:00:00Z",
        "config": { "Entrypoint": [PAUSE_PATH] },
        "rootfs": { "type": "layers", "diff_ids": [layer_digest.to_string()] },
    }))?;
    let config_digest = write_blob(dir, &config)?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest.to_string(),
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": layer_digest.to_string(),
            "size": layer.len(),
        }],
    }))?;
    let manifest_digest = write_blob(dir, &manifest)?;
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest.to_string(),
            "size": manifest.len(),
            "annotations": { "io.containerd.image.name": PAUSE_IMAGE },
        }],
    }))?;
    std::fs::write(dir.join("index.json"), index)?;
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    Ok(())
}

/// Makes sure the pause image is in the store (loading it once per daemon is cheap: the blobs
/// are found present and the record already points at the same manifest).
pub async fn ensure(images: &ImageService) -> Result<String, ImageError> {
    let scratch = tempfile::tempdir().map_err(|e| io_err("temp dir for the pause image", e))?;
    write_layout(scratch.path()).map_err(|e| io_err("writing the pause image layout", e))?;
    images.load(scratch.path()).await?;
    Ok(PAUSE_IMAGE.to_string())
}

fn io_err(what: &str, e: std::io::Error) -> ImageError {
    ImageError::Distribution(crate::images::DistributionError::new(
        crate::images::DistributionErrorKind::Internal,
        format!("{what}: {e}"),
    ))
}

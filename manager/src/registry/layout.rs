//! `load`: import an OCI image layout (a directory with `oci-layout`, `index.json` and
//! `blobs/`, or a tar archive of one) into the content store, verifying every blob.

use std::path::{Path, PathBuf};

use tokio::io::AsyncReadExt;

use super::error::RegistryError;
use super::store::{BlobStore, BlobWriter};
use crate::images::oci::{self as manifest, Descriptor, Document};
use crate::reference::{valid_digest, Reference};

/// The annotation naming an image in a layout's index.json.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";
/// containerd's annotation carrying the full image name.
const CONTAINERD_NAME_ANNOTATION: &str = "io.containerd.image.name";
const CHUNK: usize = 256 * 1024;

/// One image found in a layout's index.json.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    /// The full name, if the annotations carry one (a bare tag like `latest` does not).
    pub reference: Option<Reference>,
    /// The raw `org.opencontainers.image.ref.name` value, if any.
    pub ref_name: Option<String>,
    /// The root descriptor (manifest or index), now in the store.
    pub target: Descriptor,
}

/// Imports a layout directory or a tar archive of one.
pub async fn load_layout<S: BlobStore>(
    path: &Path,
    store: &S,
) -> Result<Vec<LoadedImage>, RegistryError> {
    let layout_err = |p: &Path, message: String| RegistryError::Layout {
        path: p.display().to_string(),
        message,
    };
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| layout_err(path, e.to_string()))?;
    if meta.is_dir() {
        return load_dir(path, store).await;
    }
    let scratch = tempfile::tempdir().map_err(|e| layout_err(path, format!("temp dir: {e}")))?;
    let archive = path.to_path_buf();
    let dest = scratch.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&archive)?;
        let mut tar = tar::Archive::new(file);
        tar.set_overwrite(true);
        tar.unpack(&dest)
    })
    .await
    .map_err(|e| layout_err(path, format!("extracting: {e}")))?
    .map_err(|e| layout_err(path, format!("not a readable tar archive: {e}")))?;
    let loaded = load_dir(scratch.path(), store).await;
    loaded.map_err(|e| match e {
        RegistryError::Layout { message, .. } => layout_err(path, message),
        other => other,
    })
}

async fn load_dir<S: BlobStore>(dir: &Path, store: &S) -> Result<Vec<LoadedImage>, RegistryError> {
    let err = |message: String| RegistryError::Layout {
        path: dir.display().to_string(),
        message,
    };
    let marker = tokio::fs::read(dir.join("oci-layout"))
        .await
        .map_err(|e| err(format!("no oci-layout file ({e}): not an OCI image layout")))?;
    let marker: serde_json::Value =
        serde_json::from_slice(&marker).map_err(|e| err(format!("oci-layout: {e}")))?;
    if marker.get("imageLayoutVersion").and_then(|v| v.as_str()) != Some("1.0.0") {
        return Err(err("oci-layout: imageLayoutVersion is not 1.0.0".into()));
    }
    let index = tokio::fs::read(dir.join("index.json"))
        .await
        .map_err(|e| err(format!("index.json: {e}")))?;
    let index: oci_spec::image::ImageIndex =
        serde_json::from_slice(&index).map_err(|e| err(format!("index.json: {e}")))?;
    let mut out = Vec::new();
    for entry in index.manifests().iter().cloned() {
        import_tree(dir, &entry, store).await?;
        let annotations = entry.annotations().clone().unwrap_or_default();
        let ref_name = annotations.get(REF_NAME_ANNOTATION).cloned();
        let reference = annotations
            .get(CONTAINERD_NAME_ANNOTATION)
            .or(ref_name.as_ref())
            .filter(|n| n.contains('/') || n.contains(':') || n.contains('@'))
            .and_then(|n| Reference::parse(n).ok());
        out.push(LoadedImage {
            reference,
            ref_name,
            target: entry,
        });
    }
    Ok(out)
}

fn blob_path(dir: &Path, digest: &str) -> Result<PathBuf, RegistryError> {
    if !valid_digest(digest) {
        return Err(RegistryError::Layout {
            path: dir.display().to_string(),
            message: format!("invalid digest \"{digest}\""),
        });
    }
    let (alg, hex) = digest.split_once(':').unwrap_or(("", digest));
    Ok(dir.join("blobs").join(alg).join(hex))
}

/// Imports a manifest or index and everything it references, children before parents.
async fn import_tree<S: BlobStore>(
    dir: &Path,
    desc: &Descriptor,
    store: &S,
) -> Result<(), RegistryError> {
    let mut stack = vec![(desc.clone(), false)];
    while let Some((d, children_done)) = stack.pop() {
        let is_manifest = manifest::ACCEPTED_MANIFESTS.contains(&d.media_type().as_ref());
        if !is_manifest || children_done {
            import_blob(dir, &d, store).await?;
            continue;
        }
        if d.size() > manifest::MAX_MANIFEST_SIZE {
            return Err(RegistryError::ManifestTooLarge {
                reference: d.digest().to_string(),
                size: d.size(),
                limit: manifest::MAX_MANIFEST_SIZE,
            });
        }
        let path = blob_path(dir, d.digest().as_ref())?;
        let body = tokio::fs::read(&path)
            .await
            .map_err(|e| RegistryError::Layout {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
        stack.push((d.clone(), true));
        match manifest::parse(d.digest().as_ref(), d.media_type().as_ref(), &body)? {
            Document::Manifest(m) => {
                stack.push((m.config().clone(), false));
                stack.extend(m.layers().iter().cloned().map(|l| (l, false)));
            }
            Document::Index(i) => stack.extend(i.manifests().iter().cloned().map(|c| (c, false))),
        }
    }
    Ok(())
}

/// Streams one blob file into the store; the store's writer checks size and digest.
async fn import_blob<S: BlobStore>(
    dir: &Path,
    desc: &Descriptor,
    store: &S,
) -> Result<(), RegistryError> {
    let path = blob_path(dir, desc.digest().as_ref())?;
    let wrap = |source| RegistryError::Store {
        digest: desc.digest().to_string(),
        source,
    };
    let _guard = store.lock(desc.digest().as_ref()).await.map_err(wrap)?;
    if store.exists(desc.digest().as_ref()).await.map_err(wrap)? {
        return Ok(());
    }
    let io_err = |e: std::io::Error| RegistryError::Layout {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let mut file = tokio::fs::File::open(&path).await.map_err(io_err)?;
    let len = file.metadata().await.map_err(io_err)?.len();
    if len != desc.size() {
        return Err(RegistryError::Verification {
            digest: desc.digest().to_string(),
            message: format!(
                "{} is {len} bytes, the descriptor says {}",
                path.display(),
                desc.size()
            ),
        });
    }
    let mut writer = store
        .writer(desc.digest().as_ref(), desc.size())
        .await
        .map_err(wrap)?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buf).await.map_err(io_err)?;
        if n == 0 {
            break;
        }
        writer.write(&buf[..n]).await.map_err(wrap)?;
    }
    writer
        .commit()
        .await
        .map_err(|source| RegistryError::Verification {
            digest: desc.digest().to_string(),
            message: format!("{} does not match its digest: {source}", path.display()),
        })
}

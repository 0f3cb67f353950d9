//! `push`: upload an image's blobs (skipping those the registry has) and then its manifests.

use oci_client::RegistryOperation;
use tokio::sync::mpsc::Sender;

use super::client::Session;
use super::error::RegistryError;
use super::hosts::RegistryContext;
use super::progress::{PullEvent, PullStatus};
use super::store::{read_blob, BlobStore};
use super::Credentials;
use crate::images::oci::{self as manifest, Descriptor, Document, ImageManifest as Manifest};
use crate::reference::Reference;

/// Pushes the image whose root (manifest or index) is `target` to `reference`.
///
/// Every manifest under an index must be in the local store: a registry would reject an index
/// whose children are missing, so we say which one is absent instead.
pub async fn push<S: BlobStore>(
    ctx: &RegistryContext,
    reference: &Reference,
    target: &Descriptor,
    credentials: Option<&Credentials>,
    store: &S,
    progress: Sender<PullEvent>,
) -> Result<(), RegistryError> {
    let endpoint = ctx.upstream(reference.registry());
    let session = Session::open(
        ctx,
        &endpoint,
        reference.repository(),
        credentials,
        RegistryOperation::Push,
    )
    .await?;
    let body = read_blob(store, target.digest().as_ref()).await?;
    match manifest::parse(
        target.digest().as_ref(),
        target.media_type().as_ref(),
        &body,
    )? {
        Document::Manifest(m) => push_blobs(&session, &m, store, &progress).await?,
        Document::Index(index) => {
            for child in index.manifests() {
                let child_body = read_blob(store, child.digest().as_ref()).await.map_err(|_| {
                    RegistryError::BadManifest {
                        what: target.digest().to_string(),
                        message: format!(
                            "cannot push: manifest {} of the index is not in the local store (pull it with --platform first)",
                            child.digest()
                        ),
                    }
                })?;
                match manifest::parse(
                    child.digest().as_ref(),
                    child.media_type().as_ref(),
                    &child_body,
                )? {
                    Document::Manifest(m) => push_blobs(&session, &m, store, &progress).await?,
                    Document::Index(_) => {
                        return Err(RegistryError::BadManifest {
                            what: child.digest().to_string(),
                            message: "nested indexes cannot be pushed".into(),
                        })
                    }
                }
                let by_digest = session
                    .oci_reference("latest")
                    .clone_with_digest(child.digest().to_string());
                put_manifest(
                    &session,
                    &by_digest,
                    child.media_type().as_ref(),
                    child_body,
                )
                .await?;
            }
        }
    }
    let image = match (reference.tag(), reference.digest()) {
        (Some(tag), _) => session.oci_reference(tag),
        (None, Some(digest)) => session
            .oci_reference("latest")
            .clone_with_digest(digest.into()),
        (None, None) => session.oci_reference(crate::reference::DEFAULT_TAG),
    };
    put_manifest(&session, &image, target.media_type().as_ref(), body).await
}

async fn put_manifest(
    session: &Session,
    image: &oci_client::Reference,
    media_type: &str,
    body: Vec<u8>,
) -> Result<(), RegistryError> {
    let content_type = reqwest::header::HeaderValue::from_str(media_type).map_err(|_| {
        RegistryError::BadManifest {
            what: image.to_string(),
            message: format!("media type \"{media_type}\" is not a valid header value"),
        }
    })?;
    session
        .oci()
        .push_manifest_raw(image, body, content_type)
        .await
        .map_err(|e| session.map_oci(e))?;
    Ok(())
}

/// Uploads config and layers the registry does not have yet.
async fn push_blobs<S: BlobStore>(
    session: &Session,
    manifest: &Manifest,
    store: &S,
    progress: &Sender<PullEvent>,
) -> Result<(), RegistryError> {
    let image = session.oci_reference("latest");
    for layer in manifest.layers() {
        let _ = progress
            .send(PullEvent::new(
                layer.digest().as_ref(),
                PullStatus::Preparing,
            ))
            .await;
    }
    let blobs = manifest
        .layers()
        .iter()
        .chain(std::iter::once(manifest.config()));
    for desc in blobs {
        let is_layer = desc.digest() != manifest.config().digest();
        let say = |status| async move {
            if is_layer {
                let _ = progress
                    .send(PullEvent::new(desc.digest().as_ref(), status))
                    .await;
            }
        };
        let present = session
            .oci()
            .blob_exists(&image, desc.digest().as_ref())
            .await
            .map_err(|e| session.map_oci(e))?;
        if present {
            say(PullStatus::LayerAlreadyExists).await;
            continue;
        }
        say(PullStatus::Pushing).await;
        let data = read_blob(store, desc.digest().as_ref()).await?;
        session
            .oci()
            .push_blob(&image, data, desc.digest().as_ref())
            .await
            .map_err(|e| session.map_oci(e))?;
        say(PullStatus::Pushed).await;
    }
    Ok(())
}

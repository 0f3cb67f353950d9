//! The CRI ImageService over [`crate::images::ImageService`]: the same records, content store,
//! registry mirrors and credentials as `berth pull`. A CRI image is one target (manifest or
//! index); its id is the config digest, its repo tags every name pointing at that target.

use std::collections::BTreeMap;

use k8s_cri::v1 as cri;
use k8s_cri::v1::image_service_server::ImageService;
use tonic::{Request, Response, Status};

use super::CriContext;
use crate::images::{service::status as image_status, Credentials, ImageError, ImageView};
use crate::images::{Progress, PullOptions};
use crate::reference::Reference;

/// The CRI ImageService.
pub struct CriImages {
    ctx: CriContext,
}

impl CriImages {
    /// Serves images of `ctx`.
    pub fn new(ctx: CriContext) -> Self {
        CriImages { ctx }
    }
}

/// The CRI image id of a view: its config digest (the Docker image id), else the target digest.
pub fn image_id(v: &ImageView) -> String {
    v.facts
        .config_digest
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_else(|| v.record.target.digest.to_string())
}

/// Builds CRI images from views: names sharing a target are one image.
fn group(views: Vec<ImageView>) -> Vec<cri::Image> {
    let mut by_target: BTreeMap<String, (ImageView, Vec<String>)> = BTreeMap::new();
    for v in views {
        let key = v.record.target.digest.to_string();
        let name = v.record.name.clone();
        by_target
            .entry(key)
            .or_insert_with(|| (v, Vec::new()))
            .1
            .push(name);
    }
    by_target
        .into_values()
        .map(|(v, names)| image_message(&v, names))
        .collect()
}

fn image_message(v: &ImageView, mut names: Vec<String>) -> cri::Image {
    names.sort();
    names.dedup();
    let target = v.record.target.digest.to_string();
    let mut repo_digests: Vec<String> = names
        .iter()
        .filter_map(|n| Reference::parse(n).ok())
        .map(|r| format!("{}@{target}", r.name()))
        .collect();
    repo_digests.sort();
    repo_digests.dedup();
    let (uid, username) = image_user(v);
    cri::Image {
        id: image_id(v),
        repo_tags: names.into_iter().filter(|n| !n.contains('@')).collect(),
        repo_digests,
        size: v.facts.size,
        uid,
        username,
        spec: Some(cri::ImageSpec {
            image: image_id(v),
            ..Default::default()
        }),
        pinned: false,
    }
}

/// The image config's `User`: numeric (uid) or a name, as kubelet's runAsNonRoot check wants.
fn image_user(v: &ImageView) -> (Option<cri::Int64Value>, String) {
    let user = v
        .facts
        .config
        .as_ref()
        .and_then(|c| serde_json::from_slice::<serde_json::Value>(c).ok())
        .and_then(|c| {
            c.get("config")
                .and_then(|c| c.get("User"))
                .and_then(|u| u.as_str())
                .map(str::to_string)
        })
        .unwrap_or_default();
    let user = user.split(':').next().unwrap_or("").to_string();
    if user.is_empty() {
        return (Some(cri::Int64Value { value: 0 }), String::new());
    }
    match user.parse::<i64>() {
        Ok(uid) => (Some(cri::Int64Value { value: uid }), String::new()),
        Err(_) => (None, user),
    }
}

fn spec_image(spec: Option<&cri::ImageSpec>) -> Result<&str, Status> {
    match spec.map(|s| s.image.as_str()) {
        Some(i) if !i.is_empty() => Ok(i),
        _ => Err(Status::invalid_argument(
            "image spec with an image name is required",
        )),
    }
}

/// Credentials of a pull request: username/password, the base64 `auth` form, or a token.
fn credentials(auth: Option<cri::AuthConfig>) -> Result<Option<Credentials>, Status> {
    use base64::Engine as _;
    let Some(a) = auth else { return Ok(None) };
    let (mut username, mut password) = (a.username, a.password);
    if username.is_empty() && !a.auth.is_empty() {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(a.auth.trim())
            .map_err(|e| Status::invalid_argument(format!("auth is not base64: {e}")))?;
        let text = String::from_utf8(raw)
            .map_err(|_| Status::invalid_argument("auth is not UTF-8 user:password"))?;
        let (u, p) = text
            .split_once(':')
            .ok_or_else(|| Status::invalid_argument("auth is not user:password"))?;
        (username, password) = (u.to_string(), p.to_string());
    }
    let identity_token = if a.identity_token.is_empty() {
        a.registry_token
    } else {
        a.identity_token
    };
    if username.is_empty() && password.is_empty() && identity_token.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials {
        username,
        password,
        identity_token,
    }))
}

impl CriImages {
    /// The view of `image` (name or id) with every name of its target, or None if not present.
    async fn lookup(&self, image: &str) -> Result<Option<(ImageView, Vec<String>)>, Status> {
        match self.ctx.images.get(image).await {
            Ok(v) => {
                let mut names = self
                    .ctx
                    .images
                    .other_names(&v)
                    .await
                    .map_err(image_status)?;
                names.push(v.record.name.clone());
                Ok(Some((v, names)))
            }
            Err(ImageError::NotFound(_)) | Err(ImageError::InvalidName(_)) => Ok(None),
            Err(e) => Err(image_status(e)),
        }
    }
}

/// Bytes and inodes used under `dir` (not following links).
fn usage(dir: &std::path::Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let (mut bytes, mut inodes) = (0u64, 0u64);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            bytes += m.blocks() * 512;
            inodes += 1;
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    (bytes, inodes)
}

#[tonic::async_trait]
impl ImageService for CriImages {
    async fn list_images(
        &self,
        req: Request<cri::ListImagesRequest>,
    ) -> Result<Response<cri::ListImagesResponse>, Status> {
        let filter = req
            .into_inner()
            .filter
            .and_then(|f| f.image)
            .map(|s| s.image)
            .filter(|i| !i.is_empty());
        let images = match filter {
            Some(f) => match self.lookup(&f).await? {
                Some((v, names)) => vec![image_message(&v, names)],
                None => Vec::new(),
            },
            None => group(self.ctx.images.list().await.map_err(image_status)?),
        };
        Ok(Response::new(cri::ListImagesResponse { images }))
    }

    async fn image_status(
        &self,
        req: Request<cri::ImageStatusRequest>,
    ) -> Result<Response<cri::ImageStatusResponse>, Status> {
        let req = req.into_inner();
        let name = spec_image(req.image.as_ref())?;
        let found = self.lookup(name).await?;
        let details = found.as_ref().filter(|_| req.verbose).map(|(v, _)| {
            let cfg = v
                .facts
                .config
                .as_ref()
                .and_then(|c| serde_json::from_slice::<serde_json::Value>(c).ok())
                .unwrap_or_default();
            serde_json::json!({ "imageSpec": cfg, "target": v.record.target.digest.to_string() })
        });
        let info = super::verbose_info(details);
        Ok(Response::new(cri::ImageStatusResponse {
            image: found.map(|(v, names)| image_message(&v, names)),
            info,
        }))
    }

    async fn pull_image(
        &self,
        req: Request<cri::PullImageRequest>,
    ) -> Result<Response<cri::PullImageResponse>, Status> {
        let req = req.into_inner();
        let reference = spec_image(req.image.as_ref())?.to_string();
        let opts = PullOptions {
            reference,
            platform: None,
            credentials: credentials(req.auth)?,
        };
        let outcome = self
            .ctx
            .images
            .pull(opts, Progress::discard())
            .await
            .map_err(image_status)?;
        Ok(Response::new(cri::PullImageResponse {
            image_ref: image_id(&outcome.image),
        }))
    }

    async fn remove_image(
        &self,
        req: Request<cri::RemoveImageRequest>,
    ) -> Result<Response<cri::RemoveImageResponse>, Status> {
        let req = req.into_inner();
        let name = spec_image(req.image.as_ref())?;
        // Removing an image that is not there succeeds (kubelet's GC retries removals).
        let Some((_, names)) = self.lookup(name).await? else {
            return Ok(Response::new(cri::RemoveImageResponse {}));
        };
        for n in names {
            match self.ctx.images.remove(&n, false).await {
                Ok(_) | Err(ImageError::NotFound(_)) => {}
                Err(e) => return Err(image_status(e)),
            }
        }
        Ok(Response::new(cri::RemoveImageResponse {}))
    }

    async fn image_fs_info(
        &self,
        _req: Request<cri::ImageFsInfoRequest>,
    ) -> Result<Response<cri::ImageFsInfoResponse>, Status> {
        let root = self.ctx.root.clone();
        let fs = tokio::task::spawn_blocking(move || {
            let now = crate::metadata::now_nanos();
            let mk = |dir: std::path::PathBuf| {
                let (bytes, inodes) = usage(&dir);
                cri::FilesystemUsage {
                    timestamp: now,
                    fs_id: Some(cri::FilesystemIdentifier {
                        mountpoint: dir.display().to_string(),
                    }),
                    used_bytes: Some(cri::UInt64Value { value: bytes }),
                    inodes_used: Some(cri::UInt64Value { value: inodes }),
                }
            };
            (mk(root.join("snapshots")), mk(root.join("containers")))
        })
        .await
        .map_err(|e| Status::internal(format!("image fs usage: {e}")))?;
        Ok(Response::new(cri::ImageFsInfoResponse {
            image_filesystems: vec![fs.0],
            container_filesystems: vec![fs.1],
        }))
    }
}

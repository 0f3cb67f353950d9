//! The Images gRPC service: converts between `berth.v1` messages and [`ImageService`].

use std::path::PathBuf;
use std::pin::Pin;

use berth_proto::v1 as pb;
use berth_proto::v1::images_server::Images;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::distribution::{Credentials, DistributionErrorKind, PullOptions};
use super::naming;
use super::progress::{Progress, ProgressEvent};
use super::store::{ImageError, ImageService, ImageView};
use crate::events::EventBus;
use crate::metadata::images::Descriptor;

/// gRPC adapter over [`ImageService`].
#[derive(Clone)]
pub struct ImagesApi {
    images: ImageService,
    events: EventBus,
}

impl ImagesApi {
    /// Wraps the image logic; pulls and deletes are published on `events`.
    pub fn new(images: ImageService, events: EventBus) -> Self {
        ImagesApi { images, events }
    }
}

/// Maps image errors to gRPC statuses.
pub fn status(e: ImageError) -> Status {
    let msg = e.to_string();
    match e {
        ImageError::NotFound(_) => Status::not_found(msg),
        ImageError::InvalidName(_) => Status::invalid_argument(msg),
        ImageError::Conflict(_) => Status::failed_precondition(msg),
        ImageError::Unsupported(_) => Status::unimplemented(msg),
        ImageError::Distribution(d) => match d.kind {
            DistributionErrorKind::InvalidArgument => Status::invalid_argument(msg),
            DistributionErrorKind::NotFound => Status::not_found(msg),
            DistributionErrorKind::Unauthenticated => Status::unauthenticated(msg),
            DistributionErrorKind::PermissionDenied => Status::permission_denied(msg),
            DistributionErrorKind::Unavailable => Status::unavailable(msg),
            DistributionErrorKind::Internal => Status::internal(msg),
        },
        ImageError::Metadata(_) | ImageError::Content(_) | ImageError::Gc(_) => {
            Status::internal(msg)
        }
    }
}

/// Converts a chrono time to a protobuf timestamp.
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

fn descriptor(d: &Descriptor) -> pb::Descriptor {
    pb::Descriptor {
        media_type: d.media_type.clone(),
        digest: d.digest.to_string(),
        size: d.size as i64,
        annotations: Default::default(),
    }
}

/// Converts an image view to its protobuf form.
pub fn image_message(v: &ImageView) -> pb::Image {
    let d = naming::display(&v.record.name);
    pb::Image {
        name: v.record.name.clone(),
        display_name: d.full,
        repository: d.repository,
        tag: d.tag,
        target: Some(descriptor(&v.record.target)),
        config_digest: v
            .facts
            .config_digest
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        created: v.facts.created.map(timestamp),
        size: v.facts.size as i64,
        record_created_at: Some(timestamp(v.record.created_at)),
        record_updated_at: Some(timestamp(v.record.updated_at)),
        labels: v.record.labels.clone().into_iter().collect(),
        platform: v.facts.platform.clone(),
    }
}

fn credentials(auth: Option<pb::RegistryAuth>) -> Option<Credentials> {
    auth.filter(|a| {
        !(a.username.is_empty() && a.password.is_empty() && a.identity_token.is_empty())
    })
    .map(|a| Credentials {
        username: a.username,
        password: a.password,
        identity_token: a.identity_token,
    })
}

fn blob_message(e: ProgressEvent) -> (Option<String>, Option<pb::BlobProgress>) {
    match e {
        ProgressEvent::Message(m) => (Some(m), None),
        ProgressEvent::Blob(b) => (
            None,
            Some(pb::BlobProgress {
                id: b.id,
                digest: b.digest,
                status: b.status,
                current: b.current as i64,
                total: b.total as i64,
            }),
        ),
    }
}

/// Drives `work` to completion while sending its progress events, made into messages by `wrap`,
/// to `out`; events still queued when it finishes are sent too. Returns `work`'s result.
async fn forward_progress<T, R>(
    work: impl std::future::Future<Output = R>,
    events: &mut tokio::sync::mpsc::Receiver<ProgressEvent>,
    out: &tokio::sync::mpsc::Sender<Result<T, Status>>,
    wrap: impl Fn(ProgressEvent) -> T,
) -> R {
    tokio::pin!(work);
    let result = loop {
        tokio::select! {
            r = &mut work => break r,
            Some(e) = events.recv() => {
                let _ = out.send(Ok(wrap(e))).await;
            }
        }
    };
    while let Ok(e) = events.try_recv() {
        let _ = out.send(Ok(wrap(e))).await;
    }
    result
}

type EventStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

const PROGRESS_BUFFER: usize = 256;

#[tonic::async_trait]
impl Images for ImagesApi {
    type PullStream = EventStream<pb::PullProgress>;
    type PushStream = EventStream<pb::PushProgress>;

    async fn pull(
        &self,
        req: Request<pb::PullRequest>,
    ) -> Result<Response<Self::PullStream>, Status> {
        let req = req.into_inner();
        let opts = PullOptions {
            reference: req.reference,
            platform: Some(req.platform).filter(|p| !p.is_empty()),
            credentials: credentials(req.auth),
        };
        let (progress, mut events) = Progress::channel(PROGRESS_BUFFER);
        let (out, rx) = tokio::sync::mpsc::channel(PROGRESS_BUFFER);
        let images = self.images.clone();
        let bus = self.events.clone();
        tokio::spawn(async move {
            use pb::pull_progress::Event;
            let result = forward_progress(images.pull(opts, progress), &mut events, &out, |e| {
                let (m, b) = blob_message(e);
                let event = m.map(Event::Message).or(b.map(Event::Blob));
                pb::PullProgress { event }
            })
            .await;
            if let Ok(o) = &result {
                bus.publish(pb::envelope::Event::ImagePull(pb::ImagePull {
                    name: o.image.record.name.clone(),
                    digest: o.image.record.target.digest.to_string(),
                }));
            }
            let last = result.map_err(status).map(|o| pb::PullProgress {
                event: Some(Event::Result(pb::PullResult {
                    name: o.image.record.name.clone(),
                    digest: o.image.record.target.digest.to_string(),
                    downloaded_newer: o.downloaded_newer,
                    image: Some(image_message(&o.image)),
                })),
            });
            let _ = out.send(last).await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn list(
        &self,
        _req: Request<pb::ListImagesRequest>,
    ) -> Result<Response<pb::ListImagesResponse>, Status> {
        let images = self.images.list().await.map_err(status)?;
        Ok(Response::new(pb::ListImagesResponse {
            images: images.iter().map(image_message).collect(),
        }))
    }

    async fn get(
        &self,
        req: Request<pb::GetImageRequest>,
    ) -> Result<Response<pb::GetImageResponse>, Status> {
        let v = self
            .images
            .get(&req.into_inner().name)
            .await
            .map_err(status)?;
        let other_names = self.images.other_names(&v).await.map_err(status)?;
        Ok(Response::new(pb::GetImageResponse {
            image: Some(image_message(&v)),
            manifest: v.facts.manifest.clone().unwrap_or_default(),
            config: v.facts.config.clone().unwrap_or_default(),
            other_names,
        }))
    }

    async fn remove(
        &self,
        req: Request<pb::RemoveImageRequest>,
    ) -> Result<Response<pb::RemoveImageResponse>, Status> {
        let req = req.into_inner();
        let out = self
            .images
            .remove(&req.name, req.force)
            .await
            .map_err(status)?;
        let untagged: Vec<String> = out
            .untagged
            .iter()
            .map(|n| naming::display(n).full)
            .collect();
        // One event per name that went away; an untagged image removed by id has only that id.
        let gone = if untagged.is_empty() && !out.deleted.is_empty() {
            vec![req.name.clone()]
        } else {
            untagged.clone()
        };
        for name in gone {
            self.events
                .publish(pb::envelope::Event::ImageDelete(pb::ImageDelete { name }));
        }
        Ok(Response::new(pb::RemoveImageResponse {
            untagged,
            deleted: out.deleted.iter().map(ToString::to_string).collect(),
        }))
    }

    async fn tag(
        &self,
        req: Request<pb::TagImageRequest>,
    ) -> Result<Response<pb::TagImageResponse>, Status> {
        let req = req.into_inner();
        let v = self
            .images
            .tag(&req.source, &req.target)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::TagImageResponse {
            image: Some(image_message(&v)),
        }))
    }

    async fn push(
        &self,
        req: Request<pb::PushRequest>,
    ) -> Result<Response<Self::PushStream>, Status> {
        let req = req.into_inner();
        let (progress, mut events) = Progress::channel(PROGRESS_BUFFER);
        let (out, rx) = tokio::sync::mpsc::channel(PROGRESS_BUFFER);
        let images = self.images.clone();
        tokio::spawn(async move {
            use pb::push_progress::Event;
            let work = images.push(&req.reference, credentials(req.auth), progress);
            let result = forward_progress(work, &mut events, &out, |e| {
                let (m, b) = blob_message(e);
                let event = m.map(Event::Message).or(b.map(Event::Blob));
                pb::PushProgress { event }
            })
            .await;
            let last = result.map_err(status).map(|p| pb::PushProgress {
                event: Some(Event::Result(pb::PushResult {
                    name: p.name,
                    digest: p.digest.to_string(),
                    size: p.size as i64,
                })),
            });
            let _ = out.send(last).await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn load(
        &self,
        req: Request<pb::LoadRequest>,
    ) -> Result<Response<pb::LoadResponse>, Status> {
        let path = PathBuf::from(req.into_inner().path);
        let names = self.images.load(&path).await.map_err(status)?;
        Ok(Response::new(pb::LoadResponse { names }))
    }

    async fn login(
        &self,
        req: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let req = req.into_inner();
        let creds = credentials(req.auth)
            .ok_or_else(|| Status::invalid_argument("login needs a username and password"))?;
        let out = self
            .images
            .login(&req.server, creds)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::LoginResponse {
            status: out.status,
            identity_token: out.identity_token.unwrap_or_default(),
        }))
    }
}

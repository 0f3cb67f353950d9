//! The `berth.v1.Files` gRPC service: `berth cp` through [`crate::container_fs`], which resolves
//! every path inside the container root.

use crate::container_fs::{self, extract, resolve, stream, CopyError};
use crate::containers::Containers;
use crate::rootfs_fs::{is_dir, lstat_at};
use berth_proto::v1::{self as pb, copy_to_request, files_server};
use std::ffi::OsString;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

/// gRPC front of container file copies.
pub struct FilesService {
    containers: Arc<Containers>,
}

impl FilesService {
    /// Copies files of `containers`.
    pub fn new(containers: Arc<Containers>) -> Self {
        Self { containers }
    }
}

fn status(e: CopyError) -> Status {
    match e {
        CopyError::Escape { .. } => Status::invalid_argument(e.to_string()),
        CopyError::NotFound { .. } => Status::not_found(e.to_string()),
        CopyError::Loop { .. } | CopyError::Archive(_) | CopyError::KernelFs { .. } => {
            Status::invalid_argument(e.to_string())
        }
        CopyError::Io { .. } => Status::internal(e.to_string()),
    }
}

fn join_err(e: tokio::task::JoinError) -> Status {
    Status::internal(format!("copy task failed: {e}"))
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl files_server::Files for FilesService {
    type CopyFromStream = BoxStream<pb::CopyChunk>;

    async fn copy_from(
        &self,
        request: Request<pb::CopyFromRequest>,
    ) -> Result<Response<Self::CopyFromStream>, Status> {
        let r = request.into_inner();
        let target = self.containers.copy_target(&r.container_id).await?;
        let shown = r.path.clone();
        let container = r.container_id.clone();
        let follow = r.follow_link;
        // Resolve (and refuse) before answering, so errors come back as the call's status.
        let (root, rel) = tokio::task::spawn_blocking(move || {
            let root = container_fs::open_root(&target.id, &target.rootfs, target.init)?;
            let rel = if follow {
                resolve::resolve(&root, &shown)?
            } else {
                resolve::resolve_parent(&root, &shown)?
            };
            Ok::<_, CopyError>((root, rel))
        })
        .await
        .map_err(join_err)?
        .map_err(status)?;
        let name: PathBuf = resolve::base_name(&r.path)
            .map(PathBuf::from)
            .or_else(|| rel.components().last().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("."));
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
        let (out_tx, out_rx) = tokio::sync::mpsc::channel::<Result<pb::CopyChunk, Status>>(4);
        let err_tx = out_tx.clone();
        let path = r.path.clone();
        let writer = tokio::task::spawn_blocking(move || {
            let w = stream::ChannelWriter::new(tx);
            container_fs::archive::write_tar(&root, &rel, &name, &path, &container, w).and_then(
                |mut w| {
                    std::io::Write::flush(&mut w).map_err(CopyError::io("sending", path.clone()))
                },
            )
        });
        tokio::spawn(async move {
            while let Some(data) = rx.recv().await {
                if out_tx.send(Ok(pb::CopyChunk { data })).await.is_err() {
                    return;
                }
            }
        });
        tokio::spawn(async move {
            let failed = match writer.await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(status(e)),
                Err(e) => Some(join_err(e)),
            };
            if let Some(s) = failed {
                let _ = err_tx.send(Err(s)).await;
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(out_rx),
        )))
    }

    async fn copy_to(
        &self,
        request: Request<Streaming<pb::CopyToRequest>>,
    ) -> Result<Response<pb::CopyToResponse>, Status> {
        let mut inbound = request.into_inner();
        let open = match inbound.message().await?.and_then(|m| m.msg) {
            Some(copy_to_request::Msg::Open(o)) => o,
            _ => return Err(Status::invalid_argument("the first message must be `open`")),
        };
        let target = self.containers.copy_target(&open.container_id).await?;
        let shown = open.path.clone();
        let container = open.container_id.clone();
        let (root, dest, rename) = tokio::task::spawn_blocking(move || {
            let root = container_fs::open_root(&target.id, &target.rootfs, target.init)?;
            let rel = resolve::resolve(&root, &shown)?;
            let Some((parent, name)) = rel.split_last() else {
                return Ok((root, rel, None));
            };
            let missing = || CopyError::NotFound {
                path: shown.clone(),
                container: container.clone(),
            };
            let pdir = root.open_dir(&parent).map_err(|_| missing())?;
            let into_dir = lstat_at(&pdir, name)
                .map_err(CopyError::io("lstat", rel.to_string()))?
                .is_some_and(|st| is_dir(&st));
            if into_dir {
                Ok((root, rel, None))
            } else {
                let name: OsString = name.to_os_string();
                Ok((root, parent, Some(name)))
            }
        })
        .await
        .map_err(join_err)?
        .map_err(status)?;
        let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
        let owners = if open.copy_uid_gid {
            extract::Owners::FromArchive
        } else {
            extract::Owners::Caller
        };
        let extractor = tokio::task::spawn_blocking(move || {
            extract::extract_tar(
                &root,
                &dest,
                rename.as_deref(),
                owners,
                stream::ChannelReader::new(rx),
            )
        });
        while let Some(m) = inbound.message().await? {
            if let Some(copy_to_request::Msg::Data(d)) = m.msg {
                if tx.send(d).await.is_err() {
                    break;
                }
            }
        }
        drop(tx);
        let entries = extractor.await.map_err(join_err)?.map_err(status)?;
        Ok(Response::new(pb::CopyToResponse { entries }))
    }
}

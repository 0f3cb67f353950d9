//! The Content gRPC service: read-only access (plus delete) to the content store.

use std::pin::Pin;

use berth_proto::v1 as pb;
use berth_proto::v1::content_server::Content;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::{ContentError, ContentInfo, ContentStore, Digest};

/// Largest chunk sent by Read.
const CHUNK: usize = 1 << 20;

/// gRPC adapter over [`ContentStore`].
#[derive(Clone)]
pub struct ContentApi {
    store: ContentStore,
}

impl ContentApi {
    /// Wraps the store.
    pub fn new(store: ContentStore) -> Self {
        ContentApi { store }
    }
}

fn status(e: ContentError) -> Status {
    match e {
        ContentError::NotFound(_) => Status::not_found(e.to_string()),
        _ => Status::internal(e.to_string()),
    }
}

fn parse(d: &str) -> Result<Digest, Status> {
    Digest::parse(d).map_err(|e| Status::invalid_argument(e.to_string()))
}

fn info_message(i: &ContentInfo) -> pb::ContentInfo {
    let since = i
        .committed_at
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    pb::ContentInfo {
        digest: i.digest.to_string(),
        size: i.size as i64,
        committed_at: Some(prost_types::Timestamp {
            seconds: since.as_secs() as i64,
            nanos: since.subsec_nanos() as i32,
        }),
    }
}

#[tonic::async_trait]
impl Content for ContentApi {
    type ReadStream =
        Pin<Box<dyn Stream<Item = Result<pb::ReadContentResponse, Status>> + Send + 'static>>;

    async fn info(
        &self,
        req: Request<pb::ContentInfoRequest>,
    ) -> Result<Response<pb::ContentInfoResponse>, Status> {
        let d = parse(&req.into_inner().digest)?;
        let info = self.store.info(&d).await.map_err(status)?;
        Ok(Response::new(pb::ContentInfoResponse {
            info: Some(info_message(&info)),
        }))
    }

    async fn list(
        &self,
        _req: Request<pb::ListContentRequest>,
    ) -> Result<Response<pb::ListContentResponse>, Status> {
        let blobs = self.store.list().await.map_err(status)?;
        Ok(Response::new(pb::ListContentResponse {
            blobs: blobs.iter().map(info_message).collect(),
        }))
    }

    async fn read(
        &self,
        req: Request<pb::ReadContentRequest>,
    ) -> Result<Response<Self::ReadStream>, Status> {
        let req = req.into_inner();
        let d = parse(&req.digest)?;
        if req.offset < 0 || req.size < 0 {
            return Err(Status::invalid_argument(
                "offset and size must not be negative",
            ));
        }
        let info = self.store.info(&d).await.map_err(status)?;
        let offset = req.offset as u64;
        if offset > info.size {
            return Err(Status::out_of_range(format!(
                "offset {offset} is past the end of {d} ({} bytes)",
                info.size
            )));
        }
        let end = match req.size {
            0 => info.size,
            n => (offset + n as u64).min(info.size),
        };
        let mut file = self.store.reader(&d).await.map_err(status)?;
        file.seek(std::io::SeekFrom::Start(offset))
            .await
            .map_err(|e| Status::internal(format!("seek in {d}: {e}")))?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let mut pos = offset;
            while pos < end {
                let want = ((end - pos) as usize).min(CHUNK);
                let mut buf = vec![0u8; want];
                let msg = match file.read_exact(&mut buf).await {
                    Ok(_) => Ok(pb::ReadContentResponse {
                        offset: pos as i64,
                        data: buf,
                    }),
                    Err(e) => Err(Status::internal(format!("read {d} at {pos}: {e}"))),
                };
                let failed = msg.is_err();
                if tx.send(msg).await.is_err() || failed {
                    return;
                }
                pos += want as u64;
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn delete(
        &self,
        req: Request<pb::DeleteContentRequest>,
    ) -> Result<Response<pb::DeleteContentResponse>, Status> {
        let d = parse(&req.into_inner().digest)?;
        self.store.delete(&d).await.map_err(status)?;
        Ok(Response::new(pb::DeleteContentResponse {}))
    }
}

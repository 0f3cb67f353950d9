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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_stream::StreamExt;

    async fn read(
        api: &ContentApi,
        digest: &str,
        offset: i64,
        size: i64,
    ) -> Result<Vec<u8>, Status> {
        let req = Request::new(pb::ReadContentRequest {
            digest: digest.to_string(),
            offset,
            size,
        });
        let mut stream = api.read(req).await?.into_inner();
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            assert_eq!(chunk.offset as usize, offset as usize + out.len());
            out.extend(chunk.data);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn read_ranges_info_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::open(dir.path()).unwrap();
        let data: Vec<u8> = (0..3 * CHUNK as u32 / 2).map(|i| i as u8).collect();
        let info = store.put(&data).await.unwrap();
        let d = info.digest.to_string();
        let api = ContentApi::new(store);

        assert_eq!(read(&api, &d, 0, 0).await.unwrap(), data);
        assert_eq!(read(&api, &d, 10, 5).await.unwrap(), data[10..15]);
        assert_eq!(read(&api, &d, 100, 0).await.unwrap(), data[100..]);
        let past = read(&api, &d, data.len() as i64 + 1, 0).await.unwrap_err();
        assert_eq!(past.code(), tonic::Code::OutOfRange);
        let bad = read(&api, "sha256:nope", 0, 0).await.unwrap_err();
        assert_eq!(bad.code(), tonic::Code::InvalidArgument);

        let got = api
            .info(Request::new(pb::ContentInfoRequest { digest: d.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.info.unwrap().size, data.len() as i64);
        let list = api
            .list(Request::new(pb::ListContentRequest {}))
            .await
            .unwrap();
        assert_eq!(list.into_inner().blobs.len(), 1);
        api.delete(Request::new(pb::DeleteContentRequest { digest: d.clone() }))
            .await
            .unwrap();
        let gone = read(&api, &d, 0, 0).await.unwrap_err();
        assert_eq!(gone.code(), tonic::Code::NotFound);
    }
}

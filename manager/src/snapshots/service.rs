//! The `berth.v1.Snapshots` gRPC service over a [`Snapshotter`]. Snapshot work blocks on the
//! filesystem, so every call runs on tokio's blocking pool.

use std::pin::Pin;
use std::sync::Arc;

use berth_proto::v1::snapshots_server::Snapshots;
use berth_proto::v1::{
    CommitSnapshotRequest, CommitSnapshotResponse, ListSnapshotsRequest, ListSnapshotsResponse,
    PrepareSnapshotRequest, PrepareSnapshotResponse, RemoveSnapshotRequest, RemoveSnapshotResponse,
    SnapshotInfo, SnapshotKind, SnapshotMount, SnapshotMountsRequest, SnapshotMountsResponse,
    SnapshotUsageRequest, SnapshotUsageResponse, StatSnapshotRequest, StatSnapshotResponse,
    UpdateSnapshotRequest, UpdateSnapshotResponse, ViewSnapshotRequest, ViewSnapshotResponse,
};
use tonic::{Request, Response, Status};

use super::{Info, Kind, Labels, Mount, SnapshotError, Snapshotter};

/// Snapshots per List message.
const LIST_BATCH: usize = 100;

/// The gRPC service; register with `SnapshotsServer::new(SnapshotsService::new(s))`.
#[derive(Debug, Clone)]
pub struct SnapshotsService {
    snapshotter: Arc<dyn Snapshotter>,
}

impl SnapshotsService {
    /// Serves `snapshotter`.
    pub fn new(snapshotter: Arc<dyn Snapshotter>) -> Self {
        SnapshotsService { snapshotter }
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Snapshotter) -> Result<T, SnapshotError> + Send + 'static,
    ) -> Result<T, Status> {
        let s = self.snapshotter.clone();
        tokio::task::spawn_blocking(move || f(&*s))
            .await
            .map_err(|e| Status::internal(format!("snapshot task failed: {e}")))?
            .map_err(to_status)
    }

    /// Prepare (`Kind::Active`) and View: a new snapshot `key` on `parent`, as its mounts.
    async fn create(
        &self,
        kind: Kind,
        key: String,
        parent_key: String,
        new_labels: std::collections::HashMap<String, String>,
    ) -> Result<Vec<SnapshotMount>, Status> {
        require("key", &key)?;
        let m = self
            .run(move |s| {
                s.create(
                    &key,
                    kind,
                    parent(parent_key).as_deref(),
                    labels(new_labels),
                )
            })
            .await?;
        Ok(mounts_to_proto(m))
    }
}

/// Maps snapshot errors onto gRPC codes.
pub fn to_status(e: SnapshotError) -> Status {
    let msg = e.to_string();
    match e {
        SnapshotError::NotFound(_) => Status::not_found(msg),
        SnapshotError::AlreadyExists(_) => Status::already_exists(msg),
        SnapshotError::FailedPrecondition { .. } => Status::failed_precondition(msg),
        SnapshotError::InvalidMount { .. } => Status::invalid_argument(msg),
        _ => Status::internal(msg),
    }
}

fn mounts_to_proto(m: Vec<Mount>) -> Vec<SnapshotMount> {
    m.into_iter()
        .map(|m| SnapshotMount {
            r#type: m.typ,
            source: m.source,
            options: m.options,
        })
        .collect()
}

fn timestamp(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// Converts snapshot info to its message.
pub fn info_to_proto(i: Info) -> SnapshotInfo {
    let kind = match i.kind {
        Kind::Active => SnapshotKind::Active,
        Kind::View => SnapshotKind::View,
        Kind::Committed => SnapshotKind::Committed,
    };
    SnapshotInfo {
        key: i.key,
        parent: i.parent.unwrap_or_default(),
        kind: kind as i32,
        labels: i.labels.into_iter().collect(),
        created_at: Some(timestamp(i.created)),
        updated_at: Some(timestamp(i.updated)),
    }
}

fn labels(l: std::collections::HashMap<String, String>) -> Labels {
    l.into_iter().collect()
}

fn parent(p: String) -> Option<String> {
    (!p.is_empty()).then_some(p)
}

fn require(field: &str, v: &str) -> Result<(), Status> {
    if v.is_empty() {
        return Err(Status::invalid_argument(format!("{field} is required")));
    }
    Ok(())
}

type ListStream =
    Pin<Box<dyn tokio_stream::Stream<Item = Result<ListSnapshotsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Snapshots for SnapshotsService {
    async fn prepare(
        &self,
        req: Request<PrepareSnapshotRequest>,
    ) -> Result<Response<PrepareSnapshotResponse>, Status> {
        let r = req.into_inner();
        let mounts = self.create(Kind::Active, r.key, r.parent, r.labels).await?;
        Ok(Response::new(PrepareSnapshotResponse { mounts }))
    }

    async fn view(
        &self,
        req: Request<ViewSnapshotRequest>,
    ) -> Result<Response<ViewSnapshotResponse>, Status> {
        let r = req.into_inner();
        let mounts = self.create(Kind::View, r.key, r.parent, r.labels).await?;
        Ok(Response::new(ViewSnapshotResponse { mounts }))
    }

    async fn mounts(
        &self,
        req: Request<SnapshotMountsRequest>,
    ) -> Result<Response<SnapshotMountsResponse>, Status> {
        let r = req.into_inner();
        let m = self.run(move |s| s.mounts(&r.key)).await?;
        Ok(Response::new(SnapshotMountsResponse {
            mounts: mounts_to_proto(m),
        }))
    }

    async fn commit(
        &self,
        req: Request<CommitSnapshotRequest>,
    ) -> Result<Response<CommitSnapshotResponse>, Status> {
        let r = req.into_inner();
        require("name", &r.name)?;
        self.run(move |s| s.commit(&r.name, &r.key, labels(r.labels)))
            .await?;
        Ok(Response::new(CommitSnapshotResponse {}))
    }

    async fn remove(
        &self,
        req: Request<RemoveSnapshotRequest>,
    ) -> Result<Response<RemoveSnapshotResponse>, Status> {
        let r = req.into_inner();
        self.run(move |s| s.remove(&r.key)).await?;
        Ok(Response::new(RemoveSnapshotResponse {}))
    }

    async fn stat(
        &self,
        req: Request<StatSnapshotRequest>,
    ) -> Result<Response<StatSnapshotResponse>, Status> {
        let r = req.into_inner();
        let i = self.run(move |s| s.stat(&r.key)).await?;
        Ok(Response::new(StatSnapshotResponse {
            info: Some(info_to_proto(i)),
        }))
    }

    async fn update(
        &self,
        req: Request<UpdateSnapshotRequest>,
    ) -> Result<Response<UpdateSnapshotResponse>, Status> {
        let r = req.into_inner();
        let i = self
            .run(move |s| s.update_labels(&r.key, labels(r.labels)))
            .await?;
        Ok(Response::new(UpdateSnapshotResponse {
            info: Some(info_to_proto(i)),
        }))
    }

    type ListStream = ListStream;

    async fn list(
        &self,
        req: Request<ListSnapshotsRequest>,
    ) -> Result<Response<Self::ListStream>, Status> {
        let prefix = req.into_inner().key_prefix;
        let name = self.snapshotter.name().to_string();
        let all = self.run(|s| s.list()).await?;
        let infos: Vec<SnapshotInfo> = all
            .into_iter()
            .filter(|i| i.key.starts_with(&prefix))
            .map(info_to_proto)
            .collect();
        let batches: Vec<Result<ListSnapshotsResponse, Status>> = infos
            .chunks(LIST_BATCH)
            .map(|c| {
                Ok(ListSnapshotsResponse {
                    info: c.to_vec(),
                    snapshotter: name.clone(),
                })
            })
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(batches))))
    }

    async fn usage(
        &self,
        req: Request<SnapshotUsageRequest>,
    ) -> Result<Response<SnapshotUsageResponse>, Status> {
        let r = req.into_inner();
        let u = self.run(move |s| s.usage(&r.key)).await?;
        Ok(Response::new(SnapshotUsageResponse {
            size: i64::try_from(u.size).unwrap_or(i64::MAX),
            inodes: i64::try_from(u.inodes).unwrap_or(i64::MAX),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_stream::StreamExt;

    #[tokio::test]
    async fn service_maps_calls_and_errors() {
        let root = tempfile::tempdir().unwrap();
        let s = super::super::open(root.path(), super::super::Choice::Overlay).unwrap();
        let svc = SnapshotsService::new(s);
        let m = svc
            .prepare(Request::new(PrepareSnapshotRequest {
                key: "a".into(),
                parent: String::new(),
                labels: [("x".to_string(), "1".to_string())].into(),
            }))
            .await
            .unwrap()
            .into_inner()
            .mounts;
        assert_eq!(m[0].r#type, "bind");
        let err = svc
            .prepare(Request::new(PrepareSnapshotRequest {
                key: "a".into(),
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::AlreadyExists);
        svc.commit(Request::new(CommitSnapshotRequest {
            name: "base".into(),
            key: "a".into(),
            labels: Default::default(),
        }))
        .await
        .unwrap();
        svc.prepare(Request::new(PrepareSnapshotRequest {
            key: "c".into(),
            parent: "base".into(),
            labels: Default::default(),
        }))
        .await
        .unwrap();
        svc.view(Request::new(ViewSnapshotRequest {
            key: "v".into(),
            parent: "base".into(),
            labels: Default::default(),
        }))
        .await
        .unwrap();
        let view = svc
            .stat(Request::new(StatSnapshotRequest { key: "v".into() }))
            .await
            .unwrap()
            .into_inner()
            .info
            .unwrap();
        assert_eq!(view.kind, SnapshotKind::View as i32);
        let info = svc
            .stat(Request::new(StatSnapshotRequest { key: "base".into() }))
            .await
            .unwrap()
            .into_inner()
            .info
            .unwrap();
        assert_eq!(info.kind, SnapshotKind::Committed as i32);
        assert_eq!(info.labels["x"], "1");
        let err = svc
            .remove(Request::new(RemoveSnapshotRequest { key: "base".into() }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);
        let err = svc
            .stat(Request::new(StatSnapshotRequest { key: "zz".into() }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        let mut stream = svc
            .list(Request::new(ListSnapshotsRequest::default()))
            .await
            .unwrap()
            .into_inner();
        let first = stream.next().await.unwrap().unwrap();
        assert_eq!(first.snapshotter, "overlayfs");
        let keys: Vec<_> = first.info.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["base", "c", "v"]);
        let u = svc
            .usage(Request::new(SnapshotUsageRequest { key: "c".into() }))
            .await
            .unwrap()
            .into_inner();
        assert!(u.inodes >= 1);
    }

    /// Over a real unix socket, through the generated client (as the CLI will call it).
    #[tokio::test]
    async fn served_over_a_unix_socket() {
        use berth_proto::v1::snapshots_client::SnapshotsClient;
        use berth_proto::v1::snapshots_server::SnapshotsServer;
        let root = tempfile::tempdir().unwrap();
        let s = super::super::open(root.path(), super::super::Choice::Auto).unwrap();
        let sock = root.path().join("berthd.sock");
        let listener = tokio::net::UnixListener::bind(&sock).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(SnapshotsServer::new(SnapshotsService::new(s)))
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::UnixListenerStream::new(listener),
                    async {
                        let _ = stopped.await;
                    },
                ),
        );
        let channel = crate::cli::connect::connect(&sock).await.unwrap();
        let mut c = SnapshotsClient::new(channel);
        c.prepare(PrepareSnapshotRequest {
            key: "k".into(),
            ..Default::default()
        })
        .await
        .unwrap();
        let err = c
            .commit(CommitSnapshotRequest {
                name: String::new(),
                key: "k".into(),
                labels: Default::default(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        let mut stream = c
            .list(ListSnapshotsRequest {
                key_prefix: "k".into(),
            })
            .await
            .unwrap()
            .into_inner();
        let batch = stream.message().await.unwrap().unwrap();
        assert_eq!(batch.info.len(), 1);
        assert_eq!(batch.info[0].kind, SnapshotKind::Active as i32);
        assert!(stream.message().await.unwrap().is_none());
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    }
}

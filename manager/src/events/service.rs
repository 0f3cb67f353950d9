//! The `berth.v1.Events` gRPC service over the [`EventBus`].

use super::EventBus;
use berth_proto::v1::{events_server::Events, Envelope, SubscribeRequest};
use std::pin::Pin;
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

/// gRPC front of the event bus.
pub struct EventsService {
    bus: EventBus,
}

impl EventsService {
    /// Serves events published on `bus`.
    pub fn new(bus: EventBus) -> Self {
        Self { bus }
    }
}

type EnvelopeStream = Pin<Box<dyn Stream<Item = Result<Envelope, Status>> + Send>>;

#[tonic::async_trait]
impl Events for EventsService {
    type SubscribeStream = EnvelopeStream;

    async fn subscribe(
        &self,
        request: Request<SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let topics = request.into_inner().topics;
        let mut rx = self.bus.subscribe();
        let (tx, out) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let envelope = match rx.recv().await {
                    Ok(e) => e,
                    Err(RecvError::Lagged(n)) => Envelope {
                        timestamp: Some(super::now_timestamp()),
                        topic: "/events/lagged".into(),
                        event: None,
                        lagged: n,
                    },
                    Err(RecvError::Closed) => break,
                };
                let wanted = topics.is_empty()
                    || envelope.lagged > 0
                    || topics
                        .iter()
                        .any(|t| envelope.topic.starts_with(t.as_str()));
                if wanted && tx.send(Ok(envelope)).await.is_err() {
                    break; // client went away
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(out),
        )))
    }
}

//! In-process event broadcast: services publish container, task and image events; `Subscribe`
//! streams them to clients. No history is kept: a subscriber sees what happens after it joins.

mod service;

pub use service::EventsService;

use berth_proto::v1::{envelope::Event, Envelope};
use tokio::sync::broadcast;

/// How many events a slow subscriber may fall behind before it is told it lagged.
const CAPACITY: usize = 1024;

/// Fan-out of events to every subscriber. Cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Envelope>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    /// A bus with no subscribers.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        Self { tx }
    }

    /// Publishes `event`; its topic is derived from its kind. Never blocks, never fails:
    /// with no subscriber the event is dropped.
    pub fn publish(&self, event: Event) {
        let envelope = Envelope {
            timestamp: Some(now_timestamp()),
            topic: topic_of(&event).to_string(),
            event: Some(event),
            lagged: 0,
        };
        // An error only means nobody is listening.
        let _ = self.tx.send(envelope);
    }

    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Envelope> {
        self.tx.subscribe()
    }
}

/// The topic an event is published under.
pub fn topic_of(event: &Event) -> &'static str {
    match event {
        Event::ContainerCreate(_) => "/containers/create",
        Event::ContainerDelete(_) => "/containers/delete",
        Event::TaskCreate(_) => "/tasks/create",
        Event::TaskStart(_) => "/tasks/start",
        Event::TaskExit(_) => "/tasks/exit",
        Event::TaskOom(_) => "/tasks/oom",
        Event::TaskPaused(_) => "/tasks/paused",
        Event::TaskResumed(_) => "/tasks/resumed",
        Event::TaskDelete(_) => "/tasks/delete",
        Event::ImagePull(_) => "/images/pull",
        Event::ImageDelete(_) => "/images/delete",
        Event::TaskExecAdded(_) => "/tasks/exec-added",
        Event::TaskExecStarted(_) => "/tasks/exec-started",
        Event::TaskExecExit(_) => "/tasks/exec-exited",
    }
}

/// The current time as a protobuf timestamp.
pub fn now_timestamp() -> prost_types::Timestamp {
    to_timestamp(std::time::SystemTime::now())
}

/// Converts a system time to a protobuf timestamp (times before 1970 become 0).
pub fn to_timestamp(t: std::time::SystemTime) -> prost_types::Timestamp {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    prost_types::Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_proto::v1::TaskExit;

    #[tokio::test]
    async fn subscribers_receive_published_events_with_topic() {
        let bus = EventBus::new();
        let mut rx = bus.subscribe();
        bus.publish(Event::TaskExit(TaskExit {
            container_id: "abc".into(),
            exit_code: 3,
            exit_code_known: true,
            ..Default::default()
        }));
        let got = rx.recv().await.unwrap();
        assert_eq!(got.topic, "/tasks/exit");
        match got.event {
            Some(Event::TaskExit(e)) => assert_eq!(e.exit_code, 3),
            other => panic!("unexpected {other:?}"),
        }
    }
}

//! Progress events of pulls and pushes, sent from the registry code to the gRPC stream.

use tokio::sync::mpsc;

/// One progress event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressEvent {
    /// A line not tied to a blob, e.g. "latest: Pulling from library/hello-world".
    Message(String),
    /// The state of one blob.
    Blob(BlobStatus),
}

/// State of one blob, in Docker's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobStatus {
    /// Short id (first 12 hex digits of the digest).
    pub id: String,
    /// Full digest.
    pub digest: String,
    /// "Pulling fs layer", "Downloading", "Download complete", "Pull complete", "Already exists", ...
    pub status: String,
    /// Bytes done.
    pub current: u64,
    /// Total bytes (0 if unknown).
    pub total: u64,
}

/// Sends progress events to whoever watches the operation. Sending never fails: when the client went
/// away the events are dropped and the operation carries on (a pull finishes for the next caller).
#[derive(Debug, Clone)]
pub struct Progress {
    tx: Option<mpsc::Sender<ProgressEvent>>,
}

impl Progress {
    /// A progress channel with room for `capacity` unread events; a slow reader slows the sender.
    pub fn channel(capacity: usize) -> (Progress, mpsc::Receiver<ProgressEvent>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Progress { tx: Some(tx) }, rx)
    }

    /// A sink that discards every event (for internal pulls nobody watches).
    pub fn discard() -> Progress {
        Progress { tx: None }
    }

    /// Sends a free-form line.
    pub async fn message(&self, text: impl Into<String>) {
        self.send(ProgressEvent::Message(text.into())).await;
    }

    /// Sends the state of one blob.
    pub async fn blob(
        &self,
        digest: &crate::content::Digest,
        status: &str,
        current: u64,
        total: u64,
    ) {
        self.send(ProgressEvent::Blob(BlobStatus {
            id: digest.short().to_string(),
            digest: digest.to_string(),
            status: status.to_string(),
            current,
            total,
        }))
        .await;
    }

    /// Sends any event.
    pub async fn send(&self, event: ProgressEvent) {
        if let Some(tx) = &self.tx {
            // A closed channel means the client disconnected; the operation continues regardless.
            let _ = tx.send(event).await;
        }
    }
}

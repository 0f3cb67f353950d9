//! Pull progress in Docker's words, one event per layer state change.

/// A state a blob of a pull goes through, named as `docker pull` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullStatus {
    /// The layer is part of the image and must be fetched.
    PullingFsLayer,
    /// Queued behind the concurrency limit.
    Waiting,
    /// Bytes received so far out of the total.
    Downloading {
        /// Bytes received.
        current: u64,
        /// Blob size from the manifest.
        total: u64,
    },
    /// All bytes received; the store is checking the digest.
    VerifyingChecksum,
    /// The digest matched.
    DownloadComplete,
    /// The blob is committed to the content store.
    PullComplete,
    /// The blob was already in the content store.
    AlreadyExists,
    /// Push: the blob is queued for upload.
    Preparing,
    /// Push: the blob is being uploaded.
    Pushing,
    /// Push: the blob was uploaded.
    Pushed,
    /// Push: the registry already has the blob.
    LayerAlreadyExists,
}

/// One progress event: a layer id (12 hex digits, as Docker shows) and its new state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullEvent {
    /// Short id of the blob (first 12 hex digits of its digest).
    pub id: String,
    /// Full digest of the blob.
    pub digest: String,
    /// The new state.
    pub status: PullStatus,
}

impl PullStatus {
    /// The words Docker prints for this state.
    pub fn message(&self) -> String {
        match self {
            PullStatus::PullingFsLayer => "Pulling fs layer".into(),
            PullStatus::Waiting => "Waiting".into(),
            PullStatus::Downloading { current, total } => {
                format!("Downloading {}/{}", human(*current), human(*total))
            }
            PullStatus::VerifyingChecksum => "Verifying Checksum".into(),
            PullStatus::DownloadComplete => "Download complete".into(),
            PullStatus::PullComplete => "Pull complete".into(),
            PullStatus::AlreadyExists => "Already exists".into(),
            PullStatus::Preparing => "Preparing".into(),
            PullStatus::Pushing => "Pushing".into(),
            PullStatus::Pushed => "Pushed".into(),
            PullStatus::LayerAlreadyExists => "Layer already exists".into(),
        }
    }
}

impl PullStatus {
    /// The status word without sizes (`Downloading`), plus (current, total) bytes.
    pub fn label(&self) -> (&'static str, u64, u64) {
        match self {
            PullStatus::PullingFsLayer => ("Pulling fs layer", 0, 0),
            PullStatus::Waiting => ("Waiting", 0, 0),
            PullStatus::Downloading { current, total } => ("Downloading", *current, *total),
            PullStatus::VerifyingChecksum => ("Verifying Checksum", 0, 0),
            PullStatus::DownloadComplete => ("Download complete", 0, 0),
            PullStatus::PullComplete => ("Pull complete", 0, 0),
            PullStatus::AlreadyExists => ("Already exists", 0, 0),
            PullStatus::Preparing => ("Preparing", 0, 0),
            PullStatus::Pushing => ("Pushing", 0, 0),
            PullStatus::Pushed => ("Pushed", 0, 0),
            PullStatus::LayerAlreadyExists => ("Layer already exists", 0, 0),
        }
    }
}

impl PullEvent {
    /// An event for `digest`, deriving the short id.
    pub fn new(digest: &str, status: PullStatus) -> Self {
        PullEvent {
            id: short_id(digest),
            digest: digest.to_string(),
            status,
        }
    }
}

/// The 12-hex-digit id Docker shows for a digest.
pub fn short_id(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    hex.chars().take(12).collect()
}

/// Sizes as Docker prints them (decimal units: kB, MB, GB).
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes}B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.3}{}", UNITS[unit])
        .replace(".000", "")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_words() {
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(
            PullStatus::Downloading {
                current: 1500,
                total: 2_500_000
            }
            .message(),
            "Downloading 1.500kB/2.500MB"
        );
        assert_eq!(PullStatus::AlreadyExists.message(), "Already exists");
        assert_eq!(human(999), "999B");
    }
}

//! The `images` table: image name → what it points at.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Table;
use crate::content::Digest;

/// Image records keyed by full normalized name (`docker.io/library/hello-world:latest`).
pub const IMAGES: Table<ImageRecord> = Table::new("images");

/// An OCI descriptor: media type, digest and size of a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// Media type of the blob, e.g. `application/vnd.oci.image.index.v1+json`.
    pub media_type: String,
    /// Digest of the blob.
    pub digest: Digest,
    /// Size of the blob in bytes.
    pub size: u64,
}

/// One named image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Full normalized name; equal to the table key.
    pub name: String,
    /// The manifest or index the name points at.
    pub target: Descriptor,
    /// When the name was first recorded.
    pub created_at: DateTime<Utc>,
    /// When the name last changed target.
    pub updated_at: DateTime<Utc>,
    /// Free-form labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

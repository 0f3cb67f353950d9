//! Images: named pointers to manifests in the content store, and the Images gRPC service.
//!
//! - [`ImageService`] is the logic (list, get, tag, remove with content cleanup, pull/push/load/login
//!   via a [`Distribution`]); other daemon parts (e.g. `run` pulling a missing image) call it directly.
//! - [`service`] adapts it to gRPC.
//! - [`distribution`] is the trait the registry code implements.
//! - [`usage`] is the hook through which containers veto removing an image they use.

pub mod distribution;
pub mod manifest;
pub mod naming;
pub mod oci;
pub mod platform;
pub mod progress;
pub mod rootfs;
pub mod service;
mod store;
pub mod usage;

pub use distribution::{
    Credentials, Distribution, DistributionError, DistributionErrorKind, LoginOutcome, PullOptions,
    PushedImage, ResolvedImage,
};
pub use manifest::ImageFacts;
pub use platform::host_platform;
pub use progress::{BlobStatus, Progress, ProgressEvent};
pub use store::{ImageError, ImageService, ImageView, PullOutcome, RemoveOutcome};
pub use usage::{ImageUsage, ImageUser};

//! The seam between the Images service and the registry code: pulling, pushing, loading and logging in
//! are implemented elsewhere (`crate::registry`) behind the [`Distribution`] trait.
//!
//! Contract: an implementation fetches or imports blobs into the [`crate::content::ContentStore`]
//! (verified, via `ContentStore::writer`) and reports what a name should point at. It does NOT write
//! image records: the Images service records names, decides "Downloaded newer image" vs "Image is up to
//! date", and computes image facts. Progress goes through [`Progress`].

use std::path::Path;

use super::progress::Progress;
use crate::metadata::images::{Descriptor, ImageRecord};

/// Credentials sent by the client for one registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// User name (empty when using an identity token alone).
    pub username: String,
    /// Password or access token.
    pub password: String,
    /// OAuth2 refresh token from an earlier login; preferred over username/password when set.
    pub identity_token: String,
}

/// What to pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// Reference as the user typed it (`hello-world`, `127.0.0.1:5000/app:1`, `alpine@sha256:..`).
    pub reference: String,
    /// Platform to select from an index, e.g. "linux/arm64"; `None` selects the host's.
    pub platform: Option<String>,
    /// Registry credentials, if the client sent any.
    pub credentials: Option<Credentials>,
}

/// A name and what it should point at, produced by a pull or load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImage {
    /// Full normalized name, e.g. `docker.io/library/hello-world:latest`.
    pub name: String,
    /// The manifest or index the name resolved to; it and (for the selected platform) its config and
    /// layers are in the content store.
    pub target: Descriptor,
}

/// Outcome of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedImage {
    /// Full normalized name pushed.
    pub name: String,
    /// Digest of the pushed manifest or index.
    pub digest: crate::content::Digest,
    /// Size of the pushed manifest or index in bytes.
    pub size: u64,
}

/// Outcome of a successful login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOutcome {
    /// Line to show the user, e.g. "Login Succeeded".
    pub status: String,
    /// Refresh token issued by the registry, if any.
    pub identity_token: Option<String>,
}

/// Broad failure class, mapped to a gRPC status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistributionErrorKind {
    /// Bad reference, platform or path (INVALID_ARGUMENT).
    InvalidArgument,
    /// Repository, tag, manifest or file not found (NOT_FOUND).
    NotFound,
    /// Credentials missing or rejected (UNAUTHENTICATED).
    Unauthenticated,
    /// Authenticated but not allowed (PERMISSION_DENIED).
    PermissionDenied,
    /// Registry unreachable or failing (UNAVAILABLE).
    Unavailable,
    /// Anything else (INTERNAL).
    Internal,
}

/// A failed pull, push, load or login, with a message for the user.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct DistributionError {
    /// Failure class.
    pub kind: DistributionErrorKind,
    /// Full message naming what failed (reference, registry, digest, path).
    pub message: String,
}

impl DistributionError {
    /// Builds an error of `kind`.
    pub fn new(kind: DistributionErrorKind, message: impl Into<String>) -> Self {
        DistributionError {
            kind,
            message: message.into(),
        }
    }
}

/// Registry operations the Images service delegates; implemented by `crate::registry`.
#[tonic::async_trait]
pub trait Distribution: Send + Sync + 'static {
    /// Resolves `opts.reference`, fetches manifest(s), config and layers into the content store, and
    /// returns the name and target to record.
    ///
    /// Progress, as `docker pull` shows it: per-blob events ("Pulling fs layer", "Waiting",
    /// "Downloading" with bytes, "Verifying Checksum", "Download complete", "Pull complete", or
    /// "Already exists"). Do not send the `<tag>: Pulling from <repo>` header or the final
    /// `Digest:`/`Status:` lines: the client prints the header when the first event arrives and the
    /// rest from the result (only the Images service knows whether the name changed).
    async fn pull(
        &self,
        opts: PullOptions,
        progress: Progress,
    ) -> Result<ResolvedImage, DistributionError>;

    /// Uploads `image` (its blobs from the content store) to the registry its name points at.
    /// Progress: per-blob "Preparing", "Waiting", "Pushing" with bytes, "Pushed" or
    /// "Layer already exists". The client prints "The push refers to repository [...]" and the final
    /// "<tag>: digest: ... size: ..." line itself.
    async fn push(
        &self,
        image: &ImageRecord,
        credentials: Option<Credentials>,
        progress: Progress,
    ) -> Result<PushedImage, DistributionError>;

    /// Imports an OCI layout directory or tar archive at `path` into the content store and returns the
    /// names it carries.
    async fn load(&self, path: &Path) -> Result<Vec<ResolvedImage>, DistributionError>;

    /// Verifies credentials against `server` ("" or "docker.io" for Docker Hub).
    async fn login(
        &self,
        server: &str,
        credentials: Credentials,
    ) -> Result<LoginOutcome, DistributionError>;
}

//! The one error type of the registry side, with messages that fit on one line.

use std::error::Error as StdError;

/// Anything that can go wrong while talking to a registry or importing into the store.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The reference could not be parsed.
    #[error(transparent)]
    Reference(#[from] crate::reference::ReferenceError),
    /// The registry (or every mirror and the registry) could not be reached or answered badly.
    #[error("{host}: {message}")]
    Transport {
        /// The host that failed.
        host: String,
        /// What went wrong, including the cause chain.
        message: String,
    },
    /// The registry refused our credentials (or anonymous access).
    #[error("{host}: authentication failed for {repository}: {message}")]
    Unauthorized {
        /// The registry host.
        host: String,
        /// The repository we asked for.
        repository: String,
        /// What the registry said.
        message: String,
    },
    /// The tag or digest does not exist in the repository.
    #[error("{reference}: not found in {host}")]
    NotFound {
        /// The reference as the user wrote it (fully qualified).
        reference: String,
        /// The registry (or mirror) that answered.
        host: String,
    },
    /// The manifest is bigger than we are willing to buffer.
    #[error("{reference}: manifest of {size} bytes exceeds the {limit}-byte limit")]
    ManifestTooLarge {
        /// The reference or digest being fetched.
        reference: String,
        /// Its announced or observed size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A manifest or index we cannot use (bad JSON, unknown media type, schema 1, …).
    #[error("{what}: {message}")]
    BadManifest {
        /// The digest or reference of the document.
        what: String,
        /// The problem.
        message: String,
    },
    /// No manifest in the index matches the requested platform.
    #[error(
        "no matching manifest for {wanted} in the manifest list entries (available: {available})"
    )]
    NoMatchingPlatform {
        /// The platform we looked for.
        wanted: String,
        /// The platforms the index offers, comma separated.
        available: String,
    },
    /// A single-platform image is for another platform than the one asked for.
    #[error("image {reference} was found but does not match the specified platform: wanted {wanted}, actual: {actual}")]
    PlatformMismatch {
        /// The image.
        reference: String,
        /// The platform asked for.
        wanted: String,
        /// The platform in the image config.
        actual: String,
    },
    /// A `--platform` value that is not `os/arch[/variant]`.
    #[error("invalid platform \"{0}\": expected os/arch[/variant]")]
    BadPlatform(String),
    /// Downloaded content does not match the digest or size it was announced with.
    #[error("{digest}: {message}")]
    Verification {
        /// The blob's expected digest.
        digest: String,
        /// What did not match.
        message: String,
    },
    /// The content store failed.
    #[error("content store: {digest}: {source}")]
    Store {
        /// The blob being written or read.
        digest: String,
        /// The store's error.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// An OCI image layout on disk is unusable.
    #[error("{path}: {message}")]
    Layout {
        /// The layout directory, archive or file inside it.
        path: String,
        /// The problem.
        message: String,
    },
}

/// Joins an error and its sources into one line ("a: b: c"), skipping repeats.
pub(crate) fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out.replace('\n', " ")
}

/// Describes a reqwest error the way a user needs it (timeouts and refused connections by name).
pub(crate) fn describe_http(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        format!("timed out: {}", chain(err))
    } else if err.is_connect() {
        format!("connection failed: {}", chain(err))
    } else {
        chain(err)
    }
}

impl From<crate::images::platform::PlatformError> for RegistryError {
    fn from(e: crate::images::platform::PlatformError) -> Self {
        RegistryError::BadPlatform(e.0)
    }
}

impl From<crate::images::oci::ManifestError> for RegistryError {
    fn from(e: crate::images::oci::ManifestError) -> Self {
        RegistryError::BadManifest {
            what: e.what,
            message: e.message,
        }
    }
}

impl From<crate::images::oci::NoMatchingPlatform> for RegistryError {
    fn from(e: crate::images::oci::NoMatchingPlatform) -> Self {
        RegistryError::NoMatchingPlatform {
            wanted: e.wanted,
            available: e.available,
        }
    }
}

//! `-v SRC:DST[:ro|rw]` bind mounts.

use std::path::{Component, Path, PathBuf};

use super::BundleError;

/// A parsed bind-mount volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// Host path (absolute, existing).
    pub source: PathBuf,
    /// Path inside the container (absolute).
    pub destination: PathBuf,
    /// Mounted read-only.
    pub read_only: bool,
}

fn invalid(spec: &str, reason: impl Into<String>) -> BundleError {
    BundleError::InvalidVolume {
        spec: spec.to_string(),
        reason: reason.into(),
    }
}

/// Parses one `-v` value and checks its source exists.
pub fn parse_volume(spec: &str) -> Result<Volume, BundleError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, o] => (*s, *d, *o),
        _ => return Err(invalid(spec, "expected SRC:DST[:ro|rw]")),
    };
    let mut read_only = false;
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => read_only = true,
            "rw" => read_only = false,
            other => {
                return Err(invalid(
                    spec,
                    format!("unknown option {other:?} (ro or rw)"),
                ))
            }
        }
    }
    let source = PathBuf::from(src);
    if !source.is_absolute() {
        return Err(invalid(
            spec,
            "the source must be an absolute host path (named volumes are not supported)",
        ));
    }
    let destination = PathBuf::from(dst);
    if !destination.is_absolute() || destination.components().any(|c| c == Component::ParentDir) {
        return Err(invalid(
            spec,
            "the destination must be an absolute path without `..`",
        ));
    }
    if destination == Path::new("/") {
        return Err(invalid(spec, "cannot mount over the container's root"));
    }
    if std::fs::symlink_metadata(&source).is_err() {
        return Err(invalid(
            spec,
            format!("source {} does not exist", source.display()),
        ));
    }
    Ok(Volume {
        source,
        destination,
        read_only,
    })
}

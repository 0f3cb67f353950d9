//! The image model: manifests, indexes, descriptors and configs as `oci_spec::image` types
//! (Docker schema 2 documents parse into the same structs; only their media types differ),
//! the media types Berth accepts, and choosing an index's manifest for a platform. Pulls,
//! pushes, layout loads (registry), image facts and rootfs preparation all parse through here.

use std::str::FromStr;

pub use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest};
use oci_spec::image::{Digest, MediaType};
use serde::Deserialize;

use super::platform::Platform;

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker schema 2 manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Every manifest media type we ask for, in order of preference.
pub const ACCEPTED_MANIFESTS: [&str; 4] = [
    OCI_INDEX,
    OCI_MANIFEST,
    DOCKER_MANIFEST_LIST,
    DOCKER_MANIFEST,
];

/// Config media types an image may have.
const CONFIG_TYPES: [&str; 2] = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];
/// Layer media types we can unpack (uncompressed, gzip, zstd; OCI, Docker, non-distributable).
const LAYER_TYPES: [&str; 9] = [
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar",
];

/// Largest manifest or index we accept (the limit containerd and the distribution spec suggest).
pub const MAX_MANIFEST_SIZE: u64 = 4 * 1024 * 1024;

/// How many indexes deep an image may nest (an index of indexes is legal OCI; a longer chain is
/// hostile, and every reader that follows one stops here instead of recursing without end).
pub const MAX_INDEX_DEPTH: usize = 4;

/// Most layers an image may have: overlayfs stacks at most 500 lower layers, so an image with
/// more could never run, and each layer costs an unpack and a snapshot directory first.
pub const MAX_LAYERS: usize = 500;

/// A parsed manifest-like document.
#[derive(Debug, Clone)]
pub enum Document {
    /// A single-platform image manifest (OCI or Docker schema 2).
    Manifest(Box<ImageManifest>),
    /// An index (OCI) or manifest list (Docker) pointing at per-platform manifests.
    Index(Box<ImageIndex>),
}

/// A document that is not a usable image manifest or index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {message}")]
pub struct ManifestError {
    /// The digest or reference of the document.
    pub what: String,
    /// The problem.
    pub message: String,
}

/// Only the fields that tell what a document is; the typed parse comes after.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    schema_version: Option<u32>,
    media_type: Option<String>,
    manifests: Option<serde::de::IgnoredAny>,
    config: Option<serde::de::IgnoredAny>,
}

/// Whether `media_type` names a manifest or an index (OCI or Docker schema 2).
pub fn is_manifest_type(media_type: &str) -> bool {
    ACCEPTED_MANIFESTS.contains(&media_type)
}

/// Parses `s` as a digest for a descriptor (`sha256:<hex>`).
pub fn parse_digest(s: &str) -> Result<Digest, ManifestError> {
    Digest::from_str(s).map_err(|e| ManifestError {
        what: s.to_string(),
        message: format!("invalid digest: {e}"),
    })
}

/// A descriptor for `digest` (`sha256:<hex>`) of `media_type` and `size` bytes.
pub fn descriptor(media_type: &str, digest: &str, size: u64) -> Result<Descriptor, ManifestError> {
    Ok(Descriptor::new(
        MediaType::from(media_type),
        size,
        parse_digest(digest)?,
    ))
}

/// Works out the media type from the Content-Type header, the `mediaType` field or the shape.
pub fn detect_media_type(header: Option<&str>, body: &[u8]) -> Option<String> {
    let header = header
        .map(|h| h.split(';').next().unwrap_or("").trim().to_string())
        .filter(|h| ACCEPTED_MANIFESTS.contains(&h.as_str()));
    if header.is_some() {
        return header;
    }
    let probe: Probe = serde_json::from_slice(body).ok()?;
    if let Some(mt) = probe.media_type {
        return Some(mt);
    }
    if probe.manifests.is_some() {
        Some(OCI_INDEX.to_string())
    } else if probe.config.is_some() {
        Some(OCI_MANIFEST.to_string())
    } else {
        None
    }
}

/// Parses a manifest or index of the given media type, checking what it references.
pub fn parse(what: &str, media_type: &str, body: &[u8]) -> Result<Document, ManifestError> {
    let bad = |message: String| ManifestError {
        what: what.to_string(),
        message,
    };
    let probe: Probe =
        serde_json::from_slice(body).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    if probe.schema_version != Some(2) {
        return Err(bad(format!(
            "unsupported schemaVersion {:?} (only schema 2 manifests are supported)",
            probe.schema_version
        )));
    }
    match media_type {
        OCI_INDEX | DOCKER_MANIFEST_LIST => {
            let index: ImageIndex =
                serde_json::from_slice(body).map_err(|e| bad(format!("invalid index: {e}")))?;
            Ok(Document::Index(Box::new(index)))
        }
        OCI_MANIFEST | DOCKER_MANIFEST => {
            let manifest: ImageManifest =
                serde_json::from_slice(body).map_err(|e| bad(format!("invalid manifest: {e}")))?;
            let config_type = manifest.config().media_type().as_ref();
            if !CONFIG_TYPES.contains(&config_type) {
                return Err(bad(format!(
                    "not a container image: config media type \"{config_type}\""
                )));
            }
            if manifest.layers().len() > MAX_LAYERS {
                return Err(bad(format!(
                    "{} layers, more than the {MAX_LAYERS} an image may have",
                    manifest.layers().len()
                )));
            }
            for layer in manifest.layers() {
                if !LAYER_TYPES.contains(&layer.media_type().as_ref()) {
                    return Err(bad(format!(
                        "layer {} has unsupported media type \"{}\"",
                        layer.digest(),
                        layer.media_type()
                    )));
                }
            }
            Ok(Document::Manifest(Box::new(manifest)))
        }
        other => Err(bad(format!("unsupported manifest media type \"{other}\""))),
    }
}

/// No entry of an index runs on the wanted platform.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no manifest for {wanted} (the index has {available})")]
pub struct NoMatchingPlatform {
    /// The platform looked for.
    pub wanted: String,
    /// The platforms the index offers, comma separated (`none` if it names none).
    pub available: String,
}

/// Picks the entry of `index` for `wanted`: an exact variant match first, then any compatible one.
pub fn select_platform<'a>(
    index: &'a ImageIndex,
    wanted: &Platform,
) -> Result<&'a Descriptor, NoMatchingPlatform> {
    let candidates: Vec<(&Descriptor, Option<Platform>)> = index
        .manifests()
        .iter()
        .filter(|d| matches!(d.media_type().as_ref(), OCI_MANIFEST | DOCKER_MANIFEST))
        .map(|d| (d, d.platform().as_ref().map(Platform::from_oci)))
        .collect();
    let exact = candidates.iter().find(|(_, p)| p.as_ref() == Some(wanted));
    let compatible = || {
        candidates
            .iter()
            .find(|(_, p)| p.as_ref().is_some_and(|p| wanted.accepts(p)))
    };
    if let Some((d, _)) = exact.or_else(compatible) {
        return Ok(d);
    }
    let available: Vec<String> = candidates
        .iter()
        .filter_map(|(_, p)| p.as_ref().map(|p| p.to_string()))
        .collect();
    Err(NoMatchingPlatform {
        wanted: wanted.to_string(),
        available: if available.is_empty() {
            "none".into()
        } else {
            available.join(", ")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pullable_layer_type_can_be_unpacked() {
        // Docker's uncompressed layer type was pulled but refused by the unpacker at `run`
        // (the manifest fuzz target checks the same for every manifest it parses).
        for t in LAYER_TYPES {
            assert!(
                crate::unpack::Compression::from_media_type(t).is_ok(),
                "{t} is pulled but cannot be unpacked"
            );
        }
    }

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn entry(p: &str, c: char) -> Descriptor {
        let mut d = descriptor(OCI_MANIFEST, &digest(c), 1).unwrap();
        d.set_platform(Some(Platform::parse(p).unwrap().to_oci()));
        d
    }

    fn index() -> ImageIndex {
        let mut i = ImageIndex::default();
        i.set_manifests(vec![
            entry("linux/amd64", 'a'),
            entry("linux/arm/v6", 'b'),
            entry("linux/arm/v7", 'c'),
            entry("linux/arm64/v8", 'd'),
        ]);
        i
    }

    #[test]
    fn selects_by_platform() {
        let i = index();
        let pick = |p: &str| {
            select_platform(&i, &Platform::parse(p).unwrap())
                .unwrap()
                .digest()
                .to_string()
        };
        assert_eq!(pick("linux/amd64"), digest('a'));
        assert_eq!(pick("linux/arm/v7"), digest('c'));
        assert_eq!(pick("linux/arm"), digest('b'));
        assert_eq!(pick("linux/arm64"), digest('d'));
        assert_eq!(pick("linux/arm64/v8"), digest('d'));
    }

    #[test]
    fn missing_platform_lists_available() {
        let err = select_platform(&index(), &Platform::parse("linux/s390x").unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("linux/s390x"), "{err}");
        assert!(
            err.contains("linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64/v8"),
            "{err}"
        );
    }

    #[test]
    fn platform_syntax() {
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux/amd64/v1/x").is_err());
        assert!(Platform::parse("linux//v1").is_err());
        assert_eq!(
            Platform::parse("Linux/AMD64").unwrap().to_string(),
            "linux/amd64"
        );
        assert_eq!(Platform::host().os, "linux");
    }

    #[test]
    fn media_types_and_parsing() {
        let m = br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":1},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":2}]}"#;
        assert_eq!(detect_media_type(None, m).as_deref(), Some(OCI_MANIFEST));
        assert_eq!(
            detect_media_type(
                Some("application/vnd.docker.distribution.manifest.v2+json; x"),
                m
            )
            .as_deref(),
            Some(DOCKER_MANIFEST)
        );
        assert!(matches!(
            parse("m", OCI_MANIFEST, m),
            Ok(Document::Manifest(_))
        ));
        let helm = br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":1},"layers":[]}"#;
        assert!(parse("h", OCI_MANIFEST, helm)
            .unwrap_err()
            .to_string()
            .contains("not a container image"));
        let v1 = br#"{"schemaVersion":1,"name":"x"}"#;
        assert!(parse("v1", DOCKER_MANIFEST, v1)
            .unwrap_err()
            .to_string()
            .contains("schemaVersion"));
        let idx = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert_eq!(detect_media_type(None, idx).as_deref(), Some(OCI_INDEX));
        assert!(matches!(
            parse("i", DOCKER_MANIFEST_LIST, idx),
            Ok(Document::Index(_))
        ));
        assert!(parse("x", "text/html", idx).is_err());
    }
}

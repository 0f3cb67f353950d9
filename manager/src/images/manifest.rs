//! Reads an image's manifest and config from the content store to compute what `berth images` shows:
//! image ID (config digest), creation time, size and platform.

use super::oci::{self, Document, ImageConfiguration};
use super::platform::{host_platform, Platform};
use crate::content::{ContentStore, Digest};
use crate::metadata::images::Descriptor;
use chrono::{DateTime, Utc};

/// Facts about an image for one platform.
#[derive(Debug, Clone, Default)]
pub struct ImageFacts {
    /// Digest of the selected platform manifest.
    pub manifest_digest: Option<Digest>,
    /// Digest of the config: the image ID.
    pub config_digest: Option<Digest>,
    /// The config's `created` time.
    pub created: Option<DateTime<Utc>>,
    /// Config size plus layer sizes (compressed).
    pub size: u64,
    /// "os/arch[/variant]" of the selected manifest.
    pub platform: String,
    /// Raw manifest JSON.
    pub manifest: Option<Vec<u8>>,
    /// Raw config JSON.
    pub config: Option<Vec<u8>>,
}

/// Parses a stored manifest or index, trusting the record's media type only when it names one.
fn document(media_type: &str, raw: &[u8]) -> Option<Document> {
    let media_type = if oci::is_manifest_type(media_type) {
        media_type.to_string()
    } else {
        oci::detect_media_type(None, raw)?
    };
    oci::parse(&media_type, &media_type, raw).ok()
}

fn digest_of(d: &oci::Descriptor) -> Option<Digest> {
    Digest::parse(d.digest().as_ref()).ok()
}

/// Resolves `target` for the host platform as far as the content store allows; missing blobs leave
/// the corresponding facts empty rather than failing (an image can be listed even if broken).
pub async fn resolve(store: &ContentStore, target: &Descriptor) -> ImageFacts {
    let mut facts = ImageFacts::default();
    let Ok(raw) = store.read_all(&target.digest).await else {
        return facts;
    };
    let Some(doc) = document(&target.media_type, &raw) else {
        return facts;
    };
    let (manifest_digest, manifest_raw, manifest) = match doc {
        Document::Manifest(m) => (target.digest.clone(), raw, m),
        Document::Index(index) => {
            let host = host_platform();
            let mut chosen = None;
            // Only entries whose manifest is stored count: an image pulled for one platform
            // keeps the whole index but only that platform's manifest.
            for e in index.manifests() {
                let Some(d) = digest_of(e) else { continue };
                if !store.exists(&d).await {
                    continue;
                }
                let p = e
                    .platform()
                    .as_ref()
                    .map(|p| Platform::from_oci(p).to_string())
                    .unwrap_or_default();
                let better = match &chosen {
                    None => true,
                    Some((_, cp, _)) => cp != &host && p.starts_with(&host),
                };
                if better {
                    chosen = Some((d, p, e.media_type().to_string()));
                }
            }
            let Some((d, _, media_type)) = chosen else {
                return facts;
            };
            let Ok(raw) = store.read_all(&d).await else {
                return facts;
            };
            let Some(Document::Manifest(m)) = document(&media_type, &raw) else {
                return facts;
            };
            (d, raw, m)
        }
    };
    // Descriptor sizes are the image's word: add them without overflow.
    let size = manifest
        .layers()
        .iter()
        .fold(manifest.config().size(), |n, l| n.saturating_add(l.size()));
    facts.config_digest = digest_of(manifest.config());
    if let Some(cd) = &facts.config_digest {
        if let Ok(cfg_raw) = store.read_all(cd).await {
            if let Ok(cfg) = ImageConfiguration::from_reader(&cfg_raw[..]) {
                facts.created = cfg
                    .created()
                    .as_deref()
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                    .map(|t| t.with_timezone(&Utc));
                facts.platform = Platform {
                    os: cfg.os().to_string(),
                    architecture: cfg.architecture().to_string(),
                    variant: cfg.variant().clone().filter(|v| !v.is_empty()),
                }
                .to_string();
            }
            facts.config = Some(cfg_raw);
        }
    }
    facts.size = size;
    facts.manifest_digest = Some(manifest_digest);
    facts.manifest = Some(manifest_raw);
    facts
}

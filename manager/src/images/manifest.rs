//! Reads an image's manifest and config from the content store to compute what `berth images` shows:
//! image ID (config digest), creation time, size and platform.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::platform::host_platform;
use crate::content::{ContentStore, Digest};
use crate::metadata::images::Descriptor;

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

fn is_index(media_type: &str, doc: &Value) -> bool {
    media_type.contains("index")
        || media_type.contains("manifest.list")
        || doc.get("manifests").is_some()
}

fn platform_of(v: &Value) -> String {
    let p = v.get("platform").unwrap_or(v);
    let os = p.get("os").and_then(Value::as_str).unwrap_or("");
    let arch = p.get("architecture").and_then(Value::as_str).unwrap_or("");
    let variant = p.get("variant").and_then(Value::as_str).unwrap_or("");
    if os.is_empty() && arch.is_empty() {
        return String::new();
    }
    if variant.is_empty() {
        format!("{os}/{arch}")
    } else {
        format!("{os}/{arch}/{variant}")
    }
}

fn digest_of(v: &Value) -> Option<Digest> {
    v.get("digest")
        .and_then(Value::as_str)
        .and_then(|d| Digest::parse(d).ok())
}

/// Resolves `target` for the host platform as far as the content store allows; missing blobs leave
/// the corresponding facts empty rather than failing (an image can be listed even if broken).
pub async fn resolve(store: &ContentStore, target: &Descriptor) -> ImageFacts {
    let mut facts = ImageFacts::default();
    let Ok(raw) = store.read_all(&target.digest).await else {
        return facts;
    };
    let Ok(doc) = serde_json::from_slice::<Value>(&raw) else {
        return facts;
    };
    let (manifest_digest, manifest_raw, manifest) = if is_index(&target.media_type, &doc) {
        let entries = doc
            .get("manifests")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let host = host_platform();
        let mut chosen = None;
        for e in &entries {
            let Some(d) = digest_of(e) else { continue };
            if !store.exists(&d).await {
                continue;
            }
            let p = platform_of(e);
            let better = match &chosen {
                None => true,
                Some((_, cp)) => cp != &host && p.starts_with(&host),
            };
            if better {
                chosen = Some((d, p));
            }
        }
        let Some((d, _)) = chosen else {
            return facts;
        };
        let Ok(raw) = store.read_all(&d).await else {
            return facts;
        };
        let Ok(doc) = serde_json::from_slice::<Value>(&raw) else {
            return facts;
        };
        (d, raw, doc)
    } else {
        (target.digest.clone(), raw, doc)
    };
    let mut size = 0u64;
    if let Some(cfg) = manifest.get("config") {
        size += cfg.get("size").and_then(Value::as_u64).unwrap_or(0);
        facts.config_digest = digest_of(cfg);
    }
    for layer in manifest
        .get("layers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        size += layer.get("size").and_then(Value::as_u64).unwrap_or(0);
    }
    if let Some(cd) = &facts.config_digest {
        if let Ok(cfg_raw) = store.read_all(cd).await {
            if let Ok(cfg) = serde_json::from_slice::<Value>(&cfg_raw) {
                facts.created = cfg
                    .get("created")
                    .and_then(Value::as_str)
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                    .map(|t| t.with_timezone(&Utc));
                facts.platform = platform_of(&cfg);
            }
            facts.config = Some(cfg_raw);
        }
    }
    facts.size = size;
    facts.manifest_digest = Some(manifest_digest);
    facts.manifest = Some(manifest_raw);
    facts
}

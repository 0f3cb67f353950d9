//! Client-side registry credentials.
//!
//! `berth login` stores credentials in `$XDG_CONFIG_HOME/berth/auth.json` (default
//! `~/.config/berth/auth.json`), created with mode 0600, in Docker's `config.json` format:
//! `{"auths": {"<registry host>": {"auth": "<base64 user:password>", "identitytoken": "..."}}}`.
//! For pull and push the CLI looks up the image's registry there first, then in Docker's
//! `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`), and sends what it finds.
//! Credential helpers (`credsStore`) are not supported.

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine;
use serde::{Deserialize, Serialize};

/// Docker Hub's host as berth names it.
pub const DOCKER_HUB: &str = "docker.io";

/// Credentials for one registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredAuth {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
    /// Refresh token from a login, if the registry issued one.
    pub identity_token: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(flatten)]
    other: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct AuthEntry {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    auth: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    identitytoken: String,
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// Path of berth's credentials file.
pub fn berth_auth_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".config")))?;
    Some(base.join("berth").join("auth.json"))
}

fn docker_config_path() -> Option<PathBuf> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".docker")))?;
    Some(dir.join("config.json"))
}

/// Canonical registry key: scheme and path dropped, Docker Hub's aliases folded to "docker.io".
pub fn registry_key(server: &str) -> String {
    let s = server
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = s.split('/').next().unwrap_or(s);
    match host {
        "" | "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            DOCKER_HUB.into()
        }
        h => h.to_string(),
    }
}

/// Registry host of an image reference (`hello-world` → docker.io, `127.0.0.1:5000/app` → that host).
pub fn registry_of(reference: &str) -> String {
    match reference.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            registry_key(first)
        }
        _ => DOCKER_HUB.into(),
    }
}

fn read_file(path: &PathBuf) -> Option<AuthFile> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

fn decode(entry: &AuthEntry) -> Option<StoredAuth> {
    let mut out = StoredAuth {
        identity_token: entry.identitytoken.clone(),
        ..Default::default()
    };
    if !entry.auth.is_empty() {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(entry.auth.trim())
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (u, p) = text.split_once(':')?;
        out.username = u.to_string();
        out.password = p.to_string();
    }
    (!out.username.is_empty() || !out.identity_token.is_empty()).then_some(out)
}

fn find_in(file: &AuthFile, key: &str) -> Option<StoredAuth> {
    file.auths
        .iter()
        .find(|(k, _)| registry_key(k) == key)
        .and_then(|(_, e)| decode(e))
}

/// Credentials for `server` from berth's file, else Docker's.
pub fn lookup(server: &str) -> Option<StoredAuth> {
    let key = registry_key(server);
    [berth_auth_path(), docker_config_path()]
        .into_iter()
        .flatten()
        .filter_map(|p| read_file(&p))
        .find_map(|f| find_in(&f, &key))
}

/// Stores credentials for `server` in berth's file (mode 0600), keeping other entries.
pub fn store(server: &str, auth: &StoredAuth) -> anyhow::Result<PathBuf> {
    let path = berth_auth_path()
        .ok_or_else(|| anyhow::anyhow!("cannot locate home directory: HOME is not set"))?;
    let mut file = read_file(&path).unwrap_or_default();
    let mut entry = AuthEntry::default();
    if !auth.username.is_empty() {
        entry.auth = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", auth.username, auth.password));
    }
    entry.identitytoken = auth.identity_token.clone();
    file.auths.insert(registry_key(server), entry);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&file)?;
    crate::atomic_file::replace(
        &path,
        text.as_bytes(),
        0o600,
        crate::atomic_file::Durability::Fsync,
    )
    .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Credentials to send for an image reference, as a protobuf message.
pub fn for_reference(reference: &str) -> Option<berth_proto::v1::RegistryAuth> {
    lookup(&registry_of(reference)).map(|a| berth_proto::v1::RegistryAuth {
        username: a.username,
        password: a.password,
        identity_token: a.identity_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_registries() {
        assert_eq!(registry_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(registry_key("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(registry_of("hello-world"), "docker.io");
        assert_eq!(registry_of("user/app:1"), "docker.io");
        assert_eq!(registry_of("127.0.0.1:5000/app:1"), "127.0.0.1:5000");
        assert_eq!(registry_of("localhost/app"), "localhost");
    }

    #[test]
    fn decodes_docker_entries() {
        let f: AuthFile = serde_json::from_str(
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpwYTpzcw=="}},"credsStore":"x"}"#,
        )
        .unwrap();
        let a = find_in(&f, "docker.io").unwrap();
        assert_eq!(
            (a.username.as_str(), a.password.as_str()),
            ("user", "pa:ss")
        );
        assert!(find_in(&f, "quay.io").is_none());
    }
}

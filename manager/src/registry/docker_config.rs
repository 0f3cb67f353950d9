//! Credentials in Docker's client config (`~/.docker/config.json`, `auths` section), which
//! `berth login` writes and `berth pull/push` read, so Docker and Berth share logins.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::Credentials;
use crate::reference::DEFAULT_REGISTRY;

/// The key Docker uses for Docker Hub in `auths`.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// Errors reading or writing the client config.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The config file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not the JSON we expect.
    #[error("{path}: {message}")]
    Format {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
pub fn default_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
}

fn key_for(registry: &str) -> &str {
    if registry == DEFAULT_REGISTRY {
        DOCKER_HUB_KEY
    } else {
        registry
    }
}

/// Normalizes an `auths` key (`https://host/v1/`, `host`) to a registry host.
fn host_of(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let k = k.split('/').next().unwrap_or(k);
    match k {
        "index.docker.io" | "registry-1.docker.io" => DEFAULT_REGISTRY,
        other => other,
    }
}

fn read_json(path: &Path) -> Result<serde_json::Value, ConfigFileError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ConfigFileError::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(serde_json::json!({})),
        Err(source) => Err(ConfigFileError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The stored credentials for `registry` (as written in references: `docker.io`, `host:port`).
pub fn load(path: &Path, registry: &str) -> Result<Option<Credentials>, ConfigFileError> {
    let json = read_json(path)?;
    let Some(auths) = json.get("auths").and_then(|a| a.as_object()) else {
        return Ok(None);
    };
    for (key, entry) in auths {
        if host_of(key) != registry {
            continue;
        }
        if let (Some(u), Some(p)) = (
            entry.get("username").and_then(|v| v.as_str()),
            entry.get("password").and_then(|v| v.as_str()),
        ) {
            return Ok(Some(Credentials {
                username: u.into(),
                password: p.into(),
            }));
        }
        let Some(auth) = entry.get("auth").and_then(|v| v.as_str()) else {
            continue;
        };
        let bad = |message: String| ConfigFileError::Format {
            path: path.to_path_buf(),
            message,
        };
        let decoded = STANDARD
            .decode(auth)
            .map_err(|e| bad(format!("auths.\"{key}\".auth: {e}")))?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| bad(format!("auths.\"{key}\".auth is not UTF-8")))?;
        let (u, p) = decoded
            .split_once(':')
            .ok_or_else(|| bad(format!("auths.\"{key}\".auth is not user:password")))?;
        return Ok(Some(Credentials {
            username: u.into(),
            password: p.into(),
        }));
    }
    Ok(None)
}

/// Records credentials for `registry`, keeping everything else in the file; mode 0600.
pub fn store(path: &Path, registry: &str, creds: &Credentials) -> Result<(), ConfigFileError> {
    update(path, |auths| {
        auths.retain(|k, _| host_of(k) != registry);
        let auth = STANDARD.encode(format!("{}:{}", creds.username, creds.password));
        auths.insert(
            key_for(registry).into(),
            serde_json::json!({ "auth": auth }),
        );
    })
}

/// Forgets credentials for `registry` (`berth logout`); true if there were any.
pub fn remove(path: &Path, registry: &str) -> Result<bool, ConfigFileError> {
    let mut removed = false;
    update(path, |auths| {
        let before = auths.len();
        auths.retain(|k, _| host_of(k) != registry);
        removed = auths.len() != before;
    })?;
    Ok(removed)
}

fn update(
    path: &Path,
    change: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> Result<(), ConfigFileError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| ConfigFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut json = read_json(path)?;
    let obj = json
        .as_object_mut()
        .ok_or_else(|| ConfigFileError::Format {
            path: path.to_path_buf(),
            message: "not a JSON object".into(),
        })?;
    let auths = obj
        .entry("auths")
        .or_insert_with(|| serde_json::json!({}))
        .as_object_mut()
        .ok_or_else(|| ConfigFileError::Format {
            path: path.to_path_buf(),
            message: "\"auths\" is not an object".into(),
        })?;
    change(auths);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    let text = serde_json::to_string_pretty(&json).map_err(|e| ConfigFileError::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_docker_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz"}},"credsStore":"x"}"#,
        )
        .unwrap();
        let hub = load(&path, "docker.io").unwrap().unwrap();
        assert_eq!(
            (hub.username.as_str(), hub.password.as_str()),
            ("user", "pass")
        );
        assert!(load(&path, "127.0.0.1:5000").unwrap().is_none());
        let c = Credentials {
            username: "a".into(),
            password: "b:c".into(),
        };
        store(&path, "127.0.0.1:5000", &c).unwrap();
        assert_eq!(load(&path, "127.0.0.1:5000").unwrap(), Some(c));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("credsStore"), "other keys kept: {text}");
        assert!(remove(&path, "docker.io").unwrap());
        assert!(load(&path, "docker.io").unwrap().is_none());
        assert!(!remove(&path, "docker.io").unwrap());
        assert!(load(&dir.path().join("missing.json"), "docker.io")
            .unwrap()
            .is_none());
    }
}

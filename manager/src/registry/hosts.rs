//! Which endpoints serve a registry: its mirrors (tried in order) and then the registry itself,
//! each over HTTPS unless configured as plain HTTP.

use std::collections::HashMap;
use std::time::Duration;

use crate::reference::DEFAULT_REGISTRY;

/// The host that really serves `docker.io` (Docker Hub's API endpoint).
const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";

/// Per-registry settings from the daemon config (`[registries."docker.io"]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostConfig {
    /// Mirror URLs (`http://127.0.0.1:5000`, `https://mirror.example`) tried in order first.
    pub mirrors: Vec<String>,
    /// Talk to the registry itself over plain HTTP instead of HTTPS.
    pub plain_http: bool,
}

/// Everything the registry code needs from the daemon: hosts config and network limits.
#[derive(Debug, Clone)]
pub struct RegistryContext {
    /// Settings keyed by registry host as it appears in references (`docker.io`, `127.0.0.1:5000`).
    pub hosts: HashMap<String, HostConfig>,
    /// Limit for establishing a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Limit for any single read from a registry: a stalled server fails after this long.
    pub read_timeout: Duration,
    /// How many blobs are downloaded or uploaded at once.
    pub max_concurrent_transfers: usize,
}

impl Default for RegistryContext {
    fn default() -> Self {
        RegistryContext {
            hosts: HashMap::new(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            max_concurrent_transfers: 3,
        }
    }
}

/// One place to fetch from: a mirror or the registry itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host[:port]` to connect to.
    pub host: String,
    /// Whether to use `http://`.
    pub plain_http: bool,
    /// Whether this is a mirror (failures fall through to the next endpoint).
    pub mirror: bool,
}

impl RegistryContext {
    /// The endpoints for `registry` in the order they are tried: mirrors, then the registry.
    pub fn endpoints(&self, registry: &str) -> Vec<Endpoint> {
        let config = self.hosts.get(registry).cloned().unwrap_or_default();
        let mut out: Vec<Endpoint> = config
            .mirrors
            .iter()
            .filter_map(|url| parse_mirror(url))
            .collect();
        out.push(self.upstream(registry));
        out
    }

    /// The registry itself (no mirrors): used for push and login.
    pub fn upstream(&self, registry: &str) -> Endpoint {
        let config = self.hosts.get(registry).cloned().unwrap_or_default();
        let host = if registry == DEFAULT_REGISTRY {
            DOCKER_HUB_API_HOST.to_string()
        } else {
            registry.to_string()
        };
        Endpoint {
            host,
            plain_http: config.plain_http,
            mirror: false,
        }
    }

    /// Checks the mirror URLs so a bad config fails at daemon start, not at first pull.
    pub fn validate(&self) -> Result<(), String> {
        for (registry, config) in &self.hosts {
            for url in &config.mirrors {
                if parse_mirror(url).is_none() {
                    return Err(format!(
                        "registries.\"{registry}\".mirrors: \"{url}\" is not an http:// or https:// URL with a host"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// `http://host:port[/]` → plain-HTTP endpoint; `https://host` or a bare host → HTTPS.
fn parse_mirror(url: &str) -> Option<Endpoint> {
    let (plain_http, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (false, rest)
    } else {
        (false, url)
    };
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') {
        return None;
    }
    Some(Endpoint {
        host: host.to_string(),
        plain_http,
        mirror: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_first_then_registry() {
        let mut ctx = RegistryContext::default();
        ctx.hosts.insert(
            "docker.io".into(),
            HostConfig {
                mirrors: vec!["http://127.0.0.1:5000/".into(), "https://m.example".into()],
                plain_http: false,
            },
        );
        let e = ctx.endpoints("docker.io");
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].host, "127.0.0.1:5000");
        assert!(e[0].plain_http && e[0].mirror);
        assert!(!e[1].plain_http && e[1].mirror);
        assert_eq!(e[2].host, "registry-1.docker.io");
        assert!(!e[2].mirror);
        assert!(ctx.validate().is_ok());
    }

    #[test]
    fn plain_http_registry_and_bad_mirror() {
        let mut ctx = RegistryContext::default();
        ctx.hosts.insert(
            "127.0.0.1:5000".into(),
            HostConfig {
                mirrors: vec!["http://x/path".into()],
                plain_http: true,
            },
        );
        assert!(ctx.upstream("127.0.0.1:5000").plain_http);
        assert!(ctx.validate().unwrap_err().contains("http://x/path"));
        assert_eq!(ctx.endpoints("quay.io"), vec![ctx.upstream("quay.io")]);
    }
}

//! `login`: check credentials against a registry the way `docker login` does — `GET /v2/`,
//! and if the registry asks for a bearer token, get one from its realm with the credentials.

use super::error::describe_http;
use super::hosts::RegistryContext;
use super::{Credentials, RegistryError};

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `Bearer` or `Basic` (lower-cased).
    pub scheme: String,
    /// `realm`, `service`, `scope`, … parameters.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// Parses `Bearer realm="https://auth",service="registry",scope="repository:x:pull"`.
    pub fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        let mut params = Vec::new();
        let mut rest = rest.trim();
        while !rest.is_empty() {
            let (key, after) = rest.split_once('=')?;
            let after = after.trim_start();
            let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted.find('"')?;
                (&quoted[..end], &quoted[end + 1..])
            } else {
                let end = after.find(',').unwrap_or(after.len());
                (&after[..end], &after[end..])
            };
            params.push((key.trim().to_lowercase(), value.to_string()));
            rest = remaining.trim_start().trim_start_matches(',').trim_start();
        }
        Some(Challenge {
            scheme: scheme.to_lowercase(),
            params,
        })
    }

    /// The value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Largest token-service answer read (real ones are a few KiB).
const MAX_TOKEN_RESPONSE: u64 = 1024 * 1024;

/// Verifies `credentials` for `registry` (no mirrors: credentials belong to the registry).
pub async fn login(
    ctx: &RegistryContext,
    registry: &str,
    credentials: &Credentials,
) -> Result<(), RegistryError> {
    let endpoint = ctx.upstream(registry);
    let scheme = if endpoint.plain_http { "http" } else { "https" };
    let base = format!("{scheme}://{}/v2/", endpoint.host);
    let transport = |e: reqwest::Error| RegistryError::Transport {
        host: endpoint.host.clone(),
        message: describe_http(&e),
    };
    let refused = |message: String| RegistryError::Unauthorized {
        host: endpoint.host.clone(),
        repository: "/v2/".into(),
        message,
    };
    let http = reqwest::Client::builder()
        .connect_timeout(ctx.connect_timeout)
        .read_timeout(ctx.read_timeout)
        .build()
        .map_err(transport)?;
    let first = http.get(&base).send().await.map_err(transport)?;
    if first.status().is_success() {
        return Ok(());
    }
    if first.status().as_u16() != 401 {
        return Err(RegistryError::Transport {
            host: endpoint.host.clone(),
            message: format!("GET /v2/ answered HTTP {}", first.status()),
        });
    }
    let challenge = first
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .and_then(Challenge::parse)
        .ok_or_else(|| refused("HTTP 401 without a WWW-Authenticate challenge".into()))?;
    let authorized = match challenge.scheme.as_str() {
        "basic" => http
            .get(&base)
            .basic_auth(&credentials.username, Some(&credentials.password)),
        "bearer" => {
            let realm = challenge
                .param("realm")
                .ok_or_else(|| refused("bearer challenge without a realm".into()))?;
            let mut query = Vec::new();
            if let Some(service) = challenge.param("service") {
                query.push(("service", service.to_string()));
            }
            let response = http
                .get(realm)
                .query(&query)
                .basic_auth(&credentials.username, Some(&credentials.password))
                .send()
                .await
                .map_err(transport)?;
            if !response.status().is_success() {
                return Err(refused(format!(
                    "token service {realm} refused the credentials (HTTP {})",
                    response.status().as_u16()
                )));
            }
            // A token is a few KiB: a token service must not make us buffer without end.
            if response
                .content_length()
                .is_some_and(|n| n > MAX_TOKEN_RESPONSE)
            {
                return Err(refused(format!(
                    "token service {realm} answered more than {MAX_TOKEN_RESPONSE} bytes"
                )));
            }
            let mut raw = Vec::new();
            let mut stream = response.bytes_stream();
            while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
                raw.extend_from_slice(&chunk.map_err(transport)?);
                if raw.len() as u64 > MAX_TOKEN_RESPONSE {
                    return Err(refused(format!(
                        "token service {realm} answered more than {MAX_TOKEN_RESPONSE} bytes"
                    )));
                }
            }
            let body: serde_json::Value = serde_json::from_slice(&raw).map_err(|e| {
                refused(format!("token service {realm} answered invalid JSON: {e}"))
            })?;
            let token = body
                .get("token")
                .or_else(|| body.get("access_token"))
                .and_then(|t| t.as_str())
                .ok_or_else(|| refused(format!("token service {realm} returned no token")))?;
            http.get(&base).bearer_auth(token)
        }
        other => return Err(refused(format!("unsupported auth scheme \"{other}\""))),
    };
    let second = authorized.send().await.map_err(transport)?;
    if second.status().is_success() {
        Ok(())
    } else {
        Err(refused(format!(
            "the registry rejected the credentials (HTTP {})",
            second.status().as_u16()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c.param("service"), Some("registry.docker.io"));
        assert_eq!(
            c.param("scope"),
            Some("repository:library/busybox:pull,push")
        );
        let b = Challenge::parse(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(b.scheme, "basic");
        assert_eq!(b.param("realm"), Some("Registry Realm"));
        let bare = Challenge::parse("Bearer realm=x, service=y").unwrap();
        assert_eq!(bare.param("service"), Some("y"));
        assert!(Challenge::parse(r#"Bearer realm="unterminated"#).is_none());
    }
}

//! A session with one registry endpoint for one repository: authentication (anonymous or basic
//! credentials, bearer tokens from the realm the registry names), manifest fetches with a size
//! cap, and blob streams. Blob transfer and token negotiation go through `oci-client`; manifest
//! fetches use reqwest directly so the size limit applies before the body is buffered.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::RegistryOperation;
use sha2::{Digest as _, Sha256};

use super::error::{chain, describe_http};
use super::hosts::{Endpoint, RegistryContext};
use super::RegistryError;
use crate::images::oci::{self as manifest, MAX_MANIFEST_SIZE};

/// A username and password (or token) for a registry, as `berth login` stores them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or personal access token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <redacted>)", self.username)
    }
}

/// A fetched manifest or index, its media type and digest.
#[derive(Debug, Clone)]
pub struct RawManifest {
    /// The exact bytes the registry sent (their digest is the content address).
    pub body: Vec<u8>,
    /// Its media type.
    pub media_type: String,
    /// `sha256:` of `body`.
    pub digest: String,
}

/// Authenticated access to one repository on one endpoint.
pub struct Session {
    endpoint: Endpoint,
    repository: String,
    oci: oci_client::Client,
    http: reqwest::Client,
    image: oci_client::Reference,
    credentials: Option<Credentials>,
    token: Option<String>,
}

impl Session {
    /// Connects to `endpoint` and authenticates for `operation` on `repository`.
    pub async fn open(
        ctx: &RegistryContext,
        endpoint: &Endpoint,
        repository: &str,
        credentials: Option<&Credentials>,
        operation: RegistryOperation,
    ) -> Result<Session, RegistryError> {
        let protocol = if endpoint.plain_http {
            ClientProtocol::HttpsExcept(vec![endpoint.host.clone()])
        } else {
            ClientProtocol::Https
        };
        let config = ClientConfig {
            protocol,
            connect_timeout: Some(ctx.connect_timeout),
            read_timeout: Some(ctx.read_timeout),
            max_concurrent_download: ctx.max_concurrent_transfers,
            max_concurrent_upload: ctx.max_concurrent_transfers,
            user_agent: concat!("berth/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        let oci = oci_client::Client::new(config);
        let http = reqwest::Client::builder()
            .connect_timeout(ctx.connect_timeout)
            .read_timeout(ctx.read_timeout)
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RegistryError::Transport {
                host: endpoint.host.clone(),
                message: describe_http(&e),
            })?;
        let image = oci_client::Reference::with_tag(
            endpoint.host.clone(),
            repository.to_string(),
            "latest".to_string(),
        );
        let auth = match credentials {
            Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
            None => RegistryAuth::Anonymous,
        };
        let mut session = Session {
            endpoint: endpoint.clone(),
            repository: repository.to_string(),
            oci,
            http,
            image,
            credentials: credentials.cloned(),
            token: None,
        };
        session.token = session
            .oci
            .auth(&session.image, &auth, operation)
            .await
            .map_err(|e| session.map_oci(e))?;
        Ok(session)
    }

    /// The endpoint this session talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The underlying oci-client, authenticated for this repository.
    pub(crate) fn oci(&self) -> &oci_client::Client {
        &self.oci
    }

    /// The oci-client reference for this repository on this endpoint with `tag`.
    pub(crate) fn oci_reference(&self, tag: &str) -> oci_client::Reference {
        oci_client::Reference::with_tag(
            self.endpoint.host.clone(),
            self.repository.clone(),
            tag.to_string(),
        )
    }

    fn base_url(&self) -> String {
        let scheme = if self.endpoint.plain_http {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{}/v2/", self.endpoint.host)
    }

    fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match (&self.token, &self.credentials) {
            (Some(token), _) => request.bearer_auth(token),
            (None, Some(c)) => request.basic_auth(&c.username, Some(&c.password)),
            (None, None) => request,
        }
    }

    /// Checks that the credentials are accepted (for `berth login`): `GET /v2/` must succeed.
    pub async fn verify(&self) -> Result<(), RegistryError> {
        let response = self
            .authorize(self.http.get(self.base_url()))
            .send()
            .await
            .map_err(|e| self.transport(&e))?;
        match response.status().as_u16() {
            200..=299 => Ok(()),
            401 | 403 => Err(self.unauthorized("the registry rejected the credentials".into())),
            code => Err(RegistryError::Transport {
                host: self.endpoint.host.clone(),
                message: format!("GET /v2/ answered HTTP {code}"),
            }),
        }
    }

    /// Fetches a manifest or index by tag or digest, refusing bodies over 4 MiB.
    pub async fn fetch_manifest(&self, reference: &str) -> Result<RawManifest, RegistryError> {
        let url = format!(
            "{}{}/manifests/{reference}",
            self.base_url(),
            self.repository
        );
        let what = format!("{}/{}:{reference}", self.endpoint.host, self.repository);
        let response = self
            .authorize(self.http.get(&url))
            .header(
                reqwest::header::ACCEPT,
                manifest::ACCEPTED_MANIFESTS.join(", "),
            )
            .send()
            .await
            .map_err(|e| self.transport(&e))?;
        let status = response.status().as_u16();
        match status {
            200 => {}
            404 => {
                let sep = if reference.contains(':') { '@' } else { ':' };
                return Err(RegistryError::NotFound {
                    reference: format!("{}{sep}{reference}", self.repository),
                    host: self.endpoint.host.clone(),
                });
            }
            401 | 403 => {
                return Err(self.unauthorized(format!("manifest request answered HTTP {status}")))
            }
            code => {
                return Err(RegistryError::Transport {
                    host: self.endpoint.host.clone(),
                    message: format!("GET {url} answered HTTP {code}"),
                })
            }
        }
        if let Some(len) = response.content_length() {
            if len > MAX_MANIFEST_SIZE {
                return Err(RegistryError::ManifestTooLarge {
                    reference: what,
                    size: len,
                    limit: MAX_MANIFEST_SIZE,
                });
            }
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let header_digest = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.transport(&e))?;
            body.extend_from_slice(&chunk);
            if body.len() as u64 > MAX_MANIFEST_SIZE {
                return Err(RegistryError::ManifestTooLarge {
                    reference: what,
                    size: body.len() as u64,
                    limit: MAX_MANIFEST_SIZE,
                });
            }
        }
        let digest = sha256_digest(&body);
        let expected = if reference.contains(':') {
            Some(reference.to_string())
        } else {
            header_digest.filter(|d| d.starts_with("sha256:"))
        };
        if let Some(expected) = expected {
            if expected != digest {
                return Err(RegistryError::Verification {
                    digest: expected,
                    message: format!("manifest from {} has digest {digest}", self.endpoint.host),
                });
            }
        }
        let media_type =
            manifest::detect_media_type(content_type.as_deref(), &body).ok_or_else(|| {
                RegistryError::BadManifest {
                    what: what.clone(),
                    message: "cannot tell whether this is a manifest or an index".into(),
                }
            })?;
        Ok(RawManifest {
            body,
            media_type,
            digest,
        })
    }

    /// Opens a verifying byte stream of a blob.
    pub async fn blob_stream(
        &self,
        digest: &str,
    ) -> Result<impl Stream<Item = Result<Bytes, RegistryError>> + Send + Unpin, RegistryError>
    {
        let sized = self
            .oci
            .pull_blob_stream(&self.image, digest)
            .await
            .map_err(|e| self.map_oci(e))?;
        let host = self.endpoint.host.clone();
        let digest = digest.to_string();
        Ok(sized.stream.map(move |chunk| {
            chunk.map_err(|e| {
                let message = chain(&e);
                if message.contains("digest") || message.contains("Digest") {
                    RegistryError::Verification {
                        digest: digest.clone(),
                        message: format!("content from {host} does not match its digest"),
                    }
                } else {
                    RegistryError::Transport {
                        host: host.clone(),
                        message: format!("downloading {digest}: {message}"),
                    }
                }
            })
        }))
    }

    fn transport(&self, err: &reqwest::Error) -> RegistryError {
        RegistryError::Transport {
            host: self.endpoint.host.clone(),
            message: describe_http(err),
        }
    }

    fn unauthorized(&self, message: String) -> RegistryError {
        RegistryError::Unauthorized {
            host: self.endpoint.host.clone(),
            repository: self.repository.clone(),
            message,
        }
    }

    /// Turns an oci-client error into ours, keeping the cause on one line.
    pub(crate) fn map_oci(&self, err: OciDistributionError) -> RegistryError {
        match err {
            OciDistributionError::AuthenticationFailure(m) => {
                self.unauthorized(one_line(&format!("token request refused: {m}")))
            }
            OciDistributionError::UnauthorizedError { .. } => {
                self.unauthorized("the registry answered HTTP 401".into())
            }
            OciDistributionError::ServerError { code: 401, .. } => {
                self.unauthorized("the registry answered HTTP 401".into())
            }
            OciDistributionError::RequestError(e) => self.transport(&e),
            OciDistributionError::RegistryError { envelope, url } => {
                let messages: Vec<String> = envelope
                    .errors
                    .iter()
                    .map(|e| format!("{:?}: {}", e.code, e.message))
                    .collect();
                RegistryError::Transport {
                    host: self.endpoint.host.clone(),
                    message: one_line(&format!("{} ({url})", messages.join("; "))),
                }
            }
            OciDistributionError::ServerError { code: 404, url, .. } => RegistryError::Transport {
                host: self.endpoint.host.clone(),
                message: format!("not found (HTTP 404): {url}"),
            },
            other => RegistryError::Transport {
                host: self.endpoint.host.clone(),
                message: one_line(&chain(&other)),
            },
        }
    }
}

fn one_line(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    if s.len() > 300 {
        let mut cut = 300;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}…", &s[..cut])
    } else {
        s
    }
}

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

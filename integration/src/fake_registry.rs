//! A small in-test HTTP server that speaks just enough of the distribution API to misbehave on
//! purpose: corrupted, truncated, missing or stalled blobs, oversized manifests, and the bearer
//! token flow (its own `/token` realm checking basic credentials).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the server serves layer blobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobFault {
    /// Correct bytes.
    None,
    /// Right length, one byte flipped.
    Corrupt,
    /// Announces the full length, sends half, closes.
    Truncate,
    /// 404 for the layer.
    Missing,
    /// Sends headers, then nothing, forever.
    Stall,
}

/// Server behaviour.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// What happens to the layer blob.
    pub fault: BlobFault,
    /// If set, require bearer tokens issued for these basic credentials.
    pub credentials: Option<(String, String)>,
}

/// The served image: `test/app:latest` (one layer) and `test/app:huge` (a 5 MiB manifest).
pub struct FakeImage {
    /// The layer bytes.
    pub layer: Vec<u8>,
    /// The layer digest.
    pub layer_digest: String,
    /// Config bytes.
    pub config: Vec<u8>,
    /// Config digest.
    pub config_digest: String,
    /// Manifest bytes.
    pub manifest: Vec<u8>,
    /// Manifest digest.
    pub manifest_digest: String,
    /// The manifest padded past 4 MiB (served for tag `huge`).
    pub huge_manifest: Vec<u8>,
}

fn digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

impl FakeImage {
    fn new() -> Self {
        let layer: Vec<u8> = (0..300_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}"#.to_vec();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&config), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest(&layer), "size": layer.len()}]
        })
        .to_string()
        .into_bytes();
        let mut huge_manifest = manifest.clone();
        huge_manifest.truncate(manifest.len() - 1);
        huge_manifest.extend_from_slice(b",\"annotations\":{\"pad\":\"");
        huge_manifest.extend_from_slice(&vec![b'x'; 5 * 1024 * 1024]);
        huge_manifest.extend_from_slice(b"\"}}");
        FakeImage {
            huge_manifest,
            layer_digest: digest(&layer),
            config_digest: digest(&config),
            manifest_digest: digest(&manifest),
            layer,
            config,
            manifest,
        }
    }
}

/// A running fake registry; it stops when the test's runtime ends.
pub struct FakeRegistry {
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// What it serves.
    pub image: Arc<FakeImage>,
}

impl FakeRegistry {
    /// Starts serving on a free loopback port (call inside a tokio runtime).
    pub async fn start(config: FakeConfig) -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let image = Arc::new(FakeImage::new());
        let state = Arc::new((config, image.clone(), host.clone()));
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let _ = serve(conn, &state.0, &state.1, &state.2).await;
                });
            }
        });
        FakeRegistry { host, image }
    }
}

async fn respond(
    conn: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes()).await?;
    conn.write_all(body).await?;
    conn.shutdown().await
}

async fn serve(
    mut conn: TcpStream,
    config: &FakeConfig,
    image: &FakeImage,
    host: &str,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let mut lines = text.lines();
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_string();
    let target = first.next().unwrap_or("").to_string();
    let auth = lines
        .find_map(|l| {
            l.strip_prefix("Authorization: ")
                .or_else(|| l.strip_prefix("authorization: "))
        })
        .unwrap_or("")
        .to_string();
    let path = target.split('?').next().unwrap_or("").to_string();

    if let Some((user, pass)) = &config.credentials {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        if path == "/token" {
            return if auth == format!("Basic {basic}") {
                respond(
                    &mut conn,
                    "200 OK",
                    &[("Content-Type", "application/json".into())],
                    br#"{"token":"fake-token-1"}"#,
                )
                .await
            } else {
                respond(
                    &mut conn,
                    "401 Unauthorized",
                    &[],
                    br#"{"details":"incorrect username or password"}"#,
                )
                .await
            };
        }
        if auth != "Bearer fake-token-1" {
            let challenge =
                format!("Bearer realm=\"http://{host}/token\",service=\"fake-registry\"");
            let body =
                br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
            return respond(
                &mut conn,
                "401 Unauthorized",
                &[("WWW-Authenticate", challenge)],
                body,
            )
            .await;
        }
    }
    let json = |mt: &str| vec![("Content-Type", mt.to_string())];
    if path == "/v2/" {
        return respond(&mut conn, "200 OK", &json("application/json"), b"{}").await;
    }
    let not_found = br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#;
    if let Some(reference) = path.strip_prefix("/v2/test/app/manifests/") {
        let mt = "application/vnd.oci.image.manifest.v1+json";
        let body = match reference {
            "huge" => image.huge_manifest.clone(),
            r if r == "latest" || r == image.manifest_digest => image.manifest.clone(),
            _ => {
                return respond(
                    &mut conn,
                    "404 Not Found",
                    &json("application/json"),
                    br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
                )
                .await
            }
        };
        let mut headers = json(mt);
        headers.push(("Docker-Content-Digest", digest(&body)));
        let body = if method == "HEAD" { Vec::new() } else { body };
        return respond(&mut conn, "200 OK", &headers, &body).await;
    }
    if let Some(d) = path.strip_prefix("/v2/test/app/blobs/") {
        if d == image.config_digest {
            return respond(
                &mut conn,
                "200 OK",
                &json("application/octet-stream"),
                &image.config,
            )
            .await;
        }
        if d != image.layer_digest {
            return respond(
                &mut conn,
                "404 Not Found",
                &json("application/json"),
                not_found,
            )
            .await;
        }
        let octet = json("application/octet-stream");
        return match config.fault {
            BlobFault::None => respond(&mut conn, "200 OK", &octet, &image.layer).await,
            BlobFault::Corrupt => {
                let mut bad = image.layer.clone();
                bad[1000] ^= 0xff;
                respond(&mut conn, "200 OK", &octet, &bad).await
            }
            BlobFault::Missing => {
                respond(
                    &mut conn,
                    "404 Not Found",
                    &json("application/json"),
                    not_found,
                )
                .await
            }
            BlobFault::Truncate => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
                    image.layer.len()
                );
                conn.write_all(head.as_bytes()).await?;
                conn.write_all(&image.layer[..image.layer.len() / 2])
                    .await?;
                conn.shutdown().await
            }
            BlobFault::Stall => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
                    image.layer.len()
                );
                conn.write_all(head.as_bytes()).await?;
                conn.write_all(&image.layer[..1000]).await?;
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(())
            }
        };
    }
    respond(&mut conn, "404 Not Found", &[], b"").await
}

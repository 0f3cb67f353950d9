//! A token service for docker-registry's `auth: token` mode: issues RS256 JWTs (signed with a
//! throwaway key via the openssl CLI) to clients presenting the right basic credentials, with
//! the certificate in the `x5c` header so the registry can check it against its root bundle.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

/// The issuer and service names the registry config must use.
pub const ISSUER: &str = "berth-test-issuer";
/// The service name (the registry's audience).
pub const SERVICE: &str = "berth-test-registry";

/// A running token service.
pub struct TokenServer {
    /// `http://127.0.0.1:PORT/token`
    pub realm: String,
    /// PEM certificate the registry must trust (`rootcertbundle`).
    pub cert_path: PathBuf,
    _dir: tempfile::TempDir,
    stop: Arc<AtomicBool>,
    addr: String,
    thread: Option<JoinHandle<()>>,
}

impl TokenServer {
    /// Generates a key and certificate and starts serving on a free loopback port.
    pub fn start(username: &str, password: &str) -> TokenServer {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        let cert = dir.path().join("cert.pem");
        let status = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=berth-test-token",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "openssl req failed");
        let der = Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(&cert)
            .output()
            .unwrap();
        assert!(der.status.success());
        let x5c = STANDARD.encode(&der.stdout);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let expected = format!(
            "Basic {}",
            STANDARD.encode(format!("{username}:{password}"))
        );
        let (stop2, key2) = (stop.clone(), key.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let _ = handle(conn, &expected, &x5c, &key2);
                }
            }
        });
        TokenServer {
            realm: format!("http://{addr}/token"),
            cert_path: cert,
            _dir: dir,
            stop,
            addr,
            thread: Some(thread),
        }
    }

    /// The `auth:` section for a docker-registry config using this service.
    pub fn registry_auth_yaml(&self) -> String {
        format!(
            "  token:\n    realm: {}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}",
            self.realm,
            self.cert_path.display()
        )
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
            i += 3;
        } else if bytes[i] == b'+' {
            out.push(b' ');
            i += 1;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn handle(conn: TcpStream, expected: &str, x5c: &str, key: &PathBuf) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut auth = String::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        if let Some(v) = h
            .strip_prefix("Authorization: ")
            .or_else(|| h.strip_prefix("authorization: "))
        {
            auth = v.trim().to_string();
        }
    }
    let mut conn = conn;
    let reply = |conn: &mut TcpStream, status: &str, body: &str| {
        write!(conn, "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
    };
    if auth != expected {
        return reply(
            &mut conn,
            "401 Unauthorized",
            r#"{"details":"invalid credentials"}"#,
        );
    }
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut access = Vec::new();
    for pair in query.split('&') {
        if let Some(scope) = pair.strip_prefix("scope=") {
            for scope in url_decode(scope).split(' ') {
                // repository:NAME:ACTIONS (NAME may contain ':' for host:port names; actions last)
                let Some((rest, actions)) = scope.rsplit_once(':') else {
                    continue;
                };
                let Some((kind, name)) = rest.split_once(':') else {
                    continue;
                };
                access.push(serde_json::json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}));
            }
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": "test-user", "aud": SERVICE, "exp": now + 300, "nbf": now - 10,
        "iat": now, "jti": format!("{now}-{}", access.len()), "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(signing_input.as_bytes())?;
    let sig = child.wait_with_output()?;
    let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.stdout));
    let body =
        serde_json::json!({"token": token, "access_token": token, "expires_in": 300}).to_string();
    reply(&mut conn, "200 OK", &body)
}

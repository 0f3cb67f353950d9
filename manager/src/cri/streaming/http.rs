//! The HTTP/1.1 request head before an upgrade: just enough parsing for the streaming URLs
//! (bounded in size and time), and the short answers the server gives.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a client has to send its request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head accepted.
const MAX_HEAD: usize = 16 << 10;

/// A parsed request head.
#[derive(Debug)]
pub struct Request {
    /// GET, POST, …
    pub method: String,
    /// The path (query included).
    pub path: String,
    /// Headers in order, names as sent.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// Every value of header `name` (repeated headers and comma lists split).
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// Whether header `name` has the value `want` (case-insensitive).
    pub fn header_has(&self, name: &str, want: &str) -> bool {
        self.header_values(name)
            .iter()
            .any(|v| v.eq_ignore_ascii_case(want))
    }
}

/// Reads the head; returns it and the bytes read past it.
pub async fn read_head<R: AsyncReadExt + Unpin>(r: &mut R) -> Result<(Request, Vec<u8>), String> {
    let mut buf = Vec::with_capacity(1024);
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(format!("request head larger than {MAX_HEAD} bytes"));
        }
        let mut chunk = [0u8; 2048];
        let n = r
            .read(&mut chunk)
            .await
            .map_err(|e| format!("reading the request: {e}"))?;
        if n == 0 {
            return Err("connection closed before the request head ended".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let rest = buf[end + 4..].to_vec();
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| "request head is not UTF-8")?;
    Ok((parse(head)?, rest))
}

fn parse(head: &str) -> Result<Request, String> {
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or("");
    let mut f = first.split(' ');
    let (method, path, version) = (f.next(), f.next(), f.next());
    let (Some(method), Some(path), Some(version)) = (method, path, version) else {
        return Err(format!("bad request line {first:?}"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(format!("unsupported HTTP version {version:?}"));
    }
    let mut headers = Vec::new();
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            return Err(format!("bad header line {line:?}"));
        };
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    Ok(Request {
        method: method.to_string(),
        path: path.to_string(),
        headers,
    })
}

/// Writes a short plain-text answer and ends the exchange.
pub async fn respond<W: AsyncWriteExt + Unpin>(w: &mut W, code: u16, body: &str) {
    let reason = match code {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    let msg = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = w.write_all(msg.as_bytes()).await;
    let _ = w.shutdown().await;
}

/// Picks the first protocol the client offers (`X-Stream-Protocol-Version`, in its order) that
/// the server supports, as k8s.io/apimachinery's `httpstream.Handshake` does. `Ok(None)`: the
/// client offered none (a legacy client). `Err`: none of the offered ones is supported.
pub fn negotiate<'a>(req: &Request, supported: &[&'a str]) -> Result<Option<&'a str>, String> {
    let offered = req.header_values("X-Stream-Protocol-Version");
    if offered.is_empty() {
        return Ok(None);
    }
    for o in &offered {
        if let Some(s) = supported.iter().find(|s| s.eq_ignore_ascii_case(o)) {
            return Ok(Some(s));
        }
    }
    Err(format!(
        "none of the offered stream protocols {offered:?} is supported (server supports {supported:?})"
    ))
}

/// Answers 101 Switching Protocols to SPDY/3.1 with the negotiated protocol.
pub async fn switch_to_spdy<W: AsyncWriteExt + Unpin>(
    w: &mut W,
    protocol: Option<&str>,
) -> std::io::Result<()> {
    let mut msg = String::from(
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n",
    );
    if let Some(p) = protocol {
        msg.push_str(&format!("X-Stream-Protocol-Version: {p}\r\n"));
    }
    msg.push_str("\r\n");
    w.write_all(msg.as_bytes()).await?;
    w.flush().await
}

/// Picks the stream protocol of `req` among `supported` and switches the connection to SPDY
/// with it; a client offering none of them gets a 403 and the error.
pub async fn upgrade<'a, W: AsyncWriteExt + Unpin>(
    w: &mut W,
    req: &Request,
    supported: &[&'a str],
) -> Result<Option<&'a str>, String> {
    let protocol = match negotiate(req, supported) {
        Ok(p) => p,
        Err(e) => {
            respond(w, 403, &e).await;
            return Err(e);
        }
    };
    switch_to_spdy(w, protocol)
        .await
        .map_err(|e| format!("writing 101 Switching Protocols: {e}"))?;
    Ok(protocol)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn heads_parse_with_repeated_headers_and_leftover_bytes() {
        let raw = b"POST /exec/tok HTTP/1.1\r\nHost: x\r\nUpgrade: SPDY/3.1\r\nConnection: Upgrade\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nX-Stream-Protocol-Version: v3.channel.k8s.io, v2.channel.k8s.io\r\n\r\n\x80\x03";
        let (req, rest) = read_head(&mut &raw[..]).await.unwrap();
        assert_eq!(
            (req.method.as_str(), req.path.as_str()),
            ("POST", "/exec/tok")
        );
        assert!(req.header_has("upgrade", "spdy/3.1"));
        assert_eq!(rest, b"\x80\x03");
        assert_eq!(
            negotiate(&req, &["v2.channel.k8s.io", "v4.channel.k8s.io"]).unwrap(),
            Some("v4.channel.k8s.io"),
            "the client's order wins"
        );
        assert!(negotiate(&req, &["portforward.k8s.io"]).is_err());
    }

    #[tokio::test]
    async fn bad_and_endless_heads_are_refused() {
        assert!(read_head(&mut &b"GARBAGE\r\n\r\n"[..]).await.is_err());
        assert!(read_head(&mut &b"GET / HTTP/1.1\r\nno-colon\r\n\r\n"[..])
            .await
            .is_err());
        let endless = vec![b'a'; MAX_HEAD + 4096];
        assert!(read_head(&mut &endless[..]).await.is_err());
        assert!(
            read_head(&mut &b"GET / HTTP/1.1\r\n"[..]).await.is_err(),
            "EOF"
        );
    }
}

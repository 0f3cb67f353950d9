//! Port forwarding over a SPDY session, the server side of client-go's `portforward`
//! (`portforward.k8s.io`): for each forwarded connection the client opens an `error` and a
//! `data` stream with the same `requestID` and the pod's `port`; the data stream becomes a TCP
//! connection to localhost:port inside the pod's network namespace, and a failure is written as
//! text to the error stream.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::http::{self, Request};
use super::session::{self, IncomingStream, SessionHandle};
use crate::cri::CriContext;

/// The one protocol.
const PROTOCOL: &str = "portforward.k8s.io";
/// How long connecting to the pod's port may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Half-open pairs (an error stream waiting for its data stream) kept at most.
const MAX_HALF_PAIRS: usize = 32;

/// Serves one port-forward URL on `conn` for sandbox `sandbox_id`.
pub async fn serve(
    ctx: &CriContext,
    sandbox_id: &str,
    mut conn: tokio::net::TcpStream,
    req: &Request,
    rest: Vec<u8>,
) -> Result<(), String> {
    http::upgrade(&mut conn, req, &[PROTOCOL]).await?;
    let (handle, mut incoming, reader) = session::start(conn, rest).map_err(|e| e.to_string())?;
    let mut half: HashMap<String, (Option<IncomingStream>, Option<IncomingStream>)> =
        HashMap::new();
    let mut last_id = 0;
    while let Some(stream) = incoming.recv().await {
        last_id = stream.id;
        // Old clients send no requestID: the pair is then told apart by stream id, the error
        // stream first (kubelet's rule).
        let request_id = match stream.header("requestID") {
            "" => match stream.header("streamType") {
                "error" => stream.id.to_string(),
                _ => stream.id.saturating_sub(2).to_string(),
            },
            r => r.to_string(),
        };
        let entry = half.entry(request_id.clone()).or_default();
        match stream.header("streamType") {
            "error" if entry.0.is_none() => entry.0 = Some(stream),
            "data" if entry.1.is_none() => entry.1 = Some(stream),
            other => {
                tracing::info!(
                    sandbox = sandbox_id,
                    stream_type = other,
                    "CRI port-forward: unexpected or repeated stream, reset"
                );
                handle
                    .reset(stream.id, super::spdy::RST_PROTOCOL_ERROR)
                    .await;
                continue;
            }
        }
        if let Some((Some(_), Some(_))) = half.get(&request_id) {
            if let Some((Some(err), Some(data))) = half.remove(&request_id) {
                tokio::spawn(forward(
                    ctx.clone(),
                    sandbox_id.to_string(),
                    handle.clone(),
                    err,
                    data,
                ));
            }
        } else if half.len() > MAX_HALF_PAIRS {
            handle.finish(last_id).await;
            session::linger(reader, Duration::from_secs(1)).await;
            return Err(format!(
                "port-forward to pod {sandbox_id}: more than {MAX_HALF_PAIRS} unpaired streams"
            ));
        }
    }
    // The client closed the session (or went away): nothing is left to deliver.
    handle.finish(last_id).await;
    session::linger(reader, Duration::from_secs(5)).await;
    Ok(())
}

/// One forwarded connection.
async fn forward(
    ctx: CriContext,
    sandbox_id: String,
    handle: SessionHandle,
    err: IncomingStream,
    data: IncomingStream,
) {
    let (data_id, port) = (data.id, data.header("port").to_string());
    if let Err(e) = copy(&ctx, &sandbox_id, &handle, data, &port).await {
        let msg = format!("error forwarding port {port} to pod {sandbox_id}: {e}");
        tracing::info!("CRI port-forward: {msg}");
        handle.write(err.id, msg.as_bytes()).await;
    }
    handle.close(data_id).await;
    handle.close(err.id).await;
}

/// Connects to `port` in the pod and copies both ways until the pod closes its side.
async fn copy(
    ctx: &CriContext,
    sandbox_id: &str,
    handle: &SessionHandle,
    mut data: IncomingStream,
    port: &str,
) -> Result<(), String> {
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("invalid port {port:?}"))?;
    let pid = crate::cri::sandboxes::pause_pid(ctx, sandbox_id)
        .await
        .ok_or_else(|| "the pod's sandbox is not running".to_string())?;
    let conn = connect_in_netns(pid, port).await.map_err(|e| {
        format!("connecting to localhost:{port} in the pod's network namespace: {e}")
    })?;
    let (mut rd, mut wr) = conn.into_split();
    let id = data.id;
    // Client to pod: the pod sees EOF when the client half-closes the data stream.
    let to_pod = tokio::spawn(async move {
        while let Some(b) = data.data.recv().await {
            if wr.write_all(&b).await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    });
    let mut buf = vec![0u8; 32 << 10];
    let out = loop {
        match rd.read(&mut buf).await {
            Ok(0) => break Ok(()),
            Ok(n) => {
                if !handle.write(id, &buf[..n]).await {
                    break Ok(());
                }
            }
            Err(e) => break Err(format!("reading from port {port}: {e}")),
        }
    };
    to_pod.abort();
    out
}

async fn connect_in_netns(pid: u32, port: u16) -> io::Result<tokio::net::TcpStream> {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A thread of its own: setns changes the calling thread for good, and the socket keeps the
    // namespace it was made in after the thread is gone.
    std::thread::Builder::new()
        .name("cri-portforward".into())
        .spawn(move || {
            let r = nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(io::Error::from)
                .and_then(|()| {
                    let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
                    std::net::TcpStream::connect_timeout(&v4, CONNECT_TIMEOUT).or_else(|e4| {
                        let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
                        std::net::TcpStream::connect_timeout(&v6, CONNECT_TIMEOUT).map_err(|_| e4)
                    })
                });
            let _ = tx.send(r);
        })?;
    let s = rx
        .await
        .map_err(|_| io::Error::other("the connecting thread ended without an answer"))??;
    s.set_nonblocking(true)?;
    tokio::net::TcpStream::from_std(s)
}

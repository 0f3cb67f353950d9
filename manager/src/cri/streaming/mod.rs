//! The CRI streaming server: Exec, Attach and PortForward answer with a one-time URL
//! (`http://<address>/{exec,attach,portforward}/<token>`) on this HTTP server, which kubelet or
//! crictl then opens with `Upgrade: SPDY/3.1` (client-go's `remotecommand` / `portforward`), as
//! containerd's CRI plug-in does.
//!
//! - [`spdy`]: the SPDY/3.1 frame codec; [`session`]: a server session over an upgraded
//!   connection;
//! - [`remotecommand`]: exec and attach (`v4.channel.k8s.io` … `channel.k8s.io`);
//! - [`portforward`]: `portforward.k8s.io`, TCP in the pod's network namespace.
//!
//! Tokens are 128 random bits, single use and expire after [`TOKEN_TTL`]; the server listens on
//! `[cri] stream_server_address` (127.0.0.1 by default) and `stream_server_port` (0: any).

mod http;
mod portforward;
mod remotecommand;
pub mod session;
pub mod spdy;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use tonic::Status;

use k8s_cri::v1 as cri;

use super::store::CriStore;
use super::CriContext;

/// How long a URL may wait for its first use (kubelet's and containerd's one minute).
pub const TOKEN_TTL: Duration = Duration::from_secs(60);
/// URLs handed out and not used yet, at most (kubelet's `maxInFlight`).
const MAX_PENDING: usize = 1000;
/// Connections served at once.
const MAX_CONNECTIONS: usize = 64;

/// What a URL was issued for (checked when the Exec/Attach/PortForward call was made).
#[derive(Debug, Clone)]
pub enum Pending {
    /// Run a command in a container.
    Exec {
        /// The berth container id.
        container_id: String,
        /// Program and arguments.
        cmd: Vec<String>,
        /// The stdio the client will open.
        io: remotecommand::Options,
    },
    /// Attach to a container's stdio.
    Attach {
        /// The berth container id.
        container_id: String,
        /// The stdio the client will open.
        io: remotecommand::Options,
    },
    /// Forward TCP connections into a pod.
    PortForward {
        /// The sandbox id.
        sandbox_id: String,
    },
}

impl Pending {
    fn path(&self) -> &'static str {
        match self {
            Pending::Exec { .. } => "exec",
            Pending::Attach { .. } => "attach",
            Pending::PortForward { .. } => "portforward",
        }
    }
}

pub use remotecommand::Options as StdioOptions;

/// The server's address and its table of issued URLs.
pub struct StreamServer {
    addr: SocketAddr,
    pending: Mutex<HashMap<String, (Instant, Pending)>>,
}

/// Binding the streaming server failed.
#[derive(Debug, thiserror::Error)]
#[error("CRI streaming server on {addr}: {source}")]
pub struct BindError {
    addr: SocketAddr,
    source: std::io::Error,
}

impl StreamServer {
    /// Binds `addr` (port 0: an ephemeral one) and serves in the background over `ctx`.
    pub fn start(ctx: CriContext, addr: SocketAddr) -> Result<Arc<Self>, BindError> {
        let bind = || -> std::io::Result<(tokio::net::TcpListener, SocketAddr)> {
            let l = std::net::TcpListener::bind(addr)?;
            l.set_nonblocking(true)?;
            let local = l.local_addr()?;
            Ok((tokio::net::TcpListener::from_std(l)?, local))
        };
        let (listener, local) = bind().map_err(|source| BindError { addr, source })?;
        let server = Arc::new(StreamServer {
            addr: local,
            pending: Mutex::new(HashMap::new()),
        });
        tokio::spawn(accept_loop(Arc::clone(&server), ctx, listener));
        tracing::info!(address = %local, "CRI streaming server serving");
        Ok(server)
    }

    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Issues a one-time URL for `p`.
    pub fn issue(&self, p: Pending) -> Result<String, Status> {
        let bytes = random_token()
            .map_err(|e| Status::internal(format!("streaming token from /dev/urandom: {e}")))?;
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let path = p.path();
        let mut map = self
            .pending
            .lock()
            .map_err(|_| Status::internal("streaming token table poisoned"))?;
        let now = Instant::now();
        map.retain(|_, (at, _)| now.duration_since(*at) < TOKEN_TTL);
        if map.len() >= MAX_PENDING {
            return Err(Status::resource_exhausted(format!(
                "{MAX_PENDING} streaming requests are waiting to be used"
            )));
        }
        map.insert(token.clone(), (now, p));
        Ok(format!("http://{}/{path}/{token}", self.addr))
    }

    /// Takes the request of `token` if it is unexpired and was issued for `path`; a token is
    /// removed on its first use whatever the outcome.
    fn consume(&self, path: &str, token: &str) -> Option<Pending> {
        let mut map = self.pending.lock().ok()?;
        let (at, p) = map.remove(token)?;
        (at.elapsed() < TOKEN_TTL && p.path() == path).then_some(p)
    }
}

fn random_token() -> std::io::Result<[u8; 16]> {
    use std::io::Read;
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b)
}

async fn accept_loop(
    server: Arc<StreamServer>,
    ctx: CriContext,
    listener: tokio::net::TcpListener,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (conn, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "CRI streaming server: accept");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(%peer, "CRI streaming server: too many connections, dropping one");
            continue;
        };
        let (server, ctx) = (Arc::clone(&server), ctx.clone());
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = serve(&server, &ctx, conn).await {
                tracing::info!(%peer, error = %e, "CRI streaming request failed");
            }
        });
    }
}

/// Serves one connection: its request head, then the upgraded protocol.
async fn serve(
    server: &StreamServer,
    ctx: &CriContext,
    mut conn: tokio::net::TcpStream,
) -> Result<(), String> {
    let (req, rest) =
        match tokio::time::timeout(http::HEAD_TIMEOUT, http::read_head(&mut conn)).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                http::respond(&mut conn, 400, &e).await;
                return Err(e);
            }
            Err(_) => return Err("no request head within 10s".into()),
        };
    let mut parts = req.path.trim_start_matches('/').splitn(2, '/');
    let (kind, token) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let token = token.split(['?', '/']).next().unwrap_or("");
    let Some(pending) = server.consume(kind, token) else {
        http::respond(&mut conn, 404, "unknown or expired streaming URL").await;
        return Err(format!("{} {}: unknown or expired token", req.method, kind));
    };
    if !req.header_has("upgrade", "spdy/3.1") {
        let msg = "only Upgrade: SPDY/3.1 is served (no WebSocket yet)";
        http::respond(&mut conn, 400, msg).await;
        return Err(msg.into());
    }
    match pending {
        Pending::PortForward { sandbox_id } => {
            portforward::serve(ctx, &sandbox_id, conn, &req, rest).await
        }
        Pending::Exec {
            container_id,
            cmd,
            io,
        } => {
            remotecommand::serve(
                ctx,
                remotecommand::Target::Exec { container_id, cmd },
                io,
                conn,
                &req,
                rest,
            )
            .await
        }
        Pending::Attach { container_id, io } => {
            remotecommand::serve(
                ctx,
                remotecommand::Target::Attach { container_id },
                io,
                conn,
                &req,
                rest,
            )
            .await
        }
    }
}

/// The stdio options of an Exec or Attach request, checked as kubelet's streaming server and
/// containerd check them.
fn stdio(
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
    call: &str,
) -> Result<StdioOptions, Status> {
    if tty && stderr {
        return Err(Status::invalid_argument(format!(
            "{call}: tty and stderr cannot both be true"
        )));
    }
    if !stdin && !stdout && !stderr {
        return Err(Status::invalid_argument(format!(
            "{call}: one of stdin, stdout, or stderr must be set"
        )));
    }
    Ok(StdioOptions {
        stdin,
        stdout,
        stderr,
        tty,
    })
}

/// The running container `q` names (NotFound / FailedPrecondition otherwise).
async fn running_container(
    ctx: &CriContext,
    store: &CriStore,
    q: &str,
    call: &str,
) -> Result<String, Status> {
    if q.is_empty() {
        return Err(Status::invalid_argument(format!(
            "{call}: container_id is required"
        )));
    }
    let c = store.container(q)?;
    if !super::containers::is_running(ctx, &c.id).await {
        return Err(Status::failed_precondition(format!(
            "{call}: container {} is not running",
            c.id
        )));
    }
    Ok(c.id)
}

/// Exec: checks the request and issues its URL.
pub async fn exec(
    ctx: &CriContext,
    store: &CriStore,
    server: &StreamServer,
    req: cri::ExecRequest,
) -> Result<cri::ExecResponse, Status> {
    if req.cmd.is_empty() {
        return Err(Status::invalid_argument("Exec: cmd is required"));
    }
    let io = stdio(req.stdin, req.stdout, req.stderr, req.tty, "Exec")?;
    let container_id = running_container(ctx, store, &req.container_id, "Exec").await?;
    let url = server.issue(Pending::Exec {
        container_id,
        cmd: req.cmd,
        io,
    })?;
    Ok(cri::ExecResponse { url })
}

/// Attach: checks the request and issues its URL.
pub async fn attach(
    ctx: &CriContext,
    store: &CriStore,
    server: &StreamServer,
    req: cri::AttachRequest,
) -> Result<cri::AttachResponse, Status> {
    let io = stdio(req.stdin, req.stdout, req.stderr, req.tty, "Attach")?;
    let container_id = running_container(ctx, store, &req.container_id, "Attach").await?;
    let url = server.issue(Pending::Attach { container_id, io })?;
    Ok(cri::AttachResponse { url })
}

/// PortForward: checks the sandbox and issues its URL.
pub async fn port_forward(
    ctx: &CriContext,
    store: &CriStore,
    server: &StreamServer,
    req: cri::PortForwardRequest,
) -> Result<cri::PortForwardResponse, Status> {
    if req.pod_sandbox_id.is_empty() {
        return Err(Status::invalid_argument(
            "PortForward: pod_sandbox_id is required",
        ));
    }
    if let Some(p) = req.port.iter().find(|p| !(1..=65535).contains(*p)) {
        return Err(Status::invalid_argument(format!(
            "PortForward: invalid port {p}"
        )));
    }
    let sb = store.sandbox(&req.pod_sandbox_id)?;
    if super::sandboxes::pause_pid(ctx, &sb.id).await.is_none() {
        return Err(Status::failed_precondition(format!(
            "PortForward: pod sandbox {} is not running",
            sb.id
        )));
    }
    let url = server.issue(Pending::PortForward { sandbox_id: sb.id })?;
    Ok(cri::PortForwardResponse { url })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> StreamServer {
        StreamServer {
            addr: "127.0.0.1:1234".parse().unwrap(),
            pending: Mutex::new(HashMap::new()),
        }
    }

    #[test]
    fn urls_are_single_use_random_and_bound_to_their_kind() {
        let s = server();
        let p = || Pending::PortForward {
            sandbox_id: "sb".into(),
        };
        let a = s.issue(p()).unwrap();
        let b = s.issue(p()).unwrap();
        assert_ne!(a, b);
        let token = a
            .strip_prefix("http://127.0.0.1:1234/portforward/")
            .unwrap();
        assert_eq!(token.len(), 22, "128 bits in unpadded base64url");
        assert!(s.consume("exec", token).is_none(), "wrong kind");
        assert!(
            s.consume("portforward", token).is_none(),
            "consumed by the wrong-kind try"
        );
        let token_b = b.rsplit('/').next().unwrap();
        assert!(s.consume("portforward", token_b).is_some());
        assert!(s.consume("portforward", token_b).is_none(), "single use");
    }

    #[test]
    fn stdio_is_checked_as_containerd_checks_it() {
        let code = |r: Result<StdioOptions, Status>| r.map_err(|s| s.code()).err();
        assert_eq!(
            code(stdio(false, true, true, true, "Exec")),
            Some(tonic::Code::InvalidArgument),
            "tty with stderr"
        );
        assert_eq!(
            code(stdio(false, false, false, false, "Attach")),
            Some(tonic::Code::InvalidArgument),
            "no stdio at all"
        );
        assert_eq!(
            stdio(true, true, false, true, "Exec").unwrap(),
            StdioOptions {
                stdin: true,
                stdout: true,
                stderr: false,
                tty: true
            }
        );
    }

    #[test]
    fn the_table_is_bounded() {
        let s = server();
        for _ in 0..MAX_PENDING {
            s.issue(Pending::PortForward {
                sandbox_id: "sb".into(),
            })
            .unwrap();
        }
        let err = s
            .issue(Pending::PortForward {
                sandbox_id: "sb".into(),
            })
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::ResourceExhausted);
    }

    #[test]
    fn expired_urls_are_refused_and_swept() {
        let s = server();
        let url = s
            .issue(Pending::PortForward {
                sandbox_id: "sb".into(),
            })
            .unwrap();
        let token = url.rsplit('/').next().unwrap().to_string();
        if let Some((at, _)) = s.pending.lock().unwrap().get_mut(&token) {
            *at -= TOKEN_TTL + Duration::from_secs(1);
        }
        assert!(s.consume("portforward", &token).is_none());
    }
}

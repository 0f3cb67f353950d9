//! Exec and attach over a SPDY session, the server side of client-go's `remotecommand`: the
//! client opens an `error` stream and the stdio streams it asked for (`stdin`, `stdout`,
//! `stderr`, and `resize` with a tty from v3 on); the process's output goes to them, stdin and
//! terminal sizes come from them, and the end is written to the error stream — a metav1.Status
//! in JSON for v4, a plain message (only on failure) for the older versions.

use std::time::Duration;

use tokio::sync::mpsc;

use super::http::{self, Request};
use super::session::{self, IncomingStream, SessionHandle};
use crate::containers::backend::{AttachInput, AttachIo, AttachOutput};
use crate::containers::exec::ExecRequest;
use crate::cri::CriContext;

/// Protocols served, preferred first (kubelet's list; v5 is WebSocket-only).
const PROTOCOLS: &[&str] = &[
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
    "channel.k8s.io",
];
/// How long the client has to open every stream it asked for (kubelet's default).
const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the client gets to close the session after the end was written.
const LINGER: Duration = Duration::from_secs(10);
/// Bytes of resize messages buffered without a complete one.
const MAX_RESIZE_BUFFER: usize = 4096;

/// The stdio of a streaming request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Stdin is passed.
    pub stdin: bool,
    /// Stdout is returned.
    pub stdout: bool,
    /// Stderr is returned (never with a tty).
    pub stderr: bool,
    /// A terminal (stdout carries its output; resizes apply to it).
    pub tty: bool,
}

/// What the session drives.
pub enum Target {
    /// A new process in the container.
    Exec {
        /// The berth container id.
        container_id: String,
        /// Program and arguments.
        cmd: Vec<String>,
    },
    /// The container's own stdio.
    Attach {
        /// The berth container id.
        container_id: String,
    },
}

#[derive(Default)]
struct Streams {
    error: Option<u32>,
    stdin: Option<IncomingStream>,
    stdout: Option<u32>,
    stderr: Option<u32>,
    resize: Option<IncomingStream>,
    last_id: u32,
}

/// How the command ended, as the error stream reports it.
enum End {
    Success,
    ExitCode(i32),
    Failure(String),
}

/// Serves one exec or attach URL on `conn`.
pub async fn serve(
    ctx: &CriContext,
    target: Target,
    opts: Options,
    mut conn: tokio::net::TcpStream,
    req: &Request,
    rest: Vec<u8>,
) -> Result<(), String> {
    let protocol = http::upgrade(&mut conn, req, PROTOCOLS).await?;
    let v4 = protocol == Some("v4.channel.k8s.io");
    let resizable = matches!(protocol, Some("v4.channel.k8s.io" | "v3.channel.k8s.io"));
    let (handle, mut incoming, reader) = session::start(conn, rest).map_err(|e| e.to_string())?;
    let expected = 1
        + usize::from(opts.stdin)
        + usize::from(opts.stdout)
        + usize::from(opts.stderr)
        + usize::from(opts.tty && resizable);
    let mut streams = match tokio::time::timeout(
        STREAM_CREATION_TIMEOUT,
        wait_for_streams(&mut incoming, expected),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            handle.finish(0).await;
            session::linger(reader, LINGER).await;
            return Err(e);
        }
        Err(_) => {
            handle.finish(0).await;
            session::linger(reader, LINGER).await;
            return Err(format!(
                "the client opened fewer than the {expected} streams it asked for within {}s",
                STREAM_CREATION_TIMEOUT.as_secs()
            ));
        }
    };
    // Streams opened past the expected set are refused by dropping them (their data is
    // discarded by the session).
    drop(incoming);
    let what = match &target {
        Target::Exec { container_id, cmd } => format!("exec {cmd:?} in container {container_id}"),
        Target::Attach { container_id } => format!("attach to container {container_id}"),
    };
    let end = match open(ctx, &target, opts).await {
        Ok(io) => pump(&handle, io, opts, &mut streams, &target).await,
        Err(e) => End::Failure(e),
    };
    for id in [streams.stdout, streams.stderr].into_iter().flatten() {
        handle.close(id).await;
    }
    if let Some(id) = streams.error {
        if let Some(msg) = status_message(&end, v4, &what) {
            handle.write(id, msg.as_bytes()).await;
        }
        handle.close(id).await;
    }
    handle.go_away(streams.last_id).await;
    session::linger(reader, LINGER).await;
    match end {
        End::Failure(e) => Err(format!("{what}: {e}")),
        _ => Ok(()),
    }
}

async fn wait_for_streams(
    incoming: &mut mpsc::Receiver<IncomingStream>,
    expected: usize,
) -> Result<Streams, String> {
    let mut s = Streams::default();
    let mut got = 0;
    while got < expected {
        let Some(stream) = incoming.recv().await else {
            return Err("the client closed the session before opening its streams".into());
        };
        s.last_id = stream.id;
        let kind = stream.header("streamType").to_string();
        let slot_taken = match kind.as_str() {
            "error" => s.error.replace(stream.id).is_some(),
            "stdin" => s.stdin.replace(stream).is_some(),
            "stdout" => s.stdout.replace(stream.id).is_some(),
            "stderr" => s.stderr.replace(stream.id).is_some(),
            "resize" => s.resize.replace(stream).is_some(),
            other => {
                return Err(format!("unexpected stream type {other:?}"));
            }
        };
        if slot_taken {
            return Err(format!("a second {kind:?} stream"));
        }
        got += 1;
    }
    Ok(s)
}

/// Starts the exec, or opens the attach.
async fn open(ctx: &CriContext, target: &Target, opts: Options) -> Result<AttachIo, String> {
    match target {
        Target::Exec { container_id, cmd } => {
            let req = ExecRequest {
                args: cmd.clone(),
                tty: opts.tty,
                stdin: opts.stdin,
                ..Default::default()
            };
            let started = ctx
                .containers
                .exec(container_id, &req)
                .await
                .map_err(|e| format!("starting the process: {e}"))?;
            started
                .io
                .io
                .ok_or_else(|| "the exec'd process has no stdio".to_string())
        }
        Target::Attach { container_id } => ctx
            .containers
            .tasks()
            .attach(container_id, opts.stdin)
            .await
            .map_err(|e| format!("opening the container's stdio: {}", e.message)),
    }
}

/// Copies between the streams and the process until it ends (or, for attach, until the
/// client leaves).
async fn pump(
    handle: &SessionHandle,
    io: AttachIo,
    opts: Options,
    streams: &mut Streams,
    target: &Target,
) -> End {
    let AttachIo { input, mut output } = io;
    let mut feeders = Vec::new();
    let stdin_data = streams.stdin.take().map(|s| s.data);
    let resize_data = streams.resize.take().map(|s| s.data);
    if let Some(mut rx) = stdin_data {
        let input = input.clone();
        feeders.push(tokio::spawn(async move {
            while let Some(b) = rx.recv().await {
                if input.send(AttachInput::Stdin(b)).await.is_err() {
                    return;
                }
            }
            let _ = input.send(AttachInput::CloseStdin).await;
        }));
    }
    if let Some(mut rx) = resize_data {
        let input = input.clone();
        feeders.push(tokio::spawn(async move {
            let mut buf = Vec::new();
            while let Some(b) = rx.recv().await {
                buf.extend_from_slice(&b);
                for (w, h) in drain_resizes(&mut buf) {
                    if input.send(AttachInput::Resize(w, h)).await.is_err() {
                        return;
                    }
                }
                if buf.len() > MAX_RESIZE_BUFFER {
                    buf.clear();
                }
            }
        }));
    }
    // `input` lives until the output ends: when every sender is gone, the task backend closes
    // its side of the monitor connection, and the monitor then drops this client, output and
    // all.
    let attach = matches!(target, Target::Attach { .. });
    let end = loop {
        let item = tokio::select! {
            item = output.recv() => item,
            _ = handle.closed(), if attach => break End::Success,
        };
        match item {
            Some(AttachOutput::Stdout(b)) => {
                if let (true, Some(id)) = (opts.stdout, streams.stdout) {
                    handle.write(id, &b).await;
                }
            }
            Some(AttachOutput::Stderr(b)) => {
                let id = if opts.tty {
                    streams.stdout
                } else {
                    streams.stderr
                };
                if let Some(id) = id {
                    handle.write(id, &b).await;
                }
            }
            Some(AttachOutput::Exit(e)) => {
                break match (attach, e.code) {
                    (true, _) | (false, Some(0)) => End::Success,
                    (false, Some(c)) => End::ExitCode(c),
                    (false, None) => End::Failure("its exit code could not be learned".into()),
                };
            }
            None => {
                break if attach {
                    End::Success
                } else {
                    End::Failure("its output ended without an exit status".into())
                }
            }
        }
    };
    for f in feeders {
        f.abort();
    }
    drop(input);
    end
}

/// Complete `{"Width":…,"Height":…}` messages at the front of `buf` (removed from it).
fn drain_resizes(buf: &mut Vec<u8>) -> Vec<(u16, u16)> {
    #[derive(serde::Deserialize)]
    struct Size {
        #[serde(rename = "Width")]
        width: u32,
        #[serde(rename = "Height")]
        height: u32,
    }
    let mut out = Vec::new();
    let mut it = serde_json::Deserializer::from_slice(buf).into_iter::<Size>();
    let mut used = 0;
    loop {
        match it.next() {
            Some(Ok(s)) => {
                used = it.byte_offset();
                let clamp = |v: u32| v.min(u32::from(u16::MAX)) as u16;
                out.push((clamp(s.width), clamp(s.height)));
            }
            Some(Err(e)) if e.is_eof() => break,
            Some(Err(_)) => {
                // Not a size message: drop what is buffered rather than stall on it.
                used = buf.len();
                break;
            }
            None => break,
        }
    }
    buf.drain(..used);
    out
}

/// What the error stream gets: a metav1.Status for v4, a message on failure otherwise.
fn status_message(end: &End, v4: bool, what: &str) -> Option<String> {
    let text = match end {
        End::Success => None,
        End::ExitCode(c) => Some(format!(
            "command terminated with non-zero exit code: {what}: exit code {c}"
        )),
        End::Failure(e) => Some(format!("{what}: {e}")),
    };
    if !v4 {
        return text;
    }
    let v = match end {
        End::Success => serde_json::json!({"metadata": {}, "status": "Success"}),
        End::ExitCode(c) => serde_json::json!({
            "metadata": {},
            "status": "Failure",
            "message": text,
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": c.to_string()}]},
        }),
        End::Failure(_) => serde_json::json!({
            "metadata": {},
            "status": "Failure",
            "message": text,
            "reason": "InternalError",
            "code": 500,
        }),
    };
    Some(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_messages_are_split_even_when_they_arrive_in_pieces() {
        let mut buf = br#"{"Width":80,"Height":24}{"Width":1"#.to_vec();
        assert_eq!(drain_resizes(&mut buf), vec![(80, 24)]);
        buf.extend_from_slice(br#"00,"Height":99999}"#);
        assert_eq!(drain_resizes(&mut buf), vec![(100, u16::MAX)]);
        assert!(buf.is_empty());
        let mut junk = br#"{"Width":"wide"}"#.to_vec();
        assert!(drain_resizes(&mut junk).is_empty());
        assert!(junk.is_empty());
    }

    #[test]
    fn v4_status_carries_the_exit_code_where_client_go_reads_it() {
        let s: serde_json::Value =
            serde_json::from_str(&status_message(&End::ExitCode(3), true, "exec").unwrap())
                .unwrap();
        assert_eq!(s["status"], "Failure");
        assert_eq!(s["reason"], "NonZeroExitCode");
        assert_eq!(s["details"]["causes"][0]["reason"], "ExitCode");
        assert_eq!(s["details"]["causes"][0]["message"], "3");
        assert_eq!(
            status_message(&End::Success, true, "exec").unwrap(),
            r#"{"metadata":{},"status":"Success"}"#
        );
        assert_eq!(status_message(&End::Success, false, "exec"), None);
        assert!(status_message(&End::ExitCode(3), false, "exec")
            .unwrap()
            .contains("non-zero exit code"));
    }
}

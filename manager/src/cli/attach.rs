//! Connecting the client's stdio to a task: `run` (foreground), `start -a`.

use super::tty::{client_window_size, RawMode};
use anyhow::Context;
use berth_proto::v1::{
    self as pb, attach_request, attach_response, tasks_client::TasksClient, AttachRequest,
};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tonic::transport::Channel;

/// What to connect.
pub struct AttachOptions {
    /// Full container id.
    pub id: String,
    /// Forward our stdin.
    pub stdin: bool,
    /// The container has a tty: raw mode, resizes.
    pub tty: bool,
    /// Call Tasks.Start once attached (so no output is missed).
    pub start: bool,
}

/// What an attach measured, for `run --explain`.
#[derive(Debug, Default)]
pub struct AttachTrace {
    /// Opening the Attach stream.
    pub attach: Duration,
    /// The Tasks.Start round trip (when `start` was asked).
    pub start: Option<Duration>,
    /// berthd's own steps of the start.
    pub start_steps: Vec<pb::Step>,
    /// From the start (or the attach) until the exit message arrived.
    pub streamed: Duration,
    /// Bytes copied to stdout.
    pub stdout_bytes: u64,
    /// Bytes copied to stderr.
    pub stderr_bytes: u64,
    /// The exit came in the stream (false: asked with Wait after the stream ended).
    pub exit_in_stream: bool,
}

/// Attaches, optionally starts the task, copies stdio until the task exits, and returns its exit
/// code (125 when the daemon could not say, Docker's code for errors of the client/daemon).
pub async fn attach_and_wait(ch: Channel, opts: AttachOptions) -> anyhow::Result<i32> {
    Ok(attach_and_wait_traced(ch, opts).await?.0)
}

/// [`attach_and_wait`], also returning what each part took.
pub async fn attach_and_wait_traced(
    ch: Channel,
    opts: AttachOptions,
) -> anyhow::Result<(i32, AttachTrace)> {
    let mut trace = AttachTrace::default();
    let attach_started = Instant::now();
    let mut tasks = TasksClient::new(ch.clone());
    let (tx, rx) = mpsc::channel::<AttachRequest>(64);
    tx.send(AttachRequest {
        msg: Some(attach_request::Msg::Open(pb::AttachOpen {
            container_id: opts.id.clone(),
            stdin: opts.stdin,
            stdout: true,
            stderr: true,
        })),
    })
    .await
    .context("opening attach stream")?;
    let mut inbound = tasks
        .attach(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .map_err(super::daemon_error)?
        .into_inner();
    trace.attach = attach_started.elapsed();

    let _raw = if opts.tty { RawMode::enter()? } else { None };
    if opts.tty {
        if let Some(size) = window_size() {
            // A closed stream means the task is gone; nothing to resize.
            let _ = tx.send(attach_resize(size)).await;
        }
        spawn_resize_forwarder(tx.clone(), attach_resize);
    }
    if opts.stdin {
        spawn_stdin_forwarder(
            tx.clone(),
            |b| AttachRequest {
                msg: Some(attach_request::Msg::Stdin(b)),
            },
            || AttachRequest {
                msg: Some(attach_request::Msg::CloseStdin(true)),
            },
        );
    }
    if opts.start {
        let t = Instant::now();
        let resp = tasks
            .start(pb::StartTaskRequest {
                container_id: opts.id.clone(),
            })
            .await
            .map_err(super::run::start_error)?;
        trace.start = Some(t.elapsed());
        trace.start_steps = resp.into_inner().steps;
    }
    let streaming = Instant::now();
    if !opts.tty {
        spawn_signal_forwarder(ch.clone(), opts.id.clone());
    }

    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    let mut exit = None;
    while let Some(msg) = inbound.message().await.map_err(super::daemon_error)? {
        match msg.msg {
            Some(attach_response::Msg::Stdout(b)) => {
                trace.stdout_bytes += b.len() as u64;
                super::write_flushed(&mut stdout, &b).await?;
            }
            Some(attach_response::Msg::Stderr(b)) => {
                trace.stderr_bytes += b.len() as u64;
                super::write_flushed(&mut stderr, &b).await?;
            }
            Some(attach_response::Msg::Exit(e)) => {
                exit = Some(e);
                break;
            }
            None => {}
        }
    }
    drop(tx);
    trace.streamed = streaming.elapsed();
    trace.exit_in_stream = exit.is_some();
    let status = match exit {
        Some(e) => e,
        // Stream ended without an exit (daemon restarted?): ask.
        None => tasks
            .wait(pb::WaitTaskRequest {
                container_id: opts.id.clone(),
            })
            .await
            .map_err(super::daemon_error)?
            .into_inner()
            .status
            .unwrap_or_default(),
    };
    Ok((if status.known { status.exit_code } else { 125 }, trace))
}

/// An attach stream's resize message.
fn attach_resize(size: pb::WindowSize) -> AttachRequest {
    AttachRequest {
        msg: Some(attach_request::Msg::Resize(size)),
    }
}

/// The client terminal's size as the API carries it, if stdout is a terminal.
pub(super) fn window_size() -> Option<pb::WindowSize> {
    client_window_size().map(|(w, h)| pb::WindowSize {
        width: w.into(),
        height: h.into(),
    })
}

/// Sends `resize(size)` into `tx` at every SIGWINCH until the stream is closed; `berth
/// attach`/`run -t` and `berth exec -t` differ only in the message type.
pub(super) fn spawn_resize_forwarder<M: Send + 'static>(
    tx: mpsc::Sender<M>,
    resize: fn(pb::WindowSize) -> M,
) {
    tokio::spawn(async move {
        let Ok(mut winch) = signal(SignalKind::window_change()) else {
            return;
        };
        while winch.recv().await.is_some() {
            if let Some(size) = window_size() {
                // A failed send means the task is gone; nothing to resize.
                if tx.send(resize(size)).await.is_err() {
                    break;
                }
            }
            if tx.is_closed() {
                break;
            }
        }
    });
}

/// Copies the client's stdin into `tx` as `data` messages and sends one `closed` message at
/// end of input; `berth attach`/`run -i` and `berth exec -i` differ only in the message type.
pub(super) fn spawn_stdin_forwarder<M: Send + 'static>(
    tx: mpsc::Sender<M>,
    data: fn(Vec<u8>) -> M,
    closed: fn() -> M,
) {
    tokio::spawn(async move {
        let mut stdin = tokio::io::stdin();
        let mut buf = vec![0u8; 8192];
        loop {
            match stdin.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    let _ = tx.send(closed()).await;
                    break;
                }
                Ok(n) => {
                    if tx.send(data(buf[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
}

/// Forwards the signals a user sends to `berth run` to the container (Docker's --sig-proxy).
fn spawn_signal_forwarder(ch: Channel, id: String) {
    let kinds = [
        (SignalKind::interrupt(), libc::SIGINT),
        (SignalKind::terminate(), libc::SIGTERM),
        (SignalKind::hangup(), libc::SIGHUP),
        (SignalKind::quit(), libc::SIGQUIT),
        (SignalKind::user_defined1(), libc::SIGUSR1),
        (SignalKind::user_defined2(), libc::SIGUSR2),
    ];
    for (kind, num) in kinds {
        let ch = ch.clone();
        let id = id.clone();
        tokio::spawn(async move {
            let Ok(mut s) = signal(kind) else { return };
            while s.recv().await.is_some() {
                let mut tasks = TasksClient::new(ch.clone());
                // The task may already be gone; the attach loop reports the exit.
                let _ = tasks
                    .kill(pb::KillTaskRequest {
                        container_id: id.clone(),
                        signal: num as u32,
                        all: false,
                    })
                    .await;
            }
        });
    }
}

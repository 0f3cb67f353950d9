//! Client side of the monitor's attach socket (protocol in [`crate::monitor::protocol`]).

use super::error::{io_err, TaskError};
use super::exit::parse_exit_record;
use super::manager::TaskManager;
use super::types::ExitStatus;
use crate::monitor::layout::{SocketPath, ATTACH_SOCKET};
use crate::monitor::protocol::{
    self, C_CLOSE_STDIN, C_RESIZE, C_STDIN, M_EXIT, M_STDERR, M_STDOUT,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

/// A live connection to a task's monitor.
pub struct Attach {
    /// Sends stdin, stdin close and terminal resizes.
    pub input: AttachInput,
    /// Receives output and the exit.
    pub output: AttachOutput,
}

/// The sending half of an attach connection.
pub struct AttachInput {
    id: String,
    w: OwnedWriteHalf,
}

/// The receiving half of an attach connection.
pub struct AttachOutput {
    id: String,
    r: OwnedReadHalf,
    buf: Vec<u8>,
}

/// Something the monitor sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachEvent {
    /// Output on stdout (or the terminal).
    Stdout(Vec<u8>),
    /// Output on stderr.
    Stderr(Vec<u8>),
    /// The task exited; no more events follow.
    Exit(ExitStatus),
}

impl TaskManager {
    /// Connects to the task's monitor: live output from now on, and stdin if the task was
    /// created with `stdin` (writes are discarded otherwise). Attach before `start` to see
    /// all output.
    pub async fn attach(&self, id: &str) -> Result<Attach, TaskError> {
        let e = self.lookup(id)?;
        if e.exit.borrow().is_some() {
            return Err(TaskError::NotRunning(id.to_string()));
        }
        let path = e.info.state_dir.join(ATTACH_SOCKET);
        // A long --state makes the full path overflow sun_path: connect through a short alias.
        let short = SocketPath::new(&e.info.state_dir, ATTACH_SOCKET).map_err(io_err(format!(
            "open {} (task {id})",
            e.info.state_dir.display()
        )))?;
        let stream = UnixStream::connect(short.path())
            .await
            .map_err(io_err(format!("connect to {} (task {id})", path.display())))?;
        drop(short);
        Ok(Attach::from_stream(id, stream))
    }
}

impl Attach {
    /// Wraps a connection to a monitor's attach socket (task `id`).
    pub(crate) fn from_stream(id: &str, stream: UnixStream) -> Attach {
        let (r, w) = stream.into_split();
        Attach {
            input: AttachInput {
                id: id.to_string(),
                w,
            },
            output: AttachOutput {
                id: id.to_string(),
                r,
                buf: Vec::new(),
            },
        }
    }
}

impl AttachInput {
    /// Writes `data` to the container's stdin.
    pub async fn write_stdin(&mut self, data: &[u8]) -> Result<(), TaskError> {
        for chunk in data.chunks(protocol::MAX_PAYLOAD) {
            self.send(C_STDIN, chunk).await?;
        }
        Ok(())
    }

    /// Closes the container's stdin (EOF; on a terminal, the EOF character).
    pub async fn close_stdin(&mut self) -> Result<(), TaskError> {
        self.send(C_CLOSE_STDIN, &[]).await
    }

    /// Sets the terminal size (ignored without a terminal).
    pub async fn resize(&mut self, rows: u16, cols: u16) -> Result<(), TaskError> {
        let mut p = Vec::with_capacity(4);
        p.extend_from_slice(&rows.to_be_bytes());
        p.extend_from_slice(&cols.to_be_bytes());
        self.send(C_RESIZE, &p).await
    }

    async fn send(&mut self, kind: u8, payload: &[u8]) -> Result<(), TaskError> {
        let mut frame = Vec::with_capacity(protocol::HEADER_LEN + payload.len());
        protocol::encode(kind, payload, &mut frame);
        self.w
            .write_all(&frame)
            .await
            .map_err(io_err(format!("write to attach socket of {}", self.id)))
    }
}

impl AttachOutput {
    /// The next event; `Ok(None)` when the monitor closed the connection without an exit
    /// event (it was killed, or detached us for reading too slowly).
    pub async fn next(&mut self) -> Result<Option<AttachEvent>, TaskError> {
        loop {
            let decoded = protocol::decode(&self.buf).map_err(|len| TaskError::Protocol {
                id: self.id.clone(),
                message: format!("frame of {len} bytes is too large"),
            })?;
            if let Some((kind, payload, used)) = decoded {
                let event = match kind {
                    M_STDOUT => AttachEvent::Stdout(payload.to_vec()),
                    M_STDERR => AttachEvent::Stderr(payload.to_vec()),
                    M_EXIT => AttachEvent::Exit(parse_exit_record(payload).map_err(|m| {
                        TaskError::Protocol {
                            id: self.id.clone(),
                            message: format!("exit record: {m}"),
                        }
                    })?),
                    other => {
                        return Err(TaskError::Protocol {
                            id: self.id.clone(),
                            message: format!("unknown frame kind {other}"),
                        })
                    }
                };
                self.buf.drain(..used);
                return Ok(Some(event));
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self
                .r
                .read(&mut chunk)
                .await
                .map_err(io_err(format!("read attach socket of {}", self.id)))?;
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

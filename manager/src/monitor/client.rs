//! One attach connection, as the monitor sees it: frames in, buffered output frames out.

use super::protocol::{self, C_CLOSE_STDIN, C_RESIZE, C_STDIN};
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;

/// Output queued for a client beyond this is a client that does not read: it is disconnected
/// rather than letting it hold the monitor's memory or the container's output.
pub const MAX_QUEUED: usize = 1 << 20;

/// What a client asked for.
pub enum Request {
    /// Bytes for the container's stdin.
    Stdin(Vec<u8>),
    /// Close the container's stdin.
    CloseStdin,
    /// Resize the terminal.
    Resize {
        /// Terminal rows.
        rows: u16,
        /// Terminal columns.
        cols: u16,
    },
}

/// An attached client.
pub struct Client {
    /// The non-blocking connection.
    pub stream: UnixStream,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
}

impl Client {
    /// Wraps an accepted connection (made non-blocking).
    pub fn new(stream: UnixStream) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        Ok(Client {
            stream,
            inbuf: Vec::new(),
            outbuf: Vec::new(),
        })
    }

    /// Whether output is waiting to be written.
    pub fn wants_write(&self) -> bool {
        !self.outbuf.is_empty()
    }

    /// Queues one frame; `false` when the client is too far behind and must be dropped.
    pub fn queue(&mut self, kind: u8, payload: &[u8]) -> bool {
        protocol::encode(kind, payload, &mut self.outbuf);
        self.outbuf.len() <= MAX_QUEUED
    }

    /// Writes queued output; `Ok(false)` when the client went away.
    pub fn flush(&mut self) -> io::Result<bool> {
        while !self.outbuf.is_empty() {
            match self.stream.write(&self.outbuf) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.outbuf.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        if self.outbuf.is_empty() && self.outbuf.capacity() > 64 * 1024 {
            self.outbuf = Vec::new();
        }
        Ok(true)
    }

    /// Reads what the client sent; `Ok(None)` when it closed the connection.
    pub fn read_requests(&mut self) -> io::Result<Option<Vec<Request>>> {
        let mut buf = [0u8; 4096];
        let mut closed = false;
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => self.inbuf.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let mut out = Vec::new();
        let mut used = 0;
        loop {
            match protocol::decode(&self.inbuf[used..]) {
                Ok(Some((kind, payload, n))) => {
                    match kind {
                        C_STDIN => out.push(Request::Stdin(payload.to_vec())),
                        C_CLOSE_STDIN => out.push(Request::CloseStdin),
                        C_RESIZE if payload.len() == 4 => out.push(Request::Resize {
                            rows: u16::from_be_bytes([payload[0], payload[1]]),
                            cols: u16::from_be_bytes([payload[2], payload[3]]),
                        }),
                        _ => {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                format!(
                                    "unknown attach frame kind {kind} ({} bytes)",
                                    payload.len()
                                ),
                            ))
                        }
                    }
                    used += n;
                }
                Ok(None) => break,
                Err(len) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("attach frame of {len} bytes is too large"),
                    ))
                }
            }
        }
        self.inbuf.drain(..used);
        if closed && out.is_empty() {
            return Ok(None);
        }
        // A close after the last frames is noticed on the next read (it returns 0 again).
        Ok(Some(out))
    }
}

//! One SPDY/3.1 server session over an upgraded connection: a reader task that decodes frames,
//! answers PINGs, accepts the client's streams (SYN_REPLY at once, as kubelet's server does) and
//! hands their data to the stream's channel, and a writer task that owns the connection's write
//! half and this side's header zlib stream. Handlers see [`IncomingStream`]s and write through a
//! [`SessionHandle`].
//!
//! Flow control is not enforced: SPDY/3.1 windows are advisory for client-go's spdystream, which
//! neither sends WINDOW_UPDATE nor waits for one; backpressure comes from the bounded channels
//! (a slow consumer stops the reader, so TCP pushes back on the client).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use super::spdy::{self, Decoder, Encoder, Frame, Headers, SpdyError};

/// Streams a session may have open at once (exec needs five, a port-forward two per connection).
pub const MAX_STREAMS: usize = 128;
/// Bytes per data frame written (client-go reads frames of any size; 32 KiB is what it writes).
const WRITE_CHUNK: usize = 32 << 10;
/// Frames buffered per stream before the reader waits for its handler.
const STREAM_QUEUE: usize = 64;

/// A stream the client opened.
pub struct IncomingStream {
    /// Its id.
    pub id: u32,
    /// Its SYN_STREAM headers.
    pub headers: Headers,
    /// Its data; ends at the client's FIN or RST_STREAM, or the end of the session.
    pub data: mpsc::Receiver<Vec<u8>>,
}

impl IncomingStream {
    /// The value of header `name`, or "".
    pub fn header(&self, name: &str) -> &str {
        spdy::header(&self.headers, name).unwrap_or("")
    }
}

enum Out {
    Data(u32, Vec<u8>, bool),
    Frame(Frame),
    /// Flush and shut the write half (after a GOAWAY).
    Finish,
}

/// Writes on a session; cheap to clone.
#[derive(Clone)]
pub struct SessionHandle {
    out: mpsc::Sender<Out>,
    closed: watch::Receiver<bool>,
}

impl SessionHandle {
    /// Writes `data` on stream `id` (in frames of at most 32 KiB).
    pub async fn write(&self, id: u32, data: &[u8]) -> bool {
        for chunk in data.chunks(WRITE_CHUNK) {
            if self
                .out
                .send(Out::Data(id, chunk.to_vec(), false))
                .await
                .is_err()
            {
                return false;
            }
        }
        true
    }

    /// Ends this side of stream `id` (an empty data frame with FIN).
    pub async fn close(&self, id: u32) {
        let _ = self.out.send(Out::Data(id, Vec::new(), true)).await;
    }

    /// Aborts stream `id`.
    pub async fn reset(&self, id: u32, status: u32) {
        let _ = self
            .out
            .send(Out::Frame(Frame::RstStream {
                stream_id: id,
                status,
            }))
            .await;
    }

    /// Sends GOAWAY: no new streams. The connection stays open for the client to close, as
    /// client-go's spdystream drops frames it has read but not yet dispatched when it sees EOF.
    pub async fn go_away(&self, last_good_stream_id: u32) {
        let _ = self
            .out
            .send(Out::Frame(Frame::GoAway {
                last_good_stream_id,
                status: 0,
            }))
            .await;
    }

    /// Sends GOAWAY and shuts the write half once everything queued before is written (for a
    /// session that is refused, where nothing in flight matters).
    pub async fn finish(&self, last_good_stream_id: u32) {
        self.go_away(last_good_stream_id).await;
        let _ = self.out.send(Out::Finish).await;
    }

    /// Resolves when the client's side of the session has ended (EOF, error or GOAWAY).
    pub async fn closed(&self) {
        let mut c = self.closed.clone();
        let _ = c.wait_for(|v| *v).await;
    }
}

/// Starts a session on `io` (`buffered`: bytes already read past the HTTP head). Returns the
/// handle to write with, the client's streams as they open, and the reader task's end.
pub fn start<IO>(
    io: IO,
    buffered: Vec<u8>,
) -> Result<
    (
        SessionHandle,
        mpsc::Receiver<IncomingStream>,
        tokio::task::JoinHandle<()>,
    ),
    SpdyError,
>
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let encoder = Encoder::new()?;
    let (rd, wr) = tokio::io::split(io);
    let (out_tx, out_rx) = mpsc::channel::<Out>(256);
    let (new_tx, new_rx) = mpsc::channel::<IncomingStream>(MAX_STREAMS);
    let (closed_tx, closed_rx) = watch::channel(false);
    tokio::spawn(writer(wr, encoder, out_rx));
    let reader = tokio::spawn(reader(
        rd,
        BytesMut::from(&buffered[..]),
        out_tx.clone(),
        new_tx,
        closed_tx,
    ));
    Ok((
        SessionHandle {
            out: out_tx,
            closed: closed_rx,
        },
        new_rx,
        reader,
    ))
}

async fn writer<W: AsyncWrite + Unpin>(mut wr: W, mut enc: Encoder, mut rx: mpsc::Receiver<Out>) {
    // Streams this side has ended (FIN or RST): later writes to them are dropped, as writing
    // after FIN is a protocol error the client would answer with a reset.
    let mut ended: HashSet<u32> = HashSet::new();
    let mut buf = Vec::with_capacity(WRITE_CHUNK + 64);
    while let Some(item) = rx.recv().await {
        buf.clear();
        let frame = match item {
            Out::Finish => break,
            Out::Data(id, data, fin) => {
                if ended.contains(&id) {
                    continue;
                }
                if fin {
                    ended.insert(id);
                }
                Frame::Data {
                    stream_id: id,
                    flags: if fin { spdy::FLAG_FIN } else { 0 },
                    data,
                }
            }
            Out::Frame(f) => {
                if let Frame::RstStream { stream_id, .. } = f {
                    if !ended.insert(stream_id) {
                        continue;
                    }
                }
                f
            }
        };
        if let Err(e) = enc.encode(&frame, &mut buf) {
            tracing::debug!(error = %e, "CRI streaming: encoding a SPDY frame");
            break;
        }
        if wr.write_all(&buf).await.is_err() {
            break;
        }
        // Flush only when nothing else is queued: output comes in bursts.
        if rx.is_empty() && wr.flush().await.is_err() {
            break;
        }
    }
    let _ = wr.flush().await;
    let _ = wr.shutdown().await;
}

async fn reader<R: AsyncRead + Unpin>(
    mut rd: R,
    mut buf: BytesMut,
    out: mpsc::Sender<Out>,
    new_streams: mpsc::Sender<IncomingStream>,
    closed: watch::Sender<bool>,
) {
    let mut dec = Decoder::new();
    let mut streams: HashMap<u32, mpsc::Sender<Vec<u8>>> = HashMap::new();
    let mut last_id = 0u32;
    let mut accepting = true;
    let end = loop {
        let frame = match dec.decode(&mut buf) {
            Ok(Some(f)) => f,
            Ok(None) => {
                buf.reserve(WRITE_CHUNK);
                match rd.read_buf(&mut buf).await {
                    Ok(0) => break None,
                    Ok(_) => continue,
                    Err(e) => break Some(e.to_string()),
                }
            }
            Err(e) => break Some(e.to_string()),
        };
        match frame {
            Frame::SynStream {
                stream_id,
                flags,
                headers,
                ..
            } => {
                // Client streams are odd and increasing; a bad id ends the session (SPDY/3
                // 2.3.2: a protocol error).
                if stream_id % 2 == 0 || stream_id <= last_id {
                    break Some(format!("client stream id {stream_id} after {last_id}"));
                }
                last_id = stream_id;
                if !accepting || streams.len() >= MAX_STREAMS {
                    let _ = out
                        .send(Out::Frame(Frame::RstStream {
                            stream_id,
                            status: spdy::RST_REFUSED_STREAM,
                        }))
                        .await;
                    continue;
                }
                let (tx, rx) = mpsc::channel(STREAM_QUEUE);
                if flags & spdy::FLAG_FIN == 0 {
                    streams.insert(stream_id, tx);
                }
                let _ = out
                    .send(Out::Frame(Frame::SynReply {
                        stream_id,
                        flags: 0,
                        headers: Vec::new(),
                    }))
                    .await;
                let s = IncomingStream {
                    id: stream_id,
                    headers,
                    data: rx,
                };
                if new_streams.send(s).await.is_err() {
                    // Nobody takes streams any more: the handler is done.
                    accepting = false;
                }
            }
            Frame::Data {
                stream_id,
                flags,
                data,
            } => {
                if !data.is_empty() {
                    if let Some(tx) = streams.get(&stream_id) {
                        if tx.send(data).await.is_err() {
                            // The handler dropped the stream: discard what else comes.
                            streams.remove(&stream_id);
                        }
                    }
                }
                if flags & spdy::FLAG_FIN != 0 {
                    streams.remove(&stream_id);
                }
            }
            Frame::RstStream { stream_id, .. } => {
                streams.remove(&stream_id);
            }
            Frame::Headers {
                stream_id, flags, ..
            } => {
                if flags & spdy::FLAG_FIN != 0 {
                    streams.remove(&stream_id);
                }
            }
            Frame::Ping { id } => {
                // Echo the client's (odd) pings; an even one would be our own, and we send none.
                if id % 2 == 1 {
                    let _ = out.send(Out::Frame(Frame::Ping { id })).await;
                }
            }
            Frame::GoAway { .. } => {
                accepting = false;
                let _ = closed.send(true);
            }
            Frame::SynReply { .. }
            | Frame::Settings { .. }
            | Frame::WindowUpdate { .. }
            | Frame::Unknown { .. } => {}
        }
    };
    if let Some(e) = end {
        tracing::debug!(error = %e, "CRI streaming: SPDY session ended");
    }
    let _ = closed.send(true);
}

/// Waits up to `grace` for the client to close after this side is done: the client closes once
/// it has read everything, while closing first could lose output it has not dispatched yet
/// (and closing with unread bytes makes Linux send RST).
pub async fn linger(reader: tokio::task::JoinHandle<()>, grace: Duration) {
    let abort = reader.abort_handle();
    if tokio::time::timeout(grace, reader).await.is_err() {
        abort.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn send(io: &mut tokio::io::DuplexStream, enc: &mut Encoder, f: Frame) {
        let mut out = Vec::new();
        enc.encode(&f, &mut out).unwrap();
        io.write_all(&out).await.unwrap();
    }

    async fn recv(
        io: &mut tokio::io::DuplexStream,
        dec: &mut Decoder,
        buf: &mut BytesMut,
    ) -> Option<Frame> {
        loop {
            if let Some(f) = dec.decode(buf).unwrap() {
                return Some(f);
            }
            if io.read_buf(buf).await.unwrap() == 0 {
                return None;
            }
        }
    }

    fn syn(id: u32, kind: &str, flags: u8) -> Frame {
        Frame::SynStream {
            stream_id: id,
            associated_to: 0,
            priority: 0,
            flags,
            headers: vec![("streamtype".into(), kind.into())],
        }
    }

    #[tokio::test]
    async fn streams_are_accepted_data_flows_both_ways_and_pings_are_echoed() {
        let (server, mut client) = tokio::io::duplex(1 << 16);
        let (h, mut incoming, reader) = start(server, Vec::new()).unwrap();
        let mut enc = Encoder::new().unwrap();
        let mut dec = Decoder::new();
        let mut buf = BytesMut::new();
        send(&mut client, &mut enc, syn(1, "error", spdy::FLAG_FIN)).await;
        send(&mut client, &mut enc, syn(3, "stdin", 0)).await;
        let e = incoming.recv().await.unwrap();
        assert_eq!((e.id, e.header("streamType")), (1, "error"));
        let mut stdin = incoming.recv().await.unwrap();
        assert_eq!(stdin.header("STREAMTYPE"), "stdin");
        for id in [1, 3] {
            assert_eq!(
                recv(&mut client, &mut dec, &mut buf).await,
                Some(Frame::SynReply {
                    stream_id: id,
                    flags: 0,
                    headers: vec![]
                })
            );
        }
        send(
            &mut client,
            &mut enc,
            Frame::Data {
                stream_id: 3,
                flags: 0,
                data: b"hi".to_vec(),
            },
        )
        .await;
        send(&mut client, &mut enc, Frame::Ping { id: 7 }).await;
        send(
            &mut client,
            &mut enc,
            Frame::Data {
                stream_id: 3,
                flags: spdy::FLAG_FIN,
                data: vec![],
            },
        )
        .await;
        assert_eq!(stdin.data.recv().await.unwrap(), b"hi");
        assert_eq!(stdin.data.recv().await, None, "FIN ends the stream's data");
        assert_eq!(
            recv(&mut client, &mut dec, &mut buf).await,
            Some(Frame::Ping { id: 7 })
        );
        h.write(1, b"status").await;
        h.close(1).await;
        h.write(1, b"after fin: dropped").await;
        h.finish(3).await;
        assert_eq!(
            recv(&mut client, &mut dec, &mut buf).await,
            Some(Frame::Data {
                stream_id: 1,
                flags: 0,
                data: b"status".to_vec()
            })
        );
        assert_eq!(
            recv(&mut client, &mut dec, &mut buf).await,
            Some(Frame::Data {
                stream_id: 1,
                flags: spdy::FLAG_FIN,
                data: vec![]
            })
        );
        assert_eq!(
            recv(&mut client, &mut dec, &mut buf).await,
            Some(Frame::GoAway {
                last_good_stream_id: 3,
                status: 0
            })
        );
        assert_eq!(
            recv(&mut client, &mut dec, &mut buf).await,
            None,
            "write half shut"
        );
        drop(client);
        linger(reader, Duration::from_secs(5)).await;
        h.closed().await;
    }

    #[tokio::test]
    async fn a_bad_stream_id_ends_the_session_and_too_many_streams_are_refused() {
        let (server, mut client) = tokio::io::duplex(1 << 20);
        let (h, mut incoming, reader) = start(server, Vec::new()).unwrap();
        let mut enc = Encoder::new().unwrap();
        let mut dec = Decoder::new();
        let mut buf = BytesMut::new();
        let mut kept = Vec::new();
        for i in 0..(MAX_STREAMS as u32 + 1) {
            send(&mut client, &mut enc, syn(2 * i + 1, "data", 0)).await;
            if (i as usize) < MAX_STREAMS {
                kept.push(incoming.recv().await.unwrap());
            }
        }
        let mut refused = false;
        for _ in 0..=MAX_STREAMS {
            if let Some(Frame::RstStream { stream_id, status }) =
                recv(&mut client, &mut dec, &mut buf).await
            {
                assert_eq!(
                    (stream_id, status),
                    (2 * MAX_STREAMS as u32 + 1, spdy::RST_REFUSED_STREAM)
                );
                refused = true;
            }
        }
        assert!(refused);
        // An even (server-side) id from the client is a protocol error.
        send(
            &mut client,
            &mut enc,
            syn(2 * MAX_STREAMS as u32 + 4, "data", 0),
        )
        .await;
        tokio::time::timeout(Duration::from_secs(5), h.closed())
            .await
            .unwrap();
        reader.await.unwrap();
        assert!(
            kept[0].data.recv().await.is_none(),
            "streams end with the session"
        );
    }
}

//! SPDY/3.1 framing (the wire format kubelet's client-go `remotecommand` and `portforward` speak
//! after an `Upgrade: SPDY/3.1`): control and data frames, and the name/value header blocks,
//! compressed with zlib and SPDY/3's standard dictionary in one zlib stream per direction for the
//! whole session (so a [`Decoder`] and an [`Encoder`] each live as long as their connection).
//!
//! No crate implements the server side (docs/dependencies.md), hence this module. It is a codec
//! only: [`super::session`] runs a connection with it.

use bytes::{Buf, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};

/// The protocol version in every control frame.
pub const VERSION: u16 = 3;
/// Flag FIN (control and data frames): the sender's last frame on the stream.
pub const FLAG_FIN: u8 = 0x01;
/// Flag UNIDIRECTIONAL (SYN_STREAM): the receiver must not send on the stream.
pub const FLAG_UNIDIRECTIONAL: u8 = 0x02;
/// RST_STREAM status PROTOCOL_ERROR.
pub const RST_PROTOCOL_ERROR: u32 = 1;
/// RST_STREAM status REFUSED_STREAM.
pub const RST_REFUSED_STREAM: u32 = 3;
/// RST_STREAM status CANCEL.
pub const RST_CANCEL: u32 = 5;
/// Largest frame payload accepted: SPDY allows 16 MiB, but client-go writes at most 32 KiB per
/// data frame, and an unbounded length would let a peer make berthd buffer 16 MiB per session.
pub const MAX_FRAME_PAYLOAD: usize = 1 << 20;
/// Largest decompressed header block accepted (a zlib bomb must not grow past it).
pub const MAX_HEADER_BLOCK: usize = 64 << 10;

const TYPE_SYN_STREAM: u16 = 1;
const TYPE_SYN_REPLY: u16 = 2;
const TYPE_RST_STREAM: u16 = 3;
const TYPE_SETTINGS: u16 = 4;
const TYPE_PING: u16 = 6;
const TYPE_GOAWAY: u16 = 7;
const TYPE_HEADERS: u16 = 8;
const TYPE_WINDOW_UPDATE: u16 = 9;

/// Header name/value pairs of a stream (names lower-case on the wire; values of one name joined
/// with NUL, as SPDY encodes repeated headers).
pub type Headers = Vec<(String, String)>;

/// A SPDY framing or compression failure; the session ends with it.
#[derive(Debug, thiserror::Error)]
pub enum SpdyError {
    /// A frame larger than [`MAX_FRAME_PAYLOAD`].
    #[error("SPDY frame of {0} bytes is larger than the {MAX_FRAME_PAYLOAD} accepted")]
    FrameTooLarge(usize),
    /// A control frame of another SPDY version.
    #[error("SPDY version {0} is not supported (only 3)")]
    Version(u16),
    /// A frame that does not parse.
    #[error("malformed SPDY frame: {0}")]
    Malformed(String),
    /// The header block's zlib stream is broken or too large.
    #[error("SPDY header block: {0}")]
    Compression(String),
}

/// One SPDY frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Opens a stream.
    SynStream {
        /// Stream id (odd from the client).
        stream_id: u32,
        /// The stream it belongs to (0: none).
        associated_to: u32,
        /// Priority 0 (highest) … 7.
        priority: u8,
        /// FIN / UNIDIRECTIONAL.
        flags: u8,
        /// Its headers.
        headers: Headers,
    },
    /// Accepts a stream.
    SynReply {
        /// Stream id.
        stream_id: u32,
        /// FIN.
        flags: u8,
        /// Its headers.
        headers: Headers,
    },
    /// Aborts a stream.
    RstStream {
        /// Stream id.
        stream_id: u32,
        /// Why (`RST_*`).
        status: u32,
    },
    /// Session settings: (flags, id, value) entries.
    Settings {
        /// CLEAR_SETTINGS.
        flags: u8,
        /// The entries.
        entries: Vec<(u8, u32, u32)>,
    },
    /// Liveness probe, echoed by the receiver.
    Ping {
        /// Odd from the client, even from the server.
        id: u32,
    },
    /// The sender takes no new streams.
    GoAway {
        /// Last stream id the sender accepted.
        last_good_stream_id: u32,
        /// 0 OK, 1 protocol error, 2 internal error.
        status: u32,
    },
    /// More headers of a stream.
    Headers {
        /// Stream id.
        stream_id: u32,
        /// FIN.
        flags: u8,
        /// The headers.
        headers: Headers,
    },
    /// Flow-control credit.
    WindowUpdate {
        /// Stream id (0: the session).
        stream_id: u32,
        /// Bytes added to the window.
        delta: u32,
    },
    /// Stream payload.
    Data {
        /// Stream id.
        stream_id: u32,
        /// FIN.
        flags: u8,
        /// The bytes.
        data: Vec<u8>,
    },
    /// A control frame of a type this codec skips (CREDENTIAL, NOOP, …).
    Unknown {
        /// Its type.
        kind: u16,
    },
}

/// The first header named `name` (case-insensitive).
pub fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Reads frames; holds the peer's header zlib stream.
pub struct Decoder {
    inflate: Decompress,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder at the start of a session.
    pub fn new() -> Self {
        Decoder {
            inflate: Decompress::new(true),
        }
    }

    /// The next complete frame in `buf` (consumed from it), or `None` until more bytes come.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, SpdyError> {
        if buf.len() < 8 {
            return Ok(None);
        }
        let len = (u32::from_be_bytes([0, buf[5], buf[6], buf[7]])) as usize;
        if len > MAX_FRAME_PAYLOAD {
            return Err(SpdyError::FrameTooLarge(len));
        }
        if buf.len() < 8 + len {
            return Ok(None);
        }
        let head = buf.split_to(8);
        let payload = buf.split_to(len);
        let flags = head[4];
        if head[0] & 0x80 == 0 {
            let stream_id = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) & 0x7fff_ffff;
            return Ok(Some(Frame::Data {
                stream_id,
                flags,
                data: payload.to_vec(),
            }));
        }
        let version = u16::from_be_bytes([head[0], head[1]]) & 0x7fff;
        if version != VERSION {
            return Err(SpdyError::Version(version));
        }
        let kind = u16::from_be_bytes([head[2], head[3]]);
        let mut p = &payload[..];
        let need = |p: &[u8], n: usize, what: &str| {
            if p.len() < n {
                Err(SpdyError::Malformed(format!(
                    "{what} frame of {} bytes, at least {n} needed",
                    p.len()
                )))
            } else {
                Ok(())
            }
        };
        let frame = match kind {
            TYPE_SYN_STREAM => {
                need(p, 10, "SYN_STREAM")?;
                let stream_id = p.get_u32() & 0x7fff_ffff;
                let associated_to = p.get_u32() & 0x7fff_ffff;
                let priority = p.get_u8() >> 5;
                let _slot = p.get_u8();
                Frame::SynStream {
                    stream_id,
                    associated_to,
                    priority,
                    flags,
                    headers: self.headers(p)?,
                }
            }
            TYPE_SYN_REPLY | TYPE_HEADERS => {
                need(p, 4, "SYN_REPLY/HEADERS")?;
                let stream_id = p.get_u32() & 0x7fff_ffff;
                let headers = self.headers(p)?;
                if kind == TYPE_SYN_REPLY {
                    Frame::SynReply {
                        stream_id,
                        flags,
                        headers,
                    }
                } else {
                    Frame::Headers {
                        stream_id,
                        flags,
                        headers,
                    }
                }
            }
            TYPE_RST_STREAM => {
                need(p, 8, "RST_STREAM")?;
                Frame::RstStream {
                    stream_id: p.get_u32() & 0x7fff_ffff,
                    status: p.get_u32(),
                }
            }
            TYPE_SETTINGS => {
                need(p, 4, "SETTINGS")?;
                let n = p.get_u32() as usize;
                if p.len() / 8 < n {
                    return Err(SpdyError::Malformed(format!(
                        "SETTINGS announces {n} entries in {} bytes",
                        p.len()
                    )));
                }
                let entries = (0..n)
                    .map(|_| {
                        let fid = p.get_u32();
                        ((fid >> 24) as u8, fid & 0x00ff_ffff, p.get_u32())
                    })
                    .collect();
                Frame::Settings { flags, entries }
            }
            TYPE_PING => {
                need(p, 4, "PING")?;
                Frame::Ping { id: p.get_u32() }
            }
            TYPE_GOAWAY => {
                need(p, 8, "GOAWAY")?;
                Frame::GoAway {
                    last_good_stream_id: p.get_u32() & 0x7fff_ffff,
                    status: p.get_u32(),
                }
            }
            TYPE_WINDOW_UPDATE => {
                need(p, 8, "WINDOW_UPDATE")?;
                Frame::WindowUpdate {
                    stream_id: p.get_u32() & 0x7fff_ffff,
                    delta: p.get_u32() & 0x7fff_ffff,
                }
            }
            kind => Frame::Unknown { kind },
        };
        Ok(Some(frame))
    }

    /// Decompresses and parses one header block.
    fn headers(&mut self, block: &[u8]) -> Result<Headers, SpdyError> {
        let plain = self.inflate_block(block)?;
        parse_header_block(&plain)
    }

    fn inflate_block(&mut self, mut input: &[u8]) -> Result<Vec<u8>, SpdyError> {
        let mut out = Vec::with_capacity(1024);
        loop {
            let (in0, out0) = (self.inflate.total_in(), self.inflate.total_out());
            let r = self
                .inflate
                .decompress_vec(input, &mut out, FlushDecompress::Sync);
            input = &input[(self.inflate.total_in() - in0) as usize..];
            let progressed = self.inflate.total_in() != in0 || self.inflate.total_out() != out0;
            match r {
                Err(e) if e.needs_dictionary().is_some() => {
                    self.inflate
                        .set_dictionary(&DICTIONARY)
                        .map_err(|e| SpdyError::Compression(format!("dictionary: {e}")))?;
                    continue;
                }
                Err(e) => return Err(SpdyError::Compression(e.to_string())),
                Ok(_) => {}
            }
            if out.len() > MAX_HEADER_BLOCK {
                return Err(SpdyError::Compression(format!(
                    "decompresses to more than {MAX_HEADER_BLOCK} bytes"
                )));
            }
            if input.is_empty() && out.len() < out.capacity() {
                return Ok(out);
            }
            if out.len() == out.capacity() {
                out.reserve(out.capacity());
            } else if !progressed {
                return Err(SpdyError::Compression("truncated zlib data".into()));
            }
        }
    }
}

/// Parses an uncompressed name/value block: a 32-bit count, then per pair a 32-bit length and
/// the name, a 32-bit length and the value.
pub fn parse_header_block(mut p: &[u8]) -> Result<Headers, SpdyError> {
    let bad = |what: &str| SpdyError::Malformed(format!("header block: {what}"));
    if p.len() < 4 {
        return Err(bad("no pair count"));
    }
    let n = p.get_u32() as usize;
    // Each pair takes at least 8 bytes: a count past that is a lie, not a reason to allocate.
    if n > p.len() / 8 {
        return Err(bad("more pairs announced than bytes"));
    }
    let string = |p: &mut &[u8]| -> Result<String, SpdyError> {
        if p.len() < 4 {
            return Err(bad("truncated length"));
        }
        let len = p.get_u32() as usize;
        if p.len() < len {
            return Err(bad("truncated string"));
        }
        let s = String::from_utf8_lossy(&p[..len]).into_owned();
        p.advance(len);
        Ok(s)
    };
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let name = string(&mut p)?;
        let value = string(&mut p)?;
        out.push((name, value));
    }
    Ok(out)
}

/// Writes the uncompressed name/value block of `headers` (names lower-cased, as SPDY requires).
pub fn header_block(headers: &Headers) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    for (k, v) in headers {
        out.extend_from_slice(&(k.len() as u32).to_be_bytes());
        out.extend_from_slice(k.to_ascii_lowercase().as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    out
}

/// Writes frames; holds this side's header zlib stream.
pub struct Encoder {
    deflate: Compress,
}

impl Encoder {
    /// An encoder at the start of a session.
    pub fn new() -> Result<Self, SpdyError> {
        let mut deflate = Compress::new(Compression::best(), true);
        deflate
            .set_dictionary(&DICTIONARY)
            .map_err(|e| SpdyError::Compression(format!("dictionary: {e}")))?;
        Ok(Encoder { deflate })
    }

    /// Appends `frame` to `out`.
    pub fn encode(&mut self, frame: &Frame, out: &mut Vec<u8>) -> Result<(), SpdyError> {
        let control = |out: &mut Vec<u8>, kind: u16, flags: u8, body: &[u8]| {
            out.extend_from_slice(&(0x8000 | VERSION).to_be_bytes());
            out.extend_from_slice(&kind.to_be_bytes());
            out.push(flags);
            out.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
            out.extend_from_slice(body);
        };
        let mut body = Vec::new();
        match frame {
            Frame::SynStream {
                stream_id,
                associated_to,
                priority,
                flags,
                headers,
            } => {
                body.extend_from_slice(&(stream_id & 0x7fff_ffff).to_be_bytes());
                body.extend_from_slice(&(associated_to & 0x7fff_ffff).to_be_bytes());
                body.push((priority & 7) << 5);
                body.push(0);
                body.extend(self.deflate_block(&header_block(headers))?);
                control(out, TYPE_SYN_STREAM, *flags, &body);
            }
            Frame::SynReply {
                stream_id,
                flags,
                headers,
            }
            | Frame::Headers {
                stream_id,
                flags,
                headers,
            } => {
                body.extend_from_slice(&(stream_id & 0x7fff_ffff).to_be_bytes());
                body.extend(self.deflate_block(&header_block(headers))?);
                let kind = if matches!(frame, Frame::SynReply { .. }) {
                    TYPE_SYN_REPLY
                } else {
                    TYPE_HEADERS
                };
                control(out, kind, *flags, &body);
            }
            Frame::RstStream { stream_id, status } => {
                body.extend_from_slice(&(stream_id & 0x7fff_ffff).to_be_bytes());
                body.extend_from_slice(&status.to_be_bytes());
                control(out, TYPE_RST_STREAM, 0, &body);
            }
            Frame::Settings { flags, entries } => {
                body.extend_from_slice(&(entries.len() as u32).to_be_bytes());
                for (f, id, value) in entries {
                    body.extend_from_slice(
                        &((u32::from(*f) << 24) | (id & 0x00ff_ffff)).to_be_bytes(),
                    );
                    body.extend_from_slice(&value.to_be_bytes());
                }
                control(out, TYPE_SETTINGS, *flags, &body);
            }
            Frame::Ping { id } => control(out, TYPE_PING, 0, &id.to_be_bytes()),
            Frame::GoAway {
                last_good_stream_id,
                status,
            } => {
                body.extend_from_slice(&(last_good_stream_id & 0x7fff_ffff).to_be_bytes());
                body.extend_from_slice(&status.to_be_bytes());
                control(out, TYPE_GOAWAY, 0, &body);
            }
            Frame::WindowUpdate { stream_id, delta } => {
                body.extend_from_slice(&(stream_id & 0x7fff_ffff).to_be_bytes());
                body.extend_from_slice(&(delta & 0x7fff_ffff).to_be_bytes());
                control(out, TYPE_WINDOW_UPDATE, 0, &body);
            }
            Frame::Data {
                stream_id,
                flags,
                data,
            } => {
                if data.len() > MAX_FRAME_PAYLOAD {
                    return Err(SpdyError::FrameTooLarge(data.len()));
                }
                out.extend_from_slice(&(stream_id & 0x7fff_ffff).to_be_bytes());
                out.push(*flags);
                out.extend_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
                out.extend_from_slice(data);
            }
            Frame::Unknown { kind } => {
                return Err(SpdyError::Malformed(format!(
                    "control frame type {kind} cannot be written"
                )))
            }
        }
        Ok(())
    }

    /// Compresses one header block, flushed (Z_SYNC_FLUSH) so the peer can read it whole
    /// while the zlib stream goes on.
    fn deflate_block(&mut self, mut input: &[u8]) -> Result<Vec<u8>, SpdyError> {
        let mut out = Vec::with_capacity(input.len() + 64);
        loop {
            let in0 = self.deflate.total_in();
            self.deflate
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .map_err(|e| SpdyError::Compression(e.to_string()))?;
            input = &input[(self.deflate.total_in() - in0) as usize..];
            // A sync flush is complete once the input is used up with output space to spare.
            if input.is_empty() && out.len() < out.capacity() {
                return Ok(out);
            }
            out.reserve(out.capacity().max(64));
        }
    }
}

/// SPDY/3's zlib dictionary (draft 3, section 2.6.10.1): length-prefixed header names and
/// values, then common value text. Built once from its parts, which are easier to check than
/// 1423 bytes of hex.
pub static DICTIONARY: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
    const WORDS: &[&str] = &[
        "options",
        "head",
        "post",
        "put",
        "delete",
        "trace",
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "accept-ranges",
        "age",
        "allow",
        "authorization",
        "cache-control",
        "connection",
        "content-base",
        "content-encoding",
        "content-language",
        "content-length",
        "content-location",
        "content-md5",
        "content-range",
        "content-type",
        "date",
        "etag",
        "expect",
        "expires",
        "from",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "last-modified",
        "location",
        "max-forwards",
        "pragma",
        "proxy-authenticate",
        "proxy-authorization",
        "range",
        "referer",
        "retry-after",
        "server",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "vary",
        "via",
        "warning",
        "www-authenticate",
        "method",
        "get",
        "status",
        "200 OK",
        "version",
        "HTTP/1.1",
        "url",
        "public",
        "set-cookie",
        "keep-alive",
        "origin",
    ];
    const TAIL: &str = concat!(
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417",
        "502504505203 Non-Authoritative Information204 No Content301 Moved Permanently",
        "400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error",
        "501 Not Implemented503 Service Unavailable",
        "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 ",
        "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT",
        "chunked,text/html,image/png,image/jpg,image/gif,application/xml,",
        "application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=",
        "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
    );
    let mut d = Vec::with_capacity(1423);
    for w in WORDS {
        d.extend_from_slice(&(w.len() as u32).to_be_bytes());
        d.extend_from_slice(w.as_bytes());
    }
    d.extend_from_slice(TAIL.as_bytes());
    d
});

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(enc: &mut Encoder, dec: &mut Decoder, f: Frame) {
        let mut out = Vec::new();
        enc.encode(&f, &mut out).unwrap();
        let mut buf = BytesMut::from(&out[..]);
        assert_eq!(dec.decode(&mut buf).unwrap(), Some(f));
        assert!(buf.is_empty());
    }

    #[test]
    fn dictionary_is_spdy3s() {
        // The draft's dictionary is 1423 bytes; its Adler-32 is the DICTID client-go's
        // decompressor checks, so one wrong byte fails every session (cri_streaming shows it).
        assert_eq!(DICTIONARY.len(), 1423);
        assert_eq!(&DICTIONARY[..11], b"\0\0\0\x07options");
        assert!(DICTIONARY.ends_with(b"iso-8859-1,utf-,*,enq=0."));
    }

    #[test]
    fn every_frame_round_trips_through_one_zlib_stream_per_direction() {
        let mut enc = Encoder::new().unwrap();
        let mut dec = Decoder::new();
        let h = |t: &str| vec![("streamtype".to_string(), t.to_string())];
        for f in [
            Frame::SynStream {
                stream_id: 1,
                associated_to: 0,
                priority: 0,
                flags: FLAG_FIN,
                headers: h("error"),
            },
            // The second block refers to the first through the shared zlib window.
            Frame::SynStream {
                stream_id: 3,
                associated_to: 0,
                priority: 7,
                flags: 0,
                headers: h("stdout"),
            },
            Frame::SynReply {
                stream_id: 3,
                flags: 0,
                headers: vec![],
            },
            Frame::Headers {
                stream_id: 3,
                flags: FLAG_FIN,
                headers: h("x\0y"),
            },
            Frame::RstStream {
                stream_id: 5,
                status: RST_CANCEL,
            },
            Frame::Settings {
                flags: 1,
                entries: vec![(0, 7, 65536), (1, 4, 100)],
            },
            Frame::Ping { id: 1 },
            Frame::GoAway {
                last_good_stream_id: 9,
                status: 0,
            },
            Frame::WindowUpdate {
                stream_id: 3,
                delta: 4096,
            },
            Frame::Data {
                stream_id: 3,
                flags: FLAG_FIN,
                data: b"out\n".to_vec(),
            },
            Frame::Data {
                stream_id: 7,
                flags: 0,
                data: vec![],
            },
        ] {
            roundtrip(&mut enc, &mut dec, f);
        }
    }

    #[test]
    fn header_blocks_use_the_dictionary_and_a_sync_flush() {
        let mut enc = Encoder::new().unwrap();
        let block = enc
            .deflate_block(&header_block(&vec![("status".into(), "200 OK".into())]))
            .unwrap();
        // zlib header with FDICT set, then the dictionary's Adler-32.
        assert_eq!(block[1] & 0x20, 0x20, "FDICT flag");
        let adler = u32::from_be_bytes([block[2], block[3], block[4], block[5]]);
        let mut a = flate2::Compress::new(Compression::best(), true);
        assert_eq!(a.set_dictionary(&DICTIONARY).unwrap(), adler);
        // A sync flush ends with an empty stored block.
        assert_eq!(&block[block.len() - 4..], &[0, 0, 0xff, 0xff]);
    }

    #[test]
    fn decode_waits_for_whole_frames_and_splits_back_to_back_ones() {
        let mut enc = Encoder::new().unwrap();
        let mut out = Vec::new();
        enc.encode(&Frame::Ping { id: 3 }, &mut out).unwrap();
        enc.encode(
            &Frame::Data {
                stream_id: 1,
                flags: 0,
                data: b"abc".to_vec(),
            },
            &mut out,
        )
        .unwrap();
        let mut dec = Decoder::new();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in out {
            buf.extend_from_slice(&[b]);
            if let Some(f) = dec.decode(&mut buf).unwrap() {
                got.push(f);
            }
        }
        assert_eq!(
            got,
            vec![
                Frame::Ping { id: 3 },
                Frame::Data {
                    stream_id: 1,
                    flags: 0,
                    data: b"abc".to_vec()
                }
            ]
        );
    }

    #[test]
    fn oversized_frames_wrong_versions_and_lying_blocks_are_refused() {
        let mut dec = Decoder::new();
        let mut big = BytesMut::from(&[0u8, 0, 0, 1, 0, 0x20, 0, 0][..]);
        assert!(matches!(
            dec.decode(&mut big),
            Err(SpdyError::FrameTooLarge(_))
        ));
        let mut v2 = BytesMut::from(&[0x80u8, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1][..]);
        assert!(matches!(dec.decode(&mut v2), Err(SpdyError::Version(2))));
        assert!(parse_header_block(&[0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(parse_header_block(&[0, 0, 0, 1, 0, 0, 0, 9, b'a']).is_err());
        // A header block that is not zlib data.
        let mut garbage = BytesMut::from(
            &[
                0x80u8, 3, 0, 2, 0, 0, 0, 8, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef,
            ][..],
        );
        assert!(matches!(
            dec.decode(&mut garbage),
            Err(SpdyError::Compression(_))
        ));
    }

    #[test]
    fn unknown_control_frames_are_skipped_not_fatal() {
        let mut dec = Decoder::new();
        let mut buf = BytesMut::from(
            &[
                0x80u8, 3, 0, 10, 0, 0, 0, 2, 1, 2, 0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 5,
            ][..],
        );
        assert_eq!(
            dec.decode(&mut buf).unwrap(),
            Some(Frame::Unknown { kind: 10 })
        );
        assert_eq!(dec.decode(&mut buf).unwrap(), Some(Frame::Ping { id: 5 }));
    }

    #[test]
    fn a_zlib_bomb_is_cut_at_the_block_limit() {
        let mut enc = Encoder::new().unwrap();
        let big = vec![("a".to_string(), "x".repeat(MAX_HEADER_BLOCK * 2))];
        let mut out = Vec::new();
        enc.encode(
            &Frame::SynReply {
                stream_id: 1,
                flags: 0,
                headers: big,
            },
            &mut out,
        )
        .unwrap();
        assert!(out.len() < MAX_FRAME_PAYLOAD);
        let mut dec = Decoder::new();
        assert!(matches!(
            dec.decode(&mut BytesMut::from(&out[..])),
            Err(SpdyError::Compression(_))
        ));
    }
}

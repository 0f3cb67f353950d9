//! The attach protocol spoken on [`super::layout::ATTACH_SOCKET`].
//!
//! Every message is a frame: one kind byte, a big-endian `u32` payload length, then the payload.
//! Frame kinds are numbered per direction.

/// Largest payload either side accepts; larger frames close the connection.
pub const MAX_PAYLOAD: usize = 1 << 20;
/// Bytes in a frame header (kind + length).
pub const HEADER_LEN: usize = 5;

/// Client → monitor: bytes for the container's stdin.
pub const C_STDIN: u8 = 1;
/// Client → monitor: close the container's stdin (EOF); on a terminal, sends the EOF character.
pub const C_CLOSE_STDIN: u8 = 2;
/// Client → monitor: terminal resize, payload `rows: u16 BE, cols: u16 BE`.
pub const C_RESIZE: u8 = 3;

/// Monitor → client: bytes the container wrote to stdout (or to its terminal).
pub const M_STDOUT: u8 = 1;
/// Monitor → client: bytes the container wrote to stderr.
pub const M_STDERR: u8 = 2;
/// Monitor → client: the container exited; the payload is the exit record (`exit.json` bytes).
pub const M_EXIT: u8 = 3;

/// Appends one frame to `out`.
pub fn encode(kind: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.push(kind);
    // Payloads are bounded by MAX_PAYLOAD by every caller, so the length fits in u32.
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
}

/// A decoded frame: kind, payload, and bytes consumed from the buffer.
pub type Frame<'a> = (u8, &'a [u8], usize);

/// Splits a complete frame off the front of `buf`: `Ok(Some((kind, payload, consumed)))`,
/// `Ok(None)` when more bytes are needed, `Err(len)` when the announced length is too large.
pub fn decode(buf: &[u8]) -> Result<Option<Frame<'_>>, usize> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if len > MAX_PAYLOAD {
        return Err(len);
    }
    if buf.len() < HEADER_LEN + len {
        return Ok(None);
    }
    Ok(Some((
        buf[0],
        &buf[HEADER_LEN..HEADER_LEN + len],
        HEADER_LEN + len,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_partial() {
        let mut out = Vec::new();
        encode(C_STDIN, b"hello", &mut out);
        encode(C_CLOSE_STDIN, b"", &mut out);
        assert_eq!(decode(&out[..3]), Ok(None));
        let (kind, payload, used) = decode(&out).unwrap().unwrap();
        assert_eq!((kind, payload, used), (C_STDIN, &b"hello"[..], 10));
        let (kind, payload, _) = decode(&out[used..]).unwrap().unwrap();
        assert_eq!((kind, payload), (C_CLOSE_STDIN, &b""[..]));
    }

    #[test]
    fn rejects_oversized() {
        let buf = [C_STDIN, 0xff, 0xff, 0xff, 0xff];
        assert!(decode(&buf).is_err());
    }
}

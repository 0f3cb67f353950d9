//! Bounds on what one layer may cost: uncompressed bytes, expansion ratio, and the memory the tar
//! reader spends on extension headers (GNU long names, PAX records), which it buffers whole.
//!
//! The checks sit in the readers the layer stream flows through, so a bomb is stopped while it is
//! being read, long before its end: [`CountingReader`] under the decompressor (compressed bytes
//! against the descriptor's size), [`LayerGuard`] above it (uncompressed bytes against the limits,
//! and a shadow parser of the tar block structure that refuses an oversized extension header
//! before the `tar` crate allocates it).

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::UnpackError;

/// Largest GNU long name or long link target (bytes, including the NUL): far above PATH_MAX.
pub const MAX_LONG_NAME: u64 = 64 * 1024;
/// Largest PAX extended header of one entry (bytes): room for many xattrs of 64 KiB.
pub const MAX_PAX_HEADER: u64 = 1024 * 1024;
/// The ratio limit only applies past this many uncompressed bytes: tiny layers (an empty tar is
/// 10 KiB of zeros that gzip to 30 bytes) legitimately have huge ratios.
pub const RATIO_FLOOR: u64 = 16 * 1024 * 1024;

/// Limits applied to every layer unpacked (berthd builds them from `[unpack]` in config.toml).
#[derive(Debug, Clone, PartialEq)]
pub struct UnpackLimits {
    /// Largest uncompressed size of one layer, in bytes; also bounds the bytes written for its
    /// files (a sparse entry expands without reading more of the stream).
    pub max_layer_size: u64,
    /// Largest ratio of uncompressed to compressed size (checked past 16 MiB uncompressed);
    /// 0 disables the check.
    pub max_layer_ratio: u64,
}

impl Default for UnpackLimits {
    fn default() -> Self {
        UnpackLimits {
            max_layer_size: 32 * 1024 * 1024 * 1024,
            max_layer_ratio: 200,
        }
    }
}

impl UnpackLimits {
    /// The most uncompressed bytes a layer of `compressed` bytes may produce.
    pub fn budget(&self, compressed: u64) -> u64 {
        if self.max_layer_ratio == 0 {
            return self.max_layer_size;
        }
        let by_ratio = compressed
            .saturating_mul(self.max_layer_ratio)
            .max(RATIO_FLOOR);
        self.max_layer_size.min(by_ratio)
    }
}

/// Counts the compressed bytes read and refuses to read past the descriptor's size.
pub(super) struct CountingReader<R> {
    pub inner: R,
    pub count: Arc<AtomicU64>,
    pub limit: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let total = self.count.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if total > self.limit {
            return Err(io::Error::other(format!(
                "the layer blob is longer than its descriptor's {} bytes",
                self.limit
            )));
        }
        Ok(n)
    }
}

const BLOCK: u64 = 512;

/// Where the shadow tar parser is.
#[derive(Debug)]
enum TarState {
    /// Collecting a 512-byte header block.
    Header,
    /// Collecting a GNU sparse extension block (after a sparse header).
    SparseExt { data: u64 },
    /// Skipping `left` bytes of entry data (padded to a block); the first `capture` of them
    /// are a PAX header's records, kept to learn the next entry's size.
    Data { left: u64, capture: u64 },
    /// The end-of-archive marker was seen (or the stream is not a tar): nothing more to check.
    Done,
}

/// The uncompressed stream's guard: size budget and extension-header bounds.
pub(super) struct LayerGuard<R> {
    inner: R,
    budget: u64,
    /// Uncompressed bytes read so far.
    pub count: u64,
    state: TarState,
    block: Vec<u8>,
    pax: Vec<u8>,
    /// The PAX `size` for the next non-extension entry.
    pax_size: Option<u64>,
    /// Set when a limit was hit: the typed error the caller reports.
    pub violation: Option<UnpackError>,
}

impl<R: Read> LayerGuard<R> {
    pub fn new(inner: R, budget: u64) -> Self {
        LayerGuard {
            inner,
            budget,
            count: 0,
            state: TarState::Header,
            block: Vec::with_capacity(BLOCK as usize),
            pax: Vec::new(),
            pax_size: None,
            violation: None,
        }
    }

    fn refuse(&mut self, e: UnpackError) -> io::Error {
        let msg = e.to_string();
        self.violation = Some(e);
        io::Error::other(msg)
    }

    /// Feeds the bytes just read to the shadow parser.
    fn track(&mut self, mut bytes: &[u8]) -> Result<(), UnpackError> {
        while !bytes.is_empty() {
            match &mut self.state {
                TarState::Done => return Ok(()),
                TarState::Data { left, capture } => {
                    let n = (*left).min(bytes.len() as u64) as usize;
                    let keep = (*capture).min(n as u64) as usize;
                    *capture -= keep as u64;
                    *left -= n as u64;
                    let captured_all = keep > 0 && *capture == 0;
                    if *left == 0 {
                        self.state = TarState::Header;
                    }
                    self.pax.extend_from_slice(&bytes[..keep]);
                    if captured_all {
                        // Before the next header is looked at: the size applies to it.
                        self.pax_size = tar_pax_size(&self.pax);
                    }
                    bytes = &bytes[n..];
                }
                TarState::Header | TarState::SparseExt { .. } => {
                    let want = BLOCK as usize - self.block.len();
                    let n = want.min(bytes.len());
                    self.block.extend_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                    if self.block.len() == BLOCK as usize {
                        let block = std::mem::take(&mut self.block);
                        self.block_done(&block)?;
                        self.block = block;
                        self.block.clear();
                    }
                }
            }
        }
        Ok(())
    }

    /// A whole header or sparse extension block arrived: decide what follows it, as the `tar`
    /// crate's reader does.
    fn block_done(&mut self, block: &[u8]) -> Result<(), UnpackError> {
        if let TarState::SparseExt { data } = self.state {
            // GNU sparse extension: byte 504 says whether another one follows.
            self.state = if block[504] != 0 {
                TarState::SparseExt { data }
            } else {
                data_state(data, 0)
            };
            return Ok(());
        }
        if block.iter().all(|b| *b == 0) {
            // End of archive for the tar reader (it does not skip zero blocks): the rest is
            // padding it never parses.
            self.state = TarState::Done;
            return Ok(());
        }
        let h = tar::Header::from_byte_slice(block);
        // Where this parser expects a header the tar reader does too; if the bytes there are no
        // header, both must refuse rather than this one silently stop checking.
        let sum = block[..148]
            .iter()
            .chain(&block[156..])
            .fold(0u32, |a, b| a + u32::from(*b))
            + 8 * 32;
        if h.cksum().ok() != Some(sum) {
            return Err(UnpackError::Tar(io::Error::other(
                "archive header checksum mismatch",
            )));
        }
        let recognized = h.as_gnu().is_some() || h.as_ustar().is_some();
        let kind = h.entry_type();
        let size = h.entry_size().map_err(UnpackError::Tar)?;
        let extension = kind.is_gnu_longname()
            || kind.is_gnu_longlink()
            || kind.is_pax_local_extensions()
            || kind.is_pax_global_extensions();
        if recognized && (kind.is_gnu_longname() || kind.is_gnu_longlink()) {
            if size > MAX_LONG_NAME {
                return Err(UnpackError::HeaderTooLarge {
                    what: "GNU long name",
                    size,
                    limit: MAX_LONG_NAME,
                });
            }
            self.state = data_state(size, 0);
            return Ok(());
        }
        if recognized && kind.is_pax_local_extensions() {
            if size > MAX_PAX_HEADER {
                return Err(UnpackError::HeaderTooLarge {
                    what: "PAX extended header",
                    size,
                    limit: MAX_PAX_HEADER,
                });
            }
            self.pax.clear();
            self.state = data_state(size, size);
            if size == 0 {
                self.pax_size = None;
            }
            return Ok(());
        }
        let mut data = size;
        if !extension {
            if let Some(s) = self.pax_size.take() {
                data = s;
            }
        }
        if recognized && kind.is_gnu_sparse() && h.as_gnu().is_some_and(|g| g.is_extended()) {
            self.state = TarState::SparseExt { data };
            return Ok(());
        }
        self.state = data_state(data, 0);
        Ok(())
    }
}

/// Data of `size` bytes, padded to a block; `capture` of them kept as PAX records.
fn data_state(size: u64, capture: u64) -> TarState {
    match size.checked_add(BLOCK - 1) {
        Some(padded) if padded & !(BLOCK - 1) == 0 => TarState::Header,
        Some(padded) => TarState::Data {
            left: padded & !(BLOCK - 1),
            capture,
        },
        // The tar reader refuses the overflow itself.
        None => TarState::Done,
    }
}

impl<R: Read> Read for LayerGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(v) = &self.violation {
            return Err(io::Error::other(v.to_string()));
        }
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        if self.count > self.budget {
            let budget = self.budget;
            return Err(self.refuse(UnpackError::TooLarge {
                limit: budget,
                limits: UnpackLimits::default(),
                compressed: 0,
            }));
        }
        if let Err(e) = self.track(&buf[..n]) {
            return Err(self.refuse(e));
        }
        Ok(n)
    }
}

/// A tar stream with the unpacker's bounds on extension headers (GNU long names and links, PAX
/// records: the `tar` crate buffers each whole) for other archives berthd reads (`load`).
pub struct TarHeaderGuard<R>(LayerGuard<R>);

impl<R: Read> TarHeaderGuard<R> {
    /// Guards `inner` (no bound on the total size: the caller knows the archive's).
    pub fn new(inner: R) -> Self {
        TarHeaderGuard(LayerGuard::new(inner, u64::MAX))
    }
}

impl<R: Read> Read for TarHeaderGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

/// Skipping forward only (what `tar::Archive::entries_with_seek` does over file data): entry
/// data is seeked over without being read; anything else (headers, PAX records) is read through
/// the shadow parser as usual. Returns the position in the stream, as the tar reader expects.
impl<R: Read + io::Seek> io::Seek for TarHeaderGuard<R> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        let io::SeekFrom::Current(n) = pos else {
            return Err(io::Error::other("the archive reader only skips forward"));
        };
        let mut n = u64::try_from(n)
            .map_err(|_| io::Error::other("the archive reader only skips forward"))?;
        let g = &mut self.0;
        if let Some(v) = &g.violation {
            return Err(io::Error::other(v.to_string()));
        }
        if let TarState::Data { left, capture: 0 } = g.state {
            let k = n.min(left);
            if k > 0 {
                // k <= n, which came from an i64.
                g.inner.seek(io::SeekFrom::Current(k as i64))?;
                g.count += k;
                n -= k;
                g.state = if left == k {
                    TarState::Header
                } else {
                    TarState::Data {
                        left: left - k,
                        capture: 0,
                    }
                };
            }
        }
        let mut buf = [0u8; 8192];
        while n > 0 {
            let m = self.0.read(&mut buf[..n.min(8192) as usize])?;
            if m == 0 {
                // End of the archive: the tar reader finds it at its next read.
                break;
            }
            n -= m as u64;
        }
        Ok(self.0.count)
    }
}

/// The `size` record of a PAX header, parsed as the `tar` crate does.
fn tar_pax_size(records: &[u8]) -> Option<u64> {
    for ext in tar::PaxExtensions::new(records) {
        let ext = ext.ok()?;
        if ext.key() != Ok("size") {
            continue;
        }
        return ext.value().ok()?.parse::<u64>().ok();
    }
    None
}

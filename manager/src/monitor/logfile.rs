//! The container log: one CRI-format entry per line, `<RFC3339Nano> <stream> <F|P> <text>\n`.
//!
//! `F` means the text was followed by a newline in the output (the newline is not stored);
//! `P` means it was not: a segment cut at [`MAX_LINE`] bytes, or the stream ended without a
//! newline. Concatenating `text + "\n"` for `F` and `text` for `P` restores the exact bytes.

use super::timefmt::rfc3339_nanos;
use std::fs::File;
use std::io::{self, Write};
use std::time::SystemTime;

/// Longest line kept in memory before it is written as a partial (`P`) entry.
pub const MAX_LINE: usize = 16 * 1024;

/// Which output stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The container's stdout (or its terminal).
    Stdout = 0,
    /// The container's stderr.
    Stderr = 1,
}

impl Stream {
    /// Name used in log entries.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Appends container output to the log file, splitting it into lines per stream.
pub struct LogWriter {
    file: File,
    partial: [Vec<u8>; 2],
    entry: Vec<u8>,
}

impl LogWriter {
    /// Wraps an already opened (append-mode) log file.
    pub fn new(file: File) -> Self {
        LogWriter {
            file,
            partial: [Vec::new(), Vec::new()],
            entry: Vec::new(),
        }
    }

    /// Logs one chunk read from `stream`; an unfinished last line waits for more output.
    /// No entry's text exceeds [`MAX_LINE`] bytes, and neither does the pending buffer.
    pub fn write_chunk(&mut self, stream: Stream, data: &[u8]) -> io::Result<()> {
        let now = rfc3339_nanos(SystemTime::now());
        let entry = &mut self.entry;
        let buf = &mut self.partial[stream as usize];
        entry.clear();
        let mut rest = data;
        loop {
            let nl = rest.iter().position(|&b| b == b'\n');
            let mut piece = &rest[..nl.unwrap_or(rest.len())];
            while !piece.is_empty() {
                if buf.len() == MAX_LINE {
                    push_entry(entry, &now, stream, false, buf);
                    buf.clear();
                }
                let take = (MAX_LINE - buf.len()).min(piece.len());
                buf.extend_from_slice(&piece[..take]);
                piece = &piece[take..];
            }
            match nl {
                Some(i) => {
                    push_entry(entry, &now, stream, true, buf);
                    buf.clear();
                    rest = &rest[i + 1..];
                }
                None => break,
            }
        }
        if buf.is_empty() && buf.capacity() > 4096 {
            *buf = Vec::new();
        }
        self.file.write_all(&self.entry)
    }

    /// Writes whatever is pending on `stream` as a partial entry (the stream has ended).
    pub fn finish(&mut self, stream: Stream) -> io::Result<()> {
        let line = std::mem::take(&mut self.partial[stream as usize]);
        if line.is_empty() {
            return Ok(());
        }
        self.entry.clear();
        push_entry(
            &mut self.entry,
            &rfc3339_nanos(SystemTime::now()),
            stream,
            false,
            &line,
        );
        self.file.write_all(&self.entry)
    }

    /// Flushes the file to disk.
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

fn push_entry(out: &mut Vec<u8>, time: &str, stream: Stream, full: bool, text: &[u8]) {
    out.extend_from_slice(time.as_bytes());
    out.push(b' ');
    out.extend_from_slice(stream.name().as_bytes());
    out.extend_from_slice(if full { b" F " } else { b" P " });
    out.extend_from_slice(text);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn entries(path: &std::path::Path) -> Vec<String> {
        let mut s = String::new();
        File::open(path).unwrap().read_to_string(&mut s).unwrap();
        // Drop the timestamp column.
        s.lines()
            .map(|l| l.split_once(' ').unwrap().1.to_string())
            .collect()
    }

    #[test]
    fn lines_partials_and_streams() {
        let dir = std::env::temp_dir().join(format!("berth-logfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let mut w = LogWriter::new(File::create(&path).unwrap());
        w.write_chunk(Stream::Stdout, b"hel").unwrap();
        w.write_chunk(Stream::Stderr, b"oops\n").unwrap();
        w.write_chunk(Stream::Stdout, b"lo\nworld\n\nend").unwrap();
        w.finish(Stream::Stdout).unwrap();
        w.finish(Stream::Stderr).unwrap();
        assert_eq!(
            entries(&path),
            vec![
                "stderr F oops",
                "stdout F hello",
                "stdout F world",
                "stdout F ",
                "stdout P end"
            ]
        );
        let long = vec![b'x'; MAX_LINE + 3];
        w.write_chunk(Stream::Stdout, &long).unwrap();
        w.write_chunk(Stream::Stdout, b"\n").unwrap();
        let e = entries(&path);
        assert_eq!(e[5].len(), "stdout P ".len() + MAX_LINE);
        assert_eq!(e[6], "stdout F xxx");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

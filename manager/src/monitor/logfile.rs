//! The container log: one CRI-format entry per line, `<RFC3339Nano> <stream> <F|P> <text>\n`.
//!
//! `F` means the text was followed by a newline in the output (the newline is not stored);
//! `P` means it was not: a segment cut at [`MAX_LINE`] bytes, or the stream ended without a
//! newline. Concatenating `text + "\n"` for `F` and `text` for `P` restores the exact bytes.

use super::timefmt::rfc3339_nanos;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
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

/// Docker json-file's `max-size` / `max-file`: when the log reaches `max_size` bytes it is
/// renamed `<log>.1` (older ones shift to `.2`, …) and a new one is started, keeping at most
/// `max_file` files in all. `max_size == 0` means no rotation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogRotation {
    /// Size in bytes at which the log is rotated; 0: never.
    pub max_size: u64,
    /// Files kept, the live one included (at least 1; 1 truncates instead of renaming).
    pub max_file: u32,
}

impl LogRotation {
    /// Whether the log is ever rotated.
    pub fn enabled(&self) -> bool {
        self.max_size > 0
    }
}

/// `<log>.<n>`, the name of the n-th rotated file (1 is the newest), as Docker names them.
pub fn rotated_path(log: &Path, n: u32) -> PathBuf {
    let mut s = log.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// Shifts `<log>.1..` up by one, dropping what would exceed `max_file` files, and moves `log`
/// to `<log>.1`. With `max_file <= 1` nothing is kept. A missing file is not an error.
pub fn shift_rotated(log: &Path, max_file: u32) -> io::Result<()> {
    let ignore_missing = |r: io::Result<()>| match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    };
    if max_file <= 1 {
        return ignore_missing(std::fs::remove_file(log));
    }
    ignore_missing(std::fs::remove_file(rotated_path(log, max_file - 1)))?;
    for n in (1..max_file - 1).rev() {
        ignore_missing(std::fs::rename(
            rotated_path(log, n),
            rotated_path(log, n + 1),
        ))?;
    }
    ignore_missing(std::fs::rename(log, rotated_path(log, 1)))
}

/// Opens the live log for appending (created 0640 when missing).
pub fn open_log(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

/// Appends container output to the log file, splitting it into lines per stream.
pub struct LogWriter {
    file: File,
    partial: [Vec<u8>; 2],
    entry: Vec<u8>,
    /// Where the file lives and how it rotates (`None`: never rotated).
    rotate: Option<(PathBuf, LogRotation)>,
    /// Bytes in the current file.
    size: u64,
}

impl LogWriter {
    /// Wraps an already opened (append-mode) log file.
    pub fn new(file: File) -> Self {
        LogWriter {
            file,
            partial: [Vec::new(), Vec::new()],
            entry: Vec::new(),
            rotate: None,
            size: 0,
        }
    }

    /// Wraps the log file opened at `path`, rotated by `rotation` (see [`LogRotation`]).
    pub fn rotating(file: File, path: PathBuf, rotation: LogRotation) -> Self {
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut w = LogWriter::new(file);
        if rotation.enabled() {
            w.rotate = Some((path, rotation));
            w.size = size;
        }
        w
    }

    /// Writes the complete entries in `self.entry`, rotating after any entry that brings the
    /// file to `max_size`: so a file holds at most `max_size` bytes plus one entry.
    fn write_entries(&mut self) -> io::Result<()> {
        let Some((path, rotation)) = &self.rotate else {
            return self.file.write_all(&self.entry);
        };
        let (path, rotation) = (path.clone(), *rotation);
        let mut start = 0;
        while start < self.entry.len() {
            let room = rotation.max_size.saturating_sub(self.size);
            // The end of the first entry that reaches max_size, else everything.
            let mut end = self.entry.len();
            let mut cut = false;
            let mut pos = start;
            while let Some(i) = self.entry[pos..].iter().position(|&b| b == b'\n') {
                let line_end = pos + i + 1;
                if (line_end - start) as u64 >= room {
                    end = line_end;
                    cut = true;
                    break;
                }
                pos = line_end;
            }
            self.file.write_all(&self.entry[start..end])?;
            self.size += (end - start) as u64;
            start = end;
            if cut {
                self.rotate_now(&path, rotation)?;
            }
        }
        Ok(())
    }

    /// Moves the full log aside and starts a new one. The old descriptor stays valid for
    /// readers that hold it (a follower drains it before moving on to the next file).
    fn rotate_now(&mut self, path: &Path, rotation: LogRotation) -> io::Result<()> {
        shift_rotated(path, rotation.max_file)?;
        self.file = open_log(path)?;
        self.size = 0;
        Ok(())
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
        self.write_entries()
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
        self.write_entries()
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

    #[test]
    fn rotates_at_max_size_keeping_max_file() {
        let dir = std::env::temp_dir().join(format!("berth-logrot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("container.log");
        let rotation = LogRotation {
            max_size: 200,
            max_file: 3,
        };
        let mut w = LogWriter::rotating(open_log(&path).unwrap(), path.clone(), rotation);
        let mut all = String::new();
        for i in 0..100 {
            all.push_str(&format!("line {i:03}\n"));
        }
        // One chunk of many lines still rotates between its entries.
        w.write_chunk(Stream::Stdout, all.as_bytes()).unwrap();
        assert!(!rotated_path(&path, 3).exists(), "more than max_file files");
        let mut texts = Vec::new();
        for p in [rotated_path(&path, 2), rotated_path(&path, 1), path.clone()] {
            let len = std::fs::metadata(&p).unwrap().len();
            // The entry that reached the limit stays in its file: at most one entry more.
            assert!(len < 200 + 60, "{} has {len} bytes", p.display());
            texts.extend(entries(&p));
        }
        let n: Vec<u32> = texts
            .iter()
            .map(|t| t.trim_start_matches("stdout F line ").parse().unwrap())
            .collect();
        assert!(n.windows(2).all(|w| w[1] == w[0] + 1), "{n:?}");
        assert_eq!(*n.last().unwrap(), 99);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

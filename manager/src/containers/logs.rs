//! Reading a container log written by its monitor: CRI format, one entry per line,
//! `<RFC3339Nano> <stdout|stderr> <F|P> <text>`; `F` entries lost their newline, `P` did not have one.

//!
//! A rotated log (`--log-opt max-size`) is a chain of files, `<log>.N` (oldest) … `<log>.1`,
//! `<log>` (live), renamed by the monitor as Docker's json-file driver names them; the readers
//! here read a chain in order and follow it across rotations by file identity.

use crate::monitor::{rotated_path, shift_rotated, LogRotation};
use berth_proto::v1 as pb;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Parses one log line into a `LogsResponse` (newline restored for `F`). `None` if malformed.
pub fn parse_entry(line: &str) -> Option<pb::LogsResponse> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let mut parts = line.splitn(4, ' ');
    let time = parts.next()?;
    let stream = parts.next()?;
    let tag = parts.next()?;
    let text = parts.next().unwrap_or("");
    let ts = chrono::DateTime::parse_from_rfc3339(time).ok()?;
    let stream = match stream {
        "stdout" => pb::LogStream::Stdout,
        "stderr" => pb::LogStream::Stderr,
        _ => return None,
    };
    let mut data = text.as_bytes().to_vec();
    match tag {
        "F" => data.push(b'\n'),
        "P" => {}
        _ => return None,
    }
    Some(pb::LogsResponse {
        stream: stream as i32,
        timestamp: Some(prost_types::Timestamp {
            seconds: ts.timestamp(),
            nanos: ts.timestamp_subsec_nanos() as i32,
        }),
        data,
    })
}

/// Reads every complete entry of `path` (absent file: none), keeping only the last `tail` when
/// given. Returns the entries and the byte offset after the last complete line.
pub fn read_entries(
    path: &Path,
    tail: Option<usize>,
) -> std::io::Result<(Vec<pb::LogsResponse>, u64)> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    };
    read_from(file, 0, tail)
}

/// Reads complete entries starting at `offset`; returns them and the new offset.
pub fn read_from(
    mut file: std::fs::File,
    offset: u64,
    tail: Option<usize>,
) -> std::io::Result<(Vec<pb::LogsResponse>, u64)> {
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = BufReader::new(file);
    let mut pos = offset;
    let mut out = std::collections::VecDeque::new();
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line)?;
        if n == 0 || !line.ends_with('\n') {
            break; // EOF or an entry still being written
        }
        pos += n as u64;
        if let Some(entry) = parse_entry(&line) {
            out.push_back(entry);
            if let Some(t) = tail {
                while out.len() > t {
                    out.pop_front();
                }
            }
        }
    }
    Ok((out.into(), pos))
}

/// The rotated files of `log` that exist, as (n, path) of `<log>.n`, newest (1) first.
fn rotated_files(log: &Path) -> std::io::Result<Vec<(u32, PathBuf)>> {
    let (Some(dir), Some(name)) = (log.parent(), log.file_name().and_then(|n| n.to_str())) else {
        return Ok(Vec::new());
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let prefix = format!("{name}.");
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(n) = file_name
            .to_str()
            .and_then(|f| f.strip_prefix(&prefix))
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        out.push((n, rotated_path(log, n)));
    }
    out.sort();
    Ok(out)
}

/// Identity of an open file, which survives its renames.
type FileId = (u64, u64);

fn file_id(f: &File) -> std::io::Result<FileId> {
    let m = f.metadata()?;
    Ok((m.dev(), m.ino()))
}

/// Opens the files of the chain newest first (`<log>`, `<log>.1`, …). Opening in that order
/// and dropping a file seen twice makes a rotation in between harmless: a file renamed after it
/// was opened is recognised, and nothing older than what was opened is skipped.
fn open_newest_first(log: &Path) -> std::io::Result<Vec<(File, FileId)>> {
    let mut paths = vec![log.to_path_buf()];
    paths.extend(rotated_files(log)?.into_iter().map(|(_, p)| p));
    let mut out: Vec<(File, FileId)> = Vec::new();
    for p in paths {
        let f = match File::open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let id = file_id(&f)?;
        if !out.iter().any(|(_, seen)| *seen == id) {
            out.push((f, id));
        }
    }
    Ok(out)
}

/// The paths of the chain that exist, oldest first.
pub fn chain_paths(log: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = rotated_files(log)?
        .into_iter()
        .rev()
        .map(|(_, p)| p)
        .collect();
    if log.exists() {
        paths.push(log.to_path_buf());
    }
    Ok(paths)
}

/// Bytes in every file of the chain.
pub fn chain_size(log: &Path) -> u64 {
    chain_paths(log)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// Reads every complete entry of the chain of `log`, oldest first, and returns them with a
/// follower positioned after the last one read.
pub fn read_chain(log: &Path) -> std::io::Result<(Vec<pb::LogsResponse>, LogFollower)> {
    let files = open_newest_first(log)?;
    let mut entries = Vec::new();
    let mut follower = LogFollower {
        log: log.to_path_buf(),
        current: None,
    };
    for (f, id) in files.into_iter().rev() {
        let (e, end) = read_from(f.try_clone()?, 0, None)?;
        entries.extend(e);
        follower.current = Some((f, id, end));
    }
    Ok((entries, follower))
}

/// Reads what is appended to a log chain, across rotations: after the file it reads reaches
/// its end and has been rotated away, it drains it and moves on to the next newer file.
pub struct LogFollower {
    log: PathBuf,
    /// The file being read, its identity and the offset after its last complete entry.
    current: Option<(File, FileId, u64)>,
}

impl LogFollower {
    /// Every complete entry written since the last call.
    pub fn poll(&mut self) -> std::io::Result<Vec<pb::LogsResponse>> {
        let mut out = Vec::new();
        if let Some((f, _, offset)) = &mut self.current {
            let (e, end) = read_from(f.try_clone()?, *offset, None)?;
            *offset = end;
            out.extend(e);
        }
        while let Some(next) = self.next_file()? {
            // The current file was rotated away, so its writer is done with it: what it got
            // after the read above is complete now.
            if let Some((f, _, offset)) = &mut self.current {
                let (e, _) = read_from(f.try_clone()?, *offset, None)?;
                out.extend(e);
            }
            let (f, id) = next;
            let (e, end) = read_from(f.try_clone()?, 0, None)?;
            out.extend(e);
            self.current = Some((f, id, end));
        }
        Ok(out)
    }

    /// The file written after the current one, if the monitor has moved on to it.
    fn next_file(&self) -> std::io::Result<Option<(File, FileId)>> {
        let mut files = open_newest_first(&self.log)?;
        let Some((_, current, _)) = &self.current else {
            // Nothing read yet: start with the oldest file there is.
            return Ok(files.pop());
        };
        match files.iter().position(|(_, id)| id == current) {
            Some(0) => Ok(None),
            Some(i) => Ok(Some(files.swap_remove(i - 1))),
            // Deleted (rotated past max-file): everything there is came after it.
            None => Ok(files.pop()),
        }
    }
}

/// Appends the chain of `live` (oldest first) to the log `archive`, rotating the archive as
/// `rotation` says, so a container's output survives its task and stays bounded.
pub fn append_chain(live: &Path, archive: &Path, rotation: LogRotation) -> std::io::Result<()> {
    let sources = chain_paths(live)?;
    if sources.is_empty() {
        return Ok(());
    }
    let open = |p: &Path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
    };
    let mut dst = open(archive)?;
    let mut size = dst.metadata()?.len();
    for src in sources {
        let mut reader = BufReader::new(File::open(&src)?);
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            if rotation.enabled() && size >= rotation.max_size {
                dst.flush()?;
                shift_rotated(archive, rotation.max_file)?;
                dst = open(archive)?;
                size = 0;
            }
            dst.write_all(&line)?;
            size += line.len() as u64;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_and_partial_entries_and_tails() {
        let dir = std::env::temp_dir().join(format!("berth-logs-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("container.log");
        let mut f = std::fs::File::create(&path).unwrap();
        write!(
            f,
            "2026-11-23T18:00:00.000000001Z stdout F hello\n\
             2026-11-23T18:00:00.5Z stderr P par\n\
             2026-11-23T18:00:01Z stdout F a b  c\n\
             2026-11-23T18:00:02Z stdout F incomplete"
        )
        .unwrap();
        let (all, off) = read_entries(&path, None).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].data, b"hello\n");
        assert_eq!(all[0].timestamp.as_ref().unwrap().nanos, 1);
        assert_eq!(all[1].data, b"par");
        assert_eq!(all[1].stream, pb::LogStream::Stderr as i32);
        assert_eq!(all[2].data, b"a b  c\n");
        let (last, _) = read_entries(&path, Some(1)).unwrap();
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].data, b"a b  c\n");
        let (none, _) = read_from(std::fs::File::open(&path).unwrap(), off, None).unwrap();
        assert!(none.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(read_entries(&path, None).unwrap().0.is_empty());
    }

    #[test]
    fn chains_read_in_order_and_followers_cross_rotations() {
        let dir = std::env::temp_dir().join(format!("berth-logchain-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("container.log");
        let entry = |n: u32| format!("2026-11-23T18:00:00Z stdout F {n}\n");
        let append = |n: u32| {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .unwrap();
            f.write_all(entry(n).as_bytes()).unwrap();
        };
        let texts = |v: Vec<pb::LogsResponse>| -> Vec<String> {
            v.into_iter()
                .map(|e| String::from_utf8(e.data).unwrap().trim_end().to_string())
                .collect()
        };
        append(1);
        shift_rotated(&log, 3).unwrap();
        append(2);
        let (first, mut follower) = read_chain(&log).unwrap();
        assert_eq!(texts(first), ["1", "2"]);
        // Written, rotated twice (the file the follower holds is dropped), written again.
        append(3);
        shift_rotated(&log, 3).unwrap();
        append(4);
        shift_rotated(&log, 3).unwrap();
        append(5);
        assert!(!rotated_path(&log, 3).exists());
        assert_eq!(texts(follower.poll().unwrap()), ["3", "4", "5"]);
        assert!(follower.poll().unwrap().is_empty());
        assert_eq!(chain_paths(&log).unwrap().len(), 3);
        // Archived with rotation (each 32-byte entry fills a file): every entry once, in order.
        let archive = dir.join("archive.log");
        let small = LogRotation {
            max_size: 30,
            max_file: 5,
        };
        append_chain(&log, &archive, small).unwrap();
        assert_eq!(chain_paths(&archive).unwrap().len(), 4);
        assert_eq!(texts(read_chain(&archive).unwrap().0), ["2", "3", "4", "5"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

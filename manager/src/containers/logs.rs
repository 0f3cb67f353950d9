//! Reading a container log written by its monitor: CRI format, one entry per line,
//! `<RFC3339Nano> <stdout|stderr> <F|P> <text>`; `F` entries lost their newline, `P` did not have one.

use berth_proto::v1 as pb;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

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
}

//! The process's home directory from the container's `/etc/passwd`, for `HOME` when the config's
//! environment lacks it (runc sets it the same way, and `/` when the uid has no entry).
//!
//! Called after pivot_root, so `/etc/passwd` is the container's and absolute symlinks resolve
//! inside its root; the file is opened without blocking (a FIFO there cannot hang `create`),
//! must be a regular file, and is read only up to [`MAX_PASSWD`] bytes.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;

/// The most of `/etc/passwd` that is read (a larger file is read up to here).
pub const MAX_PASSWD: u64 = 4 << 20;

/// The container's passwd file (read after pivot_root).
pub const PASSWD: &str = "/etc/passwd";

/// The home directory of `uid` in the passwd file at `path`; `/` when there is no such file,
/// it is not a regular file, or it has no entry for `uid`.
pub fn home_of(path: &str, uid: u32) -> String {
    read_bounded(path)
        .and_then(|text| home_in(&text, uid))
        .unwrap_or_else(|| "/".to_string())
}

fn read_bounded(path: &str) -> Option<String> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut buf = Vec::new();
    f.take(MAX_PASSWD).read_to_end(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// The home field of the first entry of `text` (passwd(5) format) whose uid is `uid`.
pub fn home_in(text: &str, uid: u32) -> Option<String> {
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 || f[2].trim().parse::<u32>().ok()? != uid {
            return None;
        }
        Some(f[5].to_string())
    })
}

/// True when `env` (`KEY=value` entries) sets `HOME`.
pub fn has_home(env: &[String]) -> bool {
    env.iter().any(|kv| kv.starts_with("HOME="))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_home_by_uid() {
        let t = "root:x:0:0:root:/root:/bin/sh\n# junk\nuser:x:1000:1000::/home/u:/bin/sh\n";
        assert_eq!(home_in(t, 0).as_deref(), Some("/root"));
        assert_eq!(home_in(t, 1000).as_deref(), Some("/home/u"));
        assert_eq!(home_in(t, 5), None);
        assert_eq!(home_of("/nonexistent/passwd", 0), "/");
        assert!(has_home(&["A=1".into(), "HOME=/x".into()]));
        assert!(!has_home(&["HOMEDIR=/x".into()]));
    }
}

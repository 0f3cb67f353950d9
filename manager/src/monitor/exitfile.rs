//! The exit record: written atomically (tmp + rename) before the monitor exits. Not fsynced: the
//! task's state dir is volatile (`/run/berth`); the record must outlive berthd and this monitor,
//! which the page cache ensures, not the kernel, after which the container is gone anyway (and
//! berthd keeps the exit in its database once it has read it). An fsync would delay every
//! client waiting for the exit (`berth run`, `berth exec`) by a journal commit.
//!
//! Format (one JSON object, hand-written to keep serde out of the monitor):
//! `{"pid":123,"code":137,"signal":9,"exited_at":"2026-…Z","oom":false}`; `signal` is `null`
//! when the process exited normally.

use super::layout::EXIT_FILE;
use super::timefmt::rfc3339_nanos;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;
use std::time::SystemTime;

/// How the container's init process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitRecord {
    /// Pid of the container init.
    pub pid: i32,
    /// Exit code; 128 + signal number when a signal ended the process.
    pub code: i32,
    /// The signal that ended the process, if any.
    pub signal: Option<i32>,
    /// When the monitor reaped the process.
    pub exited_at: SystemTime,
    /// Whether the container's memory cgroup recorded an OOM kill.
    pub oom: bool,
}

impl ExitRecord {
    /// Renders the record as one line of JSON.
    pub fn to_json(&self) -> String {
        let signal = self
            .signal
            .map_or_else(|| "null".to_string(), |s| s.to_string());
        format!(
            "{{\"pid\":{},\"code\":{},\"signal\":{},\"exited_at\":\"{}\",\"oom\":{}}}\n",
            self.pid,
            self.code,
            signal,
            rfc3339_nanos(self.exited_at),
            self.oom
        )
    }

    /// Writes the record to `<dir>/exit.json` so that readers see either nothing or all of it.
    pub fn write_atomic(&self, dir: &Path) -> io::Result<()> {
        let tmp = dir.join(format!("{EXIT_FILE}.tmp"));
        let mut f = File::create(&tmp)?;
        f.write_all(self.to_json().as_bytes())?;
        drop(f);
        fs::rename(&tmp, dir.join(EXIT_FILE))
    }

    /// Like [`ExitRecord::write_atomic`], but only if no record exists yet (`renameat2` with
    /// `RENAME_NOREPLACE`): after a monitor died, berthd and an adopting monitor may both learn
    /// the exit, and the first record stays. Returns whether this one was written.
    pub fn write_new(&self, dir: &Path) -> io::Result<bool> {
        let tmp = dir.join(format!("{EXIT_FILE}.{}.tmp", std::process::id()));
        let mut f = File::create(&tmp)?;
        f.write_all(self.to_json().as_bytes())?;
        drop(f);
        let cwd = nix::fcntl::AT_FDCWD;
        let renamed = nix::fcntl::renameat2(
            cwd,
            &tmp,
            cwd,
            &dir.join(EXIT_FILE),
            nix::fcntl::RenameFlags::RENAME_NOREPLACE,
        );
        match renamed {
            Ok(()) => Ok(true),
            Err(nix::errno::Errno::EEXIST) => {
                let _ = fs::remove_file(&tmp);
                Ok(false)
            }
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn write_new_keeps_the_first_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = ExitRecord {
            pid: 7,
            code: 42,
            signal: None,
            exited_at: UNIX_EPOCH + Duration::from_secs(1),
            oom: false,
        };
        assert!(r.write_new(dir.path()).unwrap());
        r.code = 1;
        assert!(!r.write_new(dir.path()).unwrap());
        let text = fs::read_to_string(dir.path().join(EXIT_FILE)).unwrap();
        assert!(text.contains("\"code\":42"), "{text}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn json_shape() {
        let r = ExitRecord {
            pid: 7,
            code: 137,
            signal: Some(9),
            exited_at: UNIX_EPOCH + Duration::from_secs(1),
            oom: true,
        };
        assert_eq!(
            r.to_json(),
            "{\"pid\":7,\"code\":137,\"signal\":9,\"exited_at\":\"1970-01-01T00:00:01.000000000Z\",\"oom\":true}\n"
        );
    }
}

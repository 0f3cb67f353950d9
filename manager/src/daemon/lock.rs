//! The directory locks: an exclusive `flock` on `<root>/berthd.lock` and on `<state>/berthd.lock`
//! that keeps a second berthd off the same root or state dir. The file holds the owner's pid so the
//! refusal can name it.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use super::DaemonError;

/// Held for the daemon's lifetime; the kernel drops the lock when the process exits.
#[derive(Debug)]
pub struct RootLock {
    _lock: Flock<File>,
    path: PathBuf,
}

impl RootLock {
    /// Takes the lock without waiting, or fails naming the pid that holds it; `what` names the
    /// directory in that error (`root`, `state dir`).
    pub fn acquire(path: &Path, what: &'static str) -> Result<Self, DaemonError> {
        let io = |op: &'static str| {
            let path = path.to_path_buf();
            move |source| DaemonError::Io { op, path, source }
        };
        let file = std::fs::OpenOptions::new()
            .mode(0o600)
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io("open"))?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => l,
            Err((mut file, nix::errno::Errno::EWOULDBLOCK)) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(DaemonError::AlreadyRunning {
                    what,
                    lock: path.to_path_buf(),
                    pid: (!pid.is_empty()).then(|| pid.to_string()),
                });
            }
            Err((_, errno)) => {
                return Err(DaemonError::Io {
                    op: "flock",
                    path: path.to_path_buf(),
                    source: errno.into(),
                })
            }
        };
        let _ = lock.as_fd();
        lock.set_len(0).map_err(io("truncate"))?;
        lock.rewind().map_err(io("seek"))?;
        writeln!(lock, "{}", std::process::id()).map_err(io("write"))?;
        lock.flush().map_err(io("write"))?;
        Ok(RootLock {
            _lock: lock,
            path: path.to_path_buf(),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

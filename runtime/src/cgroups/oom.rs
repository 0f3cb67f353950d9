//! OOM notifications for `events`: cgroup v1's `memory.oom_control` eventfd (registered through
//! `cgroup.event_control`), or cgroup2's `memory.events`, which the kernel marks modified (poll
//! POLLPRI) whenever a counter changes; an OOM kill is a rise of its `oom_kill` count.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::poll::PollFlags;

use super::stats::key_values;
use super::{fs, v1, Cgroup, CgroupError, Mode};

/// What an [`OomWatch`] waits on.
#[derive(Debug)]
enum Source {
    /// v1: the eventfd counts OOMs; the oom_control fd must stay open while registered.
    V1 {
        efd: OwnedFd,
        _control: File,
        dir: PathBuf,
    },
    /// v2: memory.events, re-read on each POLLPRI.
    V2 { events: File, last_kills: u64 },
}

/// A registered OOM notification for one cgroup.
#[derive(Debug)]
pub struct OomWatch {
    source: Source,
}

/// eventfd(2) with close-on-exec.
fn eventfd() -> std::io::Result<OwnedFd> {
    // SAFETY: eventfd takes two integers and returns a new fd or -1; no memory is shared.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by eventfd and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn oom_kills(f: &mut File, path: &Path) -> Result<u64, CgroupError> {
    let mut text = String::new();
    f.seek(SeekFrom::Start(0))
        .and_then(|_| f.read_to_string(&mut text))
        .map_err(|e| fs::io_err(path, e))?;
    Ok(key_values(&text).get("oom_kill").copied().unwrap_or(0))
}

impl Cgroup {
    /// Registers for OOM notifications of the container's memory cgroup.
    pub fn oom_watch(&self) -> Result<OomWatch, CgroupError> {
        if self.mode == Mode::Unified {
            let dir = self.unified.as_deref().ok_or_else(|| {
                CgroupError::Unsupported("OOM events without a cgroup2 directory".into())
            })?;
            let path = dir.join("memory.events");
            let mut events = File::open(&path).map_err(|e| fs::io_err(&path, e))?;
            let last_kills = oom_kills(&mut events, &path)?;
            return Ok(OomWatch {
                source: Source::V2 { events, last_kills },
            });
        }
        let dir = v1::need(&self.v1, "memory", "OOM events")?.to_path_buf();
        let control_path = dir.join("memory.oom_control");
        let control = File::open(&control_path).map_err(|e| fs::io_err(&control_path, e))?;
        let efd = eventfd().map_err(|e| fs::io_err(&dir, e))?;
        fs::write(
            &dir,
            "cgroup.event_control",
            &format!("{} {}", efd.as_raw_fd(), control.as_raw_fd()),
        )?;
        Ok(OomWatch {
            source: Source::V1 {
                efd,
                _control: control,
                dir,
            },
        })
    }
}

impl OomWatch {
    /// The fd to poll, and the events that mean "look again".
    pub fn poll_target(&self) -> (BorrowedFd<'_>, PollFlags) {
        match &self.source {
            Source::V1 { efd, .. } => (efd.as_fd(), PollFlags::POLLIN),
            Source::V2 { events, .. } => (events.as_fd(), PollFlags::POLLPRI),
        }
    }

    /// After the fd polled ready: how many OOM kills happened since the last call, or `None` when
    /// the cgroup is gone (v1 signals the eventfd on removal too).
    pub fn take(&mut self) -> Result<Option<u64>, CgroupError> {
        match &mut self.source {
            Source::V1 { efd, dir, .. } => {
                let mut buf = [0u8; 8];
                let mut f = File::from(efd.try_clone().map_err(|e| fs::io_err(&*dir, e))?);
                f.read_exact(&mut buf).map_err(|e| fs::io_err(&*dir, e))?;
                if !dir.join("memory.oom_control").exists() {
                    return Ok(None);
                }
                Ok(Some(u64::from_ne_bytes(buf)))
            }
            Source::V2 { events, last_kills } => {
                let path = PathBuf::from("memory.events");
                let kills = match oom_kills(events, &path) {
                    Ok(k) => k,
                    Err(_) => return Ok(None),
                };
                let new = kills.saturating_sub(*last_kills);
                *last_kills = kills;
                Ok(Some(new))
            }
        }
    }
}

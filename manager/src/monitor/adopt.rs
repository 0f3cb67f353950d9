//! Adopting a container init whose monitor died (`berth-monitor --adopt PID:START`).
//!
//! Nobody can become a running process's parent, so the adopting monitor watches the init
//! through a pidfd instead: it sees the exit when it happens, and reads the exit status the
//! kernel keeps for pidfd holders once the real parent (berthd as a subreaper, or pid 1)
//! has reaped it (`PIDFD_INFO_EXIT`). It exists so that the exit is learned even when berthd
//! is not running at that moment. The container's stdio died with the old monitor: there is
//! no log or attach to serve any more.

use super::args::MonitorArgs;
use super::exitfile::ExitRecord;
use super::layout::EXIT_FILE;
use super::oom::OomWatch;
use super::pidfd::{PidFd, REAP_WAIT};
use super::{nix_sys, sys, MonitorError};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::fs::File;
use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

/// Interval of the checks while waiting for the reap.
const REAP_POLL: Duration = Duration::from_millis(100);

/// Watches the init `pid` (which started at `start`) until it exits, then records its exit.
pub fn adopt(
    args: &MonitorArgs,
    pid: i32,
    start: u64,
    sync: &mut File,
) -> Result<(), MonitorError> {
    let dir = &args.state_dir;
    let init = PidFd::open(pid, Some(start))
        .map_err(sys(format!("pidfd_open {pid} (init of {})", args.id)))?
        .ok_or_else(|| MonitorError::Adopt {
            id: args.id.clone(),
            message: format!("process {pid} has exited or is another process"),
        })?;
    let oom = OomWatch::for_pid(pid);
    let me = std::process::id();
    let mut diag = super::take_state_dir(dir, me)?;
    let _ = writeln!(sync, "adopted {pid} {me}");
    let devnull = File::open("/dev/null").map_err(sys("open /dev/null"))?;
    let _ = std::mem::replace(sync, devnull);
    super::trim::drop_code_pages();

    loop {
        let mut fds = [PollFd::new(init.fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => break,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(nix_sys("poll pidfd")(e)),
        }
    }
    let exited_at = SystemTime::now();
    let deadline = Instant::now() + REAP_WAIT;
    let exit = loop {
        if dir.join(EXIT_FILE).exists() {
            // berthd, the parent, reaped it and recorded the exit.
            return Ok(());
        }
        if let Some(e) = init.reaped_exit() {
            break e;
        }
        if Instant::now() >= deadline {
            // Without the status there is nothing true to record: berthd reports the exit
            // as unknown.
            let _ = writeln!(
                diag,
                "{}: init {pid} exited but its status never became available",
                super::timefmt::rfc3339_nanos(SystemTime::now())
            );
            return Ok(());
        }
        std::thread::sleep(REAP_POLL);
    };
    let record = ExitRecord {
        pid,
        code: exit.code,
        signal: exit.signal,
        exited_at,
        oom: oom.as_ref().is_some_and(|o| o.oom_killed()),
    };
    record
        .write_new(dir)
        .map(|_| ())
        .map_err(sys(format!("write exit record in {}", dir.display())))
}

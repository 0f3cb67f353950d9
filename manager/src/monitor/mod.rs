//! The per-container monitor (`berth-monitor`): the job conmon or containerd-shim do.
//!
//! berthd starts it once per container. It detaches (double fork + setsid) so that it survives
//! berthd, becomes a child subreaper, runs `<runtime> create` so the container init becomes its
//! child, reports `created`/`error` on the sync descriptor, then holds the container's stdio,
//! logs its output, serves attach clients, reaps the init and records its exit durably.
//! With `--adopt` it instead watches the init of a container whose monitor died (see [`adopt`]).
//! Single-threaded, std + nix only: see docs/monitor.md for the protocols and file formats.

mod adopt;
pub mod args;
mod client;
mod create;
mod exitfile;
pub mod layout;
mod logfile;
mod oom;
pub mod pidfd;
pub mod protocol;
mod server;
pub mod timefmt;
mod trim;

pub use exitfile::ExitRecord;
pub use logfile::{rotated_path, shift_rotated, LogRotation, MAX_LINE};

use args::MonitorArgs;
use layout::{ATTACH_SOCKET, CONTAINER_LOG, MONITOR_LOG, MONITOR_PID};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::{fork, setsid, ForkResult};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Command;

/// Errors that end the monitor.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// A system call failed during setup.
    #[error("{what}: {source}")]
    Sys {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The runtime could not create the container (its error text).
    #[error("create container {id}: {message}")]
    Create {
        /// Container id.
        id: String,
        /// The runtime's error.
        message: String,
    },
    /// The init to adopt cannot be watched.
    #[error("adopt container {id}: {message}")]
    Adopt {
        /// Container id.
        id: String,
        /// Why.
        message: String,
    },
}

/// Which process returned from [`run`].
#[derive(Debug, PartialEq, Eq)]
pub enum Role {
    /// The short-lived process berthd started: it forked the monitor and should exit 0.
    Launcher,
    /// The detached monitor: the container has exited and its exit record is on disk.
    Monitor,
}

fn sys(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> MonitorError {
    let what = what.into();
    move |source| MonitorError::Sys { what, source }
}

fn nix_sys(what: &str) -> impl FnOnce(nix::errno::Errno) -> MonitorError + '_ {
    move |e| MonitorError::Sys {
        what: what.to_string(),
        source: e.into(),
    }
}

/// Runs the monitor for one container (see the module docs).
pub fn run(args: &MonitorArgs) -> Result<Role, MonitorError> {
    // Take ownership of the sync descriptor before forking so both processes agree on it.
    nix::fcntl::fcntl(
        // SAFETY: only checks that the number names an open descriptor.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(args.sync_fd) },
        nix::fcntl::FcntlArg::F_GETFD,
    )
    .map_err(nix_sys("sync descriptor"))?;
    // SAFETY: berthd passed this descriptor for our exclusive use; it is open (checked above)
    // and nothing else in this process owns it.
    let sync = unsafe { OwnedFd::from_raw_fd(args.sync_fd) };
    // The runtime and the container must not inherit it: berthd waits for its EOF.
    nix::fcntl::fcntl(
        &sync,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .map_err(nix_sys("set close-on-exec on the sync descriptor"))?;

    // SAFETY: the monitor is single-threaded here, so the child may run arbitrary code.
    match unsafe { fork() }.map_err(nix_sys("fork"))? {
        ForkResult::Parent { child } => {
            // berthd, a subreaper, becomes the monitor's parent: it learns the pid here so that
            // it can reap the monitor even if it fails before reporting anything else.
            let _ = nix::unistd::write(&sync, format!("monitor {child}\n").as_bytes());
            return Ok(Role::Launcher);
        }
        ForkResult::Child => {}
    }
    setsid().map_err(nix_sys("setsid"))?;
    // berthd may read our stderr until EOF: the detached monitor must not hold it.
    let devnull = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(sys("open /dev/null"))?;
    nix::unistd::dup2_stdin(&devnull).map_err(nix_sys("dup2 stdin"))?;
    nix::unistd::dup2_stdout(&devnull).map_err(nix_sys("dup2 stdout"))?;
    nix::unistd::dup2_stderr(&devnull).map_err(nix_sys("dup2 stderr"))?;
    drop(devnull);
    nix::sys::prctl::set_child_subreaper(true).map_err(nix_sys("PR_SET_CHILD_SUBREAPER"))?;
    nix::unistd::chdir(&args.state_dir).map_err(|e| MonitorError::Sys {
        what: format!("chdir {}", args.state_dir.display()),
        source: e.into(),
    })?;
    let mut sync = File::from(sync);
    let done = match args.adopt {
        Some((pid, start)) => adopt::adopt(args, pid, start, &mut sync),
        None => monitor(args, &mut sync),
    };
    match done {
        Ok(()) => Ok(Role::Monitor),
        Err(e) => {
            // Tell berthd if it is still waiting; the sync file closes when we return.
            // berthd already knows the id: report the runtime's own words for a failed create.
            let text = match &e {
                MonitorError::Create { message, .. } => message.clone(),
                other => other.to_string(),
            };
            let _ = writeln!(sync, "error {}", text.replace('\n', " "));
            Err(e)
        }
    }
}

/// Waits up to `timeout_secs` for one connection on `listener`.
fn accept_first(
    listener: &UnixListener,
    timeout_secs: u64,
) -> std::io::Result<std::os::unix::net::UnixStream> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let start = std::time::Instant::now();
    let limit = std::time::Duration::from_secs(timeout_secs);
    loop {
        let left = limit.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no client connected within {timeout_secs} s"),
            ));
        }
        let ms = u16::try_from(left.as_millis().min(1000)).unwrap_or(1000);
        let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
        match listener.accept() {
            Ok((stream, _)) => return Ok(stream),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Records `me` as the monitor of the state dir `dir` (its pid file, which berthd reads) and
/// opens the diagnostic log the monitor appends to.
fn take_state_dir(dir: &Path, me: u32) -> Result<File, MonitorError> {
    fs::write(dir.join(MONITOR_PID), format!("{me}\n"))
        .map_err(sys(format!("write {}", dir.join(MONITOR_PID).display())))?;
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(MONITOR_LOG))
        .map_err(sys(format!("open {}", dir.join(MONITOR_LOG).display())))
}

fn monitor(args: &MonitorArgs, sync: &mut File) -> Result<(), MonitorError> {
    let dir = &args.state_dir;
    let me = std::process::id();
    let diag = take_state_dir(dir, me)?;

    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    mask.thread_block().map_err(nix_sys("block SIGCHLD"))?;
    let sigchld = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(nix_sys("signalfd"))?;

    let sock = dir.join(ATTACH_SOCKET);
    let _ = fs::remove_file(&sock);
    // A long --state makes the full path overflow sun_path: bind through a short alias.
    let bind_path = layout::SocketPath::new(dir, ATTACH_SOCKET)
        .map_err(sys(format!("open {}", dir.display())))?;
    let listener =
        UnixListener::bind(bind_path.path()).map_err(sys(format!("bind {}", sock.display())))?;
    drop(bind_path);
    let log_path = dir.join(CONTAINER_LOG);
    let log_file =
        logfile::open_log(&log_path).map_err(sys(format!("open {}", log_path.display())))?;

    // An exec'd process runs as soon as the runtime starts it: its first client (berthd) must
    // be connected by then, or its first output would reach only the log.
    // Bounded: a client that never comes must not keep this monitor (and its exec dir) forever.
    // The process has not run yet, so failing here leaves nothing running.
    let first_client = if args.exec.is_some() && args.wait_attach {
        match accept_first(&listener, args.attach_timeout_secs) {
            Ok(c) => Some(c),
            Err(e) => {
                drop(listener);
                let _ = fs::remove_file(&sock);
                let message = format!("waiting for the exec client on {}: {e}", sock.display());
                let _ = writeln!(&diag, "exec not started: {message}");
                return Err(MonitorError::Create {
                    id: args.id.clone(),
                    message,
                });
            }
        }
    } else {
        None
    };

    // Keep the peak (VmHWM) low too: drop what startup touched before the runtime runs.
    trim::drop_code_pages();
    let created = match create::create(args, &sigchld) {
        Ok(c) => c,
        Err(message) if args.exec.is_some() => {
            // A failed exec leaves the container as it was: nothing to delete.
            let _ = fs::remove_file(&sock);
            return Err(MonitorError::Create {
                id: args.id.clone(),
                message,
            });
        }
        Err(message) => {
            let _ = fs::remove_file(&sock);
            // Leave nothing behind in the runtime if berthd is gone and cannot clean up.
            let _ = Command::new(&args.runtime)
                .arg("--root")
                .arg(&args.runtime_root)
                .args(["delete", "--force", &args.id])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
            return Err(MonitorError::Create {
                id: args.id.clone(),
                message,
            });
        }
    };
    let mut server = server::Server::new(
        created.init_pid,
        created.io,
        logfile::LogWriter::rotating(
            log_file,
            log_path,
            logfile::LogRotation {
                max_size: args.log_max_size,
                max_file: args.log_max_file,
            },
        ),
        listener,
        sigchld,
        diag,
        args.stdin,
    )
    .map_err(sys("set up monitor loop"))?;
    if args.exec.is_some() {
        // An OOM kill in the container's cgroup is the container's, not this process's.
        server.ignore_oom();
    }
    if let Some(client) = first_client {
        server
            .add_client(client)
            .map_err(sys("set up the exec client"))?;
    }
    // If berthd died meanwhile the write fails (EPIPE); the container still needs its monitor,
    // and a restarted berthd cleans up a create it never recorded.
    let _ = writeln!(sync, "created {} {me}", created.init_pid);
    // Closing our end tells berthd the report is complete.
    let devnull = File::open("/dev/null").map_err(sys("open /dev/null"))?;
    let _ = std::mem::replace(sync, devnull);

    trim::drop_code_pages();
    let (record, clients) = server.run();
    let write = record.write_atomic(dir);
    server::notify_exit(clients, &record);
    let _ = fs::remove_file(&sock);
    write.map_err(sys(format!("write exit record in {}", dir.display())))
}

//! Running `<runtime> create` so that the container init becomes the monitor's child.

use super::args::MonitorArgs;
use super::layout::{SocketPath, CONSOLE_SOCKET, INIT_PID, RUNTIME_LOG};
use crate::oci_runtime::log::last_error;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signalfd::SignalFd;
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use nix::unistd::pipe2;
use std::fs::{self, File};
use std::io::{IoSliceMut, Read};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The monitor's ends of the container's stdio.
pub enum ContainerIo {
    /// Pipes: write end of stdin (when kept open), read ends of stdout and stderr.
    Pipes {
        /// Write end of the container's stdin, `None` when stdin is /dev/null.
        stdin: Option<OwnedFd>,
        /// Read end of the container's stdout.
        stdout: OwnedFd,
        /// Read end of the container's stderr.
        stderr: OwnedFd,
    },
    /// The pty master the runtime sent over the console socket.
    Pty {
        /// The terminal's master side.
        master: OwnedFd,
    },
}

/// A created (not yet started) container.
pub struct Created {
    /// Pid of the container init (now a child of the monitor).
    pub init_pid: i32,
    /// The monitor's side of the container's stdio.
    pub io: ContainerIo,
}

/// Runs `runtime create`; on failure returns the runtime's own error text.
pub fn create(args: &MonitorArgs, sigchld: &SignalFd) -> Result<Created, String> {
    let dir = &args.state_dir;
    let log_path = dir.join(RUNTIME_LOG);
    let log_start = fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0);
    let mut cmd = Command::new(&args.runtime);
    cmd.arg("--root")
        .arg(&args.runtime_root)
        .arg("--log")
        .arg(&log_path)
        .args(["--log-format", "json"]);
    match &args.exec {
        // The exec'd process is the runtime's child; `--detach` leaves it to us (a subreaper),
        // so the rest of the monitor follows it exactly as it follows a container init.
        Some(process) => {
            cmd.args(["exec", "--detach", "--process"]).arg(process);
        }
        None => {
            cmd.args(["create", "--bundle"]).arg(&args.bundle);
        }
    }
    cmd.arg("--pid-file").arg(dir.join(INIT_PID));

    let mut console = None;
    let mut console_dir = None;
    let mut kept: Option<ContainerIo> = None;
    let mut stderr_read = None;
    if args.tty {
        let path = dir.join(CONSOLE_SOCKET);
        let _ = fs::remove_file(&path);
        // Kept open until the runtime has connected: its path may go through our descriptor.
        let short = SocketPath::new(dir, CONSOLE_SOCKET)
            .map_err(|e| format!("open {}: {e}", dir.display()))?;
        let listener = UnixListener::bind(short.path())
            .map_err(|e| format!("bind console socket {}: {e}", path.display()))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("console socket {}: {e}", path.display()))?;
        cmd.arg("--console-socket").arg(short.path_for_children());
        console_dir = Some(short);
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        let (r, w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe2: {e}"))?;
        cmd.stderr(Stdio::from(w));
        stderr_read = Some(r);
        console = Some(listener);
    } else {
        let stdin = if args.stdin {
            let (r, w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe2: {e}"))?;
            cmd.stdin(Stdio::from(r));
            Some(w)
        } else {
            cmd.stdin(Stdio::null());
            None
        };
        let (out_r, out_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe2: {e}"))?;
        let (err_r, err_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe2: {e}"))?;
        cmd.stdout(Stdio::from(out_w)).stderr(Stdio::from(err_w));
        kept = Some(ContainerIo::Pipes {
            stdin,
            stdout: out_r,
            stderr: err_r,
        });
    }
    cmd.arg(&args.id);

    let child = cmd
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", args.runtime.display()))?;
    // The container's ends of the pipes must close here, or the monitor never sees EOF.
    drop(cmd);
    let deadline = Instant::now() + Duration::from_secs(args.create_timeout_secs);
    let (status, master) = wait_runtime(child, console.as_ref(), sigchld, deadline, &args.runtime)?;
    if let Some(path) = console.is_some().then(|| dir.join(CONSOLE_SOCKET)) {
        let _ = fs::remove_file(path);
    }
    drop(console_dir);

    if !status.success() {
        let log = read_from(&log_path, log_start);
        let stderr_fd = match (&kept, &stderr_read) {
            (Some(ContainerIo::Pipes { stderr, .. }), _) => Some(stderr.as_fd()),
            (_, Some(r)) => Some(r.as_fd()),
            _ => None,
        };
        let msg = last_error(&log)
            .or_else(|| stderr_fd.and_then(read_available))
            .unwrap_or_else(|| {
                let verb = if args.exec.is_some() {
                    "exec"
                } else {
                    "create"
                };
                format!("{} {verb} exited with {status}", args.runtime.display())
            });
        return Err(msg);
    }
    let pid_path = dir.join(INIT_PID);
    let init_pid = fs::read_to_string(&pid_path)
        .map_err(|e| format!("read {}: {e}", pid_path.display()))?
        .trim()
        .parse::<i32>()
        .map_err(|e| format!("parse {}: {e}", pid_path.display()))?;
    let io = match (kept, master) {
        (Some(io), _) => io,
        (None, Some(master)) => ContainerIo::Pty { master },
        (None, None) => {
            return Err(format!(
                "{} create succeeded but sent no terminal on the console socket",
                args.runtime.display()
            ))
        }
    };
    Ok(Created { init_pid, io })
}

/// Waits for the runtime to exit, accepting the pty master meanwhile; kills it at `deadline`.
fn wait_runtime(
    mut child: Child,
    console: Option<&UnixListener>,
    sigchld: &SignalFd,
    deadline: Instant,
    runtime: &std::path::Path,
) -> Result<(ExitStatus, Option<OwnedFd>), String> {
    let mut master = None;
    loop {
        if let (Some(l), None) = (console, &master) {
            master = accept_master(l)?;
        }
        if let Some(status) = child
            .try_wait()
            .map_err(|e| format!("wait for {}: {e}", runtime.display()))?
        {
            if let (Some(l), None) = (console, &master) {
                master = accept_master(l)?;
            }
            return Ok((status, master));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            // Only the runtime process we started is killed.
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "{} create did not finish within the timeout; killed it",
                runtime.display()
            ));
        }
        let ms = u16::try_from(left.as_millis().min(1000)).unwrap_or(1000);
        let mut fds = vec![PollFd::new(sigchld.as_fd(), PollFlags::POLLIN)];
        if let (Some(l), None) = (console, &master) {
            fds.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(format!("poll: {e}")),
        }
        while let Ok(Some(_)) = sigchld.read_signal() {}
    }
}

/// Accepts one connection on the console socket and receives the pty master from it.
fn accept_master(listener: &UnixListener) -> Result<Option<OwnedFd>, String> {
    let (conn, _) = match listener.accept() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(None),
        Err(e) => return Err(format!("accept on console socket: {e}")),
    };
    conn.set_nonblocking(false)
        .map_err(|e| format!("console connection: {e}"))?;
    let mut buf = [0u8; 256];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 2]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| format!("recvmsg on console socket: {e}"))?;
    let mut master = None;
    for cmsg in msg
        .cmsgs()
        .map_err(|e| format!("console socket cmsgs: {e}"))?
    {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            for fd in fds {
                // SAFETY: the kernel installed this descriptor in our table for this message;
                // nothing else owns it.
                let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                if master.is_none() {
                    master = Some(owned);
                }
            }
        }
    }
    match master {
        Some(m) => Ok(Some(m)),
        None => Err("console socket message carried no file descriptor".into()),
    }
}

/// Reads the part of the runtime log written during this invocation.
fn read_from(path: &std::path::Path, start: u64) -> String {
    use std::io::{Seek, SeekFrom};
    let mut s = String::new();
    if let Ok(mut f) = File::open(path) {
        if f.seek(SeekFrom::Start(start)).is_ok() {
            let _ = f.read_to_string(&mut s);
        }
    }
    s
}

/// Reads what is buffered in a pipe without blocking (the runtime's stderr after a failure).
fn read_available(fd: std::os::fd::BorrowedFd<'_>) -> Option<String> {
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    if !matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0) {
        return None;
    }
    let mut buf = [0u8; 4096];
    let n = nix::unistd::read(fd, &mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf[..n]).trim().to_string();
    (!text.is_empty()).then_some(text)
}

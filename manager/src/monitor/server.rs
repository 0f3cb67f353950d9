//! The monitor's event loop after `create`: container output to the log and attach clients,
//! client input to the container, reaping children until the container init has exited.

use super::client::{Client, Request};
use super::create::ContainerIo;
use super::exitfile::ExitRecord;
use super::logfile::{LogWriter, Stream};
use super::oom::OomWatch;
use super::protocol::{M_EXIT, M_STDERR, M_STDOUT};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant, SystemTime};

/// How long output is still collected after the init exited (for processes that kept the
/// container's stdout open, e.g. without a pid namespace).
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);
/// Bytes read from the container per call. On the heap, allocated once: a busy writer (nginx's
/// access log under load) then costs one read and one log write per batch of lines, not per line.
const READ_CHUNK: usize = 64 * 1024;
/// Reads per wakeup before the loop polls again, so one busy stream cannot starve the others.
const READS_PER_WAKEUP: usize = 16;
/// Pipe capacity asked for the container's stdout/stderr (the default is 64 KiB): a burst of
/// output then waits in the pipe instead of blocking the writer while the monitor is descheduled.
const PIPE_SIZE: libc::c_int = 1024 * 1024;
/// End-of-file character sent when a client closes stdin on a terminal.
const VEOF: u8 = 0x04;

nix::ioctl_write_ptr_bad!(set_winsize, libc::TIOCSWINSZ, libc::winsize);

/// Where stdin from attach clients goes.
struct StdinSink {
    fd: OwnedFd,
    pending: Vec<u8>,
    close_requested: bool,
    tty: bool,
}

/// The running monitor.
pub struct Server {
    init_pid: i32,
    log: LogWriter,
    outputs: Vec<(OwnedFd, Stream)>,
    stdin: Option<StdinSink>,
    terminal: Option<OwnedFd>,
    listener: UnixListener,
    clients: Vec<Client>,
    sigchld: SignalFd,
    oom: Option<OomWatch>,
    exit: Option<(WaitStatus, SystemTime, Instant)>,
    diag: File,
    read_buf: Vec<u8>,
}

impl Server {
    /// Prepares the loop for a created container.
    pub fn new(
        init_pid: i32,
        io: ContainerIo,
        log: LogWriter,
        listener: UnixListener,
        sigchld: SignalFd,
        diag: File,
        keep_stdin: bool,
    ) -> io::Result<Self> {
        listener.set_nonblocking(true)?;
        let (outputs, stdin, terminal) = match io {
            ContainerIo::Pipes {
                stdin,
                stdout,
                stderr,
            } => {
                let stdin = stdin.map(|fd| StdinSink {
                    fd,
                    pending: Vec::new(),
                    close_requested: false,
                    tty: false,
                });
                (
                    vec![(stdout, Stream::Stdout), (stderr, Stream::Stderr)],
                    stdin,
                    None,
                )
            }
            ContainerIo::Pty { master } => {
                let writer = master.try_clone()?;
                let control = master.try_clone()?;
                let stdin = keep_stdin.then_some(StdinSink {
                    fd: writer,
                    pending: Vec::new(),
                    close_requested: false,
                    tty: true,
                });
                (vec![(master, Stream::Stdout)], stdin, Some(control))
            }
        };
        for (fd, _) in &outputs {
            set_nonblocking(fd.as_fd())?;
            grow_pipe(fd.as_fd());
        }
        if let Some(s) = &stdin {
            set_nonblocking(s.fd.as_fd())?;
        }
        Ok(Server {
            init_pid,
            log,
            outputs,
            stdin,
            terminal,
            listener,
            clients: Vec::new(),
            sigchld,
            oom: OomWatch::for_pid(init_pid),
            exit: None,
            diag,
            read_buf: vec![0u8; READ_CHUNK],
        })
    }

    /// Serves `stream` as an attach client from the start (before any output is read).
    pub fn add_client(&mut self, stream: std::os::unix::net::UnixStream) -> io::Result<()> {
        self.clients.push(Client::new(stream)?);
        Ok(())
    }

    /// Never reports an OOM kill (for an exec'd process, which shares the container's cgroup).
    pub fn ignore_oom(&mut self) {
        self.oom = None;
    }

    /// Runs until the init has exited and its output is drained; returns its exit record and
    /// the clients still attached (to be told once the record is on disk).
    pub fn run(mut self) -> (ExitRecord, Vec<Client>) {
        // The SIGCHLD of a process that exited while the runtime ran (a quick exec'd command)
        // was consumed waiting for the runtime: look for it once before waiting for more.
        self.reap();
        loop {
            let timeout = match &self.exit {
                Some((_, _, at)) => {
                    let left = DRAIN_AFTER_EXIT.saturating_sub(at.elapsed());
                    if self.outputs.is_empty() || left.is_zero() {
                        break;
                    }
                    PollTimeout::from(u16::try_from(left.as_millis()).unwrap_or(u16::MAX))
                }
                None => PollTimeout::NONE,
            };
            let ready = match self.poll_once(timeout) {
                Ok(r) => r,
                Err(e) => {
                    self.note(&format!("poll: {e}"));
                    continue;
                }
            };
            self.handle(ready);
        }
        self.finish()
    }

    /// Polls every descriptor; returns the revents in the order [sigchld, listener, outputs…,
    /// stdin?, clients…].
    fn poll_once(&self, timeout: PollTimeout) -> Result<Vec<PollFlags>, Errno> {
        let mut fds = vec![
            PollFd::new(self.sigchld.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.listener.as_fd(), PollFlags::POLLIN),
        ];
        for (fd, _) in &self.outputs {
            fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
        }
        if let Some(s) = &self.stdin {
            let want = if s.pending.is_empty() {
                PollFlags::empty()
            } else {
                PollFlags::POLLOUT
            };
            fds.push(PollFd::new(s.fd.as_fd(), want));
        }
        for c in &self.clients {
            let mut want = PollFlags::POLLIN;
            if c.wants_write() {
                want |= PollFlags::POLLOUT;
            }
            fds.push(PollFd::new(c.stream.as_fd(), want));
        }
        match poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
        Ok(fds
            .iter()
            .map(|f| f.revents().unwrap_or(PollFlags::empty()))
            .collect())
    }

    fn handle(&mut self, ready: Vec<PollFlags>) {
        let any = |f: PollFlags| !f.is_empty();
        // Indexes into `ready` follow the layout built by poll_once, fixed before anything is
        // removed below.
        let n_out = self.outputs.len();
        let stdin_idx = self.stdin.as_ref().map(|_| 2 + n_out);
        let client_base = 2 + n_out + usize::from(stdin_idx.is_some());
        let n_clients = self.clients.len();
        if any(ready[0]) {
            self.reap();
        }
        // Clients first: broadcasting output below may drop clients and shift their indexes.
        // Back to front so that swap_remove only moves entries already handled.
        for i in (0..n_clients).rev() {
            if any(ready[client_base + i]) {
                self.serve_client(i);
            }
        }
        // Accept before reading output: berthd connects (the connection is queued) before it asks
        // the runtime to start the container, so a client accepted here sees the first bytes the
        // container writes. Reading output first would send them only to the log.
        if any(ready[1]) {
            self.accept_clients();
        }
        if let (Some(idx), Some(s)) = (stdin_idx, &mut self.stdin) {
            if ready[idx].intersects(PollFlags::POLLERR | PollFlags::POLLHUP) {
                // Nobody can read the container's stdin any more; polling it would spin.
                self.stdin = None;
            } else if any(ready[idx]) {
                flush_stdin(s);
            }
        }
        for i in (0..n_out).rev() {
            if any(ready[2 + i]) {
                self.read_output(i);
            }
        }
        if let Some(s) = &mut self.stdin {
            if s.pending.is_empty() && s.close_requested {
                self.stdin = None;
            }
        }
    }

    fn reap(&mut self) {
        while let Ok(Some(_)) = self.sigchld.read_signal() {}
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
                Ok(status) => {
                    if status.pid() == Some(Pid::from_raw(self.init_pid)) && self.exit.is_none() {
                        self.exit = Some((status, SystemTime::now(), Instant::now()));
                    }
                }
                Err(Errno::EINTR) => {}
                Err(e) => {
                    self.note(&format!("waitpid: {e}"));
                    break;
                }
            }
        }
    }

    fn read_output(&mut self, i: usize) {
        let mut buf = std::mem::take(&mut self.read_buf);
        for _ in 0..READS_PER_WAKEUP {
            if !self.read_output_once(i, &mut buf) {
                break;
            }
        }
        self.read_buf = buf;
    }

    /// One read from output `i`; true when there may be more to read right away.
    fn read_output_once(&mut self, i: usize, buf: &mut [u8]) -> bool {
        let (fd, stream) = (&self.outputs[i].0, self.outputs[i].1);
        match nix::unistd::read(fd.as_fd(), buf) {
            Ok(0) | Err(Errno::EIO) => {
                // EIO is how a pty master reports that every slave side has closed.
                if let Err(e) = self.log.finish(stream) {
                    self.note(&format!("write log: {e}"));
                }
                self.outputs.remove(i);
                false
            }
            Ok(n) => {
                if let Err(e) = self.log.write_chunk(stream, &buf[..n]) {
                    self.note(&format!("write log: {e}"));
                }
                let kind = if stream == Stream::Stdout {
                    M_STDOUT
                } else {
                    M_STDERR
                };
                self.broadcast(kind, &buf[..n]);
                // A short read emptied the pipe: back to poll rather than an EAGAIN read.
                n == buf.len()
            }
            Err(Errno::EINTR) => true,
            Err(Errno::EAGAIN) => false,
            Err(e) => {
                self.note(&format!("read {}: {e}", stream.name()));
                self.outputs.remove(i);
                false
            }
        }
    }

    fn broadcast(&mut self, kind: u8, data: &[u8]) {
        let mut i = 0;
        while i < self.clients.len() {
            let c = &mut self.clients[i];
            let keep = c.queue(kind, data) && matches!(c.flush(), Ok(true));
            if keep {
                i += 1;
            } else {
                self.clients.swap_remove(i);
            }
        }
    }

    fn accept_clients(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => match Client::new(stream) {
                    Ok(c) => self.clients.push(c),
                    Err(e) => self.note(&format!("attach client: {e}")),
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.note(&format!("accept on attach socket: {e}"));
                    break;
                }
            }
        }
    }

    fn serve_client(&mut self, i: usize) {
        let requests = match self.clients[i].read_requests() {
            Ok(Some(r)) => r,
            Ok(None) => {
                self.clients.swap_remove(i);
                return;
            }
            Err(e) => {
                self.note(&format!("attach client: {e}"));
                self.clients.swap_remove(i);
                return;
            }
        };
        for r in requests {
            self.apply(r);
        }
        if !matches!(self.clients[i].flush(), Ok(true)) {
            self.clients.swap_remove(i);
        }
    }

    fn apply(&mut self, request: Request) {
        match request {
            Request::Stdin(data) => {
                if let Some(s) = &mut self.stdin {
                    if !s.close_requested {
                        s.pending.extend_from_slice(&data);
                        flush_stdin(s);
                    }
                }
            }
            Request::CloseStdin => {
                if let Some(s) = &mut self.stdin {
                    if s.tty {
                        s.pending.push(VEOF);
                        flush_stdin(s);
                    } else {
                        s.close_requested = true;
                    }
                }
            }
            Request::Resize { rows, cols } => {
                if let Some(t) = &self.terminal {
                    let ws = libc::winsize {
                        ws_row: rows,
                        ws_col: cols,
                        ws_xpixel: 0,
                        ws_ypixel: 0,
                    };
                    // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which is valid
                    // for the duration of the call; the fd is our pty master.
                    if let Err(e) = unsafe { set_winsize(t.as_raw_fd(), &ws) } {
                        self.note(&format!("TIOCSWINSZ: {e}"));
                    }
                }
            }
        }
    }

    /// Flushes logs, records the exit and tells attached clients.
    fn finish(mut self) -> (ExitRecord, Vec<Client>) {
        for (_, stream) in std::mem::take(&mut self.outputs) {
            if let Err(e) = self.log.finish(stream) {
                self.note(&format!("write log: {e}"));
            }
        }
        let (status, exited_at) = match &self.exit {
            Some((s, t, _)) => (*s, *t),
            None => (WaitStatus::StillAlive, SystemTime::now()),
        };
        let (code, signal) = match status {
            WaitStatus::Exited(_, code) => (code, None),
            WaitStatus::Signaled(_, sig, _) => (128 + sig as i32, Some(sig as i32)),
            _ => (255, None),
        };
        let record = ExitRecord {
            pid: self.init_pid,
            code,
            signal,
            exited_at,
            oom: self.oom.as_ref().is_some_and(|o| o.oom_killed()),
        };
        (record, self.clients)
    }

    fn note(&mut self, msg: &str) {
        let _ = writeln!(
            self.diag,
            "{}: {msg}",
            super::timefmt::rfc3339_nanos(SystemTime::now())
        );
    }
}

/// Sends the exit record to every client still attached, waiting briefly for slow readers.
pub fn notify_exit(clients: Vec<Client>, record: &ExitRecord) {
    for mut c in clients {
        let _ = c.stream.set_nonblocking(false);
        let _ = c.stream.set_write_timeout(Some(Duration::from_secs(1)));
        c.queue(M_EXIT, record.to_json().as_bytes());
        let _ = c.flush();
    }
}

fn flush_stdin(s: &mut StdinSink) {
    while !s.pending.is_empty() {
        match nix::unistd::write(&s.fd, &s.pending) {
            Ok(n) => {
                s.pending.drain(..n);
            }
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return,
            Err(_) => {
                // The container closed its stdin: nothing more can be delivered.
                s.pending.clear();
                s.close_requested = true;
                return;
            }
        }
    }
}

/// Enlarges a pipe to [`PIPE_SIZE`] where the kernel allows it (pipe-max-size); a terminal or a
/// refused size keeps the default, which is only slower under bursts.
fn grow_pipe(fd: BorrowedFd<'_>) {
    let _ = fcntl(fd, FcntlArg::F_SETPIPE_SZ(PIPE_SIZE));
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

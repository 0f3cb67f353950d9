//! A tiny `--console-socket` receiver: a unix listener that accepts the runtime's connection
//! and takes the pty master out of the SCM_RIGHTS message.

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// A listening console socket; the pty master arrives on a background thread.
pub struct ConsoleSocket {
    /// Path to pass as `--console-socket`.
    pub path: PathBuf,
    rx: Receiver<Result<OwnedFd, String>>,
}

impl ConsoleSocket {
    /// Binds `path` and waits (in the background, up to 60 s) for one connection.
    pub fn bind(path: &Path) -> Self {
        let listener =
            UnixListener::bind(path).unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
        listener.set_nonblocking(true).unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let start = Instant::now();
            let res = loop {
                match listener.accept() {
                    Ok((s, _)) => {
                        let _ = s.set_nonblocking(false);
                        break recv_fd(s.as_raw_fd());
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if start.elapsed() > Duration::from_secs(60) {
                            break Err("no connection on console socket within 60 s".into());
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => break Err(format!("accept: {e}")),
                }
            };
            let _ = tx.send(res);
        });
        ConsoleSocket {
            path: path.to_path_buf(),
            rx,
        }
    }

    /// The pty master the runtime sent; panics after `timeout`.
    pub fn master(&self, timeout: Duration) -> OwnedFd {
        match self.rx.recv_timeout(timeout) {
            Ok(Ok(fd)) => fd,
            Ok(Err(e)) => panic!("console socket: {e}"),
            Err(e) => panic!("console socket: no pty master received: {e}"),
        }
    }
}

/// Receives one file descriptor passed with SCM_RIGHTS on socket `sock`.
pub fn recv_fd(sock: i32) -> Result<OwnedFd, String> {
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(|e| format!("recvmsg: {e}"))?;
    for c in msg.cmsgs().map_err(|e| format!("cmsgs: {e}"))? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel just installed this fd in our table for us; we own it.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    Err("message carried no SCM_RIGHTS fd".into())
}

/// Reads from a pty master until the slave side is closed (EIO) or `timeout` passes.
pub fn read_pty(master: &OwnedFd, timeout: Duration) -> String {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut out = Vec::new();
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    while start.elapsed() < timeout {
        let mut fds = [PollFd::new(
            std::os::fd::AsFd::as_fd(master),
            PollFlags::POLLIN,
        )];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        }
        match nix::unistd::read(master, &mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => continue,
            Err(_) => break, // EIO: every slave fd is closed.
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes all of `data` to the pty master.
pub fn write_pty(master: &OwnedFd, data: &[u8]) {
    let mut off = 0;
    while off < data.len() {
        match nix::unistd::write(master, &data[off..]) {
            Ok(n) => off += n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => panic!("write to pty master: {e}"),
        }
    }
}

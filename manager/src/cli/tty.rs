//! The client's terminal: raw mode for `-it`, its window size, restored on drop.

use nix::sys::termios::{self, SetArg, Termios};
use std::os::fd::{AsFd, BorrowedFd};

/// Puts stdin's terminal in raw mode until dropped.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Enters raw mode if stdin is a terminal; `None` when it is not.
    pub fn enter() -> anyhow::Result<Option<Self>> {
        let stdin = std::io::stdin();
        let fd = stdin.as_fd();
        if !nix::unistd::isatty(fd).unwrap_or(false) {
            return Ok(None);
        }
        let saved =
            termios::tcgetattr(fd).map_err(|e| anyhow::anyhow!("tcgetattr on stdin: {e}"))?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(fd, SetArg::TCSANOW, &raw)
            .map_err(|e| anyhow::anyhow!("tcsetattr raw on stdin: {e}"))?;
        Ok(Some(Self { saved }))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let stdin = std::io::stdin();
        // Best effort: nothing useful to do if the terminal went away.
        let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

/// The window size (columns, rows) of the terminal on `fd`, if it is one.
pub fn window_size(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    use std::os::fd::AsRawFd;
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into the pointer we pass, which points to a live,
    // properly aligned local; the fd is borrowed and thus open for the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_col > 0).then_some((ws.ws_col, ws.ws_row))
}

/// The client's terminal size, looked up on stdout then stdin.
pub fn client_window_size() -> Option<(u16, u16)> {
    window_size(std::io::stdout().as_fd()).or_else(|| window_size(std::io::stdin().as_fd()))
}

//! Names of the files in a task's state directory, shared by the monitor and the task manager.

/// Pid of the monitor process (decimal, newline-terminated).
pub const MONITOR_PID: &str = "monitor.pid";
/// Pid of the container init, written by the runtime's `--pid-file`.
pub const INIT_PID: &str = "init.pid";
/// Unix socket on which the monitor serves attach clients.
pub const ATTACH_SOCKET: &str = "attach.sock";
/// Unix socket on which the monitor receives the pty master from the runtime (`-t` only).
pub const CONSOLE_SOCKET: &str = "console.sock";
/// The container's stdout/stderr, one CRI-format entry per line (see docs/monitor.md).
pub const CONTAINER_LOG: &str = "container.log";
/// JSON log the runtime writes through `--log … --log-format json`.
pub const RUNTIME_LOG: &str = "runtime.log";
/// The monitor's own diagnostics after it has detached from berthd.
pub const MONITOR_LOG: &str = "monitor.log";
/// Exit record written atomically by the monitor before it exits.
pub const EXIT_FILE: &str = "exit.json";
/// Task metadata written by the task manager (bundle, stdio options, runtime).
pub const TASK_FILE: &str = "task.json";

/// Longest unix socket path the kernel accepts (`sun_path` is 108 bytes, NUL included).
pub const MAX_SOCKET_PATH: usize = 107;

/// A path to the socket `name` in `dir` that fits in `sun_path` however long `dir` is.
///
/// Short enough paths are used as they are. Longer ones go through the process's own
/// descriptor for `dir`, `/proc/self/fd/<fd>/<name>`, which the kernel resolves like any path
/// (so it works for `connect` and `bind`) and which is always short. Keep the value alive while
/// the path is in use: dropping it closes the descriptor.
#[derive(Debug)]
pub struct SocketPath {
    path: std::path::PathBuf,
    name: String,
    dir: Option<std::os::fd::OwnedFd>,
}

impl SocketPath {
    /// Resolves `dir/name`, opening `dir` (`O_PATH`) only when the plain path is too long.
    pub fn new(dir: &std::path::Path, name: &str) -> std::io::Result<SocketPath> {
        use std::os::fd::AsRawFd;
        use std::os::unix::ffi::OsStrExt;
        let full = dir.join(name);
        if full.as_os_str().as_bytes().len() <= MAX_SOCKET_PATH {
            return Ok(SocketPath {
                path: full,
                name: name.to_string(),
                dir: None,
            });
        }
        let fd = nix::fcntl::open(
            dir,
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(std::io::Error::from)?;
        Ok(SocketPath {
            path: format!("/proc/self/fd/{}/{name}", fd.as_raw_fd()).into(),
            name: name.to_string(),
            dir: Some(fd),
        })
    }

    /// The path to pass to `connect`/`bind`.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The path for a child process (e.g. the runtime's `--console-socket`), which does not
    /// inherit our close-on-exec descriptor: it names it through our pid instead of `self`.
    pub fn path_for_children(&self) -> std::path::PathBuf {
        use std::os::fd::AsRawFd;
        match &self.dir {
            Some(fd) => format!(
                "/proc/{}/fd/{}/{}",
                std::process::id(),
                fd.as_raw_fd(),
                self.name
            )
            .into(),
            None => self.path.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_directories_get_a_short_path_that_reaches_the_socket() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a".repeat(60)).join("b".repeat(60));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(std::os::unix::net::UnixListener::bind(dir.join(ATTACH_SOCKET)).is_err());
        let bind = SocketPath::new(&dir, ATTACH_SOCKET).unwrap();
        assert!(bind.path().starts_with("/proc/self/fd/"));
        let _listener = std::os::unix::net::UnixListener::bind(bind.path()).unwrap();
        assert!(dir.join(ATTACH_SOCKET).exists());
        let connect = SocketPath::new(&dir, ATTACH_SOCKET).unwrap();
        std::os::unix::net::UnixStream::connect(connect.path()).unwrap();
    }

    #[test]
    fn short_directories_keep_the_plain_path() {
        let p = SocketPath::new(std::path::Path::new("/tmp"), ATTACH_SOCKET).unwrap();
        assert_eq!(p.path(), std::path::Path::new("/tmp/attach.sock"));
    }
}

//! The gRPC unix socket: bound with mode 0660 and removed again on shutdown, or the one systemd
//! passed (berthd.socket, `LISTEN_FDS`), which systemd owns and keeps.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;

use super::DaemonError;

/// Owns the socket path; dropping it removes the socket file.
#[derive(Debug)]
pub struct SocketGuard {
    path: PathBuf,
}

/// The socket systemd passed as fd 3 (socket activation, contrib/systemd/berthd.socket), if any.
/// `LISTEN_PID` must name this process, so a socket meant for a parent is never taken.
pub fn from_systemd() -> Result<Option<UnixListener>, DaemonError> {
    let io = |source| DaemonError::Io {
        op: "take the socket passed by systemd (LISTEN_FDS)",
        path: PathBuf::from("fd 3"),
        source,
    };
    // sd_listen_fds(3): without a LISTEN_PID naming us the fds are not ours (listenfd alone
    // would take them when LISTEN_PID is unset).
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    if !ours {
        return Ok(None);
    }
    let mut fds = listenfd::ListenFd::from_env();
    if fds.len() == 0 {
        return Ok(None);
    }
    let Some(std_listener) = fds.take_unix_listener(0).map_err(io)? else {
        return Ok(None);
    };
    // systemd passes the fd inheritable; monitors and runtimes must not hold the socket open.
    nix::fcntl::fcntl(
        &std_listener,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .map_err(|e| io(e.into()))?;
    std_listener.set_nonblocking(true).map_err(io)?;
    UnixListener::from_std(std_listener).map(Some).map_err(io)
}

/// Binds `path`. A stale socket file left by a crashed daemon is replaced: the caller holds the root
/// lock, so no live daemon of this root owns it.
pub fn bind(path: &Path) -> Result<(UnixListener, SocketGuard), DaemonError> {
    let io = |op: &'static str| {
        let path = path.to_path_buf();
        move |source| DaemonError::Io { op, path, source }
    };
    // Not a private_dir: clients must reach the socket's directory (by default the 0711 state
    // dir, which exists by now); the socket's own mode decides who may connect.
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io("create directory for"))?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(DaemonError::AddressInUse(path.to_path_buf()));
            }
            std::fs::remove_file(path).map_err(io("remove stale socket"))?;
        }
        Ok(_) => return Err(DaemonError::AddressInUse(path.to_path_buf())),
        Err(_) => {}
    }
    let listener = UnixListener::bind(path).map_err(io("bind"))?;
    let guard = SocketGuard {
        path: path.to_path_buf(),
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(io("chmod"))?;
    Ok((listener, guard))
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot remove socket");
            }
        }
    }
}

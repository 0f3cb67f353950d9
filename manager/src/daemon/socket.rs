//! The gRPC unix socket: bound with mode 0660, removed again on shutdown.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;

use super::DaemonError;

/// Owns the socket path; dropping it removes the socket file.
#[derive(Debug)]
pub struct SocketGuard {
    path: PathBuf,
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

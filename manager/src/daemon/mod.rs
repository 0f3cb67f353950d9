//! berthd itself: startup (directories, root lock, stores), the gRPC server on a unix socket, and
//! clean shutdown on SIGTERM/SIGINT (stop serving, close the database, remove the socket, unlock).

pub mod context;
pub mod host;
mod lock;
mod reaper;
pub mod services;
mod signals;
mod socket;
pub mod version;
pub mod wiring;

use std::path::PathBuf;

use tokio_stream::wrappers::UnixListenerStream;

use crate::config::Config;
pub use context::Context;
pub use lock::RootLock;

/// Daemon startup and serving failures.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Another berthd holds the root or state lock.
    #[error("another berthd is already running on this {what} (lock {lock} held{})",
        pid.as_ref().map(|p| format!(" by pid {p}")).unwrap_or_default())]
    AlreadyRunning {
        /// Which directory: `root` or `state dir`.
        what: &'static str,
        /// The lock file.
        lock: PathBuf,
        /// Pid recorded in the lock file, if readable.
        pid: Option<String>,
    },
    /// Something else answers on the socket path.
    #[error("socket address {0} is in use by another process")]
    AddressInUse(PathBuf),
    /// A file system operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was attempted.
        op: &'static str,
        /// Path involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// berthd could not become a child subreaper (needed to learn exits of containers whose
    /// monitor died).
    #[error("prctl(PR_SET_CHILD_SUBREAPER): {0}")]
    Subreaper(nix::errno::Errno),
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    /// The container subsystem (tasks, snapshots) could not be set up or recovered.
    #[error(transparent)]
    Containers(#[from] wiring::WiringError),
    /// The content store failed to open.
    #[error(transparent)]
    Content(#[from] crate::content::ContentError),
    /// The metadata database failed to open.
    #[error(transparent)]
    Metadata(#[from] crate::metadata::MetadataError),
    /// The `[registries]` section of the config is invalid.
    #[error("config: {0}")]
    RegistryConfig(String),
    /// The snapshotter failed to open.
    #[error(transparent)]
    Snapshots(#[from] crate::snapshots::SnapshotError),
    /// The CRI streaming server could not bind its address.
    #[error(transparent)]
    CriStreaming(#[from] crate::cri::streaming::BindError),
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Serve(#[from] tonic::transport::Error),
    /// The server task panicked or was cancelled.
    #[error("gRPC server task failed: {0}")]
    ServerTask(String),
}

/// How long in-flight calls may run after SIGTERM before they are cut off.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Creates (or re-secures) a top directory: see [`crate::private_dir::secure_top`].
fn make_dir(path: &std::path::Path, mode: u32) -> Result<(), DaemonError> {
    crate::private_dir::secure_top(path, mode).map_err(|source| DaemonError::Io {
        op: "create or secure directory",
        path: path.to_path_buf(),
        source,
    })
}

/// Tells systemd about a state change when it started berthd with `NOTIFY_SOCKET`; without it
/// this does nothing, and a failure only costs systemd's view of the state, so it is logged.
fn notify_systemd(state: sd_notify::NotifyState<'_>) {
    if let Err(e) = sd_notify::notify(&[state]) {
        tracing::warn!(error = %e, "cannot notify systemd (NOTIFY_SOCKET)");
    }
}

/// Runs the daemon until SIGTERM or SIGINT. Returns after the server stopped, the database closed and
/// the socket was removed.
pub async fn run(config: Config) -> Result<(), DaemonError> {
    make_dir(&config.root, crate::private_dir::PRIVATE)?;
    make_dir(&config.state, crate::private_dir::TRAVERSE_ONLY)?;
    let lock = RootLock::acquire(&config.lock_path(), "root")?;
    // One file when root and state are the same directory (a second flock would refuse us).
    let state_lock = if config.state_lock_path() == config.lock_path() {
        None
    } else {
        Some(RootLock::acquire(&config.state_lock_path(), "state dir")?)
    };
    let shutdown = signals::shutdown_signal()?;
    // Before any monitor starts: they must become berthd's children (see tasks::orphan).
    crate::tasks::become_subreaper().map_err(DaemonError::Subreaper)?;
    // Orphans that nobody waits for (runc's leftovers, monitors not followed) must not stay
    // zombies under berthd.
    let reaper = reaper::start()?;
    let ctx = Context::open(config)?;
    ctx.containers.recover().await?;
    let (listener, socket_guard) = match socket::from_systemd()? {
        Some(l) => (l, None),
        None => {
            let (l, guard) = socket::bind(&ctx.config.address)?;
            (l, Some(guard))
        }
    };
    tracing::info!(
        address = %ctx.config.address.display(),
        socket_activated = socket_guard.is_none(),
        root = %ctx.config.root.display(),
        state = %ctx.config.state.display(),
        version = version::VERSION,
        "berthd serving"
    );
    let routes = services::routes(&ctx);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let cri = services::serve_cri(&ctx)?;
    let mut server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_routes(routes)
            .serve_with_incoming_shutdown(UnixListenerStream::new(listener), async {
                let _ = stop_rx.await;
            }),
    );
    // Type=notify (contrib/systemd/berthd.service): clients may connect from here on.
    notify_systemd(sd_notify::NotifyState::Ready);
    let result = tokio::select! {
        sig = shutdown => {
            tracing::info!(signal = sig, "shutting down");
            notify_systemd(sd_notify::NotifyState::Stopping);
            let _ = stop_tx.send(());
            // Streaming calls (events, logs -f, attach) never end on their own: give in-flight calls
            // a grace period, then drop them.
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
                Ok(joined) => joined,
                Err(_) => {
                    tracing::warn!(grace = ?SHUTDOWN_GRACE, "calls still running after the grace period; closing them");
                    server.abort();
                    Ok(Ok(()))
                }
            }
        }
        joined = &mut server => joined,
    };
    let result = match result {
        Ok(r) => r.map_err(DaemonError::from),
        Err(join) => Err(DaemonError::ServerTask(join.to_string())),
    };
    if let Some(cri) = cri {
        cri.stop().await;
    }
    drop(socket_guard);
    drop(ctx);
    reaper.abort();
    tracing::info!(lock = %lock.path().display(), "berthd stopped");
    drop(state_lock);
    drop(lock);
    result
}

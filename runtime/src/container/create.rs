//! `create`: set everything up and leave the init waiting on the exec fifo.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::sys::stat::Mode;
use nix::unistd::{chown, mkfifo, Gid, Uid};

use crate::cgroups::{Cgroup, FreezerState};
use crate::config::{self, Bundle};
use crate::error::Context;
use crate::process::{parent, CreateCtx};
use crate::state_dir::{self, Phase, State, EXEC_FIFO};
use crate::{namespaces, Error, Result};

/// `create` flags.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Bundle directory (`-b`).
    pub bundle: PathBuf,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `--console-socket`.
    pub console_socket: Option<PathBuf>,
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// `--no-new-keyring`: keep the caller's session keyring instead of joining a new one.
    pub no_new_keyring: bool,
    /// `--preserve-fds`.
    pub preserve_fds: u32,
    /// `run --keep`: a foreground run leaves the stopped container for `delete`.
    pub keep: bool,
}

/// runc 1.1's second line about a non-empty cgroup.
const NON_EMPTY_DEPRECATED: &str = "DEPRECATED: running container in a non-empty cgroup won't be \
     supported in runc 1.2; https://github.com/opencontainers/runc/issues/3132";

/// Creates container `id` under `root`. On error nothing is left behind.
/// `warn` gets what runc logs as warnings while creating (a non-empty cgroup).
pub fn create(
    root: &Path,
    id: &str,
    opts: &CreateOptions,
    warn: &mut dyn FnMut(&str),
) -> Result<State> {
    crate::id::validate(id)?;
    let bundle = config::load(&opts.bundle)?;
    create_with(root, id, opts, &bundle, None, warn)
}

/// `create` of an already loaded `bundle` (foreground `run` reads it first for `terminal`),
/// with an already connected console socket (`run` with its own pty).
pub(crate) fn create_with(
    root: &Path,
    id: &str,
    opts: &CreateOptions,
    bundle: &Bundle,
    console: Option<OwnedFd>,
    warn: &mut dyn FnMut(&str),
) -> Result<State> {
    crate::id::validate(id)?;
    if let Some(w) = config::version_warning(&bundle.spec) {
        warn(&w);
    }
    let process = bundle.spec.process().as_ref();
    let terminal = process.and_then(|p| p.terminal()).unwrap_or(false);
    if terminal && opts.console_socket.is_none() && console.is_none() {
        return Err(Error::InvalidArgument(
            "cannot allocate tty if runc will detach without setting console socket".into(),
        ));
    }
    if !terminal && opts.console_socket.is_some() {
        return Err(Error::InvalidArgument(
            "cannot use console socket if runc will not detach or allocate tty".into(),
        ));
    }
    state_dir::secure_root(root)?;
    let dir = state_dir::container_dir(root, id);
    // mkdir is the atomic claim on the id: a concurrent create of the same id gets EEXIST.
    match fs::DirBuilder::new().mode(0o711).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::Exists(id.to_string()))
        }
        Err(e) => {
            return Err(Error::Io {
                context: format!("create state dir {}", dir.display()),
                source: e,
            })
        }
    }
    let mut cgroup: Option<Cgroup> = None;
    let res = create_in(&dir, id, opts, bundle, console, &mut cgroup, warn);
    if res.is_err() {
        if let Some(cg) = &cgroup {
            let _ = cg.destroy();
        }
        let _ = fs::remove_dir_all(&dir);
    }
    res
}

fn create_in(
    dir: &Path,
    id: &str,
    opts: &CreateOptions,
    bundle: &Bundle,
    console: Option<OwnedFd>,
    cgroup_slot: &mut Option<Cgroup>,
    warn: &mut dyn FnMut(&str),
) -> Result<State> {
    let linux = bundle
        .spec
        .linux()
        .as_ref()
        .ok_or_else(|| Error::InvalidArgument("config has no linux section".into()))?;
    let cgroup = Cgroup::new(linux.cgroups_path().as_deref(), id)?;
    // A process joining a frozen cgroup stops at once and the init never reports: refuse, as runc.
    if matches!(
        cgroup.state(),
        Ok(FreezerState::Frozen | FreezerState::Freezing)
    ) {
        return Err(Error::WrongState(
            "container's cgroup unexpectedly frozen".into(),
        ));
    }
    // runc 1.1 warns (and 1.2 refuses): processes already there would be killed, frozen and
    // limited with the container's. A cgroup that cannot be read is not worth a warning.
    if let Ok(n) = cgroup.pids_in_tree().map(|p| p.len()) {
        if n > 0 {
            warn(&format!(
                "container's cgroup is not empty: {n} process(es) found"
            ));
            warn(NON_EMPTY_DEPRECATED);
        }
    }
    let mut st = State {
        id: id.to_string(),
        init_pid: 0,
        init_start_time: 0,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        annotations: bundle.spec.annotations().clone().unwrap_or_default(),
        hooks: bundle.spec.hooks().clone(),
        cgroup: Some(cgroup.clone()),
        phase: Phase::Creating,
        resources: linux.resources().clone(),
    };
    // Recorded before any cgroup, process or mount exists: a create killed from here on (SIGKILL
    // cannot be caught, so no rollback runs) leaves a record that `delete --force` undoes.
    st.save(dir)?;
    *cgroup_slot = Some(cgroup.clone());

    let fifo = dir.join(EXEC_FIFO);
    mkfifo(&fifo, Mode::from_bits_truncate(0o622)).ctx(|| format!("mkfifo {}", fifo.display()))?;
    fs::set_permissions(&fifo, fs::Permissions::from_mode(0o622))
        .ctx(|| format!("chmod {}", fifo.display()))?;
    // The init opens the fifo after switching to the container user: root of the container must own it.
    let map_err = |e: namespaces::IdMapError| Error::Config {
        path: bundle.dir.join("config.json"),
        msg: e.to_string(),
    };
    let uid = namespaces::host_id("uidMappings", linux.uid_mappings().as_deref(), 0)
        .map_err(map_err)?
        .unwrap_or(0);
    let gid = namespaces::host_id("gidMappings", linux.gid_mappings().as_deref(), 0)
        .map_err(map_err)?
        .unwrap_or(0);
    chown(&fifo, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
        .ctx(|| format!("chown {}", fifo.display()))?;

    let socket = match (&opts.console_socket, console) {
        (_, Some(fd)) => Some(fd),
        (Some(path), None) => {
            Some(OwnedFd::from(UnixStream::connect(path).ctx(|| {
                format!("connect to console socket {}", path.display())
            })?))
        }
        (None, None) => None,
    };
    let fifo_fd = nix::fcntl::open(
        &fifo,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| format!("open {}", fifo.display()))?;
    let ctx = CreateCtx {
        id,
        bundle,
        fifo,
        fifo_fd: fifo_fd.as_raw_fd(),
        console_socket: socket.as_ref().map(|s| s.as_raw_fd()),
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        preserve_fds: opts.preserve_fds,
    };
    let pid = parent::spawn(&ctx, &cgroup, &mut st)?;
    drop(socket);
    drop(fifo_fd);
    let kill_init = |e: Error| {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
        e
    };
    st.init_start_time = state_dir::proc_stat(pid.as_raw())
        .map(|(_, t)| t)
        .ok_or_else(|| kill_init(Error::Init(format!("container init {pid} vanished"))))?;
    st.phase = Phase::Created;
    st.save(dir).map_err(kill_init)?;
    if let Some(pid_file) = &opts.pid_file {
        state_dir::write_atomic(pid_file, pid.to_string().as_bytes(), 0o644).map_err(kill_init)?;
    }
    Ok(st)
}

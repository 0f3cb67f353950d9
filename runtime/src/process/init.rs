//! The container init: sets up the rootfs and the process, reports ready, blocks on the exec fifo until
//! `start`, then execs the user program directly (no re-exec of berth-runc).
//!
//! It stays non-dumpable until exec, so other processes in the container cannot open its
//! `/proc/<pid>/{exe,fd}`; and it closes every inherited fd except stdio and `--preserve-fds` before
//! touching the container's cwd (CVE-2024-21626).

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{open, OFlag};
use nix::sys::prctl;
use nix::sys::signal::{SigSet, SigmaskHow};
use nix::sys::stat::{umask, Mode};
use nix::unistd::{chdir, execve, setgroups, sethostname, setresgid, setresuid, setsid, Gid, Uid};
use oci_spec::runtime::LinuxNamespaceType;

use super::channel::Channel;
use super::message::Message;
use super::{CreateCtx, STAGE_FAILED};
use crate::error::Context;
use crate::rootfs::mounts::MountEnv;
use crate::rootfs::securejoin::secure_join;
use crate::state_dir::Status;
use crate::{capabilities, console, hooks, namespaces, rlimits, rootfs, Error, Result};

/// What the init holds between "ready" and exec.
struct Prepared {
    fifo: RawFd,
    exe: CString,
    args: Vec<CString>,
    env: Vec<CString>,
    host_pid: i32,
}

/// Runs the init stage; never returns (execs the user program or exits).
pub fn main(ctx: &CreateCtx<'_>, chan: &Channel) -> ! {
    let prepared = match setup(ctx, chan) {
        Ok(p) => p,
        Err(e) => {
            let _ = chan.send(&Message::Error(e.to_string()));
            std::process::exit(STAGE_FAILED)
        }
    };
    if let Err(e) = chan.send(&Message::Ready) {
        let _ = write_stderr(&format!("berth-runc init: {e}"));
        std::process::exit(STAGE_FAILED)
    }
    match finish(ctx, prepared) {
        Ok(never) => match never {},
        Err(e) => {
            let _ = write_stderr(&format!("berth-runc init: {e}"));
            std::process::exit(STAGE_FAILED)
        }
    }
}

fn write_stderr(msg: &str) -> std::io::Result<()> {
    use std::io::Write;
    writeln!(std::io::stderr(), "{msg}")
}

fn setup(ctx: &CreateCtx<'_>, chan: &Channel) -> Result<Prepared> {
    prctl::set_dumpable(false).ctx(|| "prctl(PR_SET_DUMPABLE, 0)".into())?;
    close_stray_fds(ctx, chan.raw())?;
    setsid().ctx(|| "setsid".into())?;
    if !ctx.no_new_keyring {
        let name = format!("_ses.{}", ctx.id);
        crate::syscall::join_session_keyring(&name)
            .ctx(|| format!("join session keyring {name}"))?;
    }
    // Directories created under the rootfs get 0755, like runc's.
    umask(Mode::from_bits_truncate(0o022));
    let spec = &ctx.bundle.spec;
    let linux = ctx.linux()?;
    let process = ctx.process()?;
    let rootfs = &ctx.bundle.rootfs;
    let env = MountEnv {
        userns: namespaces::has(linux, LinuxNamespaceType::User),
        cgroupns: namespaces::creates(linux, LinuxNamespaceType::Cgroup),
    };
    if namespaces::has(linux, LinuxNamespaceType::Mount) {
        rootfs::prepare(spec, rootfs, &ctx.bundle.dir, env)?;
    } else {
        return Err(Error::InvalidArgument(
            "a mount namespace is required".into(),
        ));
    }
    // The cwd is created before pivot_root, resolved inside the rootfs.
    let cwd_host = secure_join(rootfs, process.cwd())?;
    std::fs::create_dir_all(&cwd_host).ctx(|| format!("create cwd {}", process.cwd().display()))?;
    let fifo = ctx.fifo_fd;

    let hooks = spec.hooks().as_ref();
    chan.send(&Message::HooksRequest)?;
    let host_pid = match chan.recv()? {
        Some(Message::HooksDone(pid)) => pid,
        Some(Message::Error(e)) => return Err(Error::Init(e)),
        other => {
            return Err(Error::Init(format!(
                "unexpected reply to hooks request: {other:?}"
            )))
        }
    };
    if let Some(h) = hooks.and_then(|h| h.create_container().as_deref()) {
        hooks::run(
            "createContainer",
            h,
            &hook_state(ctx, host_pid, Status::Creating),
        )?;
    }

    if ctx.no_pivot {
        rootfs::pivot::move_chroot(rootfs)?;
    } else {
        rootfs::pivot::pivot(rootfs)?;
    }
    rootfs::finalize(spec)?;
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        sethostname(h).ctx(|| format!("sethostname {h}"))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        set_domainname(d)?;
    }
    if process.terminal().unwrap_or(false) {
        let sock = ctx.console_socket.ok_or_else(|| {
            Error::InvalidArgument("terminal requested without a console socket".into())
        })?;
        let size = process
            .console_size()
            .as_ref()
            .map(|b| (b.height() as u16, b.width() as u16));
        console::setup(
            sock,
            size,
            rootfs::dev_nodes::needs_dev_setup(spec.mounts().as_deref().unwrap_or_default()),
        )?;
        let _ = nix::unistd::close(sock);
    }
    rlimits::apply(process.rlimits().as_deref().unwrap_or_default())?;
    if let Some(adj) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .ctx(|| "write /proc/self/oom_score_adj".into())?;
    }

    let env_list: Vec<String> = process.env().clone().unwrap_or_default();
    let args = process.args().as_deref().unwrap_or_default();
    let exe = find_executable(&args[0], &env_list)?;

    set_user(ctx)?;
    chdir(process.cwd())
        .ctx(|| format!("chdir to cwd ({:?}) set in config.json", process.cwd()))?;
    check_cwd_inside_root()?;
    if process.no_new_privileges().unwrap_or(false) {
        prctl::set_no_new_privs().ctx(|| "prctl(PR_SET_NO_NEW_PRIVS)".into())?;
    }
    umask(Mode::from_bits_truncate(
        process.user().umask().unwrap_or(0o022),
    ));

    let cstr = |s: &[u8]| {
        CString::new(s).map_err(|_| {
            Error::InvalidArgument(format!("NUL byte in {:?}", String::from_utf8_lossy(s)))
        })
    };
    Ok(Prepared {
        fifo,
        exe: cstr(exe.as_os_str().as_bytes())?,
        args: args
            .iter()
            .map(|a| cstr(a.as_bytes()))
            .collect::<Result<_>>()?,
        env: env_list
            .iter()
            .map(|e| cstr(e.as_bytes()))
            .collect::<Result<_>>()?,
        host_pid,
    })
}

fn finish(ctx: &CreateCtx<'_>, p: Prepared) -> Result<Infallible> {
    // Blocks until `start` opens the fifo for reading.
    let path = format!("/proc/self/fd/{}", p.fifo);
    let w = open(
        path.as_str(),
        OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "open exec fifo for writing".into())?;
    nix::unistd::write(&w, b"0").ctx(|| "write exec fifo".into())?;
    // `w` stays open (close-on-exec) through the startContainer hooks: `start` reads until EOF,
    // which comes at our execve, so its poststart hooks run after the process started (as runc).
    let _ = nix::unistd::close(p.fifo);
    if let Some(h) = ctx
        .bundle
        .spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().as_deref())
    {
        hooks::run(
            "startContainer",
            h,
            &hook_state(ctx, p.host_pid, Status::Created),
        )?;
    }
    reset_signals();
    let e = execve(&p.exe, &p.args, &p.env).ctx(|| format!("exec {:?}", p.exe));
    drop(w);
    e
}

fn hook_state(ctx: &CreateCtx<'_>, pid: i32, status: Status) -> String {
    let empty = Default::default();
    let s = crate::state_dir::HookState {
        oci_version: crate::OCI_VERSION,
        id: ctx.id,
        status,
        pid,
        bundle: &ctx.bundle.dir,
        annotations: ctx.bundle.spec.annotations().as_ref().unwrap_or(&empty),
    };
    serde_json::to_string(&s).unwrap_or_default()
}

/// Closes every fd except stdio, `--preserve-fds`, the channel and the console socket; marks the
/// preserved ones inheritable.
fn close_stray_fds(ctx: &CreateCtx<'_>, chan: RawFd) -> Result<()> {
    let keep_until = 3 + ctx.preserve_fds as RawFd;
    let dir = std::fs::read_dir("/proc/self/fd").ctx(|| "read /proc/self/fd".into())?;
    let fds: Vec<RawFd> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds {
        if fd < 3 || fd == chan || fd == ctx.fifo_fd || Some(fd) == ctx.console_socket {
            continue;
        }
        if fd < keep_until {
            let _ = crate::syscall::clear_cloexec(fd);
        } else {
            // The read_dir fd itself is already closed here; EBADF is fine.
            let _ = nix::unistd::close(fd);
        }
    }
    Ok(())
}

/// After chdir: a cwd outside the container's root (through a leaked host fd) shows up as unreachable.
fn check_cwd_inside_root() -> Result<()> {
    match std::env::current_dir() {
        Ok(p) if p.is_absolute() && !p.starts_with("(unreachable)") => Ok(()),
        Ok(p) => Err(Error::InvalidArgument(format!(
            "cwd {} is outside the container root",
            p.display()
        ))),
        Err(e) => Err(Error::Io {
            context: "cwd is outside the container root".into(),
            source: e,
        }),
    }
}

/// Groups, gids, uid and capabilities, in the order the kernel allows.
fn set_user(ctx: &CreateCtx<'_>) -> Result<()> {
    let process = ctx.process()?;
    let user = process.user();
    let caps = process.capabilities().as_ref();
    capabilities::drop_bounding(caps)?;
    let linux = ctx.linux()?;
    let userns = namespaces::has(linux, LinuxNamespaceType::User);
    let groups: Vec<Gid> = user
        .additional_gids()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    let setgroups_denied = userns
        && std::fs::read_to_string("/proc/self/setgroups")
            .map(|s| s.trim() == "deny")
            .unwrap_or(false);
    if !setgroups_denied {
        setgroups(&groups).ctx(|| format!("setgroups {groups:?}"))?;
    }
    prctl::set_keepcaps(true).ctx(|| "prctl(PR_SET_KEEPCAPS)".into())?;
    let (uid, gid) = (Uid::from_raw(user.uid()), Gid::from_raw(user.gid()));
    setresgid(gid, gid, gid).ctx(|| format!("setresgid {gid}"))?;
    setresuid(uid, uid, uid).ctx(|| format!("setresuid {uid}"))?;
    capabilities::apply(caps)?;
    prctl::set_keepcaps(false).ctx(|| "prctl(PR_SET_KEEPCAPS, 0)".into())
}

/// Resolves the program like execvp, inside the container (after pivot_root), with the process's PATH.
fn find_executable(arg0: &str, env: &[String]) -> Result<PathBuf> {
    let not_found = || {
        Error::InvalidArgument(format!(
            "exec: {arg0:?}: executable file not found in $PATH"
        ))
    };
    if arg0.contains('/') {
        return match std::fs::metadata(arg0) {
            Ok(m) if is_executable(&m) => Ok(PathBuf::from(arg0)),
            Ok(_) => Err(Error::InvalidArgument(format!(
                "exec: {arg0:?}: permission denied"
            ))),
            Err(e) => Err(Error::Io {
                context: format!("exec: {arg0:?}"),
                source: e,
            }),
        };
    }
    let path = env
        .iter()
        .rev()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .ok_or_else(not_found)?;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(arg0);
        if let Ok(m) = std::fs::metadata(&candidate) {
            if is_executable(&m) {
                return Ok(candidate);
            }
        }
    }
    Err(not_found())
}

fn is_executable(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.is_file() && m.permissions().mode() & 0o111 != 0
}

/// Restores default dispositions (Rust ignores SIGPIPE) and an empty signal mask for the user program.
fn reset_signals() {
    crate::syscall::reset_signal_dispositions();
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

fn set_domainname(name: &str) -> Result<()> {
    crate::syscall::set_domainname(name).ctx(|| format!("setdomainname {name}"))
}

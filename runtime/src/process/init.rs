//! The container init: sets up the rootfs and the process, reports ready, blocks on the exec fifo until
//! `start`, then execs the user program directly (no re-exec of berth-runc).
//!
//! It stays non-dumpable until exec, so other processes in the container cannot open its
//! `/proc/<pid>/{exe,fd}`; and it closes every inherited fd except stdio and `--preserve-fds` before
//! touching the container's cwd (CVE-2024-21626).

use std::convert::Infallible;
use std::os::fd::RawFd;

use nix::fcntl::{open, OFlag};
use nix::sys::prctl;
use nix::sys::stat::{umask, Mode};
use nix::unistd::{sethostname, setsid};
use oci_spec::runtime::LinuxNamespaceType;

use super::channel::Channel;
use super::message::Message;
use super::{finalize, CreateCtx, STAGE_FAILED};
use crate::error::Context;
use crate::rootfs::mounts::MountEnv;
use crate::rootfs::securejoin::secure_join;
use crate::seccomp::{self, LoadPoint};
use crate::state_dir::Status;
use crate::{console, hooks, namespaces, rootfs, Error, Result};

/// What the init holds between "ready" and exec.
struct Prepared {
    fifo: RawFd,
    program: finalize::Program,
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
    if namespaces::creates(linux, LinuxNamespaceType::Network) {
        crate::network::loopback_up()?;
    }
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
    let userns = namespaces::has(linux, LinuxNamespaceType::User);
    let program = finalize::prepare(process, userns, &mut |stage| {
        let point = match stage {
            finalize::Stage::BeforeUserChange => LoadPoint::BeforeUserChange,
            finalize::Stage::Last => LoadPoint::Last,
        };
        seccomp::load_at(point, linux, process, chan, seccomp::Source::Parent)
    })?;
    Ok(Prepared {
        fifo,
        program,
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
    let e = finalize::exec(&p.program);
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

/// Closes every fd except stdio, `--preserve-fds`, the channel, the exec fifo and the console socket.
fn close_stray_fds(ctx: &CreateCtx<'_>, chan: RawFd) -> Result<()> {
    let mut keep = vec![chan, ctx.fifo_fd];
    keep.extend(ctx.console_socket);
    finalize::close_fds_except(ctx.preserve_fds, &keep)
}

fn set_domainname(name: &str) -> Result<()> {
    crate::syscall::set_domainname(name).ctx(|| format!("setdomainname {name}"))
}

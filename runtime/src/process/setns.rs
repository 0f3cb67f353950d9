//! The processes `exec` starts to run a new program in a running container.
//!
//! The parent forks an *intermediate*, puts it in the container's cgroup (so everything it starts
//! is accounted there before any user code runs), then lets it join the container's namespaces
//! (the user namespace first, which grants the rights for the rest, then ipc, uts, net, pid,
//! mount, cgroup and time, the order runc's nsexec uses). Joining a pid namespace only applies to
//! children, so the intermediate clones the new process with `CLONE_PARENT` (a child of the
//! parent, which can wait for it) and exits. The new process finishes through the same path as
//! the container init ([`super::finalize`]) and execs the program.
//!
//! The channel is close-on-exec: the parent learns that the program runs when the channel
//! reaches EOF without an error message.

use std::os::fd::{AsFd, OwnedFd, RawFd};

use nix::sched::setns;
use nix::sys::prctl;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, setsid, ForkResult, Pid};
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};

use super::channel::{self, Channel};
use super::message::Message;
use super::{finalize, STAGE_FAILED};
use crate::error::Context;
use crate::seccomp::LoadPoint;
use crate::{console, namespaces, rlimits, seccomp, Error, Result};

/// What the stages of `exec` need; the forked stages read it from their copy of the parent's memory.
#[derive(Debug)]
pub struct ExecCtx<'a> {
    /// Container id (names the session keyring).
    pub id: &'a str,
    /// The process to run, with every `exec` flag applied.
    pub process: &'a Process,
    /// The container's config: its `linux.seccomp` filter is loaded into the process, and a
    /// notify listener is sent to the agent with its annotations.
    pub spec: &'a Spec,
    /// Absolute bundle directory (for the seccomp agent's state).
    pub bundle: &'a std::path::Path,
    /// Host pid of the container's init (for the seccomp agent's state).
    pub init_pid: i32,
    /// The container init's namespaces that differ from ours, in the order they are joined.
    pub namespaces: &'a [(LinuxNamespaceType, OwnedFd)],
    /// Connected `--console-socket` (or exec's own socketpair end) when the process has a terminal.
    pub console_socket: Option<RawFd>,
    /// `--preserve-fds N`.
    pub preserve_fds: u32,
}

impl ExecCtx<'_> {
    /// True when the process joins a user namespace (setgroups may then be denied).
    fn userns(&self) -> bool {
        self.namespaces
            .iter()
            .any(|(t, _)| *t == LinuxNamespaceType::User)
    }
}

/// Starts the process; `place` puts the intermediate into the container's cgroup. Returns the
/// new process's pid (in our pid namespace) once it has exec'd its program. On failure every
/// process started here is killed and reaped.
pub fn spawn(ctx: &ExecCtx<'_>, place: &dyn Fn(Pid) -> Result<()>) -> Result<Pid> {
    let (ours, theirs) = channel::pair()?;
    // SAFETY: berth-runc never starts threads, so the child inherits no lock held by another
    // thread and may keep running Rust code in its single-threaded copy.
    let intermediate = match unsafe { fork() }.ctx(|| "fork exec intermediate process".into())? {
        ForkResult::Child => {
            drop(ours);
            intermediate_main(ctx, &theirs)
        }
        ForkResult::Parent { child } => child,
    };
    drop(theirs);
    let mut started: Option<Pid> = None;
    let mut intermediate_alive = true;
    let res = (|| -> Result<Pid> {
        place(intermediate)?;
        ours.send(&Message::Go)?;
        // The process may load its filter before the intermediate has reported its pid (nothing
        // orders the two after the clone); its notify fd then waits here for the pid.
        let mut pending_fd: Option<i32> = None;
        loop {
            match ours.recv()? {
                Some(Message::InitPid(p)) => {
                    let pid = Pid::from_raw(p);
                    started = Some(pid);
                    let _ = waitpid(intermediate, None);
                    intermediate_alive = false;
                    if let Some(fd) = pending_fd.take() {
                        forward_notify_fd(ctx, pid, fd, &ours)?;
                    }
                }
                Some(Message::SeccompFd(fd)) => match started {
                    Some(pid) => forward_notify_fd(ctx, pid, fd, &ours)?,
                    None => pending_fd = Some(fd),
                },
                Some(Message::Error(e)) => return Err(Error::Init(e)),
                Some(m) => return Err(Error::Init(format!("unexpected message {m:?}"))),
                // Every copy of the other end is gone: the intermediate exited and the process
                // exec'd (its end is close-on-exec) or died.
                None => {
                    return started.ok_or_else(|| {
                        Error::Init("exec intermediate process exited without a pid".into())
                    })
                }
            }
        }
    })();
    if res.is_err() {
        for (pid, alive) in [(Some(intermediate), intermediate_alive), (started, true)] {
            if let (Some(pid), true) = (pid, alive) {
                let _ = kill(pid, Signal::SIGKILL);
                let _ = waitpid(pid, None);
            }
        }
    }
    res
}

/// Sends the exec'd process's notify listener (fd number `fd` in `pid`) to the seccomp agent,
/// then lets the process go on.
fn forward_notify_fd(ctx: &ExecCtx<'_>, pid: Pid, fd: i32, chan: &Channel) -> Result<()> {
    seccomp::forward_notify_fd(
        &seccomp::NotifyTarget {
            spec: ctx.spec,
            id: ctx.id,
            status: "running",
            init_pid: ctx.init_pid,
            process_pid: pid.as_raw(),
            bundle: ctx.bundle,
        },
        fd,
    )?;
    chan.send(&Message::SeccompDone)
}

/// The intermediate: limits that need the host's privileges, then the namespaces, then the clone.
fn intermediate_main(ctx: &ExecCtx<'_>, chan: &Channel) -> ! {
    let res = (|| -> Result<()> {
        chan.expect(&Message::Go)?;
        // Raising a hard limit or lowering oom_score_adj needs privileges in the host's user
        // namespace, which joining the container's gives up; the clone inherits both.
        rlimits::apply(ctx.process.rlimits().as_deref().unwrap_or_default())?;
        if let Some(adj) = ctx.process.oom_score_adj() {
            std::fs::write("/proc/self/oom_score_adj", adj.to_string())
                .ctx(|| "write /proc/self/oom_score_adj".into())?;
        }
        for (typ, fd) in ctx.namespaces {
            setns(fd.as_fd(), namespaces::clone_flag(*typ))
                .ctx(|| format!("setns {typ} namespace of the container init"))?;
        }
        match crate::syscall::clone_parent().ctx(|| "clone(CLONE_PARENT) exec process".into())? {
            None => process_main(ctx, chan),
            Some(pid) => chan.send(&Message::InitPid(pid.as_raw())),
        }
    })();
    match res {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            let _ = chan.send(&Message::Error(e.to_string()));
            std::process::exit(STAGE_FAILED)
        }
    }
}

/// The new process, inside every namespace of the container: session, terminal, then the path
/// shared with the container init.
fn process_main(ctx: &ExecCtx<'_>, chan: &Channel) -> ! {
    let res = (|| -> Result<std::convert::Infallible> {
        // Non-dumpable until exec: other container processes cannot open our /proc/<pid>/{exe,fd,mem}.
        prctl::set_dumpable(false).ctx(|| "prctl(PR_SET_DUMPABLE, 0)".into())?;
        let mut keep = vec![chan.raw()];
        keep.extend(ctx.console_socket);
        finalize::close_fds_except(ctx.preserve_fds, &keep)?;
        setsid().ctx(|| "setsid".into())?;
        let name = format!("_ses.{}", ctx.id);
        crate::syscall::join_session_keyring(&name)
            .ctx(|| format!("join session keyring {name}"))?;
        if ctx.process.terminal().unwrap_or(false) {
            let sock = ctx.console_socket.ok_or_else(|| {
                Error::InvalidArgument("terminal requested without a console socket".into())
            })?;
            let size = ctx
                .process
                .console_size()
                .as_ref()
                .map(|b| (b.height() as u16, b.width() as u16));
            console::setup(sock, size, false)?;
            let _ = nix::unistd::close(sock);
        }
        // The container's seccomp filter loads at the same stages as the init's.
        let program = finalize::prepare(ctx.process, ctx.userns(), &mut |stage| {
            let Some(linux) = ctx.spec.linux() else {
                return Ok(());
            };
            let point = match stage {
                finalize::Stage::BeforeUserChange => LoadPoint::BeforeUserChange,
                finalize::Stage::Last => LoadPoint::Last,
            };
            seccomp::load_at(point, linux, ctx.process, chan, seccomp::Source::Build)
        })?;
        finalize::exec(&program)
    })();
    let e = match res {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let _ = chan.send(&Message::Error(e.to_string()));
    std::process::exit(STAGE_FAILED)
}

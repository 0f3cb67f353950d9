//! The parent side of `create`: forks the intermediate, places it in the cgroup, writes user-namespace
//! maps, runs prestart/createRuntime hooks, and waits for the init to report ready.

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult, Pid};

use super::channel;
use super::message::Message;
use super::{intermediate, CreateCtx};
use crate::cgroups::Cgroup;
use crate::error::Context;
use crate::state_dir::{State, Status};
use crate::{hooks, namespaces, Error, Result};

/// Starts the container processes; returns the init's pid once it is set up and waiting on the fifo.
/// On failure every process started here is killed and reaped.
pub fn spawn(ctx: &CreateCtx<'_>, cgroup: &Cgroup, state: &mut State) -> Result<Pid> {
    let (ours, theirs) = channel::pair()?;
    // SAFETY-relevant note: fork() is safe here because the runtime is single-threaded.
    let intermediate = match unsafe_fork()? {
        None => {
            drop(ours);
            intermediate::main(ctx, &theirs)
        }
        Some(pid) => pid,
    };
    drop(theirs);
    let mut init: Option<Pid> = None;
    let mut intermediate_alive = true;
    let res = (|| -> Result<Pid> {
        let linux = ctx.linux()?;
        let resources = crate::rootfs::dev_nodes::cgroup_rules(linux)?;
        cgroup.apply(intermediate, Some(&resources))?;
        ours.send(&Message::Go)?;
        // Compiled while the intermediate and the init set up namespaces and the rootfs (the
        // init asks for it at its load point); an error fails create as the init's would.
        let seccomp = linux
            .seccomp()
            .as_ref()
            .map(crate::seccomp::compile)
            .transpose()
            .map_err(|e| Error::Init(e.to_string()))?;
        // The init's messages that need its pid can come before the intermediate's `InitPid`:
        // two processes write to this channel and nothing orders them after the clone (a
        // loaded machine showed it: hooks answered with pid 0, then "ready before its pid").
        // They wait here until the pid is known, then are handled in the order they came.
        let mut deferred: std::collections::VecDeque<Message> = Default::default();
        let mut replay: std::collections::VecDeque<Message> = Default::default();
        loop {
            let msg = match replay.pop_front() {
                Some(m) => Some(m),
                None => ours.recv()?,
            };
            if init.is_none()
                && matches!(
                    msg,
                    Some(Message::HooksRequest | Message::SeccompFd(_) | Message::Ready)
                )
            {
                deferred.extend(msg);
                continue;
            }
            match msg {
                Some(Message::SeccompProgramRequest) => {
                    let p = seccomp.as_ref().ok_or_else(|| {
                        Error::Init("seccomp program requested, but the config has none".into())
                    })?;
                    ours.send(&Message::SeccompProgram(p.encode()))?;
                }
                Some(Message::MapRequest) => {
                    namespaces::write_id_maps(intermediate, linux)?;
                    ours.send(&Message::MapDone)?;
                }
                Some(Message::InitPid(p)) => {
                    init = Some(Pid::from_raw(p));
                    state.init_pid = p;
                    let _ = waitpid(intermediate, None);
                    intermediate_alive = false;
                    replay.append(&mut deferred);
                }
                Some(Message::HooksRequest) => {
                    if let Some(h) = ctx.bundle.spec.hooks() {
                        let json = state.hook_state(Status::Creating);
                        hooks::run(
                            "prestart",
                            h.prestart().as_deref().unwrap_or_default(),
                            &json,
                        )?;
                        hooks::run(
                            "createRuntime",
                            h.create_runtime().as_deref().unwrap_or_default(),
                            &json,
                        )?;
                    }
                    ours.send(&Message::HooksDone(state.init_pid))?;
                }
                Some(Message::SeccompFd(fd)) => {
                    let pid = init.ok_or_else(|| {
                        Error::Init("seccomp fd reported before the init's pid was known".into())
                    })?;
                    crate::seccomp::forward_notify_fd(
                        &crate::seccomp::NotifyTarget {
                            spec: &ctx.bundle.spec,
                            id: ctx.id,
                            status: "creating",
                            init_pid: pid.as_raw(),
                            process_pid: pid.as_raw(),
                            bundle: &ctx.bundle.dir,
                        },
                        fd,
                    )?;
                    ours.send(&Message::SeccompDone)?;
                }
                Some(Message::Ready) => {
                    return init.ok_or_else(|| {
                        Error::Init("init reported ready before its pid was known".into())
                    })
                }
                Some(Message::Error(e)) => return Err(Error::Init(e)),
                Some(m) => return Err(Error::Init(format!("unexpected message {m:?}"))),
                None => {
                    return Err(Error::Init(
                        "container init exited before reporting ready".into(),
                    ))
                }
            }
        }
    })();
    if res.is_err() {
        for (pid, alive) in [(Some(intermediate), intermediate_alive), (init, true)] {
            if let (Some(pid), true) = (pid, alive) {
                let _ = kill(pid, Signal::SIGKILL);
                let _ = waitpid(pid, None);
            }
        }
    }
    res
}

/// fork(2) returning `None` in the child.
fn unsafe_fork() -> Result<Option<Pid>> {
    // SAFETY: berth-runc never starts threads, so the child inherits no lock held by another thread and
    // may keep running Rust code (it allocates only in this single-threaded copy).
    match unsafe { fork() }.ctx(|| "fork intermediate process".into())? {
        ForkResult::Child => Ok(None),
        ForkResult::Parent { child } => Ok(Some(child)),
    }
}

//! `linux.seccomp`: checking a profile, building its filter with libseccomp, loading it at the
//! point runc loads it, and handing a `SCMP_ACT_NOTIFY` listener fd to a seccomp agent.
//!
//! The filter is loaded inside the container process (init or exec'd), never in the runtime's
//! parent process; the init's is compiled by the parent meanwhile ([`Program`], [`Source`]), an
//! exec'd process builds its own. Where it is loaded follows runc 1.1 (`standard_init_linux.go`,
//! `setns_init_linux.go`): with `noNewPrivileges` it is the last step before the process
//! reports ready (so the runtime's own mounts, uid change and capability work are never
//! filtered); without it loading a filter needs `CAP_SYS_ADMIN`, so it happens before the uid
//! change and capability drop. See [`LoadPoint`].

pub mod agent;
pub mod enosys;
pub mod filter;
pub mod support;
pub mod validate;

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use oci_spec::runtime::{LinuxSeccomp, Process};

/// What can go wrong with a seccomp profile or its filter.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// A field of `linux.seccomp` is malformed; `field` is its JSON path.
    #[error("{field}: {msg}")]
    Field {
        /// JSON path of the field, e.g. `linux.seccomp.syscalls[2].action`.
        field: String,
        /// What is wrong with it.
        msg: String,
    },
    /// libseccomp refused an operation (naming the syscall or attribute involved).
    #[error("seccomp: {context}: {source}")]
    Libseccomp {
        /// What was being done.
        context: String,
        /// libseccomp's error.
        source: libseccomp::error::SeccompError,
    },
    /// A syscall of the notify fd hand-over failed.
    #[error("seccomp: {context}: {source}")]
    Sys {
        /// What was being done, naming the syscall or socket.
        context: String,
        /// The errno.
        source: nix::Error,
    },
    /// Talking to the seccomp agent at `listenerPath` failed.
    #[error("seccomp agent {path}: {msg}")]
    Agent {
        /// The listener socket.
        path: String,
        /// What failed.
        msg: String,
    },
}

/// Where in the process set-up the filter is loaded (runc 1.1's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadPoint {
    /// `noNewPrivileges` is false: before the uid change and the capability drop, while the
    /// process still has `CAP_SYS_ADMIN` (loading a filter without no_new_privs needs it).
    BeforeUserChange,
    /// `noNewPrivileges` is true: as late as possible, after the uid change, chdir and
    /// `PR_SET_NO_NEW_PRIVS`, just before the process reports ready and execs.
    Last,
}

/// The load point for `process`.
pub fn load_point(process: &Process) -> LoadPoint {
    if process.no_new_privileges().unwrap_or(false) {
        LoadPoint::Last
    } else {
        LoadPoint::BeforeUserChange
    }
}

/// Builds and loads the filter of `config` into the calling process.
///
/// When the profile uses `SCMP_ACT_NOTIFY`, the listener fd (a number in this process) is
/// passed to `hand_over` right after the load; `hand_over` must make it reach the runtime's
/// parent (which fetches it with `pidfd_getfd` and sends it to the agent, see [`agent`]) and
/// return once that is done. The fd is closed afterwards, as runc does. Only `write` may not be
/// notified (checked by [`validate`]), so `hand_over` must use `write(2)` to talk to the parent.
pub fn apply<E>(
    config: &LinuxSeccomp,
    hand_over: impl FnOnce(RawFd) -> Result<(), E>,
) -> Result<(), E>
where
    E: From<SeccompError>,
{
    let ctx = filter::build(config)?;
    let notify = filter::uses_notify(config);
    let default = filter::action(config.default_action(), config.default_errno_ret());
    let fd = if enosys::wanted(config, default) {
        enosys::load(&enosys::compile(&ctx, config, notify)?)?
    } else {
        ctx.load().map_err(|source| SeccompError::Libseccomp {
            context: "load filter (seccomp(SECCOMP_SET_MODE_FILTER))".into(),
            source,
        })?;
        if notify {
            let raw = ctx
                .get_notify_fd()
                .map_err(|source| SeccompError::Libseccomp {
                    context: "get notify fd".into(),
                    source,
                })?;
            // SAFETY: libseccomp returned a fresh fd; we take it over (libseccomp does not close
            // the notify fd when the filter context is released).
            Some(unsafe { std::os::fd::FromRawFd::from_raw_fd(raw) })
        } else {
            None
        }
    };
    if let Some(fd) = fd {
        let fd: OwnedFd = fd;
        let res = hand_over(fd.as_raw_fd());
        drop(fd);
        res?;
    }
    Ok(())
}

/// Bytes of the flags in [`Program::encode`].
const FLAGS_LEN: usize = std::mem::size_of::<libc::c_ulong>();

/// A filter compiled ahead of its load: the BPF program and the seccomp(2) flags. The parent of
/// `create` compiles it while the container init sets up the rootfs, and the init loads it at
/// its [`LoadPoint`] (see [`Source::Parent`]); compiling takes longer than anything else the
/// runtime does for Docker's default profile, and the parent is otherwise idle then.
#[derive(Clone)]
pub struct Program {
    filter: Vec<libc::sock_filter>,
    flags: libc::c_ulong,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("instructions", &self.filter.len())
            .field("flags", &self.flags)
            .finish()
    }
}

impl Program {
    fn new(filter: Vec<libc::sock_filter>, flags: libc::c_ulong) -> Result<Program, SeccompError> {
        if filter.is_empty() || filter.len() > usize::from(u16::MAX) {
            return Err(SeccompError::Field {
                field: "linux.seccomp.syscalls".into(),
                msg: format!("the filter has {} BPF instructions", filter.len()),
            });
        }
        Ok(Program { filter, flags })
    }

    /// Wire form for the create channel (between two copies of the same binary): the flags as a
    /// native `c_ulong`, then 8 bytes per instruction.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FLAGS_LEN + 8 * self.filter.len());
        out.extend_from_slice(&self.flags.to_le_bytes());
        for i in &self.filter {
            out.extend_from_slice(&i.code.to_le_bytes());
            out.push(i.jt);
            out.push(i.jf);
            out.extend_from_slice(&i.k.to_le_bytes());
        }
        out
    }

    /// Parses [`Program::encode`]'s output; `None` when malformed.
    pub fn decode(buf: &[u8]) -> Option<Program> {
        let (flags, rest) = buf.split_first_chunk::<FLAGS_LEN>()?;
        if rest.len() % 8 != 0 {
            return None;
        }
        let filter = rest
            .chunks_exact(8)
            .map(|c| libc::sock_filter {
                code: u16::from_le_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        Program::new(filter, libc::c_ulong::from_le_bytes(*flags)).ok()
    }
}

/// Compiles `config` (checked, built with libseccomp, with runc's ENOSYS stub when it applies)
/// into the program [`load_program`] loads: what [`apply`] loads, but without loading it.
pub fn compile(config: &LinuxSeccomp) -> Result<Program, SeccompError> {
    let ctx = filter::build(config)?;
    let notify = filter::uses_notify(config);
    let default = filter::action(config.default_action(), config.default_errno_ret());
    if enosys::wanted(config, default) {
        enosys::compile(&ctx, config, notify)
    } else {
        enosys::compile_plain(&ctx, notify)
    }
}

/// Loads a compiled program into the calling process and hands its notify fd (if any) to
/// `hand_over`, as [`apply`] does.
pub fn load_program<E>(p: &Program, hand_over: impl FnOnce(RawFd) -> Result<(), E>) -> Result<(), E>
where
    E: From<SeccompError>,
{
    if let Some(fd) = enosys::load(p)? {
        let res = hand_over(fd.as_raw_fd());
        drop(fd);
        res?;
    }
    Ok(())
}

/// Where a container process gets its filter at its load point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Compiled here (`exec`: a one-off process, nobody to compile it for it).
    Build,
    /// Compiled by the parent of `create`, fetched over the create channel
    /// ([`Message::SeccompProgramRequest`]).
    ///
    /// [`Message::SeccompProgramRequest`]: crate::process::message::Message::SeccompProgramRequest
    Parent,
}

/// The seccomp step of a container process (init or exec'd), called at both [`LoadPoint`]s: it
/// loads the filter of `linux.seccomp` only when `at` is this process's load point. A notify fd
/// is reported to the parent over `chan` ([`Message::SeccompFd`], sent with write(2)) and the
/// step waits for [`Message::SeccompDone`]; the parent side is [`forward_notify_fd`].
///
/// [`Message::SeccompFd`]: crate::process::message::Message::SeccompFd
/// [`Message::SeccompDone`]: crate::process::message::Message::SeccompDone
pub fn load_at(
    at: LoadPoint,
    linux: &oci_spec::runtime::Linux,
    process: &Process,
    chan: &crate::process::channel::Channel,
    source: Source,
) -> crate::Result<()> {
    use crate::process::message::Message;
    let Some(config) = linux.seccomp() else {
        return Ok(());
    };
    if load_point(process) != at {
        return Ok(());
    }
    let hand_over = |fd| -> crate::Result<()> {
        chan.send_via_write(&Message::SeccompFd(fd))?;
        chan.expect(&Message::SeccompDone)
    };
    match source {
        Source::Build => apply(config, hand_over),
        Source::Parent => {
            chan.send(&Message::SeccompProgramRequest)?;
            let program = match chan.recv()? {
                Some(Message::SeccompProgram(bytes)) => {
                    Program::decode(&bytes).ok_or_else(|| {
                        crate::Error::Init("malformed seccomp program on create channel".into())
                    })?
                }
                Some(Message::Error(e)) => return Err(crate::Error::Init(e)),
                other => {
                    return Err(crate::Error::Init(format!(
                        "unexpected reply to seccomp program request: {other:?}"
                    )))
                }
            };
            load_program(&program, hand_over)
        }
    }
}

/// Where the agent protocol's state comes from when the parent forwards a notify fd.
#[derive(Debug)]
pub struct NotifyTarget<'a> {
    /// The container's config (for `listenerPath`, `listenerMetadata` and annotations).
    pub spec: &'a oci_spec::runtime::Spec,
    /// Container id.
    pub id: &'a str,
    /// `creating` (init) or `running` (exec).
    pub status: &'a str,
    /// Host pid of the container's init (the state's `pid`).
    pub init_pid: i32,
    /// Host pid of the process that loaded the filter and holds the fd.
    pub process_pid: i32,
    /// Absolute bundle directory.
    pub bundle: &'a std::path::Path,
}

/// Parent side of [`load_at`]: takes fd number `fd` out of `t.process_pid` and sends it with the
/// container state to the agent at `listenerPath`.
pub fn forward_notify_fd(t: &NotifyTarget<'_>, fd: RawFd) -> Result<(), SeccompError> {
    let seccomp = t
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .ok_or_else(|| SeccompError::Agent {
            path: String::new(),
            msg: "a notify fd was reported but the config has no linux.seccomp".into(),
        })?;
    let listener = seccomp
        .listener_path()
        .as_deref()
        .ok_or_else(|| SeccompError::Field {
            field: "linux.seccomp.listenerPath".into(),
            msg: "missing: SCMP_ACT_NOTIFY needs a listener socket path".into(),
        })?;
    let owned = agent::fetch_fd(t.process_pid, fd)?;
    let state = agent::ContainerProcessState {
        oci_version: crate::OCI_VERSION,
        fds: vec![agent::SECCOMP_FD_NAME],
        pid: t.process_pid,
        metadata: seccomp.listener_metadata().as_deref().unwrap_or_default(),
        state: agent::AgentState {
            oci_version: crate::OCI_VERSION,
            id: t.id,
            status: t.status,
            pid: t.init_pid,
            bundle: t.bundle,
            annotations: t.spec.annotations().as_ref(),
        },
    };
    agent::send(listener, &state, &owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_profile_compiles_and_its_program_survives_the_channel() {
        let json = include_str!("../../../integration/testdata/seccomp-docker-default.json");
        let config: LinuxSeccomp = serde_json::from_str(json).unwrap();
        let p = compile(&config).unwrap();
        // Docker's profile denies by default: the ENOSYS stub is in front of libseccomp's code.
        assert!(p.filter.len() > 100, "{p:?}");
        assert_eq!(p.flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER, 0);
        let back = Program::decode(&p.encode()).unwrap();
        assert_eq!(back.flags, p.flags);
        assert_eq!(back.encode(), p.encode());
        assert!(Program::decode(&[0u8; FLAGS_LEN - 1]).is_none());
        assert!(Program::decode(&[0u8; FLAGS_LEN + 4]).is_none());
        assert!(
            Program::decode(&[0u8; FLAGS_LEN]).is_none(),
            "an empty program is refused"
        );
    }

    #[test]
    fn notify_asks_for_a_listener() {
        let config: LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x",
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]}))
        .unwrap();
        let p = compile(&config).unwrap();
        assert_ne!(p.flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER, 0);
    }
}

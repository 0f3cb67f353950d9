//! The seccomp agent protocol of runtime-spec (`listenerPath`): the runtime connects to the
//! agent's unix socket and sends one message, a `ContainerProcessState` JSON document with the
//! listener fd attached as `SCM_RIGHTS` (named `seccompFd` in its `fds` list).
//!
//! The container process cannot reach `listenerPath` (it is a host path, and the process is
//! already behind pivot_root), so like runc it only reports the fd *number*; the runtime's parent
//! takes the fd out of the container process with `pidfd_getfd(2)` and does the sending.

use std::collections::HashMap;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use serde::Serialize;

use super::SeccompError;

/// The fd name runtime-spec gives the listener fd in `fds`.
pub const SECCOMP_FD_NAME: &str = "seccompFd";

/// The container's state as sent to the agent (runtime-spec `State`).
#[derive(Debug, Serialize)]
pub struct AgentState<'a> {
    /// The runtime-spec version the state follows.
    #[serde(rename = "ociVersion")]
    pub oci_version: &'a str,
    /// Container id.
    pub id: &'a str,
    /// `creating` for the init, `running` for an exec'd process.
    pub status: &'a str,
    /// Host pid of the container's init.
    pub pid: i32,
    /// Absolute bundle path.
    pub bundle: &'a Path,
    /// The config's annotations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<&'a HashMap<String, String>>,
}

/// runtime-spec `ContainerProcessState`.
#[derive(Debug, Serialize)]
pub struct ContainerProcessState<'a> {
    /// The runtime-spec version.
    #[serde(rename = "ociVersion")]
    pub oci_version: &'a str,
    /// Names of the fds attached to the message, in order.
    pub fds: Vec<&'a str>,
    /// Host pid of the process whose filter the fd belongs to.
    pub pid: i32,
    /// `listenerMetadata` from the config.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub metadata: &'a str,
    /// The container's state.
    pub state: AgentState<'a>,
}

fn sys(context: impl Into<String>) -> impl FnOnce(nix::Error) -> SeccompError {
    let context = context.into();
    move |source| SeccompError::Sys { context, source }
}

/// Duplicates fd `target_fd` of process `pid` into this process (`pidfd_open` + `pidfd_getfd`).
pub fn fetch_fd(pid: i32, target_fd: RawFd) -> Result<OwnedFd, SeccompError> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; no memory is shared.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        return Err(sys(format!("pidfd_open({pid})"))(nix::Error::last()));
    }
    // SAFETY: pidfd_open returned a new fd that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) };
    // SAFETY: pidfd_getfd takes two fds and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), target_fd, 0) };
    if fd < 0 {
        return Err(sys(format!("pidfd_getfd(pid {pid}, fd {target_fd})"))(
            nix::Error::last(),
        ));
    }
    // SAFETY: pidfd_getfd returned a new fd (close-on-exec) that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Connects to the agent at `listener` and sends `state` with `fd` attached.
pub fn send(
    listener: &Path,
    state: &ContainerProcessState<'_>,
    fd: &OwnedFd,
) -> Result<(), SeccompError> {
    let agent = |msg: String| SeccompError::Agent {
        path: listener.display().to_string(),
        msg,
    };
    let json = serde_json::to_vec(state).map_err(|e| agent(format!("encode state: {e}")))?;
    let conn = UnixStream::connect(listener).map_err(|e| agent(format!("connect: {e}")))?;
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(&json)];
    let n = sendmsg::<()>(conn.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None)
        .map_err(|e| agent(format!("sendmsg: {e}")))?;
    if n != json.len() {
        return Err(agent(format!(
            "short write: sent {n} of {} bytes",
            json.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_has_runtime_spec_shape() {
        let s = ContainerProcessState {
            oci_version: "1.2.0",
            fds: vec![SECCOMP_FD_NAME],
            pid: 42,
            metadata: "m",
            state: AgentState {
                oci_version: "1.2.0",
                id: "c1",
                status: "creating",
                pid: 42,
                bundle: Path::new("/b"),
                annotations: None,
            },
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["fds"][0], "seccompFd");
        assert_eq!(v["metadata"], "m");
        assert_eq!(v["state"]["id"], "c1");
        assert_eq!(v["state"]["status"], "creating");
        assert_eq!(v["state"]["bundle"], "/b");
    }
}

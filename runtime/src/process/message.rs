//! Messages between the parent, the intermediate and the init, one per SOCK_SEQPACKET datagram.

/// A message on the create channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Parent → intermediate: the cgroup is set, go on with the namespaces.
    Go,
    /// Intermediate → parent: the user namespace exists, write uid_map/gid_map.
    MapRequest,
    /// Parent → intermediate: maps written.
    MapDone,
    /// Intermediate → parent: the init's host pid.
    InitPid(i32),
    /// Init → parent: mounts are done, run prestart/createRuntime hooks.
    HooksRequest,
    /// Parent → init: hooks done; carries the init's host pid for createContainer's state.
    HooksDone(i32),
    /// Init → parent: set up, about to block on the exec fifo.
    Ready,
    /// Child → parent: a stage failed; the text names what failed.
    Error(String),
    /// Container process → parent: the seccomp filter is loaded; this fd number (in the sender)
    /// is its notify listener, to be fetched with pidfd_getfd and sent to the seccomp agent.
    SeccompFd(i32),
    /// Parent → container process: the listener fd reached the agent.
    SeccompDone,
    /// Init → parent: at the load point, send the filter compiled meanwhile.
    SeccompProgramRequest,
    /// Parent → init: the compiled filter ([`crate::seccomp::Program::encode`]).
    SeccompProgram(Vec<u8>),
}

impl Message {
    /// Encodes as a tag byte plus payload.
    pub fn encode(&self) -> Vec<u8> {
        let (tag, payload): (u8, Vec<u8>) = match self {
            Message::Go => (1, vec![]),
            Message::MapRequest => (2, vec![]),
            Message::MapDone => (3, vec![]),
            Message::InitPid(p) => (4, p.to_le_bytes().to_vec()),
            Message::HooksRequest => (5, vec![]),
            Message::HooksDone(p) => (6, p.to_le_bytes().to_vec()),
            Message::Ready => (7, vec![]),
            Message::Error(s) => (8, s.as_bytes().to_vec()),
            Message::SeccompFd(fd) => (9, fd.to_le_bytes().to_vec()),
            Message::SeccompDone => (10, vec![]),
            Message::SeccompProgramRequest => (11, vec![]),
            Message::SeccompProgram(b) => (12, b.clone()),
        };
        let mut out = Vec::with_capacity(1 + payload.len());
        out.push(tag);
        out.extend_from_slice(&payload);
        out
    }

    /// Decodes one datagram; `None` when it is not a valid message.
    pub fn decode(buf: &[u8]) -> Option<Message> {
        let (&tag, rest) = buf.split_first()?;
        let int = || rest.try_into().ok().map(i32::from_le_bytes);
        Some(match tag {
            1 => Message::Go,
            2 => Message::MapRequest,
            3 => Message::MapDone,
            4 => Message::InitPid(int()?),
            5 => Message::HooksRequest,
            6 => Message::HooksDone(int()?),
            7 => Message::Ready,
            8 => Message::Error(String::from_utf8_lossy(rest).into_owned()),
            9 => Message::SeccompFd(int()?),
            10 => Message::SeccompDone,
            11 => Message::SeccompProgramRequest,
            12 => Message::SeccompProgram(rest.to_vec()),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Message;

    #[test]
    fn round_trips() {
        for m in [
            Message::Go,
            Message::MapRequest,
            Message::MapDone,
            Message::InitPid(1234),
            Message::HooksRequest,
            Message::HooksDone(-1),
            Message::Ready,
            Message::Error("mount /proc: EPERM".into()),
            Message::SeccompFd(7),
            Message::SeccompDone,
            Message::SeccompProgramRequest,
            Message::SeccompProgram(vec![1, 2, 3]),
        ] {
            assert_eq!(Message::decode(&m.encode()), Some(m));
        }
        assert_eq!(Message::decode(&[]), None);
        assert_eq!(Message::decode(&[4, 1]), None);
    }
}

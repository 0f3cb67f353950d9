//! A SOCK_SEQPACKET socketpair carrying [`Message`]s, so each message is one datagram.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};

use super::message::Message;
use crate::error::Context;
use crate::{Error, Result};

/// One end of the create channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// Creates the two ends (close-on-exec, so no user program inherits them).
pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .ctx(|| "socketpair(AF_UNIX, SOCK_SEQPACKET)".into())?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    /// Sends one message.
    pub fn send(&self, msg: &Message) -> Result<()> {
        send(self.fd.as_raw_fd(), &msg.encode(), MsgFlags::MSG_NOSIGNAL)
            .ctx(|| "send on create channel".into())?;
        Ok(())
    }

    /// Sends one message with write(2) rather than send(2): the only syscall a seccomp profile may
    /// not notify (checked at load), used right after the filter is loaded.
    pub fn send_via_write(&self, msg: &Message) -> Result<()> {
        nix::unistd::write(&self.fd, &msg.encode()).ctx(|| "write on create channel".into())?;
        Ok(())
    }

    /// Receives one message; `None` when the other side closed without sending.
    pub fn recv(&self) -> Result<Option<Message>> {
        let mut buf = vec![0u8; 65536];
        let n = loop {
            match recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r.ctx(|| "recv on create channel".into())?,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        Message::decode(&buf[..n])
            .map(Some)
            .ok_or_else(|| Error::Init("malformed message on create channel".into()))
    }

    /// Receives a message and fails unless it is `want`; an `Error` message becomes [`Error::Init`].
    pub fn expect(&self, want: &Message) -> Result<()> {
        match self.recv()? {
            Some(ref m) if m == want => Ok(()),
            Some(Message::Error(e)) => Err(Error::Init(e)),
            Some(m) => Err(Error::Init(format!(
                "unexpected message {m:?}, wanted {want:?}"
            ))),
            None => Err(Error::Init(format!(
                "peer closed the create channel, wanted {want:?}"
            ))),
        }
    }

    /// The raw fd (kept open across the init's setup).
    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for Channel {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

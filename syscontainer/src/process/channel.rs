//! Typed messages between the monitor and the container init, over a
//! `SOCK_SEQPACKET` socketpair: one JSON message per packet, EOF when the peer closed
//! (or exec'd: both ends are close-on-exec).

use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// monitor → init: the init is in its cgroups; go on with the namespaces and mounts.
    Go,
    /// init → monitor: the rootfs is mounted; prestart hooks may run now.
    MountsReady,
    /// monitor → init: the hooks ran; pivot into the rootfs.
    HooksDone,
    /// init → monitor: everything is set up; waiting for Start (the OCI "created" state).
    Created,
    /// monitor → init: exec the container's process.
    Start,
    /// init → monitor: setting up failed; the init exits after sending this.
    Failed(String),
}

#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

impl Channel {
    pub fn pair() -> nix::Result<(Channel, Channel)> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    pub fn send(&self, message: &Message) -> std::io::Result<()> {
        let data = serde_json::to_vec(message)?;
        send(self.fd.as_raw_fd(), &data, MsgFlags::MSG_NOSIGNAL)?;
        Ok(())
    }

    /// The next message, or None once the peer is gone.
    pub fn recv(&self) -> std::io::Result<Option<Message>> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Ok(0) => return Ok(None),
                Ok(n) => return Ok(Some(serde_json::from_slice(&buf[..n])?)),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_eof() {
        let (a, b) = Channel::pair().unwrap();
        a.send(&Message::Failed("mount /proc: EPERM".into()))
            .unwrap();
        a.send(&Message::Created).unwrap();
        assert_eq!(
            b.recv().unwrap(),
            Some(Message::Failed("mount /proc: EPERM".into()))
        );
        assert_eq!(b.recv().unwrap(), Some(Message::Created));
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }
}

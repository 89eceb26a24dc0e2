//! Typed messages between the runtime's processes: the monitor and the container init
//! talk over a `SOCK_SEQPACKET` socketpair, one JSON [`Message`] per packet, EOF when the
//! peer closed (or exec'd: both ends are close-on-exec); the monitor tells `start` how the
//! boot went with one JSON [`Readiness`] line on a pipe.

use std::io::{Read, Write};
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

/// monitor → `start`: the one answer on the readiness pipe, sent once PID 1 has exec'd
/// or the start has failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Readiness {
    /// PID 1 exec'd; the monitor supervises it.
    Ready,
    /// The start failed, for this reason; the monitor exits.
    Failed(String),
}

impl Readiness {
    /// Writes the answer as one JSON line.
    pub fn send(&self, to: &mut impl Write) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(self)?;
        line.push(b'\n');
        to.write_all(&line)
    }

    /// Reads the answer until the writer closed the pipe: `None` if it closed without a
    /// word (the monitor died), an `InvalidData` error if the words are not an answer.
    pub fn receive(mut from: impl Read) -> std::io::Result<Option<Readiness>> {
        let mut text = String::new();
        from.read_to_string(&mut text)?;
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        serde_json::from_str(text).map(Some).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not a readiness answer: {text:?}: {e}"),
            )
        })
    }
}

#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

impl Channel {
    /// The descriptor, for a cloned child to close its copy of the other end.
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }

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

    #[test]
    fn readiness_answers_round_trip_through_a_pipe() {
        for answer in [
            Readiness::Ready,
            Readiness::Failed("prestart hook /bin/x failed: exit 3\nsecond line".into()),
        ] {
            let (read_end, write_end) = nix::unistd::pipe().unwrap();
            answer.send(&mut std::fs::File::from(write_end)).unwrap();
            let received = Readiness::receive(std::fs::File::from(read_end)).unwrap();
            assert_eq!(received, Some(answer));
        }
    }

    #[test]
    fn readiness_wire_format_is_lower_case_json() {
        let mut line = Vec::new();
        Readiness::Ready.send(&mut line).unwrap();
        assert_eq!(line, b"\"ready\"\n");
        let mut line = Vec::new();
        Readiness::Failed("no rootfs".into())
            .send(&mut line)
            .unwrap();
        assert_eq!(line, b"{\"failed\":\"no rootfs\"}\n");
    }

    #[test]
    fn a_silent_or_garbled_readiness_pipe_is_told_apart() {
        assert_eq!(Readiness::receive(&b""[..]).unwrap(), None);
        let err = Readiness::receive(&b"ok\n"[..]).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert!(
            err.to_string()
                .starts_with("not a readiness answer: \"ok\""),
            "{err}"
        );
    }
}

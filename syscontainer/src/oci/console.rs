//! The terminal of a container whose `process.terminal` is set: a pty whose master goes to
//! the caller over `--console-socket` (one `SCM_RIGHTS` message, as runc sends it) and whose
//! slave becomes the process's stdio and controlling terminal.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};

use super::{io_error, OciError, Result};

/// A host pty for the init: the master to send, the slave's path for the init to open.
pub struct Pty {
    pub master: OwnedFd,
    pub slave_path: PathBuf,
    _slave: OwnedFd,
}

pub fn open_pty() -> Result<Pty> {
    let pty =
        nix::pty::openpty(None, None).map_err(|e| OciError::Invalid(format!("openpty: {e}")))?;
    for fd in [&pty.master, &pty.slave] {
        set_cloexec(fd.as_raw_fd());
    }
    let slave_path = nix::unistd::ttyname(&pty.slave)
        .map_err(|e| OciError::Invalid(format!("ttyname of the new pty: {e}")))?;
    Ok(Pty {
        master: pty.master,
        slave_path,
        _slave: pty.slave,
    })
}

pub(crate) fn set_cloexec(fd: i32) {
    // SAFETY: fcntl on a descriptor we own.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
}

/// Send `master` over the unix socket at `socket`, with `name` as the message's data.
pub fn send_master(socket: &Path, master: BorrowedFd, name: &str) -> Result<()> {
    let stream = UnixStream::connect(socket).map_err(io_error("connect to", socket))?;
    let fds = [master.as_raw_fd()];
    let data = [IoSlice::new(name.as_bytes())];
    sendmsg::<()>(
        stream.as_raw_fd(),
        &data,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| io_error("send the pty master to", socket)(e.into()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{recvmsg, ControlMessageOwned};
    use std::os::fd::AsFd;

    #[test]
    fn the_master_arrives_as_one_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let (read_end, _write_end) = nix::unistd::pipe().unwrap();
        send_master(&path, read_end.as_fd(), "/dev/pts/9").unwrap();
        let (conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([i32; 1]);
        let msg = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::empty(),
        )
        .unwrap();
        let bytes = msg.bytes;
        let fds: Vec<i32> = msg
            .cmsgs()
            .unwrap()
            .filter_map(|c| match c {
                ControlMessageOwned::ScmRights(fds) => Some(fds),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(fds.len(), 1);
        assert_eq!(&buf[..bytes], b"/dev/pts/9");
        nix::unistd::close(fds[0]).unwrap();
    }
}

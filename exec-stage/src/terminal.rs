//! The user's terminal side of a session with a process in a container: raw mode, and the
//! copy loop between the terminal and a pty master (or the monitor's attach socket).
//! Shared by the CLI (`attach`, `run -it`) and the exec stage (`exec -t`).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};

/// Puts a terminal in raw mode and restores it on drop.
pub struct RawMode {
    fd: i32,
    saved: Termios,
}

impl RawMode {
    pub fn enable(fd: BorrowedFd) -> Option<RawMode> {
        let saved = tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(fd, SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode {
            fd: fd.as_raw_fd(),
            saved,
        })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: the fd is stdin, open for the life of the process.
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
        let _ = tcsetattr(fd, SetArg::TCSANOW, &self.saved);
    }
}

/// How a copy loop ended.
#[derive(Debug, PartialEq, Eq)]
pub enum ProxyEnd {
    /// The remote side closed (container or process ended).
    Closed,
    /// The user typed the detach keys.
    Detached,
}

/// Copy `input` → `remote_in` and `remote_out` → `output` until `remote_out` closes or
/// the detach sequence is typed on `input`. `input` may be None (no stdin).
pub fn proxy(
    input: Option<BorrowedFd>,
    remote_in: BorrowedFd,
    remote_out: BorrowedFd,
    output: BorrowedFd,
    detach_keys: &[u8],
) -> ProxyEnd {
    let mut buf = [0u8; 8192];
    let mut matched = 0usize;
    let mut input_open = input.is_some();
    loop {
        let mut fds = vec![PollFd::new(remote_out.as_fd(), PollFlags::POLLIN)];
        if let (true, Some(i)) = (input_open, input) {
            fds.push(PollFd::new(i, PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return ProxyEnd::Closed,
            Ok(_) => {}
        }
        let remote_ready = fds[0].revents().is_some_and(|r| !r.is_empty());
        let input_ready = fds
            .get(1)
            .and_then(|f| f.revents())
            .is_some_and(|r| !r.is_empty());
        if remote_ready {
            match nix::unistd::read(remote_out.as_raw_fd(), &mut buf) {
                Ok(0) | Err(_) => return ProxyEnd::Closed,
                Ok(n) => {
                    if write_all(output, &buf[..n]).is_err() {
                        return ProxyEnd::Closed;
                    }
                }
            }
        }
        if input_ready {
            let Some(i) = input else { continue };
            match nix::unistd::read(i.as_raw_fd(), &mut buf) {
                Ok(0) | Err(_) => input_open = false,
                Ok(n) => {
                    for &b in &buf[..n] {
                        if !detach_keys.is_empty() && b == detach_keys[matched] {
                            matched += 1;
                            if matched == detach_keys.len() {
                                return ProxyEnd::Detached;
                            }
                            continue;
                        }
                        if matched > 0 {
                            let _ = write_all(remote_in, &detach_keys[..matched]);
                            matched = 0;
                        }
                        let _ = write_all(remote_in, &[b]);
                    }
                }
            }
        }
    }
}

fn write_all(fd: BorrowedFd, mut data: &[u8]) -> nix::Result<()> {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

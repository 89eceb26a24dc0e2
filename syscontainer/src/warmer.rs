//! The process that keeps cgroup migrations fast while a container's systemd boots or
//! shuts down ([`crate::cgroups::migration`]): the monitor runs one from the init's exec
//! until `READY=1`, `stop` one from its signal until the exit is recorded.
//!
//! It is a child process, not a thread: it writes *itself* into its own cgroup, so the
//! only process such a write could ever move is this one, and when it ends nothing of it
//! stays in its parent's memory.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use crate::cgroups::migration;

/// The longest a warmer runs: an init that never reports itself booted (not systemd, or
/// systemd without `NOTIFY_SOCKET`), or a stop that waits out its timeout, does not keep
/// one going.
pub const LONGEST_RUN: Duration = Duration::from_secs(10);
/// In [`crate::store::RUN_DIR`], shared by every warmer on the host, so that containers
/// booting or stopping together have one warmer writing between them.
pub const SHARED_LOCK: &str = "migration-warmer.lock";

/// A running warmer; dropping it kills and reaps it.
#[derive(Debug)]
pub struct Warmer {
    pid: Pid,
}

impl Warmer {
    /// Fork a warmer that runs for at most [`LONGEST_RUN`], taking turns with the others
    /// on [`SHARED_LOCK`]. `None` (logged) where the fork fails: the caller goes on without.
    ///
    /// # Safety
    /// As for `fork`: the caller must be single-threaded.
    pub unsafe fn start() -> Option<Warmer> {
        // SAFETY: passed on to the caller.
        unsafe { Self::fork(None) }
    }

    /// A warmer that waits for its [`Cue`] before its first write: forked while the caller
    /// is still single-threaded, set going once the caller's own cgroup steps are done (its
    /// first write holds the kernel's cgroup mutex for a grace period). It ends without a
    /// write if the cue is dropped unused.
    ///
    /// # Safety
    /// As for `fork`: the caller must be single-threaded.
    pub unsafe fn start_on_cue() -> Option<(Warmer, Cue)> {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| tracing::debug!("no migration warmer: pipe: {e}"))
            .ok()?;
        // SAFETY: passed on to the caller.
        let warmer = unsafe { Self::fork(Some(read.as_raw_fd())) }?;
        Some((warmer, Cue(write)))
    }

    /// # Safety
    /// As for `fork`: the caller must be single-threaded.
    unsafe fn fork(cue: Option<RawFd>) -> Option<Warmer> {
        let lock = Path::new(crate::store::RUN_DIR).join(SHARED_LOCK);
        let parent = std::process::id() as i32;
        // SAFETY: the caller is single-threaded; the child runs `run` and exits.
        match unsafe { libc::fork() } {
            0 => run(parent, &lock, cue),
            -1 => {
                tracing::debug!(
                    "no migration warmer: fork: {}",
                    std::io::Error::last_os_error()
                );
                None
            }
            pid => Some(Warmer {
                pid: Pid::from_raw(pid),
            }),
        }
    }

    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// A reaping loop (the monitor's) has collected it (it ran out of time): its PID may
    /// be anyone's now, so it must not be signalled.
    pub fn reaped(self) {
        std::mem::forget(self);
    }
}

/// What sets a [`Warmer::start_on_cue`] warmer going.
#[derive(Debug)]
pub struct Cue(OwnedFd);

impl Cue {
    pub fn give(self) {
        let _ = nix::unistd::write(&self.0, b"g");
    }
}

impl Drop for Warmer {
    /// Kill and reap it: not reaped until here, its PID is still ours. A warmer inside its
    /// first write dies when the write returns, within a grace period.
    fn drop(&mut self) {
        let _ = kill(self.pid, Signal::SIGKILL);
        while let Err(nix::errno::Errno::EINTR) = waitpid(self.pid, None) {}
    }
}

fn run(parent: i32, lock: &Path, cue: Option<RawFd>) -> ! {
    // SAFETY: plain system calls in a fresh single-threaded child. The parent's
    // descriptors (the monitor's console, sockets, exit FIFO and locks; the CLI's
    // container lock) must not be held by this process, but for the cue, moved to fd 3;
    // it dies with its parent.
    unsafe {
        let mut first_closed = 3u32;
        if let Some(fd) = cue {
            libc::dup2(fd, 3);
            first_closed = 4;
        }
        libc::syscall(libc::SYS_close_range, first_closed, u32::MAX, 0u32);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::prctl(libc::PR_SET_NAME, c"sysc-warmer".as_ptr());
        if libc::getppid() != parent {
            libc::_exit(0);
        }
        if cue.is_some() {
            let mut byte = 0u8;
            let read = loop {
                let n = libc::read(3, std::ptr::addr_of_mut!(byte).cast(), 1);
                if n >= 0
                    || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
                {
                    break n;
                }
            };
            libc::close(3);
            if read != 1 {
                libc::_exit(0);
            }
        }
    }
    let until = Instant::now() + LONGEST_RUN;
    // Containers booting or stopping together: one warmer writes, the others wait for it
    // and take over when it leaves.
    if let Ok(_turn) = crate::store::Lock::acquire(lock) {
        // Found here rather than in the parent: a monitor's memory stays as small as it can.
        if let Ok(procs) = migration::own_procs_file() {
            let _ = migration::hold_fast(&procs, until);
        }
    }
    // SAFETY: ending the child without running the monitor's exit handlers.
    unsafe { libc::_exit(0) }
}

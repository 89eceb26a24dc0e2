//! `clone3` as a fork, born in a cgroup2 directory: how an exec'd process gets into its
//! container's cgroup without anyone writing its PID to a `cgroup.procs`.

use nix::sched::CloneFlags;

/// `struct clone_args` of `clone3(2)`, up to `cgroup` (Linux 5.7).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// A fork (`clone3` without a new stack: the child continues here on a copy of the
/// caller's stack) into new namespaces `flags`, born in the cgroup2 directory `cgroup`
/// when given. Returns 0 in the child and the child's PID in the caller, or the error
/// (`ENOSYS` before Linux 5.3, `E2BIG`/`EINVAL` before 5.7), for the caller to fall back.
///
/// # Safety
/// As for `fork`: the caller must be single-threaded, and the child must only exec or
/// `_exit` in the end.
pub unsafe fn fork_into(
    flags: CloneFlags,
    cgroup: Option<std::os::fd::BorrowedFd>,
) -> std::io::Result<i32> {
    use std::os::fd::AsRawFd;
    let mut args = CloneArgs {
        flags: flags.bits() as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // SAFETY: clone3 with a valid argument block; the caller upholds fork's rules.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::Pid;

    #[test]
    fn fork_into_runs_the_child_and_reports_its_pid() {
        // SAFETY: the child only _exits. (The test harness has threads, but the child
        // touches nothing they might hold.)
        match unsafe { fork_into(CloneFlags::empty(), None) } {
            Ok(0) => unsafe { libc::_exit(7) },
            Ok(pid) => {
                let status = waitpid(Pid::from_raw(pid), None).unwrap();
                assert_eq!(status, WaitStatus::Exited(Pid::from_raw(pid), 7));
            }
            // A kernel without clone3: the callers fall back to fork/clone.
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ENOSYS)),
        }
    }
}

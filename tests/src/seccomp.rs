//! A seccomp filter that refuses one system call to a command a test starts and to
//! everything that command runs: what a kernel without the call looks like, or a sandbox
//! whose profile predates it (Docker's refused `clone3` with EPERM before 20.10).

use std::io::{self, Read, Seek};
use std::os::unix::process::CommandExt;
use std::process::Command;

use libseccomp::{ScmpAction, ScmpFilterContext, ScmpSyscall};

/// The compiled filter, loaded into a command's process between its fork and its exec.
pub struct Refusal {
    program: Vec<libc::sock_filter>,
}

impl Refusal {
    /// `syscall` fails with `errno`; every other call is allowed.
    pub fn new(syscall: &str, errno: i32) -> Refusal {
        let mut filter = ScmpFilterContext::new_filter(ScmpAction::Allow).expect("seccomp filter");
        let call = ScmpSyscall::from_name(syscall)
            .unwrap_or_else(|e| panic!("no system call {syscall}: {e}"));
        filter
            .add_rule(ScmpAction::Errno(errno), call)
            .expect("seccomp rule");
        // Compiled here, so that the child only has to hand the program to the kernel.
        let mut compiled = tempfile::tempfile().expect("temporary file");
        filter.export_bpf(&mut compiled).expect("export the filter");
        let mut bytes = Vec::new();
        compiled.rewind().expect("rewind the compiled filter");
        compiled
            .read_to_end(&mut bytes)
            .expect("read the compiled filter");
        let program = bytes
            .chunks_exact(std::mem::size_of::<libc::sock_filter>())
            .map(|b| libc::sock_filter {
                code: u16::from_ne_bytes([b[0], b[1]]),
                jt: b[2],
                jf: b[3],
                k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
            })
            .collect();
        Refusal { program }
    }

    /// Makes `command` start under the filter (a root test needs no `no_new_privs`).
    pub fn apply(self, command: &mut Command) -> &mut Command {
        let program = self.program;
        // SAFETY: the closure runs in the forked child and only makes one system call on
        // memory the parent allocated before the fork.
        unsafe {
            command.pre_exec(move || {
                let fprog = libc::sock_fprog {
                    len: program.len() as u16,
                    filter: program.as_ptr().cast_mut(),
                };
                let loaded = libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    0,
                    &fprog as *const libc::sock_fprog,
                );
                if loaded != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            })
        }
    }
}

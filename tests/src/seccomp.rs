//! A seccomp filter that refuses one system call to a command a test starts and to
//! everything that command runs: what a kernel without the call looks like, or a sandbox
//! whose seccomp profile predates it.

use std::io::{Read, Seek};
use std::os::unix::process::CommandExt;
use std::process::Command;

use exec_stage::seccomp::Program;
use libseccomp::{ScmpAction, ScmpFilterContext, ScmpSyscall};

/// The compiled filter, loaded into a command's process between its fork and its exec.
pub struct Refusal {
    program: Program,
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
        let program = Program::parse(&bytes).expect("libseccomp exported a whole program");
        Refusal { program }
    }

    /// Makes `command` start under the filter (a root test needs no `no_new_privs`).
    pub fn apply(self, command: &mut Command) -> &mut Command {
        let program = self.program;
        // SAFETY: the closure runs in the forked child and makes one system call on memory
        // the parent allocated before the fork (`Program::load` does not allocate).
        unsafe { command.pre_exec(move || program.load()) }
    }
}

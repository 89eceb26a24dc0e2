//! A seccomp program as libseccomp exports it (`seccomp_export_bpf`), loaded with one system
//! call: the stage loads the container's profile this way, compiled by the CLI, so that the
//! stage itself does not link libseccomp.

use std::io;

/// The instructions of an exported program.
#[derive(Debug, Clone)]
pub struct Program(Vec<libc::sock_filter>);

impl Program {
    /// The program in `bytes` (host byte order, 8 bytes per instruction); `None` if it is
    /// empty, longer than the kernel takes, or not whole instructions.
    pub fn parse(bytes: &[u8]) -> Option<Program> {
        let size = std::mem::size_of::<libc::sock_filter>();
        if bytes.is_empty()
            || !bytes.len().is_multiple_of(size)
            || bytes.len() / size > u16::MAX.into()
        {
            return None;
        }
        let instructions = bytes
            .chunks_exact(size)
            .map(|c| libc::sock_filter {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        Some(Program(instructions))
    }

    /// Loads the program into the calling thread, with no flags (what libseccomp's
    /// `seccomp_load` does): it needs CAP_SYS_ADMIN or no_new_privs. One system call and no
    /// allocation, so it may run between a fork and an exec.
    pub fn load(&self) -> io::Result<()> {
        let prog = libc::sock_fprog {
            len: self.0.len() as u16,
            filter: self.0.as_ptr().cast_mut(),
        };
        // SAFETY: seccomp(SECCOMP_SET_MODE_FILTER) with a program that outlives the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_instructions_parse_and_anything_else_is_refused() {
        let allow = [0x06u8, 0, 0, 0, 0, 0, 0xff, 0x7f];
        let program = Program::parse(&allow).unwrap();
        assert_eq!(program.0.len(), 1);
        assert_eq!(program.0[0].code, 0x06);
        assert_eq!(program.0[0].k, 0x7fff_0000);
        assert!(Program::parse(&[]).is_none());
        assert!(Program::parse(&allow[..7]).is_none());
        assert!(Program::parse(&vec![0u8; 8 * (u16::MAX as usize + 1)]).is_none());
    }
}

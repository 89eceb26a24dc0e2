//! Loading the program and keeping exactly one of ours attached to a cgroup.

use std::ffi::CStr;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::compile::compile;
use crate::error::{Error, Result};
use crate::insn::Insn;
use crate::rule::Rule;
use crate::sys;

/// The name our programs are loaded under (`bpf_attr.prog_name`); a device program attached to a
/// cgroup under this name is taken to be ours, any other is left alone.
pub const PROGRAM_NAME: &str = "sysc_devices";

/// The license passed at load time. The kernel checks it only for helpers restricted to GPL
/// programs, and the filter calls no helper at all.
pub const LICENSE: &CStr = c"Apache-2.0";

/// A loaded device program, not yet (or no longer only) referenced by a cgroup.
#[derive(Debug)]
pub struct Program {
    fd: OwnedFd,
    id: u32,
}

impl Program {
    /// Compiles `rules` and loads the program under [`PROGRAM_NAME`].
    pub fn load(rules: &[Rule]) -> Result<Program> {
        Program::load_named(&compile(rules), PROGRAM_NAME)
    }

    /// Loads these instructions under `name` (cut to 15 bytes; letters, digits, `_` and `.`).
    /// A program loaded under another name than [`PROGRAM_NAME`] is not ours:
    /// [`DeviceCgroup::install`] and [`DeviceCgroup::detach_all`] will not touch it.
    pub fn load_named(insns: &[Insn], name: &str) -> Result<Program> {
        let fd = sys::prog_load(insns, name, LICENSE).map_err(|(source, log)| Error::Load {
            insns: insns.len(),
            source,
            log,
        })?;
        let (id, _) = sys::prog_info(fd.as_fd()).map_err(|source| Error::ProgramInfo {
            what: format!("just loaded as {name:?}"),
            source,
        })?;
        Ok(Program { fd, id })
    }

    /// The kernel's id of the program (as `bpftool prog` shows it).
    pub fn id(&self) -> u32 {
        self.id
    }
}

impl AsFd for Program {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A device program attached directly to a cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedProgram {
    pub id: u32,
    pub name: String,
}

impl AttachedProgram {
    /// Whether our runtime attached it (it carries [`PROGRAM_NAME`]).
    pub fn is_ours(&self) -> bool {
        self.name == PROGRAM_NAME
    }
}

/// A cgroup v2 directory (on a hybrid host: in the `unified` hierarchy) whose device programs we
/// manage. Changes to one cgroup must be serialised by the caller (the container lock): two
/// concurrent [`DeviceCgroup::apply`] calls can make the later one fail, never leave no filter.
#[derive(Debug)]
pub struct DeviceCgroup {
    dir: OwnedFd,
    path: PathBuf,
}

impl DeviceCgroup {
    pub fn open(path: impl AsRef<Path>) -> Result<DeviceCgroup> {
        let path = path.as_ref().to_path_buf();
        let dir = File::options()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|source| Error::OpenCgroup {
                path: path.clone(),
                source,
            })?;
        Ok(DeviceCgroup {
            dir: dir.into(),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every device program attached directly to this cgroup, ours or not, in run order
    /// (inherited ones from ancestors are not listed, though they run too).
    pub fn query(&self) -> Result<Vec<AttachedProgram>> {
        Ok(self
            .opened_programs()?
            .into_iter()
            .map(|(program, _)| program)
            .collect())
    }

    /// Compiles `rules`, loads them and installs the program in place of ours
    /// (see [`DeviceCgroup::install`]). Returns the new program's id.
    pub fn apply(&self, rules: &[Rule]) -> Result<u32> {
        let program = Program::load(rules)?;
        self.install(&program)?;
        Ok(program.id())
    }

    /// Attaches `program` (with `BPF_F_ALLOW_MULTI`) so that afterwards it is the only one of
    /// ours on the cgroup. If one of ours is attached, the new one takes its place atomically
    /// (`BPF_F_REPLACE`): no device access is ever checked without a filter of ours. Further
    /// programs of ours (left by a crash between attach and clean-up) are then detached; other
    /// programs are left alone, and the kernel requires all attached programs to allow an access.
    pub fn install(&self, program: &Program) -> Result<()> {
        let ours: Vec<_> = self
            .opened_programs()?
            .into_iter()
            .filter(|(attached, _)| attached.is_ours())
            .collect();
        let already_attached = ours.iter().any(|(attached, _)| attached.id == program.id());
        let mut stale = ours
            .iter()
            .filter(|(attached, _)| attached.id != program.id())
            .peekable();
        if !already_attached {
            match stale.next() {
                Some((old, old_fd)) => {
                    sys::prog_attach(self.dir.as_fd(), program.as_fd(), Some(old_fd.as_fd()))
                        .map_err(|source| Error::Replace {
                            old: old.id,
                            new: program.id(),
                            path: self.path.clone(),
                            source,
                        })?
                }
                None => {
                    sys::prog_attach(self.dir.as_fd(), program.as_fd(), None).map_err(|source| {
                        Error::Attach {
                            id: program.id(),
                            path: self.path.clone(),
                            source,
                        }
                    })?
                }
            }
        }
        for (attached, fd) in stale {
            self.detach(attached.id, fd.as_fd())?;
        }
        Ok(())
    }

    /// Detaches every program of ours from the cgroup, leaving it without our device rules.
    /// Returns how many were detached.
    pub fn detach_all(&self) -> Result<usize> {
        let mut detached = 0;
        for (attached, fd) in self.opened_programs()? {
            if attached.is_ours() {
                self.detach(attached.id, fd.as_fd())?;
                detached += 1;
            }
        }
        Ok(detached)
    }

    fn detach(&self, id: u32, program: BorrowedFd<'_>) -> Result<()> {
        match sys::prog_detach(self.dir.as_fd(), program) {
            Err(error) if error.raw_os_error() != Some(libc::ENOENT) => Err(Error::Detach {
                id,
                path: self.path.clone(),
                source: error,
            }),
            _ => Ok(()),
        }
    }

    /// The attached programs with an fd for each; a program detached between the query and the
    /// open is skipped.
    fn opened_programs(&self) -> Result<Vec<(AttachedProgram, OwnedFd)>> {
        let ids = sys::prog_query(self.dir.as_fd()).map_err(|source| Error::Query {
            path: self.path.clone(),
            source,
        })?;
        let mut programs = Vec::with_capacity(ids.len());
        for id in ids {
            let fd = match sys::prog_get_fd_by_id(id) {
                Ok(fd) => fd,
                Err(error) if error.raw_os_error() == Some(libc::ENOENT) => continue,
                Err(source) => return Err(Error::ProgramById { id, source }),
            };
            let (_, name) = sys::prog_info(fd.as_fd()).map_err(|source| Error::ProgramInfo {
                what: id.to_string(),
                source,
            })?;
            programs.push((AttachedProgram { id, name }, fd));
        }
        Ok(programs)
    }
}

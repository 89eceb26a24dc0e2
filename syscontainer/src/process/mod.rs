//! Creating the container's PID 1, the OCI way: `create` clones it into its new
//! namespaces and sets everything up, leaving it waiting (the "created" state); `start`
//! lets it exec the container's command.

pub mod channel;
pub mod identity;
pub mod init;
pub mod mounts;

use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use channel::{Channel, Message};
pub use init::InitContext;

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("clone container init: {0}")]
    Clone(nix::Error),
    #[error("talking to the container init: {0}")]
    Channel(#[from] std::io::Error),
    #[error("container init: {0}")]
    Init(String),
    #[error("container init exited before {0}")]
    Vanished(&'static str),
    #[error("prestart hook: {0}")]
    Hook(String),
    #[error("network: {0}")]
    Network(String),
    #[error("cgroup: {0}")]
    Cgroup(#[from] crate::cgroups::CgroupError),
}

pub type Result<T> = std::result::Result<T, ProcessError>;

const INIT_STACK_SIZE: usize = 1 << 20;

pub use exec_stage::clone::fork_into;

/// An `O_PATH` descriptor of a cgroup2 directory, for [`fork_into`].
pub fn open_cgroup_dir(dir: &std::path::Path) -> Option<std::os::fd::OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .ok()
        .map(std::os::fd::OwnedFd::from)
}

/// How the init gets into the container's cgroups without anyone writing its PID to a
/// `cgroup.procs` (see [`crate::cgroups::join_v1_self`]): born in the cgroup2 directory,
/// then it writes itself into each v1 `tasks` file before unsharing its cgroup namespace.
pub struct SelfPlacement<'a> {
    pub v2_dir: Option<&'a std::path::Path>,
    pub v1_tasks: &'a [std::path::PathBuf],
}

/// The `setns`/`clone` flag of a namespace type.
pub fn namespace_flag(typ: LinuxNamespaceType) -> CloneFlags {
    match typ {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        // CLONE_NEWTIME (nix has no constant for it).
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(0x80),
    }
}

fn clone_flags(spec: &Spec) -> CloneFlags {
    let mut flags = CloneFlags::empty();
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for ns in namespaces {
        if ns.path().is_some() {
            continue;
        }
        flags |= match ns.typ() {
            // Unshared by the init itself once it is in its cgroup.
            LinuxNamespaceType::Cgroup => CloneFlags::empty(),
            LinuxNamespaceType::Time => CloneFlags::empty(),
            other => namespace_flag(other),
        };
    }
    flags
}

/// A PID namespace given by path is joined by the caller before the clone (it applies to
/// the caller's children, so the init is born in it); the init joins the others itself.
fn join_pid_namespace(spec: &Spec) -> Result<()> {
    let path = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .and_then(|ns| {
            ns.iter()
                .find(|n| n.typ() == LinuxNamespaceType::Pid)
                .and_then(|n| n.path().clone())
        });
    let Some(path) = path else {
        return Ok(());
    };
    let fail =
        |e: String| ProcessError::Init(format!("join pid namespace {}: {e}", path.display()));
    let fd = std::fs::File::open(&path).map_err(|e| fail(e.to_string()))?;
    nix::sched::setns(&fd, CloneFlags::CLONE_NEWPID).map_err(|e| fail(e.to_string()))
}

/// A container init that has been cloned and set up, waiting to exec.
#[derive(Debug)]
pub struct CreatedInit {
    pub pid: Pid,
    channel: Channel,
}

/// Clone the init and drive it to the "created" state. `in_cgroup` places the new
/// process in the container's cgroups before it unshares its cgroup namespace;
/// `prestart` runs once the rootfs is mounted (the OCI prestart hooks). On failure the
/// half-made init is killed and reaped.
///
/// With `placement` (and no new user namespace, whose root may not write the host's
/// cgroup files before its ID maps apply), the init places itself; `in_cgroup` receives
/// `false` then and must not move it. Otherwise (or if the kernel lacks `clone3` with
/// `CLONE_INTO_CGROUP`) `in_cgroup` receives `true` and writes its PID.
pub fn create(
    ctx: &InitContext,
    placement: Option<SelfPlacement>,
    in_cgroup: impl FnOnce(i32, bool) -> Result<()>,
    prestart: impl FnOnce(i32) -> Result<()>,
) -> Result<CreatedInit> {
    join_pid_namespace(ctx.spec)?;
    let (parent_end, child_end) = Channel::pair().map_err(|e| ProcessError::Channel(e.into()))?;
    let flags = clone_flags(ctx.spec);
    // The child closes its copy of the monitor's end first thing: a monitor that dies
    // then (kill -9) must read as EOF to the waiting init, which exits, instead of
    // leaving it waiting forever (and `start` with it, on the readiness pipe it holds).
    let monitor_end = parent_end.raw_fd();
    let placement = placement.filter(|_| !flags.contains(CloneFlags::CLONE_NEWUSER));
    let mut self_placed = None;
    if let Some(p) = &placement {
        let v2 = p.v2_dir.map(|d| (d, open_cgroup_dir(d)));
        if v2.as_ref().is_none_or(|(_, fd)| fd.is_some()) {
            let fd = v2.as_ref().and_then(|(_, fd)| fd.as_ref());
            // SAFETY: the monitor is single-threaded; the child never returns into our
            // code (init::run exits or execs).
            match unsafe { fork_into(flags, fd.map(std::os::fd::AsFd::as_fd)) } {
                Ok(0) => {
                    // SAFETY: closing the child's copy of a descriptor it never uses.
                    unsafe { libc::close(monitor_end) };
                    init::run(ctx, &child_end, Some(p.v1_tasks))
                }
                Ok(pid) => self_placed = Some(Pid::from_raw(pid)),
                Err(e) => tracing::debug!("clone3 into the cgroup: {e}; cloning, then moving"),
            }
        }
    }
    let pid = match self_placed {
        Some(pid) => pid,
        None => {
            let mut stack = vec![0u8; INIT_STACK_SIZE];
            let child = Box::new(|| -> isize {
                // SAFETY: as above, the child's copy of the monitor's end.
                unsafe { libc::close(monitor_end) };
                init::run(ctx, &child_end, None);
            });
            // SAFETY: the monitor is single-threaded, so the child's copy of the address
            // space is consistent; the child never returns into our code (init::run exits
            // or execs).
            unsafe { nix::sched::clone(child, &mut stack, flags, Some(libc::SIGCHLD)) }
                .map_err(ProcessError::Clone)?
        }
    };
    let move_it = self_placed.is_none();
    drop(child_end);
    let created = CreatedInit {
        pid,
        channel: parent_end,
    };
    let mapped = write_id_maps(ctx.spec, pid);
    match mapped.and_then(|()| drive_to_created(&created, move_it, in_cgroup, prestart)) {
        Ok(()) => Ok(created),
        Err(e) => {
            created.abort();
            Err(e)
        }
    }
}

/// Write the user namespace's uid and gid maps of a just-cloned init (the init waits for
/// `Go` before it does anything, so it never runs unmapped).
fn write_id_maps(spec: &Spec, pid: Pid) -> Result<()> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let maps = [
        ("uid_map", linux.uid_mappings()),
        ("gid_map", linux.gid_mappings()),
    ];
    for (file, mappings) in maps {
        let Some(mappings) = mappings.as_ref().filter(|m| !m.is_empty()) else {
            continue;
        };
        let text: String = mappings
            .iter()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect();
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, text)
            .map_err(|e| ProcessError::Init(format!("write {path}: {e}")))?;
    }
    Ok(())
}

fn drive_to_created(
    init: &CreatedInit,
    move_it: bool,
    in_cgroup: impl FnOnce(i32, bool) -> Result<()>,
    prestart: impl FnOnce(i32) -> Result<()>,
) -> Result<()> {
    in_cgroup(init.pid.as_raw(), move_it)?;
    init.channel.send(&Message::Go)?;
    init.expect(Message::MountsReady, "mounting the rootfs")?;
    prestart(init.pid.as_raw())?;
    init.channel.send(&Message::HooksDone)?;
    init.expect(Message::Created, "reaching the created state")?;
    Ok(())
}

impl CreatedInit {
    fn expect(&self, want: Message, during: &'static str) -> Result<()> {
        match self.channel.recv()? {
            Some(m) if m == want => Ok(()),
            Some(Message::Failed(e)) => Err(ProcessError::Init(e)),
            Some(other) => Err(ProcessError::Init(format!("unexpected message {other:?}"))),
            None => Err(ProcessError::Vanished(during)),
        }
    }

    /// Let the init exec the container's command; returns once the exec happened.
    pub fn start(self) -> Result<Pid> {
        let result = (|| {
            self.channel.send(&Message::Start)?;
            match self.channel.recv()? {
                // The channel is close-on-exec: EOF means the exec succeeded.
                None => Ok(()),
                Some(Message::Failed(e)) => Err(ProcessError::Init(e)),
                Some(other) => Err(ProcessError::Init(format!("unexpected message {other:?}"))),
            }
        })();
        match result {
            Ok(()) => Ok(self.pid),
            Err(e) => {
                self.abort();
                Err(e)
            }
        }
    }

    /// Leave the init parked at "created" on its exec FIFO ([`InitContext::exec_fifo`]) and
    /// let go of it: the caller may exit, the init's parent (or subreaper) reaps it.
    pub fn release(self) -> Pid {
        self.pid
    }

    /// Kill and reap a init that will not be started.
    pub fn abort(&self) {
        let _ = kill(self.pid, Signal::SIGKILL);
        let _ = waitpid(self.pid, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_cgroup_dir_has_no_descriptor() {
        assert!(open_cgroup_dir(std::path::Path::new("/nonexistent/cgroup")).is_none());
        assert!(open_cgroup_dir(std::path::Path::new("/")).is_some());
    }
}

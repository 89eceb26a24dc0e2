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
    #[error("cgroup: {0}")]
    Cgroup(#[from] crate::cgroups::CgroupError),
}

pub type Result<T> = std::result::Result<T, ProcessError>;

const INIT_STACK_SIZE: usize = 1 << 20;

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
            LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
            LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
            LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
            LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
            LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
            LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
            // Unshared by the init itself once it is in its cgroup.
            LinuxNamespaceType::Cgroup => CloneFlags::empty(),
            LinuxNamespaceType::Time => CloneFlags::empty(),
        };
    }
    flags
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
pub fn create(
    ctx: &InitContext,
    in_cgroup: impl FnOnce(i32) -> Result<()>,
    prestart: impl FnOnce(i32) -> Result<()>,
) -> Result<CreatedInit> {
    let (parent_end, child_end) = Channel::pair().map_err(|e| ProcessError::Channel(e.into()))?;
    let mut stack = vec![0u8; INIT_STACK_SIZE];
    let flags = clone_flags(ctx.spec);
    let child = Box::new(|| -> isize {
        init::run(ctx, &child_end);
    });
    // SAFETY: the monitor is single-threaded, so the child's copy of the address space
    // is consistent; the child never returns into our code (init::run exits or execs).
    let pid = unsafe { nix::sched::clone(child, &mut stack, flags, Some(libc::SIGCHLD)) }
        .map_err(ProcessError::Clone)?;
    drop(child_end);
    let created = CreatedInit {
        pid,
        channel: parent_end,
    };
    let mapped = write_id_maps(ctx.spec, pid);
    match mapped.and_then(|()| drive_to_created(&created, in_cgroup, prestart)) {
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
    in_cgroup: impl FnOnce(i32) -> Result<()>,
    prestart: impl FnOnce(i32) -> Result<()>,
) -> Result<()> {
    in_cgroup(init.pid.as_raw())?;
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

    /// Kill and reap a init that will not be started.
    pub fn abort(&self) {
        let _ = kill(self.pid, Signal::SIGKILL);
        let _ = waitpid(self.pid, None);
    }
}

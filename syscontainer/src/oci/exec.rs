//! `exec`: run a process described by a runtime-spec `process` (containerd's
//! `process.json`) in a running container. The caller joins the init's PID namespace and
//! forks; the child, born in the container's cgroup, joins the init's other namespaces,
//! takes the process's identity and execs. With `detach` the caller returns once the exec
//! happened (the process is reparented to the caller's subreaper); otherwise it waits.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sched::{setns, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxSeccomp, Process};

use super::record::OciRoot;
use super::{console, create::write_pid_file, OciError, Result};
use crate::cgroups::ContainerCgroup;
use crate::state::OciStatus;

pub struct ExecOptions<'a> {
    pub process: Process,
    pub detach: bool,
    pub pid_file: Option<&'a Path>,
    pub console_socket: Option<&'a Path>,
}

/// The namespaces `/proc/PID/ns` names, with their flags.
const NAMESPACES: &[(&str, CloneFlags)] = &[
    ("user", CloneFlags::CLONE_NEWUSER),
    ("mnt", CloneFlags::CLONE_NEWNS),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("net", CloneFlags::CLONE_NEWNET),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
];

fn same_namespace(pid: i32, name: &str) -> bool {
    let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{name}")).ok();
    let ours = std::fs::read_link(format!("/proc/self/ns/{name}")).ok();
    theirs.is_some() && theirs == ours
}

/// Run the process; its exit code (0 when detached).
pub fn exec(root: &OciRoot, id: &str, opts: &ExecOptions) -> Result<i32> {
    let record = root.load(id)?;
    match record.status() {
        OciStatus::Running => {}
        OciStatus::Stopped => return Err(OciError::NotRunning(id.to_string())),
        other => {
            return Err(OciError::Invalid(format!(
                "cannot exec in container {id}: it is {other:?}"
            )))
        }
    }
    if opts.process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(OciError::Invalid("the process has no args".into()));
    }
    let spec = root.load_spec(id)?;
    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().clone());
    let init = record.init.pid;
    let pidfd = crate::exec::pidfd_open(init).map_err(|e| OciError::Invalid(e.to_string()))?;
    let flags = NAMESPACES
        .iter()
        .filter(|(name, _)| !same_namespace(init, name))
        .fold(CloneFlags::empty(), |acc, (_, f)| acc | *f);
    let terminal = opts.process.terminal().unwrap_or(false);
    let pty = match (terminal, opts.console_socket) {
        (false, _) => None,
        (true, None) => {
            return Err(OciError::Invalid(
                "process.terminal is set but no --console-socket was given".into(),
            ))
        }
        (true, Some(socket)) => {
            let (master, number) =
                crate::exec::container_pty(init).map_err(|e| OciError::Invalid(e.to_string()))?;
            console::send_master(socket, master.as_fd(), &format!("/dev/pts/{number}"))?;
            Some(number)
        }
    };
    if !same_namespace(init, "pid") {
        setns(pidfd.as_fd(), CloneFlags::CLONE_NEWPID)
            .map_err(|e| OciError::Invalid(format!("join the pid namespace of {init}: {e}")))?;
    }
    let cgroup = ContainerCgroup::load(&record.cgroup);
    if record.system_container {
        // With no monitor to poll for it, hand the controllers to systemd's units once its
        // init has left the container's own cgroup2 directory (pure v2; see the
        // architecture notes), whenever an exec happens to come by.
        if let Err(e) = cgroup.delegate_subtree() {
            tracing::debug!("handing controllers to the container's subtree: {e}");
        }
    }
    let child = Child {
        pidfd: &pidfd,
        flags,
        pty,
        process: &opts.process,
        seccomp: seccomp.as_ref(),
    };
    let pid = fork_child(&cgroup, record.system_container, &child)?;
    if let Some(pid_file) = opts.pid_file {
        write_pid_file(pid_file, pid.as_raw())?;
    }
    if opts.detach {
        return Ok(0);
    }
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(OciError::Invalid(format!("wait for {pid}: {e}"))),
        }
    }
}

struct Child<'a> {
    pidfd: &'a OwnedFd,
    flags: CloneFlags,
    pty: Option<u32>,
    process: &'a Process,
    seccomp: Option<&'a LinuxSeccomp>,
}

/// Fork the child into the container's cgroup (born in the cgroup2 directory — a system
/// container's exec leaf, since systemd owns the container's own — then moving itself
/// into the v1 ones) and wait for its exec; a failure before the exec comes back over a
/// close-on-exec pipe as the error.
fn fork_child(cgroup: &ContainerCgroup, system_container: bool, child: &Child) -> Result<Pid> {
    let v2_dir: Option<PathBuf> = if system_container {
        cgroup.exec_dir()?
    } else {
        cgroup.v2_dir()
    };
    let v2_fd = v2_dir.as_deref().and_then(crate::process::open_cgroup_dir);
    let v1_tasks = cgroup.v1_tasks_files();
    let (err_read, err_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| OciError::Invalid(format!("pipe: {e}")))?;
    // SAFETY: this process is single-threaded; the child only execs or _exits.
    let born = unsafe {
        crate::process::fork_into(CloneFlags::empty(), v2_fd.as_ref().map(|fd| fd.as_fd()))
    };
    let pid = match born {
        Ok(0) => child_main(child, Placement::SelfV1(&v1_tasks), err_write),
        Ok(pid) => pid,
        Err(_) => {
            // SAFETY: as above.
            match unsafe { nix::unistd::fork() } {
                Ok(nix::unistd::ForkResult::Child) => {
                    child_main(child, Placement::Move(cgroup, system_container), err_write)
                }
                Ok(nix::unistd::ForkResult::Parent { child }) => child.as_raw(),
                Err(e) => return Err(OciError::Invalid(format!("fork: {e}"))),
            }
        }
    };
    drop(err_write);
    let pid = Pid::from_raw(pid);
    let mut message = String::new();
    let _ = std::fs::File::from(err_read).read_to_string(&mut message);
    if !message.is_empty() {
        let _ = waitpid(pid, None);
        return Err(OciError::Invalid(message));
    }
    Ok(pid)
}

enum Placement<'a> {
    SelfV1(&'a [PathBuf]),
    /// Not born in the cgroup: write our PID (the exec leaf for a system container).
    Move(&'a ContainerCgroup, bool),
}

fn child_main(child: &Child, placement: Placement, err: OwnedFd) -> ! {
    let message = match set_up_and_exec(child, placement) {
        Ok(never) => match never {},
        Err(message) => message,
    };
    let _ = std::fs::File::from(err).write_all(message.as_bytes());
    // SAFETY: leaving the forked child without running the parent's destructors.
    unsafe { libc::_exit(126) }
}

enum Never {}

fn set_up_and_exec(child: &Child, placement: Placement) -> std::result::Result<Never, String> {
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("{what}: {e}");
    let me = std::process::id() as i32;
    match placement {
        Placement::SelfV1(tasks) => crate::cgroups::join_v1_self(tasks),
        Placement::Move(cgroup, true) => cgroup.add_exec_process(me),
        Placement::Move(cgroup, false) => cgroup.add_process(me),
    }
    .map_err(|e| fail("join the container's cgroup", &e))?;
    if !child.flags.is_empty() {
        setns(child.pidfd.as_fd(), child.flags)
            .map_err(|e| fail("join the container's namespaces", &e))?;
    }
    let process = child.process;
    let cwd = process.cwd();
    nix::unistd::chdir(cwd.as_path()).map_err(|e| fail(&format!("chdir {}", cwd.display()), &e))?;
    if let Some(n) = child.pty {
        attach_pty(n)?;
    }
    crate::exec::apply_rlimits(process)?;
    let user = process.user();
    crate::process::identity::apply(
        user.uid(),
        user.gid(),
        user.additional_gids().as_deref().unwrap_or(&[]),
        process.capabilities().as_ref(),
        process.no_new_privileges().unwrap_or(false),
    )?;
    // SAFETY: the new program starts with SIGPIPE's default action.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    crate::process::init::mark_fds_cloexec();
    let args = process.args().clone().unwrap_or_default();
    let env = process.env().clone().unwrap_or_default();
    let program = &args[0];
    let path = crate::process::init::find_executable(program, &env)
        .ok_or_else(|| format!("{program}: executable file not found in the container's PATH"))?;
    if let Some(profile) = child.seccomp {
        crate::seccomp::apply(profile).map_err(|e| fail("seccomp", &e))?;
    }
    let err = nix::unistd::execve(
        &crate::fsutil::c_path(&path),
        &crate::process::init::c_strings(&args),
        &crate::process::init::c_strings(&env),
    )
    .unwrap_err();
    Err(format!("exec {}: {err}", path.display()))
}

/// The pty slave (in the container's devpts) as stdio and controlling terminal.
fn attach_pty(number: u32) -> std::result::Result<(), String> {
    nix::unistd::setsid().map_err(|e| format!("setsid: {e}"))?;
    let slave = format!("/dev/pts/{number}");
    let fd = nix::fcntl::open(
        slave.as_str(),
        nix::fcntl::OFlag::O_RDWR,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| format!("open {slave}: {e}"))?;
    // SAFETY: make the pty our controlling terminal.
    unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) };
    for target in 0..3 {
        nix::unistd::dup2(fd, target).map_err(|e| format!("dup2: {e}"))?;
    }
    if fd > 2 {
        let _ = nix::unistd::close(fd);
    }
    Ok(())
}

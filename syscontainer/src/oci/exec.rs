//! `exec`: run a process described by a runtime-spec `process` (containerd's
//! `process.json`) in a running container. The caller forks a middle process, born in the
//! container's cgroup, that joins all of the init's namespaces in one `setns`: the PID
//! namespace applies to its children only, so the middle stays invisible to the container
//! while the others take effect. It forks the process, born inside every namespace at once
//! (never in the container's PID namespace with the host's root: CVE-2016-9962), which takes
//! the process's identity and execs. The middle reports the process's host PID (for
//! `--pid-file`); with `detach` it leaves at once and the process is reparented to the
//! caller's subreaper (containerd's shim), otherwise it relays the process's exit.

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
    let flags = if same_namespace(init, "pid") {
        flags
    } else {
        flags | CloneFlags::CLONE_NEWPID
    };
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
    let started = start(&cgroup, record.system_container, &child, opts.detach)?;
    let written = match opts.pid_file {
        Some(pid_file) => write_pid_file(pid_file, started.process),
        None => Ok(()),
    };
    // Detached, the middle leaves right after its report; otherwise its exit is the
    // process's.
    let code = wait_exit(started.middle);
    written?;
    code
}

/// The exit code of our child `pid`, or 128 + the signal that ended it.
fn wait_exit(pid: Pid) -> Result<i32> {
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

/// The middle process and the host PID of the process it started.
struct Started {
    middle: Pid,
    process: i32,
}

/// Fork the middle process into the container's cgroup (born in the cgroup2 directory — a
/// system container's exec leaf, since systemd owns the container's own — then moving itself
/// into the v1 ones); it starts the process. Returns once the process has exec'd; a failure
/// before that comes back as the error, and leaves no process behind.
fn start(
    cgroup: &ContainerCgroup,
    system_container: bool,
    child: &Child,
    detach: bool,
) -> Result<Started> {
    let v2_dir: Option<PathBuf> = if system_container {
        cgroup.exec_dir()?
    } else {
        cgroup.v2_dir()
    };
    let v2_fd = v2_dir.as_deref().and_then(crate::process::open_cgroup_dir);
    let v1_tasks = cgroup.v1_tasks_files();
    let pipe = || {
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| OciError::Invalid(format!("pipe: {e}")))
    };
    let (err_read, err_write) = pipe()?;
    let (pid_read, pid_write) = pipe()?;
    let middle = Middle {
        child,
        detach,
        err: err_write,
        report: pid_write,
    };
    // SAFETY: this process is single-threaded; the child only execs or _exits.
    let born = unsafe {
        crate::process::fork_into(CloneFlags::empty(), v2_fd.as_ref().map(|fd| fd.as_fd()))
    };
    let pid = match born {
        Ok(0) => middle.run(Placement::SelfV1(&v1_tasks)),
        Ok(pid) => pid,
        Err(_) => {
            // SAFETY: as above.
            match unsafe { nix::unistd::fork() } {
                Ok(nix::unistd::ForkResult::Child) => {
                    middle.run(Placement::Move(cgroup, system_container))
                }
                Ok(nix::unistd::ForkResult::Parent { child }) => child.as_raw(),
                Err(e) => return Err(OciError::Invalid(format!("fork: {e}"))),
            }
        }
    };
    drop(middle);
    let middle = Pid::from_raw(pid);
    let mut report = String::new();
    let _ = std::fs::File::from(pid_read).read_to_string(&mut report);
    let mut message = String::new();
    let _ = std::fs::File::from(err_read).read_to_string(&mut message);
    let process = report.parse::<i32>().ok().filter(|pid| *pid > 0);
    match process {
        Some(process) if message.is_empty() => Ok(Started { middle, process }),
        _ => {
            let _ = waitpid(middle, None);
            if message.is_empty() {
                message = "the exec's middle process ended before starting the process".into();
            }
            Err(OciError::Invalid(message))
        }
    }
}

enum Placement<'a> {
    SelfV1(&'a [PathBuf]),
    /// Not born in the cgroup: write our PID (the exec leaf for a system container).
    Move(&'a ContainerCgroup, bool),
}

/// What the middle process needs: the process to start, and its two pipes to the caller. The
/// process gets neither: it runs in the container, and reports only to the middle.
struct Middle<'a> {
    child: &'a Child<'a>,
    detach: bool,
    /// A failure before the process exec'd, as text.
    err: OwnedFd,
    /// The process's host PID, once it exec'd.
    report: OwnedFd,
}

impl Middle<'_> {
    fn run(self, placement: Placement) -> ! {
        let failed = |err: OwnedFd, message: String| -> ! {
            let _ = std::fs::File::from(err).write_all(message.as_bytes());
            // SAFETY: leaving the forked child without running the parent's destructors.
            unsafe { libc::_exit(126) }
        };
        let me = std::process::id() as i32;
        let joined = match placement {
            Placement::SelfV1(tasks) => crate::cgroups::join_v1_self(tasks),
            Placement::Move(cgroup, true) => cgroup.add_exec_process(me),
            Placement::Move(cgroup, false) => cgroup.add_process(me),
        };
        if let Err(e) = joined {
            failed(self.err, format!("join the container's cgroup: {e}"));
        }
        // The process below runs our code inside the container until it execs: not
        // dumpable, no process of the container may ptrace it or open its /proc files. It
        // inherits this; exec resets it.
        // SAFETY: prctl on ourselves.
        unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
        if !self.child.flags.is_empty() {
            if let Err(e) = setns(self.child.pidfd.as_fd(), self.child.flags) {
                failed(self.err, format!("join the container's namespaces: {e}"));
            }
        }
        let (exec_read, exec_write) = match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
            Ok(pipe) => pipe,
            Err(e) => failed(self.err, format!("pipe: {e}")),
        };
        // SAFETY: single-threaded; the child only execs or _exits.
        let process = match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Child) => {
                sclog::stop_point("oci-exec:process-forked");
                drop(self.report);
                drop(self.err);
                drop(exec_read);
                child_main(self.child, exec_write)
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => child,
            Err(e) => failed(self.err, format!("fork: {e}")),
        };
        drop(exec_write);
        let mut message = String::new();
        let _ = std::fs::File::from(exec_read).read_to_string(&mut message);
        if !message.is_empty() {
            let _ = waitpid(process, None);
            failed(self.err, message);
        }
        let _ = std::fs::File::from(self.report).write_all(process.as_raw().to_string().as_bytes());
        drop(self.err);
        let code = if self.detach {
            0
        } else {
            wait_exit(process).unwrap_or(126)
        };
        // SAFETY: leaving the forked child without running the parent's destructors.
        unsafe { libc::_exit(code) }
    }
}

/// In the process: set up and exec; a failure goes to the middle over `err`.
fn child_main(child: &Child, err: OwnedFd) -> ! {
    let message = match set_up_and_exec(child) {
        Ok(never) => match never {},
        Err(message) => message,
    };
    let _ = std::fs::File::from(err).write_all(message.as_bytes());
    // SAFETY: leaving the forked child without running the parent's destructors.
    unsafe { libc::_exit(126) }
}

enum Never {}

fn set_up_and_exec(child: &Child) -> std::result::Result<Never, String> {
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("{what}: {e}");
    let process = child.process;
    let cwd = process.cwd();
    nix::unistd::chdir(cwd.as_path()).map_err(|e| fail(&format!("chdir {}", cwd.display()), &e))?;
    if let Some(n) = child.pty {
        attach_pty(n)?;
    }
    crate::exec::apply_rlimits(process)?;
    let user = process.user();
    let no_new_privileges = process.no_new_privileges().unwrap_or(false);
    // Loading a filter takes CAP_SYS_ADMIN or no_new_privs: without no_new_privs it is
    // loaded while the capabilities are still held, as runc does (CRI's exec process of a
    // system container carries CRI's default capabilities, without CAP_SYS_ADMIN).
    let seccomp_first = !no_new_privileges;
    if seccomp_first {
        if let Some(profile) = child.seccomp {
            crate::seccomp::apply(profile).map_err(|e| fail("seccomp", &e))?;
        }
    }
    crate::process::identity::apply(
        user.uid(),
        user.gid(),
        user.additional_gids().as_deref().unwrap_or(&[]),
        process.capabilities().as_ref(),
        no_new_privileges,
    )?;
    // SAFETY: the new program starts with SIGPIPE's default action.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    crate::process::init::mark_fds_cloexec();
    let args = process.args().clone().unwrap_or_default();
    let env = process.env().clone().unwrap_or_default();
    let program = &args[0];
    let path = crate::process::init::find_executable(program, &env)
        .ok_or_else(|| format!("{program}: executable file not found in the container's PATH"))?;
    if !seccomp_first {
        if let Some(profile) = child.seccomp {
            crate::seccomp::apply(profile).map_err(|e| fail("seccomp", &e))?;
        }
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

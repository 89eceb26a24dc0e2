//! `exec`: run a process inside a running container, joining its namespaces and cgroup
//! directly (no round trip through the monitor).
//!
//! The caller forks a child that joins the cgroup, then every namespace through a pidfd
//! in one `setns` (the PID namespace applies to its children only), and forks the process
//! that execs: it is born inside all of them, so the container never sees a process of
//! the runtime that is still in the host's mount namespace. The middle process relays its
//! exit status, so the caller waits for its own child.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

use nix::sched::{setns, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

use crate::container::Container;
use crate::error::{Error, Result};
use crate::options::UserSpec;
use crate::process::init::find_executable;
use crate::store::Store;

#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub user: Option<UserSpec>,
    pub workdir: Option<PathBuf>,
    pub tty: bool,
    pub interactive: bool,
    pub detach: bool,
    pub detach_keys: Vec<u8>,
}

pub(crate) fn pidfd_open(pid: i32) -> Result<OwnedFd> {
    // SAFETY: pidfd_open returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(Error::Invalid(format!(
            "pidfd_open {pid}: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// A new pty in the container's devpts instance: (master, slave number).
pub(crate) fn container_pty(init_pid: i32) -> Result<(OwnedFd, u32)> {
    // The container controls its /dev: resolve inside its root and insist on a devpts
    // node, so a planted symlink cannot make us open a host file.
    let root = std::path::PathBuf::from(format!("/proc/{init_pid}/root"));
    let master = crate::fsutil::open_in_root(
        &root,
        std::path::Path::new("/dev/pts/ptmx"),
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY,
    )
    .map_err(|e| Error::Invalid(format!("open the container's /dev/pts/ptmx: {e}")))?;
    let on_devpts = nix::sys::statfs::fstatfs(&master)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::DEVPTS_SUPER_MAGIC);
    if !on_devpts {
        return Err(Error::Invalid(
            "the container's /dev/pts/ptmx is not on a devpts file system".into(),
        ));
    }
    let mut unlock: libc::c_int = 0;
    let mut number: libc::c_uint = 0;
    // SAFETY: pty ioctls on our master.
    unsafe {
        if libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &mut unlock) < 0
            || libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut number) < 0
        {
            return Err(Error::Invalid(format!(
                "set up pty: {}",
                std::io::Error::last_os_error()
            )));
        }
    }
    Ok((master, number))
}

fn copy_winsize(from: i32, to: i32) {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: window size ioctls on terminal fds.
    unsafe {
        if libc::ioctl(from, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(to, libc::TIOCSWINSZ, &ws);
        }
    }
}

/// Run `opts.args` in the container; returns its exit code (0 when detached).
pub fn exec(store: &Store, id: &str, opts: &ExecOptions) -> Result<i32> {
    let c = Container::load(store, id)?;
    let init_pid = c.running_init()?;
    let cgroup = c.cgroup();
    if c.status_with(&cgroup) == crate::state::Status::Paused {
        return Err(Error::Paused(c.config.name.clone()));
    }
    if opts.args.is_empty() {
        return Err(Error::Invalid("exec needs a command".into()));
    }
    let spec = store.load_spec(id)?;
    let pidfd = pidfd_open(init_pid)?;
    let pty = if opts.tty {
        Some(container_pty(init_pid)?)
    } else {
        None
    };

    let flags = namespaces_to_join(&c);
    sclog::crash_point("exec:before-fork");

    let process = spec.process().clone().unwrap_or_default();
    let mut env = process.env().clone().unwrap_or_default();
    for (k, v) in &opts.env {
        env.retain(|e| e.split_once('=').map(|(ek, _)| ek) != Some(k.as_str()));
        env.push(format!("{k}={v}"));
    }
    let cwd = opts
        .workdir
        .clone()
        .unwrap_or_else(|| process.cwd().clone());

    let v1_tasks = cgroup.v1_tasks_files();
    let forked = fork_in_exec_leaf(&cgroup)?;
    match forked.0 {
        ForkResult::Child => {
            let placement = if forked.1 {
                Placement::SelfV1(&v1_tasks)
            } else {
                Placement::Move(&cgroup)
            };
            let code = match exec_child(
                placement,
                &pidfd,
                flags,
                pty.as_ref().map(|p| p.1),
                opts,
                &process,
                spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()),
                env,
                &cwd,
            ) {
                Ok(never) => match never {},
                Err((code, message)) => {
                    eprintln!("syscontainer exec: {message}");
                    code
                }
            };
            // SAFETY: leaving the forked child.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { .. } if opts.detach => Ok(0),
        ForkResult::Parent { child } => {
            sclog::crash_point("exec:after-fork");
            wait_for_exec(child, pty.as_ref().map(|p| &p.0), opts)
        }
    }
}

/// The namespaces of PID 1 that an exec'd process joins besides its PID namespace.
fn namespaces_to_join(c: &Container) -> CloneFlags {
    let mut flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWCGROUP;
    if c.config.net != crate::options::NetMode::Host {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    if c.config.user_remap.is_some() {
        flags |= CloneFlags::CLONE_NEWUSER;
    }
    flags
}

/// Fork the process to exec, born in the cgroup2 exec leaf where it can be (the container's
/// own directory has systemd's units below it, and v2 puts no process beside them); the
/// child then moves itself into the v1 directories, so no PID is written to a cgroup.procs,
/// whose first write waits for an RCU grace period. The flag says whether the child was
/// born in the leaf; if not, it must be moved into every hierarchy.
fn fork_in_exec_leaf(cgroup: &crate::cgroups::ContainerCgroup) -> Result<(ForkResult, bool)> {
    let exec_dir = cgroup.exec_dir()?;
    let v2_fd = exec_dir
        .as_deref()
        .and_then(crate::process::open_cgroup_dir);
    if v2_fd.is_some() || exec_dir.is_none() {
        // SAFETY: the CLI is single-threaded; the child only execs or _exits.
        let born = unsafe {
            crate::process::fork_into(CloneFlags::empty(), v2_fd.as_ref().map(|fd| fd.as_fd()))
        };
        match born {
            Ok(0) => return Ok((ForkResult::Child, true)),
            Ok(pid) => {
                let child = nix::unistd::Pid::from_raw(pid);
                return Ok((ForkResult::Parent { child }, true));
            }
            Err(_) => {}
        }
    }
    drop(v2_fd);
    // SAFETY: the CLI is single-threaded; the child only execs or _exits.
    let forked = unsafe { fork() }.map_err(|e| Error::Invalid(format!("fork: {e}")))?;
    Ok((forked, false))
}

/// Relay the terminal (with `-t`) and wait for the exec'd process; its exit code, or 128 +
/// the signal that ended it.
fn wait_for_exec(
    child: nix::unistd::Pid,
    pty_master: Option<&OwnedFd>,
    opts: &ExecOptions,
) -> Result<i32> {
    if let Some(master) = pty_master {
        let stdin = std::io::stdin();
        let stdout = std::io::stdout();
        copy_winsize(stdin.as_raw_fd(), master.as_raw_fd());
        let _raw = crate::console::RawMode::enable(stdin.as_fd());
        let input = opts.interactive.then(|| stdin.as_fd());
        crate::console::proxy(input, master.as_fd(), master.as_fd(), stdout.as_fd(), &[]);
    }
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::Invalid(format!("wait: {e}"))),
        }
    }
}

enum Never {}

/// How the exec'd process gets into the container's cgroups.
enum Placement<'a> {
    /// Born in the cgroup2 directory: join the v1 hierarchies by their `tasks` files.
    SelfV1(&'a [PathBuf]),
    /// Write our PID into every v1 hierarchy and the cgroup2 exec leaf (no `clone3` into a
    /// cgroup).
    Move(&'a crate::cgroups::ContainerCgroup),
}

#[allow(clippy::too_many_arguments)]
fn exec_child(
    placement: Placement,
    pidfd: &OwnedFd,
    flags: CloneFlags,
    pty_number: Option<u32>,
    opts: &ExecOptions,
    process: &oci_spec::runtime::Process,
    seccomp: Option<&oci_spec::runtime::LinuxSeccomp>,
    env: Vec<String>,
    cwd: &std::path::Path,
) -> std::result::Result<Never, (i32, String)> {
    let fail = |what: &str, e: &dyn std::fmt::Display| (126, format!("{what}: {e}"));
    match placement {
        Placement::SelfV1(tasks) => crate::cgroups::join_v1_self(tasks),
        Placement::Move(cgroup) => cgroup.add_exec_process(std::process::id() as i32),
    }
    .map_err(|e| fail("join cgroup", &e))?;
    sclog::crash_point("exec:child-after-cgroup");
    // This process stays in the host's PID namespace, so the container never sees it; the
    // one it forks is born in every namespace of the container at once (visible there
    // before joining the mount namespace, its /proc/PID/root would be the host's root).
    setns(pidfd.as_fd(), flags | CloneFlags::CLONE_NEWPID)
        .map_err(|e| fail("join namespaces", &e))?;
    // Nothing of the CLI's may be reachable from here on, not even by `-w /proc/self/fd/N`.
    close_fds_from(3);
    // SAFETY: this forked CLI is single-threaded; the child only execs or _exits.
    match unsafe { fork() }.map_err(|e| fail("fork", &e))? {
        ForkResult::Child => {}
        ForkResult::Parent { child } => relay_exit(child, opts.detach),
    }
    crate::process::init::chdir_inside(cwd).map_err(|e| (126, e))?;

    if let Some(n) = pty_number {
        nix::unistd::setsid().map_err(|e| fail("setsid", &e))?;
        let slave = format!("/dev/pts/{n}");
        let fd = nix::fcntl::open(
            slave.as_str(),
            nix::fcntl::OFlag::O_RDWR,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| fail(&format!("open {slave}"), &e))?;
        // SAFETY: make the pty our controlling terminal.
        unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) };
        for target in 0..3 {
            nix::unistd::dup2(fd, target).map_err(|e| fail("dup2", &e))?;
        }
    } else if opts.detach || !opts.interactive {
        let null = nix::fcntl::open(
            "/dev/null",
            nix::fcntl::OFlag::O_RDWR,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| fail("open /dev/null", &e))?;
        nix::unistd::dup2(null, 0).map_err(|e| fail("dup2", &e))?;
        if opts.detach {
            nix::unistd::dup2(null, 1).map_err(|e| fail("dup2", &e))?;
            nix::unistd::dup2(null, 2).map_err(|e| fail("dup2", &e))?;
        }
    }

    let (uid, gid, groups) = match &opts.user {
        Some(u) => {
            let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
            crate::users::resolve_in(&read("/etc/passwd"), &read("/etc/group"), u)
                .map_err(|e| (126, format!("user {e}")))?
        }
        None => {
            let u = process.user();
            (
                u.uid(),
                u.gid(),
                u.additional_gids().clone().unwrap_or_default(),
            )
        }
    };
    apply_rlimits(process).map_err(|e| (126, e))?;
    crate::process::identity::apply(
        uid,
        gid,
        &groups,
        process.capabilities().as_ref(),
        process.no_new_privileges().unwrap_or(false),
    )
    .map_err(|e| (126, e))?;

    // SAFETY: restore default signal handling for the new program.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    crate::process::init::mark_fds_cloexec();
    let program = &opts.args[0];
    let path = find_executable(program, &env)
        .ok_or_else(|| (127, format!("{program}: command not found")))?;
    let c_args = crate::process::init::c_strings(&opts.args);
    let c_env = crate::process::init::c_strings(&env);
    if let Some(profile) = seccomp {
        crate::seccomp::apply(profile).map_err(|e| (126, e.to_string()))?;
    }
    let err = nix::unistd::execve(&crate::fsutil::c_path(&path), &c_args, &c_env).unwrap_err();
    let code = if err == nix::errno::Errno::ENOENT {
        127
    } else {
        126
    };
    Err((code, format!("exec {}: {err}", path.display())))
}

/// The exit of the process forked into the container, as this process's own.
fn relay_exit(child: nix::unistd::Pid, detach: bool) -> ! {
    let code = if detach {
        0
    } else {
        loop {
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, code)) => break code,
                Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
                Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => break 126,
            }
        }
    };
    // SAFETY: leaving the forked CLI without running its destructors.
    unsafe { libc::_exit(code) }
}

/// Close every descriptor from `first` up (the exec'd child needs none of the CLI's).
fn close_fds_from(first: u32) {
    // SAFETY: close_range on our own descriptor table; nothing below uses a closed fd.
    unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0) };
}

/// The container's `--ulimit`/`--files-limit` (the stored spec's `process.rlimits`), so
/// an exec'd process gets the same limits as PID 1 rather than the caller's.
pub(crate) fn apply_rlimits(
    process: &oci_spec::runtime::Process,
) -> std::result::Result<(), String> {
    for limit in process.rlimits().as_deref().unwrap_or(&[]) {
        crate::process::init::set_rlimit(limit).map_err(|e| {
            format!(
                "setrlimit {:?} {}:{}: {e}",
                limit.typ(),
                limit.soft(),
                limit.hard()
            )
        })?;
    }
    Ok(())
}

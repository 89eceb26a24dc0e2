//! `exec`: run a process inside a running container, joining its namespaces and cgroup
//! directly (no round trip through the monitor).
//!
//! The caller prepares everything on the host's side (spec, environment, user, limits,
//! capabilities, the seccomp program, a pidfd, the pty), then forks a child born in the
//! container's cgroup that executes the small `syscontainer-exec-stage` (see
//! `exec_stage::request` for what it is handed). The stage joins the v1 cgroups, then
//! every namespace through the pidfd in one `setns` (the PID namespace applies to its
//! children only), and forks the process that execs: it is born inside all of them, so the
//! container never sees a process of the runtime that is still in the host's mount
//! namespace. The stage relays its exit status, so the caller waits for its own child.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

use nix::sched::CloneFlags;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

use crate::container::Container;
use crate::error::{Error, Result};
use crate::options::UserSpec;
use crate::store::Store;
use exec_stage::identity::to_mask;
use exec_stage::request::{CapMasks, Request, Rlimit};

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

/// The exec stage's file name; it is installed beside `syscontainer`.
pub const STAGE_BINARY: &str = "syscontainer-exec-stage";

/// Run `opts.args` in the container; returns its exit code (0 when detached).
///
/// Everything is prepared here, on the host's side; a child born in the container's cgroup
/// then executes the small exec stage (from a view of it the container cannot write) and
/// hands it the request, and the stage enters the container.
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
    let stage = Stage::open()?;
    let spec = store.load_spec(id)?;
    let pidfd = pidfd_open(init_pid)?;
    let pty = if opts.tty {
        Some(container_pty(init_pid)?)
    } else {
        None
    };
    let mut request = match stage_request(&c, &spec, opts, pty.as_ref().map(|p| p.1)) {
        Ok(request) => request,
        // As when the exec'd process itself compiled the profile: a failed step, 126.
        Err(message) => {
            eprintln!("syscontainer exec: {message}");
            return Ok(126);
        }
    };
    request.pidfd = pidfd.as_raw_fd();
    let (from_cli, to_stage) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::Invalid(format!("pipe: {e}")))?;
    sclog::crash_point("exec:before-fork");

    let v1_tasks = cgroup.v1_tasks_files();
    let (forked, born_in_leaf) = fork_in_exec_leaf(&cgroup)?;
    let child = match forked {
        ForkResult::Child => stage.start(&from_cli, &pidfd),
        ForkResult::Parent { child } => child,
    };
    drop(from_cli);
    if born_in_leaf {
        request.v1_tasks = v1_tasks;
    } else if let Err(e) = cgroup.add_exec_process(child.as_raw()) {
        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(child, None);
        eprintln!("syscontainer exec: join cgroup: {e}");
        return Ok(126);
    }
    // A stage that failed to start has closed its end: its exit status tells why.
    let _ = std::io::Write::write_all(&mut std::fs::File::from(to_stage), &request.encode());
    if opts.detach {
        return Ok(0);
    }
    sclog::crash_point("exec:after-fork");
    wait_for_exec(child, pty.as_ref().map(|p| &p.0), opts)
}

/// The exec stage binary, opened through its protected view, ready to `execveat`.
struct Stage {
    view: OwnedFd,
    /// `syscontainer-exec-stage FD ARGS...`, where ARGS are this command's own arguments,
    /// shown (in `ps`) but not read.
    argv: Vec<std::ffi::CString>,
    env: std::ffi::CString,
}

impl Stage {
    fn open() -> Result<Stage> {
        let cli = std::env::current_exe()
            .map_err(|e| Error::Invalid(format!("locate the running binary: {e}")))?;
        let path = cli.with_file_name(STAGE_BINARY);
        if !path.is_file() {
            return Err(Error::Invalid(format!(
                "the exec stage {} is missing: it is installed beside {}",
                path.display(),
                cli.display()
            )));
        }
        let view = crate::sealed_exe::protected_view(&path)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        use std::os::unix::ffi::OsStringExt;
        let argv = [STAGE_BINARY.into(), std::ffi::OsString::new()]
            .into_iter()
            .chain(std::env::args_os().skip(1))
            .map(|a| std::ffi::CString::new(a.into_vec()).unwrap_or_default())
            .collect();
        Ok(Stage {
            view,
            argv,
            env: std::ffi::CString::new(format!("{}=1", crate::sealed_exe::MARKER))
                .unwrap_or_default(),
        })
    }

    /// In the forked child: become the stage, with the request pipe and the pidfd inherited.
    fn start(&self, request: &OwnedFd, pidfd: &OwnedFd) -> ! {
        let fd_arg = std::ffi::CString::new(request.as_raw_fd().to_string()).unwrap_or_default();
        let argv: Vec<*const libc::c_char> = self
            .argv
            .iter()
            .enumerate()
            .map(|(i, a)| if i == 1 { fd_arg.as_ptr() } else { a.as_ptr() })
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        let envp = [self.env.as_ptr(), std::ptr::null()];
        // SAFETY: clearing close-on-exec on two descriptors we own, then execveat of our
        // view with NULL-ended arrays of NUL-terminated strings that outlive the call.
        let err = unsafe {
            libc::fcntl(request.as_raw_fd(), libc::F_SETFD, 0);
            libc::fcntl(pidfd.as_raw_fd(), libc::F_SETFD, 0);
            libc::syscall(
                libc::SYS_execveat,
                self.view.as_raw_fd(),
                c"".as_ptr(),
                argv.as_ptr(),
                envp.as_ptr(),
                libc::AT_EMPTY_PATH,
            );
            std::io::Error::last_os_error()
        };
        eprintln!("syscontainer exec: start the exec stage: {err}");
        // SAFETY: leaving the forked child.
        unsafe { libc::_exit(126) }
    }
}

/// What the exec stage needs from the container's spec and the options (the descriptors
/// and cgroup files are filled in by the caller). Fails only on the seccomp profile.
fn stage_request(
    c: &Container,
    spec: &oci_spec::runtime::Spec,
    opts: &ExecOptions,
    pty: Option<u32>,
) -> std::result::Result<Request, String> {
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
    let rlimits = process
        .rlimits()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .map(|l| Rlimit {
            name: format!("{:?}", l.typ()),
            resource: crate::process::init::rlimit_resource(l.typ()),
            soft: l.soft(),
            hard: l.hard(),
        })
        .collect();
    let capabilities = process.capabilities().as_ref().map(|caps| {
        let sets = crate::process::identity::cap_sets(caps);
        CapMasks {
            bounding: to_mask(&sets.bounding),
            effective: to_mask(&sets.effective),
            permitted: to_mask(&sets.permitted),
            inheritable: to_mask(&sets.inheritable),
            ambient: to_mask(&sets.ambient),
        }
    });
    let seccomp_bpf = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(profile) => crate::seccomp::export_bpf(profile).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    let user = process.user();
    Ok(Request {
        pidfd: -1,
        namespaces: namespaces_to_join(c).bits(),
        v1_tasks: Vec::new(),
        pty,
        interactive: opts.interactive,
        detach: opts.detach,
        user: opts
            .user
            .as_ref()
            .map(|u| (u.user.clone(), u.group.clone())),
        uid: user.uid(),
        gid: user.gid(),
        additional_gids: user.additional_gids().clone().unwrap_or_default(),
        rlimits,
        capabilities,
        no_new_privileges: process.no_new_privileges().unwrap_or(false),
        seccomp_bpf,
        cwd,
        env,
        args: opts.args.clone(),
    })
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

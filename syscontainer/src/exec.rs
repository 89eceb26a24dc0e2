//! `exec`: run a process inside a running container, joining its namespaces and cgroup
//! directly (no round trip through the monitor).
//!
//! The caller prepares everything on the host's side (spec, environment, user, limits,
//! capabilities, the seccomp program, a pidfd, the pty, the cgroup's files), then becomes
//! the small `syscontainer-exec-stage` in place (`execveat` of a view of it the container
//! cannot write; see `exec_stage::request` for what it is handed). The stage joins the
//! container's namespaces, forks the command into the container's cgroup and relays its
//! terminal and exit: one process between the user and the command, as with `nsenter`.
//! The CLI itself never enters the container, and the stage stays in the host's PID
//! namespace, so the container never sees a process of the runtime.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use nix::sched::CloneFlags;

use crate::container::Container;
use crate::error::{Error, Result};
use crate::options::UserSpec;
use crate::store::Store;
use exec_stage::identity::to_mask;
use exec_stage::request::{CapMasks, Pty, Request, Rlimit};

#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub user: Option<UserSpec>,
    pub workdir: Option<PathBuf>,
    pub tty: bool,
    pub interactive: bool,
    pub detach: bool,
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

/// Run `opts.args` in the container. Returns only when the exec stage could not start (the
/// exit code to leave with); otherwise this process becomes the stage, which leaves with
/// the command's exit code (0 at once when detached).
///
/// Everything is prepared here, on the host's side; then this process executes the small
/// exec stage in place (from a view of it the container cannot write) with the request,
/// and the stage enters the container.
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
    let mut request = match stage_request(&c, &spec, opts) {
        Ok(request) => request,
        // As when the exec'd process itself compiled the profile: a failed step, 126.
        Err(message) => {
            eprintln!("syscontainer exec: {message}");
            return Ok(126);
        }
    };
    let cgroup_dir = match cgroup.exec_dir()? {
        Some(dir) => Some(open_cgroup(
            &dir,
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_DIRECTORY),
        )?),
        None => None,
    };
    let cgroup_files = cgroup
        .v1_tasks_files()
        .iter()
        .map(|tasks| open_cgroup(tasks, std::fs::OpenOptions::new().write(true)))
        .collect::<Result<Vec<_>>>()?;
    request.pidfd = pidfd.as_raw_fd();
    request.cgroup_dir = cgroup_dir.as_ref().map_or(-1, |fd| fd.as_raw_fd());
    request.cgroup_files = cgroup_files.iter().map(|fd| fd.as_raw_fd()).collect();
    request.pty = pty.as_ref().map(|(master, number)| Pty {
        master: master.as_raw_fd(),
        number: *number,
    });
    let request_file = request_file(&request.encode())?;
    if let Some((master, _)) = &pty {
        copy_winsize(std::io::stdin().as_raw_fd(), master.as_raw_fd());
    }
    sclog::crash_point("exec:before-stage");
    let inherited: Vec<BorrowedFd> = [
        Some(pidfd.as_fd()),
        cgroup_dir.as_ref().map(|fd| fd.as_fd()),
    ]
    .into_iter()
    .flatten()
    .chain(cgroup_files.iter().map(|fd| fd.as_fd()))
    .chain(pty.as_ref().map(|(master, _)| master.as_fd()))
    .collect();
    let err = stage.exec_in_place(request_file.as_fd(), &inherited);
    eprintln!("syscontainer exec: start the exec stage: {err}");
    Ok(126)
}

/// A cgroup file or directory the stage inherits, opened here in the host's namespaces.
fn open_cgroup(path: &std::path::Path, options: &std::fs::OpenOptions) -> Result<OwnedFd> {
    options
        .open(path)
        .map(OwnedFd::from)
        .map_err(|e| Error::Invalid(format!("open cgroup {}: {e}", path.display())))
}

/// The encoded request in a memfd, read by the stage from its start.
fn request_file(encoded: &[u8]) -> Result<OwnedFd> {
    use std::io::{Seek, Write};
    let fail = |e: std::io::Error| Error::Invalid(format!("exec request file: {e}"));
    // SAFETY: memfd_create with a NUL-terminated name; the result is checked.
    let fd =
        unsafe { libc::memfd_create(c"syscontainer-exec-request".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(fail(std::io::Error::last_os_error()));
    }
    // SAFETY: a fresh descriptor we own.
    let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    file.write_all(encoded).map_err(fail)?;
    file.rewind().map_err(fail)?;
    Ok(file.into())
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

    /// Become the stage, with the request file and `inherited` open across the `execve`;
    /// returns only on failure.
    fn exec_in_place(&self, request: BorrowedFd, inherited: &[BorrowedFd]) -> std::io::Error {
        let fd_arg = std::ffi::CString::new(request.as_raw_fd().to_string()).unwrap_or_default();
        let argv: Vec<*const libc::c_char> = self
            .argv
            .iter()
            .enumerate()
            .map(|(i, a)| if i == 1 { fd_arg.as_ptr() } else { a.as_ptr() })
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        let envp = [self.env.as_ptr(), std::ptr::null()];
        // SAFETY: clearing close-on-exec on descriptors we hold open, then execveat of our
        // view with NULL-ended arrays of NUL-terminated strings that outlive the call.
        unsafe {
            for fd in std::iter::once(&request).chain(inherited) {
                libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, 0);
            }
            libc::syscall(
                libc::SYS_execveat,
                self.view.as_raw_fd(),
                c"".as_ptr(),
                argv.as_ptr(),
                envp.as_ptr(),
                libc::AT_EMPTY_PATH,
            );
        }
        std::io::Error::last_os_error()
    }
}

/// What the exec stage needs from the container's spec and the options (the descriptors
/// are filled in by the caller). Fails only on the seccomp profile.
fn stage_request(
    c: &Container,
    spec: &oci_spec::runtime::Spec,
    opts: &ExecOptions,
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
        cgroup_dir: -1,
        cgroup_files: Vec::new(),
        pty: None,
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

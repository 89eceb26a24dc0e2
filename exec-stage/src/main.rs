//! `syscontainer-exec-stage FD [ARGS...]`: the part of `syscontainer exec` that enters the container.
//! Only `syscontainer exec` runs it, in place of itself (the same process), from a view of
//! this binary the container cannot write (see `syscontainer::sealed_exe`), with the request
//! (see [`exec_stage::request`]) in the file `FD` (ARGS, the `syscontainer` command line, are
//! only there to be seen in `ps`). It joins the container's namespaces but its user and
//! cgroup namespaces, forks the command into the container's cgroup (this process stays in
//! the host's PID namespace and cgroup, relays the terminal and the command's exit), and the
//! command joins the user and cgroup namespaces, sets up its terminal, user, limits,
//! capabilities and seccomp filter, then execs.
//!
//! Exit codes as `syscontainer exec`'s: the command's, 126 when a step fails, 127 when the
//! command is not found.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use exec_stage::identity::{from_mask, CapSets};
use exec_stage::inside;
use exec_stage::request::{Request, MAX_BYTES};
use exec_stage::terminal::{proxy, RawMode};
use nix::sched::{setns, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

enum Never {}

type Failure = (i32, String);

fn fail(what: &str, e: &dyn std::fmt::Display) -> Failure {
    (126, format!("{what}: {e}"))
}

fn main() {
    let code = match run() {
        Ok(never) => match never {},
        Err((code, message)) => {
            eprintln!("syscontainer exec: {message}");
            code
        }
    };
    // SAFETY: leaving without running destructors.
    unsafe { libc::_exit(code) }
}

fn read_request() -> Result<Request, Failure> {
    let fd: i32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .filter(|fd| *fd > 2)
        .ok_or((
            125,
            "usage: syscontainer-exec-stage FD (started by syscontainer exec only)".to_string(),
        ))?;
    if !exec_stage::protected::running_protected() {
        return Err((
            126,
            "the exec stage runs from the host's file, not a protected view".into(),
        ));
    }
    // SAFETY: the CLI handed us this descriptor; we take it over.
    let file = unsafe { std::fs::File::from_raw_fd(fd) };
    let mut data = Vec::new();
    file.take(MAX_BYTES as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| fail("read the exec request", &e))?;
    Request::decode(&data).map_err(|e| (126, e.to_string()))
}

fn run() -> Result<Never, Failure> {
    let req = read_request()?;
    // SAFETY: the CLI handed these descriptors over (see the request) and holds nothing
    // else at their numbers; each is taken once.
    let take = |fd: i32| (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) });
    let pidfd = take(req.pidfd).ok_or((126, "exec request: no pidfd".to_string()))?;
    let cgroup_dir = take(req.cgroup_dir);
    let mut cgroup_files: Vec<OwnedFd> =
        req.cgroup_files.iter().filter_map(|fd| take(*fd)).collect();
    let master = req.pty.and_then(|pty| take(pty.master));
    // The command is born in the container's cgroup2 directory (see `fork_into_cgroup`),
    // which the kernel allows only from a cgroup namespace that sees both that directory and
    // ours (nsdelegate): so the command joins the cgroup namespace itself, and the user
    // namespace with it, before it does anything else. Born in every other namespace of the
    // container at once, it is never in the container's PID namespace with the host's root
    // directory.
    let all = CloneFlags::from_bits_retain(req.namespaces);
    let late = all & (CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWCGROUP);
    setns(pidfd.as_fd(), (all - late) | CloneFlags::CLONE_NEWPID)
        .map_err(|e| fail("join namespaces", &e))?;
    if let ForkResult::Parent { child } = fork_into_cgroup(cgroup_dir.as_ref(), &mut cgroup_files)?
    {
        drop((pidfd, cgroup_dir, cgroup_files));
        relay(child, master, &req)
    }
    drop(cgroup_dir);
    for file in cgroup_files {
        nix::unistd::write(&file, b"0").map_err(|e| fail("join cgroup", &e))?;
    }
    if !late.is_empty() {
        setns(pidfd.as_fd(), late).map_err(|e| fail("join namespaces", &e))?;
    }
    // Nothing of the CLI's may be reachable from here on, not even by `-w /proc/self/fd/N`.
    drop(pidfd);
    // SAFETY: close_range on our own descriptor table; nothing below uses a closed fd.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0) };
    inside::chdir_inside(&req.cwd).map_err(|e| (126, e))?;
    set_up_stdio(&req)?;
    become_the_user(&req)?;
    // SAFETY: restore default signal handling for the new program.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    inside::mark_fds_cloexec();
    let program = &req.args[0];
    let path = inside::find_executable(program, &req.env)
        .ok_or_else(|| (127, format!("{program}: command not found")))?;
    let c_path = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()))
        .unwrap_or_default();
    let c_args = inside::c_strings(&req.args);
    let c_env = inside::c_strings(&req.env);
    if !req.seccomp_bpf.is_empty() {
        load_seccomp(&req.seccomp_bpf)?;
    }
    let err = nix::unistd::execve(&c_path, &c_args, &c_env).unwrap_err();
    let code = if err == nix::errno::Errno::ENOENT {
        127
    } else {
        126
    };
    Err((code, format!("exec {}: {err}", path.display())))
}

/// The pty as stdio and controlling terminal, or /dev/null for what is not passed on.
fn set_up_stdio(req: &Request) -> Result<(), Failure> {
    let open = |path: &str| {
        nix::fcntl::open(
            path,
            nix::fcntl::OFlag::O_RDWR,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| fail(&format!("open {path}"), &e))
    };
    if let Some(n) = req.pty.map(|pty| pty.number) {
        nix::unistd::setsid().map_err(|e| fail("setsid", &e))?;
        let fd = open(&format!("/dev/pts/{n}"))?;
        // SAFETY: make the pty our controlling terminal.
        unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) };
        for target in 0..3 {
            nix::unistd::dup2(fd, target).map_err(|e| fail("dup2", &e))?;
        }
    } else if req.detach || !req.interactive {
        let null = open("/dev/null")?;
        nix::unistd::dup2(null, 0).map_err(|e| fail("dup2", &e))?;
        if req.detach {
            nix::unistd::dup2(null, 1).map_err(|e| fail("dup2", &e))?;
            nix::unistd::dup2(null, 2).map_err(|e| fail("dup2", &e))?;
        }
    }
    Ok(())
}

/// User (looked up in the container's own files), rlimits, ids, capabilities, NNP.
fn become_the_user(req: &Request) -> Result<(), Failure> {
    let (uid, gid, groups) = match &req.user {
        Some((user, group)) => {
            let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
            exec_stage::users::resolve_in(
                &read("/etc/passwd"),
                &read("/etc/group"),
                user,
                group.as_deref(),
            )
            .map_err(|e| (126, format!("user {e}")))?
        }
        None => (req.uid, req.gid, req.additional_gids.clone()),
    };
    for r in &req.rlimits {
        inside::set_rlimit(r.resource, r.soft, r.hard).map_err(|e| {
            (
                126,
                format!("setrlimit {} {}:{}: {e}", r.name, r.soft, r.hard),
            )
        })?;
    }
    let caps = req.capabilities.as_ref().map(|m| CapSets {
        bounding: from_mask(m.bounding),
        effective: from_mask(m.effective),
        permitted: from_mask(m.permitted),
        inheritable: from_mask(m.inheritable),
        ambient: from_mask(m.ambient),
    });
    exec_stage::identity::apply(uid, gid, &groups, caps, req.no_new_privileges)
        .map_err(|e| (126, e))
}

/// Load a seccomp program exported by libseccomp (what its `seccomp_load` would load:
/// no flags; the CLI compiled it without setting no_new_privs).
fn load_seccomp(program: &[u8]) -> Result<(), Failure> {
    let program = exec_stage::seccomp::Program::parse(program).ok_or_else(|| {
        (
            126,
            "seccomp: the exported program is malformed".to_string(),
        )
    })?;
    program.load().map_err(|e| {
        (
            126,
            format!("seccomp: load the filter (it needs CAP_SYS_ADMIN or no-new-privileges): {e}"),
        )
    })
}

/// Born in the cgroup2 directory `dir` where the kernel can (Linux 5.7); elsewhere forked
/// here, with the directory's `cgroup.procs` added to the files the command writes itself
/// into (that write waits for an RCU grace period, the clone does not).
fn fork_into_cgroup(
    dir: Option<&OwnedFd>,
    files: &mut Vec<OwnedFd>,
) -> Result<ForkResult, Failure> {
    if let Some(dir) = dir {
        // SAFETY: this program is single-threaded; the child only execs or _exits.
        match unsafe { exec_stage::clone::fork_into(CloneFlags::empty(), Some(dir.as_fd())) } {
            Ok(0) => return Ok(ForkResult::Child),
            Ok(pid) => {
                return Ok(ForkResult::Parent {
                    child: nix::unistd::Pid::from_raw(pid),
                })
            }
            Err(_) => files.push(
                nix::fcntl::openat(
                    Some(dir.as_raw_fd()),
                    "cgroup.procs",
                    nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
                    nix::sys::stat::Mode::empty(),
                )
                // SAFETY: a descriptor openat just returned.
                .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
                .map_err(|e| fail("join cgroup: open cgroup.procs", &e))?,
            ),
        }
    }
    // SAFETY: this program is single-threaded; the child only execs or _exits.
    unsafe { fork() }.map_err(|e| fail("fork", &e))
}

/// The command's terminal and exit, as this process's own: the pty copied to and from
/// our stdio (`-t`), then the command's exit code (0 at once when detached).
fn relay(child: nix::unistd::Pid, master: Option<OwnedFd>, req: &Request) -> ! {
    if req.detach {
        // SAFETY: leaving without running destructors.
        unsafe { libc::_exit(0) }
    }
    if let Some(master) = &master {
        let stdin = std::io::stdin();
        let stdout = std::io::stdout();
        let _raw = RawMode::enable(stdin.as_fd());
        let input = req.interactive.then(|| stdin.as_fd());
        proxy(input, master.as_fd(), master.as_fd(), stdout.as_fd(), &[]);
    }
    let code = loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => break code,
            Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break 126,
        }
    };
    // SAFETY: leaving without running destructors.
    unsafe { libc::_exit(code) }
}

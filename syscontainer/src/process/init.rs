//! The container's PID 1 before it execs: runs in the freshly cloned namespaces, sets
//! up the root file system and the process, and execs the container's command.
//!
//! Every step reports failure to the monitor over the channel; nothing here may panic
//! or return to the monitor's code (this is a forked copy of it).

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::unistd::{chdir, pivot_root, sethostname, setsid};
use oci_spec::runtime::{Linux, LinuxNamespaceType, Process, Root, Spec};

use super::channel::{Channel, Message};
use super::mounts;
use crate::fsutil::{c_path, secure_join};
use crate::hooks::HookStage;

/// What the init needs besides the spec.
pub struct InitContext<'a> {
    pub spec: &'a Spec,
    /// The container's directory: relative bind sources (hostname, hosts…) live there.
    pub bundle: &'a Path,
    /// The console pty slave on the host, which becomes `/dev/console` and stdio. Without
    /// one the init keeps the stdio it inherited (the OCI runtime's caller's).
    pub console: Option<&'a Path>,
    /// A host unix socket bound to `/run/host/notify` inside for sd_notify.
    pub notify_socket: Option<&'a Path>,
    /// Paths under `/proc/sys` that stay writable after it is made read-only.
    pub writable_proc_paths: &'a [String],
    /// Park at "created" on this FIFO (an `O_PATH` descriptor, opened by the caller so that
    /// a remapped root needs no access to the state directory) instead of waiting for
    /// `Start` on the channel: the init reopens it for writing, which blocks until `start`
    /// opens it for reading, and then execs. So the process that created it may exit
    /// meanwhile (the OCI runtime).
    pub exec_fifo: Option<std::os::fd::BorrowedFd<'a>>,
    /// OCI hooks the init runs itself, in the container's namespaces.
    pub container_hooks: Option<&'a ContainerHooks>,
}

/// The hooks that run inside the container: `createContainer` after the mounts (before
/// `pivot_root`), `startContainer` once started, right before the exec.
#[derive(Debug, Clone)]
pub struct ContainerHooks {
    pub create_container: Vec<oci_spec::runtime::Hook>,
    pub start_container: Vec<oci_spec::runtime::Hook>,
    pub state: crate::hooks::OciState,
}

pub const NOTIFY_SOCKET_INSIDE: &str = "/run/host/notify";

/// Entry point of the cloned child. Never returns.
/// `v1_tasks`: the init was born in its cgroup2 directory and moves itself into these v1
/// hierarchies once told `Go` (see [`crate::cgroups::join_v1_self`]).
pub fn run(ctx: &InitContext, channel: &Channel, v1_tasks: Option<&[PathBuf]>) -> ! {
    let code = match setup_and_exec(ctx, channel, v1_tasks) {
        Ok(never) => match never {},
        Err(message) => {
            let _ = channel.send(&Message::Failed(message));
            1
        }
    };
    // SAFETY: leaving the cloned child without running the monitor's destructors.
    unsafe { libc::_exit(code) }
}

fn step<T, E: std::fmt::Display>(what: &str, r: Result<T, E>) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e}"))
}

fn expect(channel: &Channel, want: Message) -> Result<(), String> {
    match channel.recv() {
        Ok(Some(m)) if m == want => Ok(()),
        Ok(Some(m)) => Err(format!("protocol: expected {want:?}, got {m:?}")),
        Ok(None) => Err("the monitor went away".to_string()),
        Err(e) => Err(format!("reading from the monitor: {e}")),
    }
}

fn has_namespace(spec: &Spec, typ: LinuxNamespaceType) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == typ))
}

/// A namespace of this type the init makes (rather than joins by path).
fn has_new_namespace(spec: &Spec, typ: LinuxNamespaceType) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == typ && n.path().is_none()))
}

enum Never {}

fn setup_and_exec(
    ctx: &InitContext,
    channel: &Channel,
    v1_tasks: Option<&[PathBuf]>,
) -> Result<Never, String> {
    let spec = ctx.spec;
    let process = spec.process().as_ref().ok_or("spec has no process")?;
    let root = spec.root().as_ref().ok_or("spec has no root")?;
    let rootfs = root.path().clone();
    let linux = spec.linux().clone().unwrap_or_default();

    expect(channel, Message::Go)?;
    join_cgroups_and_namespaces(spec, v1_tasks)?;
    reset_signals();
    step("setsid", setsid())?;
    if let Some(console) = ctx.console {
        attach_console(console)?;
    }
    mount_rootfs(ctx, &rootfs, &linux)?;

    channel
        .send(&Message::MountsReady)
        .map_err(|e| e.to_string())?;
    expect(channel, Message::HooksDone)?;
    if let Some(hooks) = ctx.container_hooks {
        run_container_hooks(HookStage::CreateContainer, &hooks.create_container, hooks)?;
    }

    restrict_and_enter_rootfs(ctx, root, &linux)?;
    if has_namespace(spec, LinuxNamespaceType::Uts) {
        if let Some(h) = spec.hostname() {
            step("sethostname", sethostname(h))?;
        }
    }
    let (executable, args, env) = command(ctx, process)?;
    set_up_process(process)?;

    channel.send(&Message::Created).map_err(|e| e.to_string())?;
    match ctx.exec_fifo {
        Some(fifo) => wait_on_exec_fifo(fifo)?,
        None => expect(channel, Message::Start)?,
    }
    if let Some(hooks) = ctx.container_hooks {
        run_container_hooks(HookStage::StartContainer, &hooks.start_container, hooks)?;
    }
    // As late as possible: the filter may forbid what the set-up above needed.
    if let Some(profile) = linux.seccomp() {
        step("seccomp", crate::seccomp::apply(profile))?;
    }
    mark_fds_cloexec();

    let err =
        nix::unistd::execve(&c_path(&executable), &c_strings(&args), &c_strings(&env)).unwrap_err();
    Err(format!("exec {}: {err}", executable.display()))
}

/// Block until `start` opens the FIFO for reading, then tell it we go on.
fn wait_on_exec_fifo(fifo: std::os::fd::BorrowedFd) -> Result<(), String> {
    use std::io::Write;
    let path = format!("/proc/self/fd/{}", fifo.as_raw_fd());
    let mut writer = step(
        "open the exec fifo for writing",
        std::fs::OpenOptions::new().write(true).open(&path),
    )?;
    step("write the exec fifo", writer.write_all(b"0"))?;
    Ok(())
}

fn run_container_hooks(
    stage: HookStage,
    hooks: &[oci_spec::runtime::Hook],
    all: &ContainerHooks,
) -> Result<(), String> {
    if hooks.is_empty() {
        return Ok(());
    }
    crate::hooks::run_hooks(stage, hooks, &all.state).map_err(|e| e.to_string())
}

/// The namespaces the spec names by path, joined in the order that keeps each join
/// permitted: the user namespace first (it grants the rights for the others), the PID
/// namespace never (it applies to children only: [`super::create`] joins it before the
/// clone), the cgroup namespace last (after the cgroups are joined).
fn join_namespaces_by_path(spec: &Spec, cgroup: bool) -> Result<(), String> {
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let mut pathed: Vec<_> = namespaces
        .iter()
        .filter_map(|ns| Some((ns.typ(), ns.path().clone()?)))
        .filter(|(typ, _)| *typ != LinuxNamespaceType::Pid)
        .filter(|(typ, _)| (*typ == LinuxNamespaceType::Cgroup) == cgroup)
        .collect();
    pathed.sort_by_key(|(typ, _)| *typ != LinuxNamespaceType::User);
    for (typ, path) in pathed {
        let fd = step(
            &format!("open namespace {}", path.display()),
            std::fs::File::open(&path),
        )?;
        step(
            &format!("join {typ:?} namespace {}", path.display()),
            nix::sched::setns(&fd, super::namespace_flag(typ)),
        )?;
    }
    Ok(())
}

/// The v1 cgroups, then root of a user namespace and a cgroup namespace of its own.
fn join_cgroups_and_namespaces(spec: &Spec, v1_tasks: Option<&[PathBuf]>) -> Result<(), String> {
    if let Some(tasks) = v1_tasks {
        step("join the v1 cgroups", crate::cgroups::join_v1_self(tasks))?;
    }
    join_namespaces_by_path(spec, false)?;
    if has_namespace(spec, LinuxNamespaceType::User) {
        // Become the namespace's root: host root is unmapped in it.
        let root_gid = nix::unistd::Gid::from_raw(0);
        let root_uid = nix::unistd::Uid::from_raw(0);
        step(
            "setresgid 0 in the user namespace",
            nix::unistd::setresgid(root_gid, root_gid, root_gid),
        )?;
        step(
            "setresuid 0 in the user namespace",
            nix::unistd::setresuid(root_uid, root_uid, root_uid),
        )?;
    }
    if has_new_namespace(spec, LinuxNamespaceType::Cgroup) {
        step(
            "unshare cgroup namespace",
            unshare(CloneFlags::CLONE_NEWCGROUP),
        )?;
    }
    join_namespaces_by_path(spec, true)
}

/// Everything mounted before the prestart hooks run: the spec's mounts, devices, the console,
/// the notify socket and sysctls. Nothing done here may propagate back to the host.
fn mount_rootfs(ctx: &InitContext, rootfs: &Path, linux: &Linux) -> Result<(), String> {
    step(
        "make / a slave mount",
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        ),
    )?;
    step(
        "bind rootfs",
        mount(
            Some(rootfs),
            rootfs,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        ),
    )?;
    for m in ctx.spec.mounts().as_deref().unwrap_or(&[]) {
        mounts::mount_entry(rootfs, ctx.bundle, m).map_err(|e| e.to_string())?;
    }
    step(
        "create devices",
        mounts::create_devices(rootfs, linux.devices().as_deref().unwrap_or(&[])),
    )?;
    step("create /dev links", mounts::create_dev_symlinks(rootfs))?;
    if let Some(console) = ctx.console {
        step(
            "bind console",
            mounts::bind_file(rootfs, console, Path::new("/dev/console")),
        )?;
    }
    if let Some(sock) = ctx.notify_socket {
        step(
            "bind notify socket",
            mounts::bind_file(rootfs, sock, Path::new(NOTIFY_SOCKET_INSIDE)),
        )?;
    }
    if let Some(sysctl) = linux.sysctl() {
        for (key, value) in sysctl {
            let path = rootfs.join("proc/sys").join(key.replace('.', "/"));
            step(
                &format!("sysctl {key}={value}"),
                std::fs::write(&path, value),
            )?;
        }
    }
    Ok(())
}

/// Masks and read-only paths (after the hooks, which may mount over /proc files), then
/// `pivot_root` into the rootfs, remounted read-only if the spec says so.
fn restrict_and_enter_rootfs(ctx: &InitContext, root: &Root, linux: &Linux) -> Result<(), String> {
    let rootfs = root.path();
    step(
        "mask paths",
        mounts::mask_paths(rootfs, linux.masked_paths().as_deref().unwrap_or(&[])),
    )?;
    step(
        "read-only paths",
        mounts::readonly_paths(rootfs, linux.readonly_paths().as_deref().unwrap_or(&[])),
    )?;
    step(
        "writable /proc/sys paths",
        mounts::writable_paths(rootfs, ctx.writable_proc_paths),
    )?;
    enter_rootfs(rootfs)?;
    if root.readonly().unwrap_or(false) {
        step(
            "remount / read-only",
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                None::<&str>,
            ),
        )?;
    }
    Ok(())
}

/// The program to exec (looked up in the container's PATH), its arguments and environment.
fn command(
    ctx: &InitContext,
    process: &Process,
) -> Result<(PathBuf, Vec<String>, Vec<String>), String> {
    let mut env: Vec<String> = process.env().clone().unwrap_or_default();
    if ctx.notify_socket.is_some() {
        env.push(format!("NOTIFY_SOCKET={NOTIFY_SOCKET_INSIDE}"));
    }
    let args = process.args().clone().unwrap_or_default();
    let program = args.first().ok_or("spec has no command")?;
    let executable = find_executable(program, &env)
        .ok_or_else(|| format!("{program}: command not found in the container"))?;
    Ok((executable, args, env))
}

/// The OOM score, rlimits, user, groups, capabilities and working directory of PID 1.
fn set_up_process(process: &Process) -> Result<(), String> {
    if let Some(adj) = process.oom_score_adj() {
        step(
            "oom_score_adj",
            std::fs::write("/proc/self/oom_score_adj", adj.to_string()),
        )?;
    }
    for limit in process.rlimits().as_deref().unwrap_or(&[]) {
        step(&format!("setrlimit {:?}", limit.typ()), set_rlimit(limit))?;
    }
    let user = process.user();
    crate::process::identity::apply(
        user.uid(),
        user.gid(),
        user.additional_gids().as_deref().unwrap_or(&[]),
        process.capabilities().as_ref(),
        process.no_new_privileges().unwrap_or(false),
    )?;
    chdir_inside(process.cwd())
}

pub(crate) use exec_stage::inside::{c_strings, chdir_inside, find_executable, mark_fds_cloexec};

/// stdin/stdout/stderr and the controlling terminal become the console pty.
fn attach_console(console: &Path) -> Result<(), String> {
    let fd = step(
        &format!("open console {}", console.display()),
        nix::fcntl::open(
            console,
            nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY,
            nix::sys::stat::Mode::empty(),
        ),
    )?;
    // SAFETY: TIOCSCTTY on a terminal fd we own.
    if unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) } < 0 {
        return Err(format!(
            "set controlling terminal: {}",
            std::io::Error::last_os_error()
        ));
    }
    for target in 0..3 {
        step("dup console", nix::unistd::dup2(fd, target))?;
    }
    if fd > 2 {
        let _ = nix::unistd::close(fd);
    }
    Ok(())
}

/// Make `rootfs` the root: `pivot_root(".", ".")` stacks the old root on the new one,
/// then the old one is detached (the trick runc and crun use; no put_old directory).
fn enter_rootfs(rootfs: &Path) -> Result<(), String> {
    step("chdir rootfs", chdir(rootfs))?;
    step("pivot_root", pivot_root(".", "."))?;
    step("detach old root", umount2(".", MntFlags::MNT_DETACH))?;
    step("chdir /", chdir("/"))?;
    Ok(())
}

/// Signal dispositions and the mask are inherited across exec: give PID 1 clean ones.
fn reset_signals() {
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: restoring default dispositions in a single-threaded child.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// Used by exec: whether `fd` is a terminal.
pub fn is_tty(fd: &impl AsRawFd) -> bool {
    nix::unistd::isatty(fd.as_raw_fd()).unwrap_or(false)
}

/// Resolve a path as seen from inside a rootfs (before pivot).
pub fn inside(rootfs: &Path, p: &str) -> Result<PathBuf, String> {
    secure_join(rootfs, Path::new(p)).map_err(|e| e.to_string())
}

/// Set one OCI rlimit on the calling process (PID 1 before exec, and `exec`'d processes).
pub(crate) fn set_rlimit(limit: &oci_spec::runtime::PosixRlimit) -> std::io::Result<()> {
    exec_stage::inside::set_rlimit(rlimit_resource(limit.typ()), limit.soft(), limit.hard())
}

/// The `libc::RLIMIT_*` number of an OCI rlimit type.
pub(crate) fn rlimit_resource(typ: oci_spec::runtime::PosixRlimitType) -> u32 {
    use oci_spec::runtime::PosixRlimitType as T;
    let resource = match typ {
        T::RlimitCpu => libc::RLIMIT_CPU,
        T::RlimitFsize => libc::RLIMIT_FSIZE,
        T::RlimitData => libc::RLIMIT_DATA,
        T::RlimitStack => libc::RLIMIT_STACK,
        T::RlimitCore => libc::RLIMIT_CORE,
        T::RlimitRss => libc::RLIMIT_RSS,
        T::RlimitNproc => libc::RLIMIT_NPROC,
        T::RlimitNofile => libc::RLIMIT_NOFILE,
        T::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        T::RlimitAs => libc::RLIMIT_AS,
        T::RlimitLocks => libc::RLIMIT_LOCKS,
        T::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        T::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        T::RlimitNice => libc::RLIMIT_NICE,
        T::RlimitRtprio => libc::RLIMIT_RTPRIO,
        T::RlimitRttime => libc::RLIMIT_RTTIME,
    };
    // glibc declares the numbers u32, musl c_int; all are small and non-negative.
    #[allow(clippy::unnecessary_cast)]
    {
        resource as u32
    }
}

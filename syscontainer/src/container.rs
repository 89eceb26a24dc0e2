//! Container operations: what the CLI commands call.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;
use serde::Deserialize;

use crate::cgroups::ContainerCgroup;
use crate::config::ContainerConfig;
use crate::error::{io_error, Error, Result};
use crate::options::{ContainerOptions, ResourceArgs, RestartPolicy};
use crate::process::channel::Readiness;
use crate::spec;
use crate::state::{ExitCause, ExitInfo, ProcessId, State, Status};
use crate::store::{self, Store};

/// `/etc/syscontainer/daemon.json`: defaults for every container.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DaemonConfig {
    pub cgroup_parent: Option<String>,
    pub hook_spec: Option<PathBuf>,
    /// The default of `--cgroup-manager`: `systemd` or `cgroupfs`.
    pub cgroup_manager: Option<crate::cgroups::Driver>,
    /// The defaults of `--cni-conf-dir` and `--cni-bin-dir` (iSulad's keys).
    pub cni_conf_dir: Option<PathBuf>,
    pub cni_bin_dir: Option<PathBuf>,
    /// iSulad's spelling of the same choice: `["native.cgroupdriver=systemd"]`.
    #[serde(default)]
    pub exec_opts: Vec<String>,
    /// iSulad keys this runtime has no use for (`registry-mirrors`, `log-driver`, …): kept
    /// only to name them in a warning, so an iSulad daemon.json can be used as it is.
    #[serde(flatten)]
    pub ignored: BTreeMap<String, serde_json::Value>,
}

pub const DEFAULT_DAEMON_CONFIG: &str = "/etc/syscontainer/daemon.json";

impl DaemonConfig {
    /// Read the file; a missing file means defaults, a bad one is an error.
    pub fn load(path: &Path) -> Result<DaemonConfig> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(DaemonConfig::default())
            }
            Err(e) => return Err(io_error("read", path)(e)),
        };
        let cfg: DaemonConfig = serde_json::from_str(&text)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        if let Some(p) = &cfg.cgroup_parent {
            crate::options::parse_cgroup_parent(p)
                .map_err(|e| Error::Invalid(format!("{}: cgroup-parent: {e}", path.display())))?;
        }
        if !cfg.ignored.is_empty() {
            let keys: Vec<&str> = cfg.ignored.keys().map(String::as_str).collect();
            tracing::warn!(
                "{}: ignoring keys this runtime does not use: {}",
                path.display(),
                keys.join(", ")
            );
        }
        let mut cfg = cfg;
        cfg.cgroup_manager = daemon_cgroup_manager(&cfg)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        Ok(cfg)
    }
}

/// `cgroup-manager`, or iSulad's `exec-opts` `native.cgroupdriver=…`; both must agree.
fn daemon_cgroup_manager(
    cfg: &DaemonConfig,
) -> std::result::Result<Option<crate::cgroups::Driver>, String> {
    let mut from_opts = None;
    for opt in &cfg.exec_opts {
        match opt.split_once('=') {
            Some(("native.cgroupdriver", value)) => {
                from_opts = Some(
                    value
                        .parse()
                        .map_err(|e| format!("exec-opts {opt:?}: {e}"))?,
                )
            }
            _ => {
                return Err(format!(
                    "exec-opts {opt:?}: only native.cgroupdriver=systemd|cgroupfs is known"
                ))
            }
        }
    }
    match (cfg.cgroup_manager, from_opts) {
        (Some(a), Some(b)) if a != b => Err(format!(
            "cgroup-manager {a} and exec-opts native.cgroupdriver={b} disagree"
        )),
        (a, b) => Ok(a.or(b)),
    }
}

/// A container looked up in the store.
pub struct Container {
    pub config: ContainerConfig,
    pub state: State,
}

impl Container {
    pub fn load(store: &Store, id: &str) -> Result<Container> {
        Ok(Container {
            config: store.load_config(id)?,
            state: store.load_state(id)?,
        })
    }

    pub fn id(&self) -> &str {
        &self.config.id
    }

    /// The status to show. Running and paused are what the freezer says: a `pause` or
    /// `unpause` killed between the freezer and the record leaves the record behind.
    pub fn status(&self) -> Status {
        self.status_with(&self.cgroup())
    }

    /// [`Container::status`] with the container's cgroup already loaded (loading it reads
    /// the host's mount table).
    pub fn status_with(&self, cgroup: &ContainerCgroup) -> Status {
        match self.state.effective_status() {
            s @ (Status::Running | Status::Paused) => match cgroup.frozen() {
                Some(true) => Status::Paused,
                Some(false) => Status::Running,
                None => s,
            },
            s => s,
        }
    }

    /// PID 1, if it is running.
    pub fn running_init(&self) -> Result<i32> {
        match self.state.init {
            Some(p) if self.state.is_active() && p.is_alive() => Ok(p.pid),
            _ => Err(Error::NotRunning(self.config.name.clone())),
        }
    }

    pub fn cgroup(&self) -> ContainerCgroup {
        ContainerCgroup::load(&self.config.cgroup)
    }
}

/// `create`: validate, build the bundle, store it. Nothing runs yet.
pub fn create(
    store: &Store,
    opts: &ContainerOptions,
    daemon: &DaemonConfig,
    hook_spec: Option<&Path>,
) -> Result<ContainerConfig> {
    let id = store::new_id();
    let mut with_daemon = opts.clone();
    with_daemon.cgroup.cgroup_manager = opts.cgroup.cgroup_manager.or(daemon.cgroup_manager);
    let cni = &mut with_daemon.network.cni;
    cni.cni_conf_dir = cni.cni_conf_dir.take().or(daemon.cni_conf_dir.clone());
    cni.cni_bin_dir = cni.cni_bin_dir.take().or(daemon.cni_bin_dir.clone());
    let opts = &with_daemon;
    let device = opts.external_rootfs.as_deref().filter(|p| {
        std::fs::metadata(p)
            .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_block_device(&m.file_type()))
    });
    let mut bundle = match device {
        // A block device is mounted to check that it holds an OS tree, then unmounted
        // again until the container starts.
        Some(device) => {
            let mount_point = crate::hostside::rootfs_mount_point(&id);
            crate::hostside::mount_block_rootfs(device, &mount_point)?;
            let mut on_mount = opts.clone();
            on_mount.external_rootfs = Some(mount_point.clone());
            let built = spec::build(&on_mount, &id, daemon.cgroup_parent.as_deref());
            crate::hostside::unmount_block_rootfs(&mount_point);
            let mut bundle = built?;
            bundle.config.rootfs_device = Some(device.to_path_buf());
            bundle
        }
        None => spec::build(opts, &id, daemon.cgroup_parent.as_deref())?,
    };
    let daemon_hooks = daemon
        .hook_spec
        .as_deref()
        .map(crate::hooks::load_hook_spec)
        .transpose()?;
    let own_hooks = hook_spec.map(crate::hooks::load_hook_spec).transpose()?;
    if let Some(hooks) = crate::hooks::merge(daemon_hooks, own_hooks) {
        bundle.spec.set_hooks(Some(hooks));
    }
    sclog::crash_point("create:after-build");
    store.insert(&bundle.config, &bundle.spec, &bundle.files)?;
    crate::events::emit(store, &bundle.config, "create", &[]);
    Ok(bundle.config)
}

/// `state`: the OCI runtime state (`creating`, `created`, `running`, `paused`, `stopped`),
/// as `runc state` prints it for containerd.
pub fn oci_state(store: &Store, id: &str) -> Result<crate::hooks::OciState> {
    let c = Container::load(store, id)?;
    let spec = store.load_spec(id)?;
    let status = c.status();
    let pid = match status {
        Status::Running | Status::Paused => c.state.init.map(|p| p.pid).unwrap_or(0),
        Status::Created | Status::Starting | Status::Stopping | Status::Exited => 0,
    };
    Ok(crate::hooks::OciState::of(
        &c.config,
        &spec,
        store.dir(id),
        status.into(),
        pid,
    ))
}

/// Whether a host boot should bring this container back: `always` and `unless-stopped`
/// containers that neither a user's `stop` nor an in-container poweroff ended. A halt by
/// the host's own shutdown (`restore --shutdown`) is neither: it ends as a poweroff, but
/// the container comes back.
pub fn wants_restore(restart: RestartPolicy, state: &State) -> bool {
    matches!(
        restart,
        RestartPolicy::Always | RestartPolicy::UnlessStopped
    ) && !state.is_active()
        && !state.stop_requested
        && (state.host_shutdown || state.exit.map(|e| e.cause) != Some(ExitCause::Poweroff))
}

/// What `restore` (or `restore --shutdown`) did: the IDs started (halted), and the ones
/// that failed with their errors.
#[derive(Debug, Default)]
pub struct Restored {
    pub started: Vec<String>,
    pub failed: Vec<(String, Error)>,
}

/// `restore`: start every container that [`wants_restore`].
pub fn restore(store: &Store, monitor_exe: &Path, log_level: &str) -> Result<Restored> {
    let mut done = Restored::default();
    for id in store.ids()? {
        let Ok(c) = Container::load(store, &id) else {
            continue;
        };
        if !wants_restore(c.config.restart, &c.state) {
            continue;
        }
        match start(store, &id, monitor_exe, log_level) {
            Ok(()) => done.started.push(id),
            Err(e) => done.failed.push((id, e)),
        }
    }
    Ok(done)
}

/// `restore --shutdown`: halt every running container because the host is shutting
/// down, all at once, each with its own stop timeout unless `timeout` is given. This is
/// not a user's stop: the monitor does not restart them now, and the next [`restore`]
/// starts the `always` and `unless-stopped` ones again.
pub fn shutdown(store: &Store, timeout: Option<Duration>) -> Result<Restored> {
    let mut running = Vec::new();
    for id in store.ids()? {
        let Ok(c) = Container::load(store, &id) else {
            continue;
        };
        if !c.state.is_active() {
            continue;
        }
        store.update_state(&id, |s| {
            if !s.stop_requested {
                s.host_shutdown = true;
            }
        })?;
        running.push((
            id,
            timeout.unwrap_or(Duration::from_secs(c.config.stop_timeout)),
        ));
    }
    let results: Vec<(String, Result<()>)> = std::thread::scope(|scope| {
        let halts: Vec<_> = running
            .into_iter()
            .map(|(id, t)| {
                scope.spawn(move || {
                    let r = halt(store, &id, t, None);
                    (id, r)
                })
            })
            .collect();
        halts.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut done = Restored::default();
    for (id, r) in results {
        match r {
            Ok(()) => done.started.push(id),
            Err(e) => done.failed.push((id, e)),
        }
    }
    Ok(done)
}

/// `start`: spawn the container's monitor and wait until PID 1 has exec'd.
pub fn start(store: &Store, id: &str, monitor_exe: &Path, log_level: &str) -> Result<()> {
    if !monitor_exe.is_file() {
        return Err(Error::MonitorMissing(monitor_exe.to_path_buf()));
    }
    let monitor_lock = take_monitor_lock(store, id)?;
    let container = {
        let (_lock, c) = lock_when_monitor_gone(store, id)?;
        if c.state.is_active() {
            return Err(Error::AlreadyRunning(c.config.name.clone()));
        }
        // A monitor killed earlier may have left cgroups behind.
        let orphan = cleanup_orphan(store, &c);
        let mut state = store.load_state(id)?;
        state.status = Status::Starting;
        state.stop_requested = false;
        state.host_shutdown = false;
        state.error = None;
        state.exit = None;
        state.init = None;
        state.monitor = None;
        store.save_state(id, &state)?;
        sclog::crash_point("start:after-starting");
        (c, orphan)
    };
    let (container, orphan) = container;
    run_orphan_poststop(store, orphan);
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::Invalid(format!("pipe: {e}")))?;
    // Both are moved to fds 3 and 4 in the child; copies above 4 first, so that neither
    // dup2 can overwrite the other's source.
    let write_end = above_stdio_and_monitor_fds(write_end)?;
    let monitor_lock_fd = above_stdio_and_monitor_fds(
        monitor_lock
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::Invalid(format!("dup the monitor lock: {e}")))?,
    )?;
    let write_raw = write_end.as_raw_fd();
    let monitor_lock_raw = monitor_lock_fd.as_raw_fd();
    let log_path = store.dir(id).join("monitor.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(io_error("open", &log_path))?;
    let mut cmd = Command::new(monitor_exe);
    cmd.arg("--root")
        .arg(store.root())
        .arg("--log-level")
        .arg(log_level)
        .arg("monitor")
        .arg(id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            if libc::dup2(write_raw, 3) < 0 || libc::dup2(monitor_lock_raw, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // Spawned and recorded under the lock: a concurrent `start` that also found the
    // container stopped sees this monitor (or its own, first) and refuses.
    let spawned = {
        let _lock = store.lock(id)?;
        let mut state = store.load_state(id)?;
        if state.monitor_alive() || state.init_alive() {
            return Err(Error::AlreadyRunning(container.config.name.clone()));
        }
        let spawned = cmd.spawn();
        drop(write_end);
        // The monitor holds it now, as fd 4.
        drop(monitor_lock_fd);
        drop(monitor_lock);
        sclog::crash_point("start:after-spawn");
        if let Ok(child) = &spawned {
            state.monitor = ProcessId::of(child.id() as i32);
            store.save_state(id, &state)?;
        }
        spawned
    };
    if let Err(e) = spawned {
        let _ = store.update_state(id, |s| {
            s.status = Status::Exited;
            s.error = Some(format!("spawn monitor: {e}"));
        });
        return Err(io_error("spawn monitor", monitor_exe)(e));
    }
    let message = match Readiness::receive(std::fs::File::from(read_end)) {
        Ok(Some(Readiness::Ready)) => return Ok(()),
        Ok(Some(Readiness::Failed(message))) => message,
        Ok(None) => format!(
            "the monitor exited without a word: see {}",
            log_path.display()
        ),
        Err(e) => format!(
            "reading the monitor's answer: {e}: see {}",
            log_path.display()
        ),
    };
    Err(Error::StartFailed {
        name: container.config.name,
        message,
    })
}

/// `fd` moved to a descriptor number above 4 (close-on-exec), so that a child can take
/// fds 3 and 4 with `dup2` without one overwriting the other.
fn above_stdio_and_monitor_fds(fd: OwnedFd) -> Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor we own returns a new one or -1.
    let copy = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 5) };
    if copy < 0 {
        return Err(Error::Invalid(format!(
            "dup a descriptor for the monitor: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

/// The monitor lock of `id`, for the monitor `start` is about to spawn. A monitor holds it
/// from its spawn to its exit, so it is busy while a monitor lives even before the monitor
/// has recorded itself (a `start` killed right after spawning it): starting a second one
/// then is refused once the first has recorded itself. A monitor that has recorded its end
/// and is exiting gives it back within moments.
fn take_monitor_lock(store: &Store, id: &str) -> Result<store::Lock> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(lock) = store.try_lock_monitor(id)? {
            return Ok(lock);
        }
        let c = Container::load(store, id)?;
        if c.state.is_active() || Instant::now() >= deadline {
            return Err(Error::AlreadyRunning(c.config.name));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Returns once no monitor of `id` lives that has not recorded itself. A `start` killed
/// right after spawning the monitor leaves a record naming none, while the monitor goes
/// on, holding the monitor lock, and records itself moments later: `rm` then sees it and
/// stops it, instead of removing the record under it and leaving its cgroups and PID 1.
fn await_unrecorded_monitor(store: &Store, id: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if store.try_lock_monitor(id)?.is_some() {
            return Ok(());
        }
        if store.load_state(id)?.monitor_alive() || Instant::now() >= deadline {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The container lock, once the monitor of a stopped container has finished its clean-up
/// (poststop hooks, cgroups): a new boot started before then would see the cgroups it is
/// about to remove.
fn lock_when_monitor_gone(store: &Store, id: &str) -> Result<(store::Lock, Container)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let lock = store.lock(id)?;
        let c = Container::load(store, id)?;
        let finishing = c
            .state
            .monitor
            .filter(|m| m.is_alive() && !c.state.is_active());
        match finishing {
            Some(m) if Instant::now() < deadline => {
                drop(lock);
                wait_for_exit(m, Duration::from_secs(15));
            }
            _ => return Ok((lock, c)),
        }
    }
}

/// Open a pidfd for `pid` (`None` if it is gone).
fn pidfd(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd is a fresh descriptor we own.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Wait until the process ends or the timeout passes; true if it ended.
pub fn wait_for_exit(process: ProcessId, timeout: Duration) -> bool {
    if !process.is_alive() {
        return true;
    }
    let Some(fd) = pidfd(process.pid) else {
        return true;
    };
    // The pidfd may refer to a recycled PID if the process ended before pidfd_open.
    if !process.is_alive() {
        return true;
    }
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut fds = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(&fd),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        match nix::poll::poll(
            &mut fds,
            nix::poll::PollTimeout::try_from(ms).unwrap_or(nix::poll::PollTimeout::MAX),
        ) {
            Ok(n) if n > 0 => return true,
            Ok(_) => {
                // A reaped zombie parented elsewhere can linger: check by start time too.
                return !process.is_alive();
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return !process.is_alive(),
        }
    }
}

/// Wait until the record no longer says running (the monitor recorded the exit), the
/// monitor has ended, or `timeout` passed. Woken by the monitor's exit FIFO (a byte once the
/// record is durable, see [`crate::monitor::exit_fifo`]) and by its pidfd, so no polling
/// interval adds to a stop. A monitor without the FIFO (an older binary) is waited for.
/// True when the FIFO holds the byte: the record is durable, no sync is left to do.
fn wait_for_recorded_exit(store: &Store, id: &str, monitor: ProcessId, timeout: Duration) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    // Opened before the record is read: the monitor writes the byte before it unlinks the
    // FIFO, so a FIFO that is gone means the record was final before this look.
    let fifo = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(crate::monitor::exit_fifo(store, id))
        .ok();
    let monitor_fd = pidfd(monitor.pid);
    let deadline = Instant::now() + timeout;
    let durable = || {
        fifo.as_ref().is_some_and(|f| {
            let mut fds = [nix::poll::PollFd::new(
                std::os::fd::AsFd::as_fd(f),
                nix::poll::PollFlags::POLLIN,
            )];
            nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO).is_ok_and(|n| n > 0)
        })
    };
    loop {
        match store.load_state(id) {
            Ok(s) if s.recorded_active() => {}
            _ => return durable(),
        }
        // The pidfd may name a recycled PID if the monitor ended before it was opened.
        if !monitor.is_alive() {
            return false;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let fds: Vec<std::os::fd::BorrowedFd> = [
            fifo.as_ref().map(std::os::fd::AsFd::as_fd),
            monitor_fd.as_ref().map(std::os::fd::AsFd::as_fd),
        ]
        .into_iter()
        .flatten()
        .collect();
        if fds.is_empty() {
            // Neither the FIFO nor a pidfd: look again shortly.
            std::thread::sleep(left.min(Duration::from_millis(10)));
            continue;
        }
        let mut polled: Vec<nix::poll::PollFd> = fds
            .iter()
            .map(|fd| nix::poll::PollFd::new(*fd, nix::poll::PollFlags::POLLIN))
            .collect();
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        let timeout = nix::poll::PollTimeout::try_from(ms).unwrap_or(nix::poll::PollTimeout::MAX);
        if let Err(e) = nix::poll::poll(&mut polled, timeout) {
            if e != nix::errno::Errno::EINTR {
                return false;
            }
        }
        // The byte stays in the FIFO for every other waiter, and comes once per monitor.
        if durable() {
            return store.load_state(id).is_ok_and(|s| !s.recorded_active());
        }
    }
}

/// The signal that asks this container's PID 1 to shut down cleanly.
pub fn stop_signal(config: &ContainerConfig, init_pid: i32) -> i32 {
    if let Some(s) = config.stop_signal {
        return s;
    }
    let exe = std::fs::read_link(format!("/proc/{init_pid}/exe")).unwrap_or_default();
    default_stop_signal(&exe)
}

/// The stop signal when none was configured, for PID 1's executable `exe`. systemd
/// re-executes itself on SIGTERM; SIGRTMIN+4 starts its poweroff.target, the orderly
/// shutdown `machinectl poweroff` asks for too. Its halt.target (SIGRTMIN+3) ends the
/// same way in a container (reboot(2) ends PID 1 with SIGINT) but runs one more process
/// first: systemd-halt.service forks `systemctl --force halt`, which calls back into PID
/// 1, where systemd-poweroff.service only has a `SuccessAction` (docs/performance/stop.md).
pub fn default_stop_signal(exe: &std::path::Path) -> i32 {
    if exe
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("systemd"))
    {
        systemd_poweroff_signal()
    } else {
        libc::SIGTERM
    }
}

/// The signal that makes systemd as PID 1 shut down in order: SIGRTMIN+4, poweroff.target.
pub fn systemd_poweroff_signal() -> i32 {
    crate::options::SIGRTMIN + 4
}

fn send_signal(pid: i32, signal: i32) -> Result<()> {
    // SAFETY: plain kill(2).
    if unsafe { libc::kill(pid, signal) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ESRCH) {
            return Err(Error::Invalid(format!("signal {signal} to pid {pid}: {e}")));
        }
    }
    Ok(())
}

/// `stop`: the stop signal, `timeout` to end, then SIGKILL. Waits for the monitor's
/// clean-up, or cleans up itself if the monitor is gone.
pub fn stop(store: &Store, id: &str, timeout: Duration) -> Result<()> {
    // The request must be visible before the signal (the monitor reads it when PID 1
    // ends) and durable before `stop` returns; the directory's sync runs meanwhile, beside
    // the halt, instead of before the signal.
    store.update_state_unsynced(id, |s| {
        s.stop_requested = true;
        s.host_shutdown = false;
    })?;
    let config = store.load_config(id)?;
    sclog::crash_point("stop:after-request");
    // systemd's shutdown moves processes between cgroups too, and each move after a quiet
    // spell waits an RCU grace period (docs/performance/stop.md, round three). Nothing
    // shuts down in order without a timeout. Set going once the signal is sent (the thaw
    // before it takes the cgroup mutex on v2); killed and reaped when `stop` returns.
    // SAFETY: `stop` runs on the CLI's one thread, and forks before the syncing thread
    // below exists.
    let warmer = (!timeout.is_zero())
        .then(|| unsafe { crate::warmer::Warmer::start_on_cue() })
        .flatten();
    let (_warmer, cue) = warmer.unzip();
    std::thread::scope(|scope| {
        let durable = scope.spawn(|| store.sync_dir(id));
        let halted = halt(store, id, timeout, cue);
        let synced = match durable.join() {
            Ok(synced) => synced.map_err(Error::from),
            Err(_) => Err(Error::Invalid(format!(
                "sync {}: the syncing thread panicked",
                store.dir(id).display()
            ))),
        };
        halted.and(synced)
    })?;
    crate::events::emit(store, &config, "stop", &[]);
    Ok(())
}

/// The stop sequence itself, for a user's [`stop`] or the host's [`shutdown`] (the
/// caller has recorded which).
fn halt(
    store: &Store,
    id: &str,
    timeout: Duration,
    warmer: Option<crate::warmer::Cue>,
) -> Result<()> {
    await_unrecorded_monitor(store, id)?;
    let mut c = Container::load(store, id)?;
    // A monitor that is still booting PID 1 records it shortly: wait for that rather than
    // racing it (a record removed under a booting monitor would orphan the container).
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.state.status == Status::Starting && c.state.monitor_alive() && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
        c = Container::load(store, id)?;
    }
    let Some(init) = c.state.init.filter(|p| p.is_alive()) else {
        if let Some(m) = c.state.monitor.filter(|m| m.is_alive()) {
            // The monitor is finishing (a failed boot, poststop hooks): let it.
            wait_for_exit(m, Duration::from_secs(15));
        }
        let orphan = {
            let _lock = store.lock(id)?;
            match Container::load(store, id) {
                Ok(c) => cleanup_orphan(store, &c),
                // The monitor removed it (--rm).
                Err(Error::Store(store::StoreError::NotFound(_))) => None,
                Err(e) => return Err(e),
            }
        };
        run_orphan_poststop(store, orphan);
        return Ok(());
    };
    // Thawed whatever the record says: a `pause` killed between freezing and recording
    // leaves a frozen cgroup under a record saying running, and frozen tasks would not
    // take the stop signal.
    let _ = c.cgroup().thaw();
    let mut last_signal = stop_signal(&c.config, init.pid);
    if !timeout.is_zero() {
        send_signal(init.pid, last_signal)?;
        if let Some(cue) = warmer {
            cue.give();
        }
        sclog::crash_point("stop:after-signal");
        sclog::stop_point("stop:after-signal");
    }
    if !wait_for_exit(init, timeout) {
        last_signal = libc::SIGKILL;
        send_signal(init.pid, libc::SIGKILL)?;
        c.cgroup().signal_all(libc::SIGKILL);
        wait_for_exit(init, Duration::from_secs(10));
    }
    sclog::crash_point("stop:after-exit");
    finish_after_exit(store, id, c.state.monitor, last_signal)
}

/// After PID 1 ended: give the monitor time to record the exit; clean up ourselves if the
/// monitor is gone. Returns once the record saying exited is durable: the monitor goes on
/// removing the cgroups after that, and whoever takes the container next waits for it.
fn finish_after_exit(
    store: &Store,
    id: &str,
    monitor: Option<ProcessId>,
    signal: i32,
) -> Result<()> {
    if let Some(m) = monitor {
        let durable = wait_for_recorded_exit(store, id, m, Duration::from_secs(15));
        match store.load_state(id) {
            Ok(s) if !s.recorded_active() && durable => return Ok(()),
            // The monitor renamed the record into place after syncing it, and syncs the
            // directory; this sync returns once that rename is durable too.
            Ok(s) if !s.recorded_active() => return Ok(store.sync_dir(id)?),
            // The monitor removed it (--rm).
            Err(store::StoreError::NotFound(_)) => return Ok(()),
            _ => {}
        }
    }
    let orphan = {
        let _lock = store.lock(id)?;
        let c = match Container::load(store, id) {
            Ok(c) => c,
            // The monitor removed it (--rm).
            Err(Error::Store(store::StoreError::NotFound(_))) => return Ok(()),
            Err(e) => return Err(e),
        };
        if !c.state.recorded_active() || c.state.monitor_alive() {
            return Ok(());
        }
        sclog::crash_point("stop:before-cleanup");
        c.cgroup().signal_all(libc::SIGKILL);
        let exit = ExitInfo {
            cause: ExitCause::Signaled,
            code: 128 + signal,
            signal: Some(signal),
        };
        clean_up_without_monitor(store, &c, Some(exit))?
    };
    run_orphan_poststop(store, Some(orphan));
    Ok(())
}

/// What a dead monitor left to do, once PID 1 is gone too: its poststop hooks, for the
/// container and PID 1 that [`clean_up_without_monitor`] cleaned.
struct Orphan {
    config: ContainerConfig,
    init_pid: i32,
}

/// The monitor's final clean-up, done by a command because the monitor is gone: cgroups,
/// run directory, host-side mounts (a block-device rootfs), and the record saying
/// exited (with `exit` when known). The caller holds the container lock, and runs the
/// poststop hooks ([`run_orphan_poststop`]) once it has let go of it, as the monitor
/// does.
fn clean_up_without_monitor(
    store: &Store,
    c: &Container,
    exit: Option<ExitInfo>,
) -> Result<Orphan> {
    // An init that a monitor killed at the wrong moment never recorded may still run
    // there: it goes too, or the cgroups could not.
    let cgroup = c.cgroup();
    cgroup.signal_all(libc::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cgroup.pids().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = cgroup.destroy(&c.state.created_cgroups);
    if let Err(e) = crate::cni::detach(store, c.id()) {
        tracing::warn!("{e}");
    }
    let _ = std::fs::remove_dir_all(store.run_dir(c.id()));
    crate::hostside::stopped(&c.config);
    let mut state = store.load_state(c.id())?;
    let init_pid = state.init.map(|p| p.pid).unwrap_or(0);
    if matches!(
        state.status,
        Status::Running | Status::Paused | Status::Starting
    ) {
        state.status = Status::Exited;
        state.finished_at = Some(crate::state::now_rfc3339());
        if exit.is_some() {
            state.exit = exit;
        }
        let attrs = state
            .exit
            .map(|e| crate::events::exit_attributes(&e))
            .unwrap_or_default();
        crate::events::emit(store, &c.config, "die", &attrs);
    }
    state.init = None;
    state.monitor = None;
    state.created_cgroups.clear();
    state.ready = false;
    store.save_state(c.id(), &state)?;
    Ok(Orphan {
        config: c.config.clone(),
        init_pid,
    })
}

/// The poststop hooks a dead monitor never ran (failures are logged, as the monitor
/// does). Called without the container lock: a hook may take it.
fn run_orphan_poststop(store: &Store, orphan: Option<Orphan>) {
    let Some(orphan) = orphan else {
        return;
    };
    let id = &orphan.config.id;
    let Ok(spec) = store.load_spec(id) else {
        return;
    };
    let poststop = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.poststop().clone())
        .unwrap_or_default();
    if poststop.is_empty() {
        return;
    }
    let state = crate::hooks::OciState::of(
        &orphan.config,
        &spec,
        store.dir(id),
        crate::state::OciStatus::Stopped,
        orphan.init_pid,
    );
    if let Err(e) = crate::hooks::run_hooks(crate::hooks::HookStage::Poststop, &poststop, &state) {
        tracing::warn!("{e}");
    }
}

/// A container whose monitor and PID 1 both died (e.g. `kill -9` of both, or a host
/// crash) still has cgroups and a record saying running: clean both. The caller holds
/// the container lock and runs the returned poststop hooks after releasing it.
fn cleanup_orphan(store: &Store, c: &Container) -> Option<Orphan> {
    if c.state.init_alive() || c.state.monitor_alive() {
        return None;
    }
    if c.state.created_cgroups.is_empty()
        && !matches!(
            c.state.status,
            Status::Running | Status::Paused | Status::Starting
        )
    {
        return None;
    }
    clean_up_without_monitor(store, c, None).ok()
}

/// `kill`: send a signal to PID 1. SIGKILL counts as a user's stop (no restart).
pub fn kill(store: &Store, id: &str, signal: i32) -> Result<()> {
    let c = Container::load(store, id)?;
    let pid = c.running_init()?;
    crate::events::emit(
        store,
        &c.config,
        "kill",
        &[("signal", crate::options::signal_name(signal))],
    );
    if signal == libc::SIGKILL {
        store.update_state(id, |s| s.stop_requested = true)?;
        send_signal(pid, signal)?;
        let init = c.state.init.expect("running_init checked it");
        wait_for_exit(init, Duration::from_secs(10));
        return finish_after_exit(store, id, c.state.monitor, signal);
    }
    send_signal(pid, signal)
}

/// `rm`: remove a stopped container's records (with `force`, kill it first). The rootfs
/// stays where it is.
pub fn remove(store: &Store, id: &str, force: bool) -> Result<()> {
    await_unrecorded_monitor(store, id)?;
    let c = Container::load(store, id)?;
    if c.state.is_active() {
        if !force {
            return Err(Error::Active {
                name: c.config.name.clone(),
                status: c.status().as_str(),
            });
        }
        stop(store, id, Duration::ZERO)?;
        sclog::crash_point("rm:after-stop");
    }
    // The monitor is finishing (poststop hooks, cgroup removal after `stop` returned): let it.
    let monitor = match store.load_state(id) {
        Ok(s) => s.monitor,
        Err(_) => c.state.monitor,
    };
    if let Some(m) = monitor.filter(|m| m.is_alive()) {
        wait_for_exit(m, Duration::from_secs(15));
    }
    let orphan = {
        let _lock = store.lock(id)?;
        match Container::load(store, id) {
            Ok(c) => {
                let orphan = cleanup_orphan(store, &c);
                // The monitor detaches at every exit; this catches an attachment that
                // outlived it anyway, before its record goes with the bundle.
                if let Err(e) = crate::cni::detach(store, c.id()) {
                    tracing::warn!("{e}");
                }
                crate::hostside::release(&c.config);
                orphan
            }
            Err(Error::Store(store::StoreError::NotFound(_))) => return Ok(()),
            Err(e) => return Err(e),
        }
    };
    sclog::crash_point("rm:before-remove");
    run_orphan_poststop(store, orphan);
    store.remove(id)?;
    crate::events::emit(store, &c.config, "destroy", &[]);
    Ok(())
}

pub fn pause(store: &Store, id: &str) -> Result<()> {
    let _lock = store.lock(id)?;
    let c = Container::load(store, id)?;
    c.running_init()?;
    if c.status() == Status::Paused && c.state.status == Status::Paused {
        return Ok(());
    }
    c.cgroup().freeze()?;
    sclog::crash_point("pause:after-freeze");
    let mut state = c.state;
    state.status = Status::Paused;
    store.save_state(id, &state)?;
    crate::events::emit(store, &c.config, "pause", &[]);
    Ok(())
}

pub fn unpause(store: &Store, id: &str) -> Result<()> {
    let _lock = store.lock(id)?;
    let c = Container::load(store, id)?;
    c.running_init()?;
    if c.status() != Status::Paused && c.state.status != Status::Paused {
        return Err(Error::NotPaused(c.config.name.clone()));
    }
    c.cgroup().thaw()?;
    sclog::crash_point("unpause:after-thaw");
    let mut state = c.state;
    state.status = Status::Running;
    store.save_state(id, &state)?;
    crate::events::emit(store, &c.config, "unpause", &[]);
    Ok(())
}

/// `update`: change limits in the spec and, when running, in the cgroup.
pub fn update(store: &Store, id: &str, u: &ResourceArgs) -> Result<()> {
    use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxPids};
    let _lock = store.lock(id)?;
    let c = Container::load(store, id)?;
    let mut spec = store.load_spec(id)?;
    let mut linux = spec.linux().clone().unwrap_or_default();
    let mut resources: LinuxResources = linux.resources().clone().unwrap_or_default();

    let mut memory: LinuxMemory = (*resources.memory()).unwrap_or_default();
    if let Some(m) = u.memory {
        memory.set_limit(Some(m as i64));
    }
    if let Some(s) = u.memory_swap {
        memory.set_swap(Some(s));
    }
    if let Some(r) = u.memory_reservation {
        memory.set_reservation(Some(r as i64));
    }
    if let (Some(limit), Some(swap)) = (memory.limit(), memory.swap()) {
        if swap != -1 && swap < limit {
            return Err(Error::Invalid(format!(
                "--memory-swap {swap} is less than --memory {limit}: it is memory plus swap"
            )));
        }
    }
    let mut cpu: LinuxCpu = resources.cpu().clone().unwrap_or_default();
    if let Some(cpus) = u.cpus {
        cpu.set_period(Some(100_000));
        cpu.set_quota(Some((cpus * 100_000.0).round() as i64));
    }
    if let Some(s) = u.cpu_shares {
        cpu.set_shares(Some(s));
    }
    if let Some(q) = u.cpu_quota {
        cpu.set_quota(Some(q));
    }
    if let Some(p) = u.cpu_period {
        cpu.set_period(Some(p));
    }
    if let Some(c) = &u.cpuset_cpus {
        cpu.set_cpus(Some(c.clone()));
    }
    if let Some(m) = &u.cpuset_mems {
        cpu.set_mems(Some(m.clone()));
    }
    resources.set_memory(Some(memory));
    resources.set_cpu(Some(cpu.clone()));
    if let Some(p) = u.pids_limit {
        let mut pids = LinuxPids::default();
        pids.set_limit(p);
        resources.set_pids(Some(pids));
    }

    if c.state.is_active() {
        // Only what changed goes to the cgroup; devices and the rest stay.
        let mut changed = LinuxResources::default();
        changed.set_memory(Some(memory));
        changed.set_cpu(Some(cpu));
        changed.set_pids(*resources.pids());
        // `apply` orders memory and memory+swap so that v1 accepts a raise and a lowering.
        let cg = c.cgroup();
        if let Err(e) = cg.apply(&changed) {
            return Err(e.into());
        }
    }
    sclog::crash_point("update:after-cgroup");
    linux.set_resources(Some(resources));
    spec.set_linux(Some(linux));
    store.save_spec(id, &spec)?;
    Ok(())
}

/// `wait`: block until the container is no longer running; its exit status.
pub fn wait(store: &Store, id: &str) -> Result<Option<ExitInfo>> {
    loop {
        let c = Container::load(store, id)?;
        if !c.state.is_active() {
            if let Some(m) = c.state.monitor.filter(|m| m.is_alive()) {
                wait_for_exit(m, Duration::from_secs(15));
                continue;
            }
            return Ok(c.state.exit);
        }
        match c.state.init.or(c.state.monitor) {
            Some(p) => {
                wait_for_exit(p, Duration::from_secs(3600));
                if let Some(m) = c.state.monitor {
                    // A restart policy may bring PID 1 back: re-read after the monitor had
                    // its say.
                    std::thread::sleep(Duration::from_millis(50));
                    if !m.is_alive() {
                        continue;
                    }
                }
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// `rename`.
pub fn rename(store: &Store, id: &str, new_name: &str) -> Result<()> {
    let _store_lock = store.lock_store()?;
    if store.name_in_use(new_name, Some(id))? {
        return Err(store::StoreError::NameInUse(new_name.to_string()).into());
    }
    let _lock = store.lock(id)?;
    let mut config = store.load_config(id)?;
    config.name = new_name.to_string();
    store.save_config(&config)?;
    Ok(())
}

/// Processes of a running container, from its cgroup.
pub fn processes(store: &Store, id: &str) -> Result<Vec<i32>> {
    let c = Container::load(store, id)?;
    c.running_init()?;
    Ok(c.cgroup().pids())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_is_asked_to_power_off_and_other_inits_get_sigterm() {
        use std::path::Path;
        let poweroff = libc::SIGRTMIN() + 4;
        assert_eq!(
            default_stop_signal(Path::new("/usr/lib/systemd/systemd")),
            poweroff
        );
        assert_eq!(
            default_stop_signal(Path::new("/lib/systemd/systemd")),
            poweroff
        );
        assert_eq!(default_stop_signal(Path::new("/sbin/init")), libc::SIGTERM);
        assert_eq!(default_stop_signal(Path::new("/bin/sh")), libc::SIGTERM);
        // PID 1 already gone: no executable to look at.
        assert_eq!(default_stop_signal(Path::new("")), libc::SIGTERM);
    }

    fn exited(cause: ExitCause, stop_requested: bool, host_shutdown: bool) -> State {
        State {
            status: Status::Exited,
            exit: Some(ExitInfo {
                cause,
                code: 0,
                signal: None,
            }),
            stop_requested,
            host_shutdown,
            ..State::default()
        }
    }

    #[test]
    fn a_host_shutdown_is_restored_but_a_user_stop_or_poweroff_is_not() {
        use RestartPolicy::*;
        let by_host = exited(ExitCause::Poweroff, false, true);
        let by_user = exited(ExitCause::Poweroff, true, false);
        let powered_off = exited(ExitCause::Poweroff, false, false);
        let crashed = exited(ExitCause::Signaled, false, false);
        for policy in [Always, UnlessStopped] {
            assert!(wants_restore(policy, &by_host), "{policy:?}");
            assert!(wants_restore(policy, &crashed), "{policy:?}");
            assert!(!wants_restore(policy, &by_user), "{policy:?}");
            assert!(!wants_restore(policy, &powered_off), "{policy:?}");
        }
        for policy in [No, OnReboot, OnFailure { max_retries: None }] {
            assert!(!wants_restore(policy, &by_host), "{policy:?}");
        }
    }

    #[test]
    fn daemon_json_names_the_cgroup_manager_either_way() {
        use crate::cgroups::Driver;
        let dir = tempfile::tempdir().unwrap();
        let load = |text: &str| {
            let path = dir.path().join("daemon.json");
            std::fs::write(&path, text).unwrap();
            DaemonConfig::load(&path).map(|c| c.cgroup_manager)
        };
        assert_eq!(load("{}").unwrap(), None);
        assert_eq!(
            load(r#"{"cgroup-manager":"systemd"}"#).unwrap(),
            Some(Driver::Systemd)
        );
        assert_eq!(
            load(r#"{"exec-opts":["native.cgroupdriver=cgroupfs"]}"#).unwrap(),
            Some(Driver::Cgroupfs)
        );
        let disagree =
            load(r#"{"cgroup-manager":"systemd","exec-opts":["native.cgroupdriver=cgroupfs"]}"#)
                .unwrap_err();
        assert!(disagree.to_string().contains("disagree"), "{disagree}");
        assert!(load(r#"{"cgroup-manager":"lxc"}"#).is_err());
        assert!(load(r#"{"exec-opts":["native.umask=normal"]}"#).is_err());
    }

    #[test]
    fn daemon_json_ignores_unknown_keys_but_checks_known_ones() {
        let dir = tempfile::tempdir().unwrap();
        let load = |text: &str| {
            let path = dir.path().join("daemon.json");
            std::fs::write(&path, text).unwrap();
            DaemonConfig::load(&path)
        };
        let cfg = load(
            r#"{"registry-mirrors":["docker.io"],"log-driver":"file","cgroup-parent":"/lxc"}"#,
        )
        .unwrap();
        assert_eq!(cfg.cgroup_parent.as_deref(), Some("/lxc"));
        let ignored: Vec<_> = cfg.ignored.keys().collect();
        assert_eq!(ignored, ["log-driver", "registry-mirrors"]);
        assert!(load(r#"{"cgroup-parent":7,"log-driver":"file"}"#).is_err());
        assert!(load(r#"{"cgroup-parent":"../up","log-driver":"file"}"#).is_err());
        assert!(load(r#"{"hook-spec":["not","a","path"]}"#).is_err());
        assert!(load(r#"["not an object"]"#).is_err());
    }
}

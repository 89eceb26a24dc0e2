//! The per-container monitor: one small process per running container.
//!
//! It owns the console pty (master and a slave kept open so the console survives PID 1
//! restarts), appends console output to `console.log` and to attached clients, receives
//! sd_notify messages, reaps PID 1, applies the restart policy, runs the poststop hooks
//! and cleans up. It holds no state the disk does not also hold: if it is killed, `ps`,
//! `stop` and `rm -f` still find and end the container from the records.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use oci_spec::runtime::Spec;

use crate::cgroups::ContainerCgroup;
use crate::config::ContainerConfig;
use crate::error::{io_error, Error, Result};
use crate::hooks::{self, HookStage, OciState};
use crate::options::RestartPolicy;
use crate::process::channel::Readiness;
use crate::process::{self, InitContext};
use crate::state::{now_ns, now_rfc3339, ExitCause, ExitInfo, OciStatus, ProcessId, Status};
use crate::store::Store;

pub mod entry;
mod features;

pub const ATTACH_SOCKET: &str = "attach.sock";
pub const NOTIFY_SOCKET: &str = "notify";
/// A FIFO in the run directory that gets one byte once the monitor has durably recorded
/// the end of the run: what a `stop` waits on (a byte, not the FIFO's end, because a FIFO
/// reader that opened after the writer sees no hang-up; inotify would cost the waiter an
/// SRCU grace period, ~20 ms, when it closes the watch).
pub const EXIT_FIFO: &str = "exited";

/// The console pty, kept for the monitor's life.
struct Console {
    master: OwnedFd,
    _slave: OwnedFd,
    slave_path: PathBuf,
}

fn open_console() -> Result<Console> {
    let pty = nix::pty::openpty(None, None).map_err(|e| Error::Invalid(format!("openpty: {e}")))?;
    let slave_path = nix::unistd::ttyname(pty.slave.as_fd())
        .map_err(|e| Error::Invalid(format!("ttyname: {e}")))?;
    let winsize = libc::winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ on a pty we own.
    unsafe { libc::ioctl(pty.master.as_raw_fd(), libc::TIOCSWINSZ, &winsize) };
    set_nonblocking(pty.master.as_fd());
    Ok(Console {
        master: pty.master,
        _slave: pty.slave,
        slave_path,
    })
}

fn set_nonblocking(fd: BorrowedFd) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    if let Ok(flags) = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL) {
        let _ = fcntl(
            fd.as_raw_fd(),
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
        );
    }
}

/// What the monitor decided after PID 1 ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Restart { delay: Duration },
    Finish,
}

/// The restart decision, as a pure function of the policy and what happened.
pub fn decide(
    policy: RestartPolicy,
    exit: &ExitInfo,
    stop_requested: bool,
    failures_so_far: u32,
) -> Next {
    if stop_requested || exit.cause == ExitCause::Poweroff {
        return Next::Finish;
    }
    let restart = match policy {
        RestartPolicy::No => false,
        RestartPolicy::OnReboot => exit.cause == ExitCause::Reboot,
        RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        RestartPolicy::OnFailure { max_retries } => {
            exit.failed() && max_retries.is_none_or(|max| failures_so_far < max)
        }
    };
    if !restart {
        return Next::Finish;
    }
    let delay = if exit.cause == ExitCause::Reboot {
        Duration::ZERO
    } else {
        // 100 ms doubling per consecutive failure, at most 10 s (docker's back-off).
        Duration::from_millis((100u64 << failures_so_far.min(7)).min(10_000))
    };
    Next::Restart { delay }
}

pub struct Monitor {
    store: Store,
    config: ContainerConfig,
    spec: Spec,
    cgroup: ContainerCgroup,
    console: Console,
    log: crate::logrotate::ConsoleLog,
    listener: UnixListener,
    notify: UnixDatagram,
    clients: Vec<UnixStream>,
    signals: SignalFd,
    /// [`EXIT_FIFO`], held open read-write so that the byte stays for every reader.
    exit_fifo: Option<File>,
    init: Option<i32>,
    consecutive_failures: u32,
    /// The cgroup directories [`Monitor::new`] created for the first boot (`None` once
    /// that boot has taken them).
    fresh_cgroups: Option<Vec<PathBuf>>,
    /// Until when to keep trying to hand the cgroup's controllers to the container's
    /// subtree ([`Monitor::delegate_controllers`]); `None` once done or given up.
    delegation_deadline: Option<Instant>,
    /// Health checks and event bookkeeping ([`features`]).
    extras: features::Extras,
    /// Keeps cgroup migrations fast from the init's exec until it reports itself booted.
    warmer: Option<crate::warmer::Warmer>,
}

/// How long after a boot the monitor waits for init to leave the container's own cgroup2
/// directory; an init that is not systemd may never do so.
const DELEGATION_WAIT: Duration = Duration::from_secs(120);
/// How often the monitor looks meanwhile.
const DELEGATION_POLL: Duration = Duration::from_millis(20);

/// Whether a boot must create the cgroups (rather than reset the ones it has).
fn needs_cgroups(state: &crate::state::State, cgroup: &ContainerCgroup) -> bool {
    state.created_cgroups.is_empty() && !cgroup.dirs().iter().all(|d| d.exists())
}

/// Run the monitor of container `id`; `ready` receives the [`Readiness`] of the start.
pub fn run(store: Store, id: &str, ready: OwnedFd) -> i32 {
    let mut ready = File::from(ready);
    let _ = nix::unistd::setsid();
    // SAFETY: naming ourselves.
    unsafe {
        let name = std::ffi::CString::new(format!("scmon-{}", &id[..8])).unwrap_or_default();
        libc::prctl(libc::PR_SET_NAME, name.as_ptr(), 0, 0, 0);
    }
    let mut monitor = match Monitor::new(store.clone(), id) {
        Ok(m) => m,
        Err(e) => {
            let _ = Readiness::Failed(e.to_string()).send(&mut ready);
            fail_start(&store, id, &e.to_string());
            return 1;
        }
    };
    if let Err(e) = monitor.boot() {
        let _ = Readiness::Failed(e.to_string()).send(&mut ready);
        monitor.finish(None, Some(e.to_string()));
        return 1;
    }
    let _ = Readiness::Ready.send(&mut ready);
    drop(ready);
    shed_startup_memory();
    monitor.event_loop();
    0
}

/// Give back what only the start needed, before the monitor settles into its loop: free
/// heap (the parsed records, the init's stack, the cgroup read buffer), the mapped pages
/// of the program and its libraries, and the main stack below the loop's. Parsing, cgroup set-up and the clone
/// touched much of the program's code and a deep stack, but the loop runs a small part of
/// it. Only read-only file mappings without private (copied) pages are dropped: their
/// pages stay in the page cache, and what the loop uses faults back in from there.
fn shed_startup_memory() {
    crate::cgroups::read::release_buffer();
    // SAFETY: malloc_trim only returns free memory to the kernel (glibc's; musl has none).
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::malloc_trim(0)
    };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    for (start, end) in droppable_mappings(&smaps) {
        // SAFETY: a read-only, file-backed private mapping with no anonymous pages holds
        // nothing but the file's contents, which MADV_DONTNEED re-reads on the next access.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
    let frame = 0u8;
    let sp = std::hint::black_box(std::ptr::addr_of!(frame)) as usize;
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    if let Some((start, end)) = unused_stack(&smaps, sp, page) {
        // SAFETY: the range lies well below the current frame of the main thread, where no
        // live data is (the stack grows down); MADV_DONTNEED makes it zero pages again.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

/// How much of the main stack below [`shed_startup_memory`]'s frame stays: room for the
/// loop's own calls and the madvise itself, without faults.
const STACK_KEPT: usize = 16 * 1024;

/// The part of the main thread's stack (`[stack]` in `smaps` text) that lies more than
/// [`STACK_KEPT`] below `sp`, page-aligned; `None` when `sp` is not on it (another thread).
fn unused_stack(smaps: &str, sp: usize, page: usize) -> Option<(usize, usize)> {
    let (start, end) = smaps.lines().find_map(|line| {
        let (range, rest) = line.split_once(' ')?;
        if !rest.trim_end().ends_with(" [stack]") {
            return None;
        }
        let (a, b) = range.split_once('-')?;
        Some((
            usize::from_str_radix(a, 16).ok()?,
            usize::from_str_radix(b, 16).ok()?,
        ))
    })?;
    if !(start..end).contains(&sp) {
        return None;
    }
    let below = sp.checked_sub(STACK_KEPT)? & !(page - 1);
    (below > start).then_some((start, below))
}

/// The address ranges in `/proc/self/smaps` text that [`shed_startup_memory`] may drop:
/// file-backed, not writable, not shared, and without anonymous (copied-on-write) pages.
fn droppable_mappings(smaps: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-') {
            if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                let perms = fields.next().unwrap_or("");
                let _offset = fields.next();
                let _dev = fields.next();
                let inode = fields.next().unwrap_or("0");
                let path = fields.next().unwrap_or("");
                let candidate = perms.len() == 4
                    && perms.as_bytes()[1] == b'-'
                    && perms.ends_with('p')
                    && inode != "0"
                    && path.starts_with('/');
                current = candidate.then_some((a, b));
                continue;
            }
        }
        if first == "Anonymous:" {
            if let Some(range) = current.take() {
                if fields.next() == Some("0") {
                    out.push(range);
                }
            }
        }
    }
    out
}

/// Make and open [`EXIT_FIFO`]; without it a `stop` waits for the monitor's exit instead.
fn open_exit_fifo(path: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let made = nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600));
    let opened = made.map_err(std::io::Error::from).and_then(|()| {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
    });
    opened
        .map_err(|e| tracing::warn!("exit fifo {}: {e}", path.display()))
        .ok()
}

fn fail_start(store: &Store, id: &str, message: &str) {
    let _ = store.update_state(id, |s| {
        s.status = Status::Exited;
        s.error = Some(message.to_string());
        s.monitor = None;
        s.init = None;
    });
}

impl Monitor {
    fn new(store: Store, id: &str) -> Result<Monitor> {
        let config = store.load_config(id)?;
        let spec = store.load_spec(id)?;
        let cgroup = ContainerCgroup::load(&config.cgroup);
        let run_dir = store.run_dir(id);
        let _ = std::fs::remove_dir_all(&run_dir);
        std::fs::create_dir_all(&run_dir).map_err(io_error("create", &run_dir))?;
        let listener = UnixListener::bind(run_dir.join(ATTACH_SOCKET))
            .map_err(io_error("bind", run_dir.join(ATTACH_SOCKET)))?;
        listener
            .set_nonblocking(true)
            .map_err(io_error("configure", &run_dir))?;
        let notify = UnixDatagram::bind(run_dir.join(NOTIFY_SOCKET))
            .map_err(io_error("bind", run_dir.join(NOTIFY_SOCKET)))?;
        notify
            .set_nonblocking(true)
            .map_err(io_error("configure", &run_dir))?;
        let exit_fifo = open_exit_fifo(&run_dir.join(EXIT_FIFO));
        let log_path = store.dir(id).join("console.log");
        let log =
            crate::logrotate::ConsoleLog::open(&log_path, config.log_rotation.or_default_cap())
                .map_err(io_error("open", &log_path))?;
        let mut mask = SigSet::empty();
        for s in [
            Signal::SIGCHLD,
            Signal::SIGTERM,
            Signal::SIGINT,
            Signal::SIGHUP,
        ] {
            mask.add(s);
        }
        mask.thread_block()
            .map_err(|e| Error::Invalid(format!("block signals: {e}")))?;
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|e| Error::Invalid(format!("signalfd: {e}")))?;
        // SAFETY: ignoring SIGPIPE so that a vanished attach client is a write error.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        let console = open_console()?;
        // The first boot's cgroups are created here so that one write records both the
        // monitor and the directories it made (before anything is placed in them).
        let state = store.load_state(id)?;
        let fresh_cgroups = if needs_cgroups(&state, &cgroup) {
            match cgroup.create() {
                Ok(created) => created,
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&run_dir);
                    return Err(e.into());
                }
            }
        } else {
            Vec::new()
        };
        sclog::crash_point("monitor:after-cgroups");
        let recorded = store.update_state(id, |s| {
            s.monitor = ProcessId::of(std::process::id() as i32);
            if !fresh_cgroups.is_empty() {
                s.created_cgroups = fresh_cgroups.clone();
            }
        });
        if let Err(e) = recorded {
            let _ = cgroup.destroy(&fresh_cgroups);
            let _ = std::fs::remove_dir_all(&run_dir);
            return Err(e.into());
        }
        sclog::crash_point("monitor:after-record");
        Ok(Monitor {
            store,
            config,
            spec,
            cgroup,
            console,
            log,
            listener,
            notify,
            clients: Vec::new(),
            signals,
            exit_fifo,
            init: None,
            consecutive_failures: 0,
            fresh_cgroups: Some(fresh_cgroups),
            delegation_deadline: None,
            extras: Default::default(),
            warmer: None,
        })
    }

    fn id(&self) -> &str {
        &self.config.id
    }

    fn oci_state(&self, status: OciStatus, pid: i32) -> OciState {
        OciState::of(
            &self.config,
            &self.spec,
            self.store.dir(self.id()),
            status,
            pid,
        )
    }

    fn hooks(
        &self,
        pick: impl Fn(&oci_spec::runtime::Hooks) -> Option<Vec<oci_spec::runtime::Hook>>,
    ) -> Vec<oci_spec::runtime::Hook> {
        self.spec
            .hooks()
            .as_ref()
            .and_then(pick)
            .unwrap_or_default()
    }

    /// Create (cgroups, namespaces, mounts, prestart hooks) and start PID 1.
    fn boot(&mut self) -> Result<()> {
        let env = self
            .spec
            .process()
            .as_ref()
            .and_then(|p| p.env().clone())
            .unwrap_or_default();
        crate::hostside::prepare(&self.config, &env)?;
        sclog::crash_point("monitor:after-prepare");
        let mut created_now = Vec::new();
        match self.fresh_cgroups.take() {
            // The first boot: `new` created them (and recorded them) if needed.
            Some(fresh) if !fresh.is_empty() => created_now = fresh,
            _ => {
                let state = self.store.load_state(self.id())?;
                if needs_cgroups(&state, &self.cgroup) {
                    created_now = self.cgroup.create()?;
                    let created = created_now.clone();
                    self.store
                        .update_state(self.id(), |s| s.created_cgroups = created)?;
                } else {
                    self.cgroup.reset()?;
                }
            }
        }
        let cloned = std::cell::Cell::new(0);
        let result = self.boot_in_cgroup(&cloned);
        if result.is_err() && cloned.get() != 0 {
            // The OCI lifecycle after a failed create (a prestart hook, most often): the
            // container is deleted and the poststop hooks run, so that they can undo what
            // the prestart hooks did.
            self.detach_networks();
            let poststop = self.hooks(|h| h.poststop().clone());
            let state = self.oci_state(OciStatus::Stopped, cloned.get());
            if let Err(e) = hooks::run_hooks(HookStage::Poststop, &poststop, &state) {
                tracing::warn!("{e}");
            }
        }
        if result.is_err() && !created_now.is_empty() {
            let _ = self.cgroup.destroy(&created_now);
            let _ = self
                .store
                .update_state(self.id(), |s| s.created_cgroups.clear());
        }
        result
    }

    /// `cloned` receives the PID of the init once it exists.
    fn boot_in_cgroup(&mut self, cloned: &std::cell::Cell<i32>) -> Result<()> {
        let resources = self
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.resources().as_ref());
        // A systemd scope exists only once the init is in it: limits (and the remapped
        // root's share of it) follow in `in_cgroup`.
        let limits_after_placing = self.cgroup.made_with_first_process();
        let remap = self.config.user_remap;
        if let Some(remap) = remap.filter(|_| !limits_after_placing) {
            self.share_with_remapped_root(remap)?;
        }
        if let Some(resources) = resources.filter(|_| !limits_after_placing) {
            self.cgroup.apply(resources)?;
        }
        let bundle = self.store.dir(self.id());
        let notify_path = self.store.run_dir(self.id()).join(NOTIFY_SOCKET);
        let ctx = InitContext {
            spec: &self.spec,
            bundle: &bundle,
            console: Some(&self.console.slave_path),
            notify_socket: Some(&notify_path),
            writable_proc_paths: &self.config.writable_proc_paths,
            exec_fifo: None,
            container_hooks: None,
        };
        let prestart = self.hooks(|h| h.prestart().clone());
        let cgroup = &self.cgroup;
        let v2_dir = cgroup.v2_dir();
        let v1_tasks = cgroup.v1_tasks_files();
        let placement = process::SelfPlacement {
            v2_dir: v2_dir.as_deref(),
            v1_tasks: &v1_tasks,
        };
        let created = process::create(
            &ctx,
            Some(placement).filter(|_| !limits_after_placing),
            |pid, move_it| {
                cloned.set(pid);
                if move_it {
                    cgroup.add_process(pid)?;
                }
                sclog::crash_point("monitor:after-placing");
                if let Some(resources) = resources.filter(|_| limits_after_placing) {
                    cgroup.apply(resources)?;
                }
                if let Some(remap) = remap.filter(|_| limits_after_placing) {
                    self.share_with_remapped_root(remap).map_err(|e| {
                        process::ProcessError::Init(format!(
                            "share the scope with the remapped root: {e}"
                        ))
                    })?;
                }
                Ok(())
            },
            |pid| {
                if let Some(request) = &self.config.cni {
                    crate::cni::attach(&self.store, self.id(), request, pid)
                        .map_err(|e| process::ProcessError::Network(e.to_string()))?;
                }
                hooks::run_hooks(
                    HookStage::Prestart,
                    &prestart,
                    &self.oci_state(OciStatus::Created, pid),
                )
                .map_err(|e| process::ProcessError::Hook(e.to_string()))
            },
        )?;
        // Recorded before it runs, so that a monitor killed from here on leaves a record
        // naming the init (`rm -f`, `stop` and `start` then find it).
        self.store
            .update_state(self.id(), |s| s.init = ProcessId::of(created.pid.as_raw()))?;
        sclog::crash_point("monitor:after-prestart");
        self.start_oom_watch();
        // From here on nothing of ours moves a process or makes a cgroup until the init
        // has exec'd: the warmer's first write, which waits a grace period under the
        // kernel's cgroup mutex, stalls no step of the start.
        // SAFETY: the monitor is single-threaded.
        self.warmer = unsafe { crate::warmer::Warmer::start() };
        let started = created.start();
        if started.is_err() {
            self.warmer = None;
        }
        let pid = started?.as_raw();
        let exec_ns = now_ns();
        sclog::crash_point("monitor:after-exec");
        self.init = Some(pid);
        self.delegation_deadline = Some(Instant::now() + DELEGATION_WAIT);
        crate::machine::register(&self.config, pid);
        self.store.update_state(self.id(), |s| {
            s.status = Status::Running;
            s.init = ProcessId::of(pid);
            s.started_at = Some(now_rfc3339());
            s.exec_ns = Some(exec_ns);
            s.finished_at = None;
            s.exit = None;
            s.error = None;
            s.ready = false;
        })?;
        self.on_booted();
        sclog::crash_point("monitor:after-running");
        let poststart = self.hooks(|h| h.poststart().clone());
        if let Err(e) = hooks::run_hooks(
            HookStage::Poststart,
            &poststart,
            &self.oci_state(OciStatus::Running, pid),
        ) {
            tracing::warn!("{e}");
        }
        Ok(())
    }

    fn event_loop(&mut self) {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let (sig_ready, master_ready, listen_ready, notify_ready, client_ready, oom_ready) = {
                let mut fds = vec![
                    PollFd::new(self.signals.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.console.master.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.listener.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.notify.as_fd(), PollFlags::POLLIN),
                ];
                fds.extend(
                    self.clients
                        .iter()
                        .map(|c| PollFd::new(c.as_fd(), PollFlags::POLLIN)),
                );
                let clients_end = fds.len();
                if let Some(fd) = self.oom_fd() {
                    fds.push(PollFd::new(fd, PollFlags::POLLIN));
                }
                let timeout = match self.poll_wait() {
                    Some(wait) => PollTimeout::from(wait.as_millis().clamp(1, 60_000) as u16),
                    None => PollTimeout::NONE,
                };
                match poll(&mut fds, timeout) {
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => {
                        tracing::error!("poll: {e}");
                        return;
                    }
                }
                let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
                (
                    ready(&fds[0]),
                    ready(&fds[1]),
                    ready(&fds[2]),
                    ready(&fds[3]),
                    fds[4..clients_end].iter().map(ready).collect::<Vec<_>>(),
                    fds.get(clients_end).is_some_and(ready),
                )
            };
            self.delegate_controllers();
            self.health_tick();
            if oom_ready {
                self.on_oom_notice();
            }
            if master_ready {
                self.pump_console(&mut buf);
            }
            if listen_ready {
                while let Ok((client, _)) = self.listener.accept() {
                    self.clients.push(client);
                }
            }
            if notify_ready && self.read_notify(&mut buf) {
                // Recording readiness (once per boot) touched the store's code again, and
                // the warmer's end queued a SIGCHLD. Both are handled before the memory the
                // start needed is given back, so that neither faults code in after it.
                if self.reap() {
                    return;
                }
                shed_startup_memory();
            }
            let mut gone = Vec::new();
            for (i, ready) in client_ready.iter().enumerate() {
                if !ready {
                    continue;
                }
                match nix::unistd::read(self.clients[i].as_raw_fd(), &mut buf) {
                    Ok(0) | Err(_) => gone.push(i),
                    Ok(n) => {
                        let _ = write_all_fd(self.console.master.as_fd(), &buf[..n]);
                    }
                }
            }
            for i in gone.into_iter().rev() {
                self.clients.remove(i);
            }
            if sig_ready && self.reap() {
                return;
            }
        }
    }

    /// Once init has left the container's own cgroup2 directory (systemd makes its
    /// `init.scope` first thing), enable every controller there for systemd's units. v2 allows
    /// that only in a cgroup without processes of its own, so it cannot be done before init
    /// starts.
    fn delegate_controllers(&mut self) {
        let Some(deadline) = self.delegation_deadline else {
            return;
        };
        match self.cgroup.delegate_subtree() {
            Ok(true) => self.delegation_deadline = None,
            Ok(false) if Instant::now() < deadline => {}
            Ok(false) => {
                tracing::info!(
                    "init stayed in the container's own cgroup: its controllers stay with it"
                );
                self.delegation_deadline = None;
            }
            Err(e) => {
                tracing::warn!("handing controllers to the container's subtree: {e}");
                self.delegation_deadline = None;
            }
        }
    }

    fn pump_console(&mut self, buf: &mut [u8]) {
        loop {
            match nix::unistd::read(self.console.master.as_raw_fd(), buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let _ = self.log.write(&buf[..n]);
                    self.clients
                        .retain(|c| write_all_fd(c.as_fd(), &buf[..n]).is_ok());
                }
            }
        }
    }

    /// Read sd_notify messages; true when the init has just reported itself booted.
    fn read_notify(&mut self, buf: &mut [u8]) -> bool {
        let mut booted = false;
        while let Ok(n) = self.notify.recv(buf) {
            let text = String::from_utf8_lossy(&buf[..n]);
            if text.lines().any(|l| l == "READY=1") {
                self.warmer = None;
                let _ = self.store.update_state(self.id(), |s| s.ready = true);
                booted = true;
            }
        }
        booted
    }

    /// Handle pending signals; true when the monitor is done.
    fn reap(&mut self) -> bool {
        while let Ok(Some(_)) = self.signals.read_signal() {}
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return false,
                Ok(status) => {
                    if status.pid().map(|p| p.as_raw()) == self.init {
                        if let Some(exit) = ExitInfo::from_wait_status(status) {
                            return self.on_init_exit(exit);
                        }
                    } else if self.warmer.as_ref().map(crate::warmer::Warmer::pid) == status.pid() {
                        if let Some(warmer) = self.warmer.take() {
                            warmer.reaped();
                        }
                    } else {
                        self.on_child_reaped(status);
                    }
                }
            }
        }
    }

    fn on_init_exit(&mut self, exit: ExitInfo) -> bool {
        self.init = None;
        self.warmer = None;
        self.detach_networks();
        self.on_init_died(&exit);
        let mut buf = vec![0u8; 16 * 1024];
        self.pump_console(&mut buf);
        let state = self.store.load_state(self.id()).unwrap_or_default();
        let poststop = self.hooks(|h| h.poststop().clone());
        let pid = state.init.map(|p| p.pid).unwrap_or(0);
        if exit.failed() {
            self.consecutive_failures += 1;
        } else {
            self.consecutive_failures = 0;
        }
        match decide(
            self.config.restart,
            &exit,
            state.stop_requested || state.host_shutdown,
            self.consecutive_failures.saturating_sub(1),
        ) {
            Next::Restart { delay } => {
                tracing::info!(?exit, "restarting container");
                if let Err(e) = hooks::run_hooks(
                    HookStage::Poststop,
                    &poststop,
                    &self.oci_state(OciStatus::Stopped, pid),
                ) {
                    tracing::warn!("{e}");
                }
                let _ = self.store.update_state(self.id(), |s| {
                    s.exit = Some(exit);
                    s.restart_count += 1;
                    s.status = Status::Starting;
                });
                std::thread::sleep(delay);
                if self
                    .store
                    .load_state(self.id())
                    .is_ok_and(|s| s.stop_requested || s.host_shutdown)
                {
                    self.finish(Some(exit), None);
                    return true;
                }
                match self.boot() {
                    Ok(()) => false,
                    Err(e) => {
                        tracing::error!("restart failed: {e}");
                        self.finish(Some(exit), Some(e.to_string()));
                        true
                    }
                }
            }
            Next::Finish => {
                if let Err(e) = hooks::run_hooks(
                    HookStage::Poststop,
                    &poststop,
                    &self.oci_state(OciStatus::Stopped, pid),
                ) {
                    tracing::warn!("{e}");
                }
                self.finish(Some(exit), None);
                true
            }
        }
    }

    /// CNI DEL of what the last boot attached (a failure is logged: the boot is over).
    fn detach_networks(&self) {
        if let Err(e) = crate::cni::detach(&self.store, self.id()) {
            tracing::warn!("{e}");
        }
    }

    /// Final clean-up, in two parts. First what a user sees once `stop` returns: the run
    /// directory, host-side mounts, and the record saying exited, written durably; `stop`
    /// returns as soon as that record is durable. Then, off that path, the cgroups go and a
    /// second record drops the monitor and the cgroup list. Until then the record still names
    /// this monitor (and the cgroups), so a `start`, `rm` or `restart` waits for it to exit,
    /// and a monitor killed in between leaves the cgroups listed for the next command to
    /// remove. Removal with `--rm`.
    fn finish(&mut self, exit: Option<ExitInfo>, error: Option<String>) {
        let id = self.id().to_string();
        // Anything still in the cgroup (there should be nothing once PID 1 of a PID
        // namespace is gone) is killed so that the cgroup can go.
        self.cgroup.signal_all(libc::SIGKILL);
        crate::machine::terminate(&self.config);
        crate::hostside::stopped(&self.config);
        let recorded = self.store.update_state(&id, |s| {
            s.status = Status::Exited;
            s.exit = exit.or(s.exit);
            s.error = error.clone();
            s.finished_at = Some(now_rfc3339());
            s.init = None;
            s.ready = false;
            s.created_cgroups.clone()
        });
        if let Err(e) = &recorded {
            tracing::warn!("recording the exit: {e}");
        }
        if let Some(fifo) = &self.exit_fifo {
            let _ = nix::unistd::write(fifo, b"x");
        }
        sclog::crash_point("monitor:finish-after-state");
        // After the byte: a waiter that finds the FIFO gone knows the record is final.
        let _ = std::fs::remove_dir_all(self.store.run_dir(&id));
        let created = recorded.unwrap_or_default();
        if let Err(e) = self.cgroup.destroy(&created) {
            tracing::warn!("removing cgroups: {e}");
        }
        sclog::crash_point("monitor:finish-after-cgroups");
        // Not synced: a crash that loses it leaves a dead monitor and cgroups listed, which
        // the next command's clean-up finds gone.
        let own = std::process::id() as i32;
        let _ = self.store.update_state_unsynced(&id, |s| {
            // Unless a `start` that gave up waiting for us has recorded its own monitor.
            if s.monitor.is_none_or(|m| m.pid == own) {
                s.monitor = None;
                s.created_cgroups.clear();
            }
        });
        if self.config.auto_remove {
            crate::hostside::release(&self.config);
            if self.store.remove(&id).is_ok() {
                self.on_removed();
            }
        }
    }
}

impl Monitor {
    /// A user-remapped container's root is an ordinary user on the host: give it what it
    /// must reach from inside — its own cgroups (for systemd), the console, the notify
    /// socket — and let it traverse to the bundle files bound into it.
    fn share_with_remapped_root(&self, remap: crate::options::UserRemap) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let owner = (
            Some(nix::unistd::Uid::from_raw(remap.uid)),
            Some(nix::unistd::Gid::from_raw(remap.gid)),
        );
        let chown = |path: &std::path::Path| {
            nix::unistd::chown(path, owner.0, owner.1).map_err(|e| Error::Io {
                op: "chown",
                path: path.to_path_buf(),
                source: e.into(),
            })
        };
        for dir in self.cgroup.dirs() {
            chown(&dir)?;
            for entry in std::fs::read_dir(&dir)
                .map_err(io_error("read", &dir))?
                .flatten()
            {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                // What systemd writes to delegate and move processes; limits stay root's.
                if matches!(
                    name.as_ref(),
                    "cgroup.procs"
                        | "tasks"
                        | "cgroup.subtree_control"
                        | "cgroup.threads"
                        | "notify_on_release"
                        | "cgroup.clone_children"
                ) {
                    chown(&entry.path())?;
                }
            }
        }
        chown(&self.console.slave_path)?;
        let run_dir = self.store.run_dir(self.id());
        let notify = run_dir.join(NOTIFY_SOCKET);
        if notify.exists() {
            chown(&notify)?;
        }
        let bundle = self.store.dir(self.id());
        for dir in [self.store.root(), run_dir.as_path(), bundle.as_path()] {
            let mode = std::fs::metadata(dir)
                .map_err(io_error("stat", dir))?
                .permissions()
                .mode();
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o111))
                .map_err(io_error("chmod", dir))?;
        }
        for file in ["hostname", "hosts", "resolv.conf"] {
            let path = bundle.join(file);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
                .map_err(io_error("chmod", &path))?;
        }
        Ok(())
    }
}

fn write_all_fd(fd: BorrowedFd, mut data: &[u8]) -> nix::Result<()> {
    let mut spins = 0;
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(nix::errno::Errno::EAGAIN) if spins < 100 => {
                spins += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Where a container's exit FIFO is ([`EXIT_FIFO`]).
pub fn exit_fifo(store: &Store, id: &str) -> PathBuf {
    store.run_dir(id).join(EXIT_FIFO)
}

/// Where a container's attach socket is.
pub fn attach_socket(store: &Store, id: &str) -> PathBuf {
    store.run_dir(id).join(ATTACH_SOCKET)
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(cause: ExitCause, code: i32) -> ExitInfo {
        ExitInfo {
            cause,
            code,
            signal: None,
        }
    }

    #[test]
    fn only_clean_read_only_file_mappings_are_dropped() {
        let smaps = "\
5600-5700 r--p 00000000 fe:00 42    /usr/bin/prog
Rss:                 8 kB
Anonymous:           0 kB
5700-5800 r-xp 00001000 fe:00 42    /usr/bin/prog
Anonymous:           0 kB
5800-5900 r--p 00002000 fe:00 42    /usr/bin/prog
Anonymous:         300 kB
5900-5a00 rw-p 00003000 fe:00 42    /usr/bin/prog
Anonymous:           0 kB
5a00-5b00 rw-p 00000000 00:00 0     [heap]
Anonymous:           8 kB
5b00-5c00 r--s 00000000 fe:00 43    /dev/shm/x
Anonymous:           0 kB
5c00-5d00 r-xp 00000000 00:00 0
Anonymous:           0 kB
7f00-7f10 r-xp 00000000 00:00 0     [vdso]
Anonymous:           0 kB
";
        assert_eq!(
            droppable_mappings(smaps),
            vec![(0x5600, 0x5700), (0x5700, 0x5800)]
        );
        shed_startup_memory();
    }

    #[test]
    fn only_the_main_stack_well_below_the_frame_is_released() {
        let smaps = "\
5600-5700 r--p 00000000 fe:00 42    /usr/bin/prog
Anonymous:           0 kB
7ffd0000-7ffe0000 rw-p 00000000 00:00 0                          [stack]
Rss:                64 kB
";
        let page = 0x1000;
        // 40 KiB below the frame are released, from the lowest page up to 16 KiB below it.
        assert_eq!(
            unused_stack(smaps, 0x7ffda123, page),
            Some((0x7ffd0000, 0x7ffd6000))
        );
        // Less than a page beyond what is kept: nothing.
        assert_eq!(unused_stack(smaps, 0x7ffd4800, page), None);
        // A frame on another thread's stack: nothing.
        assert_eq!(unused_stack(smaps, 0x5650, page), None);
        assert_eq!(unused_stack("", 0x7ffda123, page), None);
    }

    #[test]
    fn restart_decisions() {
        let reboot = exit(ExitCause::Reboot, 129);
        let poweroff = exit(ExitCause::Poweroff, 130);
        let crash = exit(ExitCause::Exited, 1);
        let clean = exit(ExitCause::Exited, 0);
        use RestartPolicy::*;
        assert_eq!(
            decide(OnReboot, &reboot, false, 0),
            Next::Restart {
                delay: Duration::ZERO
            }
        );
        assert_eq!(decide(No, &reboot, false, 0), Next::Finish);
        assert_eq!(decide(OnReboot, &crash, false, 0), Next::Finish);
        assert_eq!(decide(Always, &poweroff, false, 0), Next::Finish);
        assert_eq!(
            decide(Always, &reboot, true, 0),
            Next::Finish,
            "a user's stop wins"
        );
        assert!(matches!(
            decide(Always, &clean, false, 0),
            Next::Restart { .. }
        ));
        assert_eq!(
            decide(
                OnFailure {
                    max_retries: Some(2)
                },
                &crash,
                false,
                1
            ),
            Next::Restart {
                delay: Duration::from_millis(200)
            }
        );
        assert_eq!(
            decide(
                OnFailure {
                    max_retries: Some(2)
                },
                &crash,
                false,
                2
            ),
            Next::Finish
        );
        assert_eq!(
            decide(OnFailure { max_retries: None }, &clean, false, 0),
            Next::Finish
        );
        assert_eq!(
            decide(Always, &crash, false, 30),
            Next::Restart {
                delay: Duration::from_millis(10_000)
            }
        );
    }
}

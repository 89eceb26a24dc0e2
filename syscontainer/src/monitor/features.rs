//! What the monitor adds for health checks and the event log, kept apart from its
//! boot/reap/console core: the hooks the core calls at a boot, in its poll loop, when it
//! reaps a child that is not PID 1, and when PID 1 ends.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::wait::WaitStatus;

use super::{Monitor, DELEGATION_POLL};
use crate::events;
use crate::health::{Health, HealthResult, HealthRunner, HealthStatus, ProbeCommand};
use crate::state::{ExitCause, ExitInfo, Status};

/// The monitor's health-check runner, and what it knows of the OOM killer in the
/// container's memory cgroup: the kills already reported, and what wakes it on a new one.
#[derive(Default)]
pub(super) struct Extras {
    health: Option<HealthRunner>,
    oom_kills_seen: Option<u64>,
    oom_watch: Option<OomWatch>,
}

/// What wakes the monitor when the OOM killer acts: an eventfd registered on v1's
/// `memory.oom_control` (it fires as the cgroup goes out of memory, before the kill is
/// counted), or an inotify watch on v2's `memory.events` (modified once it is counted).
struct OomWatch {
    fd: OwnedFd,
    /// v1: the control file the eventfd is registered on.
    v1_control: Option<File>,
}

fn owned(fd: libc::c_int) -> Option<OwnedFd> {
    // SAFETY: a descriptor a syscall just returned, owned from here on.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

fn watch_oom(dir: &Path) -> Option<OomWatch> {
    use std::os::unix::ffi::OsStrExt;
    let events = dir.join("memory.events");
    if events.exists() {
        // SAFETY: inotify_init1 takes flags only.
        let fd = owned(unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) })?;
        let path = std::ffi::CString::new(events.as_os_str().as_bytes()).ok()?;
        // SAFETY: a valid inotify descriptor and a NUL-terminated path.
        let added =
            unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), libc::IN_MODIFY) };
        return (added >= 0).then_some(OomWatch {
            fd,
            v1_control: None,
        });
    }
    let control = File::open(dir.join("memory.oom_control")).ok()?;
    // SAFETY: eventfd takes an initial value and flags only.
    let fd = owned(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
    let registration = format!("{} {}", fd.as_raw_fd(), control.as_raw_fd());
    std::fs::write(dir.join("cgroup.event_control"), registration).ok()?;
    Some(OomWatch {
        fd,
        v1_control: Some(control),
    })
}

const HEALTH_OUTPUT: &str = "health.out";

impl Monitor {
    /// Before PID 1 runs its program: the OOM count so far and the descriptor that tells of
    /// new kills (set up later, a program that runs out of memory at once would be missed).
    pub(super) fn start_oom_watch(&mut self) {
        self.extras.oom_kills_seen = self.oom_kills();
        self.extras.oom_watch = self
            .cgroup
            .controller_dir(crate::cgroups::Controller::Memory)
            .and_then(|dir| watch_oom(&dir));
    }

    /// PID 1 runs: record the start, reset the health status, start the check timer.
    pub(super) fn on_booted(&mut self) {
        events::emit(&self.store, &self.config, "start", &[]);
        let check = self.config.healthcheck.clone();
        if let Some(check) = check {
            let _ = self
                .store
                .update_state(self.id(), |s| s.health = Some(Health::starting()));
            self.extras.health = Some(HealthRunner::new(check, Instant::now()));
        }
    }

    fn oom_kills(&self) -> Option<u64> {
        let dir = self
            .cgroup
            .controller_dir(crate::cgroups::Controller::Memory)?;
        events::oom_kills(&dir)
    }

    /// The descriptor that becomes readable when the OOM killer acts (see [`OomWatch`]).
    pub(super) fn oom_fd(&self) -> Option<BorrowedFd<'_>> {
        self.extras.oom_watch.as_ref().map(|w| w.fd.as_fd())
    }

    /// The OOM descriptor is readable: record an `oom` event for each new kill (v2), or
    /// for the notification itself (v1, where it comes before the kill is counted).
    pub(super) fn on_oom_notice(&mut self) {
        let Some(watch) = &self.extras.oom_watch else {
            return;
        };
        let mut buf = [0u8; 4096];
        while nix::unistd::read(watch.fd.as_raw_fd(), &mut buf).is_ok_and(|n| n > 0) {}
        let v1 = watch.v1_control.is_some();
        let seen = self.extras.oom_kills_seen.unwrap_or(0);
        let now = self.oom_kills().unwrap_or(0);
        if v1 || now > seen {
            self.extras.oom_kills_seen = Some(if v1 { now.max(seen + 1) } else { now });
            events::emit(&self.store, &self.config, "oom", &[]);
        }
    }

    /// How long the poll loop may sleep: until the next health-check step or, while
    /// the controllers are not yet delegated, the next look at the cgroup.
    pub(super) fn poll_wait(&self) -> Option<Duration> {
        let now = Instant::now();
        let health = self.extras.health.as_ref().map(|h| h.wait(now));
        let delegation = self.delegation_deadline.map(|_| DELEGATION_POLL);
        match (health, delegation) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Start a due check or kill an overdue one.
    pub(super) fn health_tick(&mut self) {
        let Some(runner) = self.extras.health.as_mut() else {
            return;
        };
        let paused = self
            .store
            .load_state(&self.config.id)
            .is_ok_and(|s| s.status == Status::Paused);
        let exe = super::entry::cli_executable();
        let command = ProbeCommand {
            exe: &exe,
            root: self.store.root(),
            id: &self.config.id,
            output: self.store.run_dir(&self.config.id).join(HEALTH_OUTPUT),
        };
        runner.tick(Instant::now(), paused, &command);
    }

    /// A child other than PID 1 ended: a health check, or a `stop` this monitor spawned.
    pub(super) fn on_child_reaped(&mut self, status: WaitStatus) {
        let (Some(pid), Some(runner)) = (status.pid(), self.extras.health.as_mut()) else {
            return;
        };
        let code = match status {
            WaitStatus::Exited(_, code) => Some(code),
            _ => None,
        };
        let Some(result) = runner.finished(pid.as_raw(), code) else {
            return;
        };
        let retries = runner.check().retries;
        let in_start_period = runner.in_start_period(Instant::now());
        let exit_on_unhealthy = runner.check().exit_on_unhealthy;
        self.record_health(result, retries, in_start_period, exit_on_unhealthy);
    }

    fn record_health(
        &mut self,
        result: HealthResult,
        retries: u32,
        in_start_period: bool,
        exit_on_unhealthy: bool,
    ) {
        let changed = self
            .store
            .update_state(self.id(), |s| {
                s.health.get_or_insert_with(Health::starting).record(
                    result,
                    retries,
                    in_start_period,
                )
            })
            .unwrap_or_else(|e| {
                tracing::warn!("record the health check: {e}");
                None
            });
        let Some(status) = changed else {
            return;
        };
        events::emit(
            &self.store,
            &self.config,
            &format!("health_status: {}", status.as_str()),
            &[],
        );
        if status == HealthStatus::Unhealthy && exit_on_unhealthy {
            self.stop_for_health();
        }
    }

    /// `--health-exit-on-unhealthy`: stop the container as `syscontainer stop` does
    /// (the stop signal, SIGKILL after the timeout), from a child so that the loop goes
    /// on serving the console and reaping PID 1 meanwhile.
    fn stop_for_health(&mut self) {
        tracing::warn!("the container is unhealthy: stopping it");
        self.extras.health = None;
        let exe = super::entry::cli_executable();
        let mut stop = std::process::Command::new(exe);
        stop.arg("--root")
            .arg(self.store.root())
            .args(["--log-level", "error", "stop", &self.config.id])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        crate::health::keep_only_stdio(&mut stop);
        let spawned = stop.spawn();
        if let Err(e) = spawned {
            tracing::error!("stop the unhealthy container: {e}");
        }
    }

    /// PID 1 ended: end a running check, and record oom (when the OOM killer acted
    /// since the last one reported), die and, for a reboot, reboot.
    pub(super) fn on_init_died(&mut self, exit: &ExitInfo) {
        if let Some(mut runner) = self.extras.health.take() {
            runner.abandon();
        }
        self.extras.oom_watch = None;
        let seen = self.extras.oom_kills_seen.unwrap_or(0);
        if self.oom_kills().is_some_and(|now| now > seen) {
            events::emit(&self.store, &self.config, "oom", &[]);
        }
        events::emit(
            &self.store,
            &self.config,
            "die",
            &events::exit_attributes(exit),
        );
        if exit.cause == ExitCause::Reboot {
            events::emit(&self.store, &self.config, "reboot", &[]);
        }
    }

    /// `--rm` removed the record.
    pub(super) fn on_removed(&self) {
        events::emit(&self.store, &self.config, "destroy", &[]);
    }
}

//! What the monitor adds for health checks and the event log, kept apart from its
//! boot/reap/console core: the hooks the core calls at a boot, in its poll loop, when it
//! reaps a child that is not PID 1, and when PID 1 ends.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::wait::WaitStatus;

use super::{Monitor, DELEGATION_POLL};
use crate::events;
use crate::health::{Health, HealthResult, HealthRunner, HealthStatus, ProbeCommand};
use crate::state::{ExitCause, ExitInfo, Status};

/// The monitor's health-check runner and the OOM count before the current boot.
#[derive(Default)]
pub(super) struct Extras {
    health: Option<HealthRunner>,
    oom_kills_at_boot: Option<u64>,
}

const HEALTH_OUTPUT: &str = "health.out";

impl Monitor {
    /// PID 1 runs: record the start, reset the health status, start the check timer.
    pub(super) fn on_booted(&mut self) {
        events::emit(&self.store, &self.config, "start", &[]);
        self.extras.oom_kills_at_boot = self.oom_kills();
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
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
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
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
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
    /// during this boot), die and, for a reboot, reboot.
    pub(super) fn on_init_died(&mut self, exit: &ExitInfo) {
        if let Some(mut runner) = self.extras.health.take() {
            runner.abandon();
        }
        let before = self.extras.oom_kills_at_boot.unwrap_or(0);
        if self.oom_kills().is_some_and(|now| now > before) {
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

//! Health checks (`--health-cmd` and the rest): the status a container's checks add up
//! to, and the monitor's side that runs them.
//!
//! The monitor runs each check as `syscontainer exec ID /bin/sh -c CMD` (so a check
//! enters the container exactly as `exec` does), as its own child in its own process
//! group, with the output going to a file in the run directory. Its poll loop starts a
//! check when one is due, kills the group when the check outlives its timeout, and
//! records the result when it reaps the check.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::options::HealthCheck;

/// How many results `inspect` keeps, and how much of a result's output (docker's limits).
pub const LOG_KEEP: usize = 5;
pub const OUTPUT_KEEP: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }

    /// What `ps` appends to "Up …", as docker does.
    pub fn ps_suffix(self) -> &'static str {
        match self {
            HealthStatus::Starting => " (health: starting)",
            HealthStatus::Healthy => " (healthy)",
            HealthStatus::Unhealthy => " (unhealthy)",
        }
    }
}

/// One check's result, as `inspect` shows it under `State.Health.Log`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthResult {
    pub start: String,
    pub end: String,
    /// The check's exit code; -1 when it timed out or could not run.
    pub exit_code: i32,
    pub output: String,
}

/// `State.Health`: kept in `state.json`, reset to `starting` at every boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: HealthStatus,
    pub failing_streak: u32,
    pub log: Vec<HealthResult>,
}

impl Health {
    pub fn starting() -> Health {
        Health {
            status: HealthStatus::Starting,
            failing_streak: 0,
            log: Vec::new(),
        }
    }

    /// Add a result: a pass makes the container healthy; a failure counts unless it falls
    /// in the start period while the status is still `starting`, and `retries` failures in
    /// a row make it unhealthy. Returns the new status when it changed.
    pub fn record(
        &mut self,
        result: HealthResult,
        retries: u32,
        in_start_period: bool,
    ) -> Option<HealthStatus> {
        let before = self.status;
        if result.exit_code == 0 {
            self.failing_streak = 0;
            self.status = HealthStatus::Healthy;
        } else if !(in_start_period && self.status == HealthStatus::Starting) {
            self.failing_streak += 1;
            if self.failing_streak >= retries.max(1) {
                self.status = HealthStatus::Unhealthy;
            }
        }
        self.log.push(result);
        let excess = self.log.len().saturating_sub(LOG_KEEP);
        self.log.drain(..excess);
        (self.status != before).then_some(self.status)
    }
}

/// A check under way.
struct Probe {
    pid: i32,
    started: String,
    deadline: Instant,
    output: PathBuf,
    timed_out: bool,
}

/// The monitor's health-check timer and the check it is running.
pub struct HealthRunner {
    check: HealthCheck,
    booted: Instant,
    next_due: Instant,
    probe: Option<Probe>,
}

/// How to start a check: the CLI binary, the store root and the container.
pub struct ProbeCommand<'a> {
    pub exe: &'a Path,
    pub root: &'a Path,
    pub id: &'a str,
    pub output: PathBuf,
}

impl HealthRunner {
    /// A runner for a container that booted `now`; the first check is one interval later.
    pub fn new(check: HealthCheck, now: Instant) -> HealthRunner {
        let next_due = now + check.interval();
        HealthRunner {
            check,
            booted: now,
            next_due,
            probe: None,
        }
    }

    pub fn check(&self) -> &HealthCheck {
        &self.check
    }

    /// How long the monitor may sleep before the runner needs it again.
    pub fn wait(&self, now: Instant) -> Duration {
        let at = match &self.probe {
            Some(p) if !p.timed_out => p.deadline,
            Some(_) => now + Duration::from_millis(200),
            None => self.next_due,
        };
        at.saturating_duration_since(now)
    }

    /// Start a check when one is due (and none runs), and kill one past its timeout.
    /// `paused`: a frozen container skips its checks.
    pub fn tick(&mut self, now: Instant, paused: bool, command: &ProbeCommand) {
        if let Some(p) = &mut self.probe {
            if !p.timed_out && now >= p.deadline {
                p.timed_out = true;
                // SAFETY: the probe leads its own process group.
                unsafe { libc::kill(-p.pid, libc::SIGKILL) };
            }
            return;
        }
        if now < self.next_due {
            return;
        }
        self.next_due = now + self.check.interval();
        if paused {
            return;
        }
        match self.spawn(command) {
            Ok(pid) => {
                self.probe = Some(Probe {
                    pid,
                    started: crate::state::now_rfc3339(),
                    deadline: now + self.check.timeout(),
                    output: command.output.clone(),
                    timed_out: false,
                })
            }
            Err(e) => tracing::warn!("start the health check: {e}"),
        }
    }

    fn spawn(&self, command: &ProbeCommand) -> std::io::Result<i32> {
        let cmd = self.check.shell_command().unwrap_or("false");
        let out = File::create(&command.output)?;
        let mut probe = std::process::Command::new(command.exe);
        probe
            .arg("--root")
            .arg(command.root)
            .args([
                "--log-level",
                "error",
                "exec",
                command.id,
                "/bin/sh",
                "-c",
                cmd,
            ])
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0);
        keep_only_stdio(&mut probe);
        let child = probe.spawn()?;
        // The monitor's SIGCHLD loop reaps it (see `finished`), not `Child::wait`.
        Ok(child.id() as i32)
    }

    /// The result of the check when `pid` is the running check (reaped with `code`, the
    /// exit code, or `None` when a signal ended it).
    pub fn finished(&mut self, pid: i32, code: Option<i32>) -> Option<HealthResult> {
        if self.probe.as_ref().map(|p| p.pid) != Some(pid) {
            return None;
        }
        let probe = self.probe.take()?;
        let mut output = std::fs::read(&probe.output).unwrap_or_default();
        let _ = std::fs::remove_file(&probe.output);
        output.truncate(OUTPUT_KEEP);
        let mut output = String::from_utf8_lossy(&output).into_owned();
        let exit_code = if probe.timed_out {
            output = format!(
                "health check exceeded its timeout ({:?})",
                self.check.timeout()
            );
            -1
        } else {
            code.unwrap_or(-1)
        };
        Some(HealthResult {
            start: probe.started,
            end: crate::state::now_rfc3339(),
            exit_code,
            output,
        })
    }

    /// Whether failures still fall in the start period.
    pub fn in_start_period(&self, now: Instant) -> bool {
        now.duration_since(self.booted) < self.check.start_period()
    }

    /// Kill a running check (PID 1 is gone).
    pub fn abandon(&mut self) {
        if let Some(p) = self.probe.take() {
            // SAFETY: the probe leads its own process group.
            unsafe { libc::kill(-p.pid, libc::SIGKILL) };
            let _ = std::fs::remove_file(&p.output);
        }
    }
}

/// Let `cmd` inherit only its standard streams: the monitor's console pty, sockets and
/// pipes must not follow a check into the container.
pub fn keep_only_stdio(cmd: &mut std::process::Command) {
    // SAFETY: close_range is async-signal-safe, and only sets close-on-exec on the
    // child's descriptors above its standard streams.
    unsafe {
        cmd.pre_exec(|| {
            if libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            ) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: i32) -> HealthResult {
        HealthResult {
            start: "s".into(),
            end: "e".into(),
            exit_code: code,
            output: String::new(),
        }
    }

    #[test]
    fn passes_and_failures_add_up_to_a_status() {
        let mut h = Health::starting();
        assert_eq!(h.record(result(1), 2, false), None);
        assert_eq!(h.failing_streak, 1);
        assert_eq!(h.record(result(1), 2, false), Some(HealthStatus::Unhealthy));
        assert_eq!(h.record(result(0), 2, false), Some(HealthStatus::Healthy));
        assert_eq!(h.failing_streak, 0);
        assert_eq!(h.record(result(0), 2, false), None);
        for _ in 0..4 {
            h.record(result(0), 2, false);
        }
        assert_eq!(h.log.len(), LOG_KEEP);
    }

    #[test]
    fn the_start_period_forgives_failures_until_the_first_pass() {
        let mut h = Health::starting();
        for _ in 0..5 {
            assert_eq!(h.record(result(1), 1, true), None);
        }
        assert_eq!(h.failing_streak, 0);
        assert_eq!(h.status, HealthStatus::Starting);
        assert_eq!(h.record(result(0), 1, true), Some(HealthStatus::Healthy));
        // Once healthy, a failure counts even inside the start period.
        assert_eq!(h.record(result(1), 1, true), Some(HealthStatus::Unhealthy));
    }

    #[test]
    fn a_check_that_outlives_its_timeout_is_killed_and_fails() {
        let dir = tempfile::tempdir().unwrap();
        let check = HealthCheck {
            test: vec!["CMD-SHELL".into(), "true".into()],
            interval: 10_000_000,
            timeout: 50_000_000,
            start_period: 0,
            retries: 1,
            exit_on_unhealthy: false,
        };
        let start = Instant::now();
        let mut runner = HealthRunner::new(check, start);
        assert!(runner.wait(start) <= Duration::from_millis(10));
        // A stand-in for the CLI that never finishes, whatever its arguments.
        let script = dir.path().join("fake-cli");
        crate::testutil::write_executable(&script, "#!/bin/sh\nexec sleep 30\n");
        let command = ProbeCommand {
            exe: &script,
            root: dir.path(),
            id: "x",
            output: dir.path().join("health.out"),
        };
        runner.tick(start + Duration::from_millis(20), false, &command);
        let pid = runner.probe.as_ref().map(|p| p.pid).expect("a check runs");
        runner.tick(start + Duration::from_millis(200), false, &command);
        let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).unwrap();
        assert!(matches!(
            status,
            nix::sys::wait::WaitStatus::Signaled(_, nix::sys::signal::Signal::SIGKILL, _)
        ));
        let r = runner.finished(pid, None).unwrap();
        assert_eq!(r.exit_code, -1);
        assert!(r.output.contains("timeout"), "{}", r.output);
        assert!(runner.finished(pid, None).is_none());
    }
}

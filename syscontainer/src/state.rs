//! The run-time state of a container (`state.json`) and the process identity checks
//! that keep a recorded PID from being mistaken for a recycled one.

use std::fs;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Defined, never started or started and ended (see `exit`).
    #[default]
    Created,
    /// PID 1 is being set up (namespaces, mounts, hooks) but has not exec'd yet.
    Starting,
    Running,
    Paused,
    /// Shown, never recorded: PID 1 has ended and its monitor is still running the
    /// poststop hooks and recording how it ended. `exited` is shown only once `exit` and
    /// `finished_at` say how and when.
    Stopping,
    /// PID 1 ended; `exit` says how.
    Exited,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Starting => "starting",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopping => "stopping",
            Status::Exited => "exited",
        }
    }
}

/// The status the OCI runtime spec names (`runc state`, the state hooks read): how
/// [`Status`] reads to containerd and to hook programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OciStatus {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl From<Status> for OciStatus {
    fn from(status: Status) -> OciStatus {
        match status {
            Status::Created => OciStatus::Created,
            Status::Starting => OciStatus::Creating,
            Status::Running => OciStatus::Running,
            Status::Paused => OciStatus::Paused,
            Status::Stopping | Status::Exited => OciStatus::Stopped,
        }
    }
}

/// How PID 1 ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExitCause {
    /// PID 1 exited with a code.
    Exited,
    /// `reboot(2)` inside the container (PID 1 killed by SIGHUP).
    Reboot,
    /// `poweroff`/`halt` inside the container (PID 1 killed by SIGINT).
    Poweroff,
    /// Killed by another signal.
    Signaled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    pub cause: ExitCause,
    /// Exit code, or 128 + signal number.
    pub code: i32,
    pub signal: Option<i32>,
}

impl ExitInfo {
    pub fn from_wait_status(status: nix::sys::wait::WaitStatus) -> Option<ExitInfo> {
        use nix::sys::wait::WaitStatus;
        match status {
            WaitStatus::Exited(_, code) => Some(ExitInfo {
                cause: ExitCause::Exited,
                code,
                signal: None,
            }),
            WaitStatus::Signaled(_, sig, _) => {
                let cause = match sig {
                    nix::sys::signal::Signal::SIGHUP => ExitCause::Reboot,
                    nix::sys::signal::Signal::SIGINT => ExitCause::Poweroff,
                    _ => ExitCause::Signaled,
                };
                Some(ExitInfo {
                    cause,
                    code: 128 + sig as i32,
                    signal: Some(sig as i32),
                })
            }
            _ => None,
        }
    }

    pub fn failed(&self) -> bool {
        match self.cause {
            ExitCause::Exited => self.code != 0,
            ExitCause::Signaled => true,
            ExitCause::Reboot | ExitCause::Poweroff => false,
        }
    }
}

/// A process, identified by PID *and* start time so that a recycled PID never matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: i32,
    /// Field 22 of /proc/PID/stat (clock ticks since boot).
    pub start_time: u64,
}

impl ProcessId {
    pub fn of(pid: i32) -> Option<ProcessId> {
        process_start_time(pid).map(|start_time| ProcessId { pid, start_time })
    }

    /// True while the recorded process still exists (a zombie counts as gone).
    pub fn is_alive(&self) -> bool {
        match read_stat(self.pid) {
            Some((state, start)) => start == self.start_time && state != 'Z' && state != 'X',
            None => false,
        }
    }
}

fn read_stat(pid: i32) -> Option<(char, u64)> {
    // One read: 1 KiB holds a stat line up to its start time (field 22) whatever its
    // command name (at most 64 bytes), where `read_to_string` probes a size-less /proc file
    // with a `statx` and reads of 32, 32, 64, 128 and 256 bytes; a liveness check runs
    // several times in every command.
    let mut buf = [0u8; 1024];
    let n = std::io::Read::read(
        &mut fs::File::open(format!("/proc/{pid}/stat")).ok()?,
        &mut buf,
    )
    .ok()?;
    let stat = std::str::from_utf8(&buf[..n]).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // state is field 3; starttime is field 22, i.e. 19 further on.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

pub fn process_start_time(pid: i32) -> Option<u64> {
    read_stat(pid).map(|(_, start)| start)
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    /// PID 1 of the container, as seen from the host.
    pub init: Option<ProcessId>,
    pub monitor: Option<ProcessId>,
    /// RFC 3339 times.
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Nanoseconds since the epoch when PID 1 exec'd: for measuring the runtime's share.
    pub exec_ns: Option<u128>,
    pub exit: Option<ExitInfo>,
    /// How often the monitor brought PID 1 back (reboot or restart policy).
    pub restart_count: u32,
    /// A user's `stop`/`kill`/`rm -f` is under way or done: no restart policy undoes it.
    pub stop_requested: bool,
    /// The host's shutdown halted it (`restore --shutdown`): no restart now, but not a
    /// user's stop either, so the next host boot's `restore` brings it back.
    #[serde(default)]
    pub host_shutdown: bool,
    /// systemd inside sent READY=1 on the notify socket.
    pub ready: bool,
    /// cgroup directories this container created (deepest last), removed at the end.
    pub created_cgroups: Vec<std::path::PathBuf>,
    /// Why the last start failed, when it did.
    pub error: Option<String>,
    /// The health-check status (containers with `--health-cmd`), reset at every boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<crate::health::Health>,
}

impl State {
    /// Whether PID 1 is really there, whatever the record says.
    pub fn init_alive(&self) -> bool {
        self.init.is_some_and(|p| p.is_alive())
    }

    pub fn monitor_alive(&self) -> bool {
        self.monitor.is_some_and(|p| p.is_alive())
    }

    /// The status to show: a record that says running while PID 1 is gone reads as
    /// stopping while its monitor lives to record the end, and as exited once that monitor
    /// is gone too (it was killed).
    pub fn effective_status(&self) -> Status {
        match self.status {
            Status::Running | Status::Paused | Status::Starting if !self.init_alive() => {
                match (self.status, self.monitor_alive()) {
                    (Status::Starting, true) => Status::Starting,
                    (_, true) => Status::Stopping,
                    (_, false) => Status::Exited,
                }
            }
            // The monitor died between starting PID 1 and recording it running.
            Status::Starting if !self.monitor_alive() => Status::Running,
            s => s,
        }
    }

    /// Whether the record itself says the run goes on, whatever PID 1's liveness: nobody
    /// has recorded its end yet.
    pub fn recorded_active(&self) -> bool {
        matches!(
            self.status,
            Status::Running | Status::Paused | Status::Starting
        )
    }

    pub fn is_active(&self) -> bool {
        matches!(
            self.effective_status(),
            Status::Running | Status::Paused | Status::Starting
        )
    }
}

pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format_rfc3339(now.as_secs() as i64, now.subsec_nanos())
}

pub fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

/// UTC time as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (civil-from-days, Howard Hinnant's method).
pub fn format_rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Seconds since the epoch of a `YYYY-MM-DDTHH:MM:SS[.fraction]Z` time (what
/// [`format_rfc3339`] writes).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // days-from-civil (Howard Hinnant), the inverse of format_rfc3339.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// A duration the way `ps` shows it: "3 seconds", "5 minutes", "2 hours", "4 days".
pub fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let (n, unit) = match secs {
        0..=1 => return "1 second".into(),
        2..=59 => (secs, "second"),
        60..=3599 => (secs / 60, "minute"),
        3600..=172_799 => (secs / 3600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use nix::sys::wait::WaitStatus;
    use nix::unistd::Pid;

    #[test]
    fn rfc3339_round_trip_and_durations() {
        for secs in [0, 951_782_400, 1_795_000_000, 4_102_444_799] {
            assert_eq!(parse_rfc3339(&format_rfc3339(secs, 7)), Some(secs));
        }
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(human_duration(0), "1 second");
        assert_eq!(human_duration(45), "45 seconds");
        assert_eq!(human_duration(60), "1 minute");
        assert_eq!(human_duration(7200), "2 hours");
        assert_eq!(human_duration(3 * 86_400), "3 days");
    }

    #[test]
    fn rfc3339() {
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            format_rfc3339(1_795_000_000, 5),
            "2026-11-18T11:06:40.000000005Z"
        );
        assert_eq!(
            format_rfc3339(951_782_400, 0),
            "2000-02-29T00:00:00.000000000Z"
        );
    }

    #[test]
    fn exit_causes() {
        let p = Pid::from_raw(1);
        let reboot =
            ExitInfo::from_wait_status(WaitStatus::Signaled(p, Signal::SIGHUP, false)).unwrap();
        assert_eq!(reboot.cause, ExitCause::Reboot);
        assert!(!reboot.failed());
        let off =
            ExitInfo::from_wait_status(WaitStatus::Signaled(p, Signal::SIGINT, false)).unwrap();
        assert_eq!(off.cause, ExitCause::Poweroff);
        let killed =
            ExitInfo::from_wait_status(WaitStatus::Signaled(p, Signal::SIGKILL, false)).unwrap();
        assert_eq!((killed.cause, killed.code), (ExitCause::Signaled, 137));
        assert!(killed.failed());
        let ok = ExitInfo::from_wait_status(WaitStatus::Exited(p, 0)).unwrap();
        assert!(!ok.failed());
        assert!(ExitInfo::from_wait_status(WaitStatus::Exited(p, 3))
            .unwrap()
            .failed());
    }

    #[test]
    fn own_process_identity() {
        let me = ProcessId::of(std::process::id() as i32).unwrap();
        assert!(me.is_alive());
        let recycled = ProcessId {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!recycled.is_alive());
    }

    /// A state.json as the runtime writes it loads, and writes back byte for byte.
    #[test]
    fn an_existing_state_json_loads_and_is_written_back_unchanged() {
        let text = include_str!("../tests/fixtures/state/running.json");
        let state: State = serde_json::from_str(text).unwrap();
        assert_eq!(state.status, Status::Running);
        assert_eq!(state.init.map(|p| p.pid), Some(4242));
        assert_eq!(state.exit.map(|e| e.cause), Some(ExitCause::Reboot));
        assert_eq!(state.exec_ns, Some(1_795_000_000_000_000_005));
        assert!(state.ready && !state.stop_requested);
        assert_eq!(state.created_cgroups.len(), 2);
        assert_eq!(
            String::from_utf8(serde_json::to_vec_pretty(&state).unwrap()).unwrap(),
            text.trim_end()
        );
    }

    /// A state.json from before `host_shutdown` existed loads with it false.
    #[test]
    fn a_state_json_without_host_shutdown_loads() {
        let text = include_str!("../tests/fixtures/state/exited-before-host-shutdown.json");
        let state: State = serde_json::from_str(text).unwrap();
        assert_eq!(state.status, Status::Exited);
        assert!(!state.host_shutdown && state.stop_requested);
        assert_eq!(
            state.exit.map(|e| (e.cause, e.code)),
            Some((ExitCause::Signaled, 137))
        );
        assert!(state.error.unwrap().starts_with("prestart hook"));
    }

    #[test]
    fn statuses_read_as_the_oci_spec_names_them() {
        for (status, stored, oci) in [
            (Status::Created, "created", "created"),
            (Status::Starting, "starting", "creating"),
            (Status::Running, "running", "running"),
            (Status::Paused, "paused", "paused"),
            (Status::Stopping, "stopping", "stopped"),
            (Status::Exited, "exited", "stopped"),
        ] {
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{stored}\"")
            );
            assert_eq!(status.as_str(), stored);
            let oci_status = OciStatus::from(status);
            assert_eq!(
                serde_json::to_string(&oci_status).unwrap(),
                format!("\"{oci}\"")
            );
            assert_eq!(
                serde_json::from_str::<OciStatus>(&format!("\"{oci}\"")).unwrap(),
                oci_status
            );
        }
        assert!(serde_json::from_str::<Status>("\"Running\"").is_err());
    }

    #[test]
    fn a_starting_record_reads_by_who_is_still_there() {
        let me = ProcessId::of(std::process::id() as i32);
        let starting = |init, monitor| State {
            status: Status::Starting,
            init,
            monitor,
            ..State::default()
        };
        // The monitor boots PID 1.
        assert_eq!(starting(None, me).effective_status(), Status::Starting);
        assert_eq!(starting(me, me).effective_status(), Status::Starting);
        // The monitor died after starting PID 1, before recording it running.
        assert_eq!(starting(me, None).effective_status(), Status::Running);
        // Both gone, or a start killed before its monitor: nothing runs.
        assert_eq!(starting(None, None).effective_status(), Status::Exited);
    }

    #[test]
    fn a_running_record_whose_init_ended_reads_stopping_until_its_monitor_is_gone() {
        let me = ProcessId::of(std::process::id() as i32).unwrap();
        // The same PID with another start time: a process that has ended.
        let ended = ProcessId {
            start_time: me.start_time + 1,
            ..me
        };
        let record = |status, monitor| State {
            status,
            init: Some(ended),
            monitor,
            ..State::default()
        };
        for status in [Status::Running, Status::Paused] {
            let finishing = record(status, Some(me));
            assert_eq!(finishing.effective_status(), Status::Stopping);
            assert!(!finishing.is_active(), "stop and rm wait for the monitor");
            assert_eq!(record(status, None).effective_status(), Status::Exited);
            assert_eq!(
                record(status, Some(ended)).effective_status(),
                Status::Exited
            );
        }
        let running = State {
            init: Some(me),
            ..record(Status::Running, Some(me))
        };
        assert_eq!(running.effective_status(), Status::Running);
    }
}

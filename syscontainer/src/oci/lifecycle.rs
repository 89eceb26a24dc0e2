//! `start`, `kill`, `delete`, `pause`, `resume`, `ps`, `update` and `state` on a created
//! container, from its record.

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;

use super::create::hook_state;
use super::record::{OciRoot, Phase, Record, StateJson};
use super::{io_error, OciError, Result};
use crate::cgroups::ContainerCgroup;
use crate::hooks::{self, HookStage};
use crate::state::OciStatus;

/// How long `delete` waits for killed processes to go.
const KILL_WAIT: Duration = Duration::from_secs(10);

fn status_name(status: OciStatus) -> &'static str {
    match status {
        OciStatus::Creating => "creating",
        OciStatus::Created => "created",
        OciStatus::Running => "running",
        OciStatus::Paused => "paused",
        OciStatus::Stopped => "stopped",
    }
}

fn wrong_state(record: &Record, status: OciStatus, wanted: &'static str) -> OciError {
    if status == OciStatus::Stopped {
        return OciError::NotRunning(record.id.clone());
    }
    OciError::WrongState {
        id: record.id.clone(),
        status: status_name(status),
        wanted,
    }
}

/// Release the parked init: it execs the container's process.
pub fn start(root: &OciRoot, id: &str) -> Result<()> {
    let _lock = root.lock(id)?;
    let mut record = root.load(id)?;
    let status = record.status();
    if status != OciStatus::Created {
        return Err(wrong_state(&record, status, "created"));
    }
    let fifo = root.fifo(id);
    release_fifo(&fifo, &record)?;
    let _ = std::fs::remove_file(&fifo);
    record.phase = Phase::Running;
    root.save(&record)?;
    let spec = root.load_spec(id)?;
    let poststart = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.poststart().clone())
        .unwrap_or_default();
    let state = hook_state(&record, &spec, OciStatus::Running, record.init.pid);
    if let Err(e) = hooks::run_hooks(HookStage::Poststart, &poststart, &state) {
        tracing::warn!("{e}");
    }
    Ok(())
}

/// Open the FIFO for reading (which lets the init's open for writing return) and read its
/// byte; gives up if the init dies meanwhile.
fn release_fifo(fifo: &std::path::Path, record: &Record) -> Result<()> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(fifo)
        .map_err(io_error("open", fifo))?;
    let mut byte = [0u8; 1];
    loop {
        match reader.read(&mut byte) {
            Ok(1) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(io_error("read", fifo)(e)),
        }
        if !record.init.is_alive() {
            return Err(OciError::NotRunning(format!(
                "{}: its init exited before start",
                record.id
            )));
        }
        let mut fds = [libc::pollfd {
            fd: reader.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: poll on one descriptor we own.
        unsafe { libc::poll(fds.as_mut_ptr(), 1, 50) };
    }
}

/// Send `signal` to the init, or with `all` to every process of the container.
pub fn kill(root: &OciRoot, id: &str, signal: i32, all: bool) -> Result<()> {
    let record = root.load(id)?;
    let status = record.status();
    if status == OciStatus::Stopped {
        return if all {
            Ok(())
        } else {
            Err(OciError::NotRunning(id.to_string()))
        };
    }
    let signal = signal_for(&record, signal, all);
    let cgroup = ContainerCgroup::load(&record.cgroup);
    if all {
        cgroup.signal_all(signal);
        return Ok(());
    }
    // SAFETY: kill(2) of the recorded init, whose start time was just checked.
    if unsafe { libc::kill(record.init.pid, signal) } != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ESRCH) {
            return Err(OciError::NotRunning(id.to_string()));
        }
        return Err(OciError::Invalid(format!(
            "signal {signal} to {}: {err}",
            record.init.pid
        )));
    }
    Ok(())
}

/// systemd as PID 1 re-executes itself on SIGTERM: a system container's SIGTERM (what the
/// shim sends to stop it) becomes the signal `syscontainer stop` sends it by default,
/// SIGRTMIN+4 (poweroff.target).
pub fn signal_for(record: &Record, signal: i32, all: bool) -> i32 {
    if record.system_container && !all && signal == libc::SIGTERM {
        crate::container::systemd_poweroff_signal()
    } else {
        signal
    }
}

/// Remove a container: a created or stopped one always, a running or paused one with
/// `force` (killed first). An unknown ID is fine with `force`.
pub fn delete(root: &OciRoot, id: &str, force: bool) -> Result<()> {
    super::record::validate_id(id)?;
    let record = match root.load(id) {
        Ok(r) => r,
        Err(OciError::NotFound(_)) if force => return root.remove(id),
        Err(e) => return Err(e),
    };
    let _lock = root.lock(id)?;
    let cgroup = ContainerCgroup::load(&record.cgroup);
    match record.status() {
        OciStatus::Stopped => {}
        OciStatus::Created => kill_and_wait(&record, &cgroup)?,
        OciStatus::Running | OciStatus::Paused | OciStatus::Creating if force => {
            kill_and_wait(&record, &cgroup)?
        }
        _ => return Err(OciError::NotStopped(id.to_string())),
    }
    let spec = root.load_spec(id).ok();
    if let Some(spec) = &spec {
        let poststop = spec
            .hooks()
            .as_ref()
            .and_then(|h| h.poststop().clone())
            .unwrap_or_default();
        let state = hook_state(&record, spec, OciStatus::Stopped, record.init.pid);
        if let Err(e) = hooks::run_hooks(HookStage::Poststop, &poststop, &state) {
            tracing::warn!("{e}");
        }
    }
    cgroup.destroy(&record.created_cgroups)?;
    root.remove(id)
}

fn kill_and_wait(record: &Record, cgroup: &ContainerCgroup) -> Result<()> {
    let _ = cgroup.thaw();
    cgroup.signal_all(libc::SIGKILL);
    if record.init.is_alive() {
        // SAFETY: SIGKILL to the recorded, still living init.
        unsafe { libc::kill(record.init.pid, libc::SIGKILL) };
    }
    let deadline = Instant::now() + KILL_WAIT;
    while record.init.is_alive() || !cgroup.pids().is_empty() {
        if Instant::now() > deadline {
            return Err(OciError::Invalid(format!(
                "container {} did not die within {}s of SIGKILL",
                record.id,
                KILL_WAIT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

fn change_phase(root: &OciRoot, id: &str, from: OciStatus, to: Phase) -> Result<()> {
    let _lock = root.lock(id)?;
    let mut record = root.load(id)?;
    let status = record.status();
    if status != from {
        return Err(wrong_state(&record, status, status_name(from)));
    }
    let cgroup = ContainerCgroup::load(&record.cgroup);
    match to {
        Phase::Paused => cgroup.freeze()?,
        _ => cgroup.thaw()?,
    }
    record.phase = to;
    root.save(&record)
}

/// Freeze every process of a running container.
pub fn pause(root: &OciRoot, id: &str) -> Result<()> {
    change_phase(root, id, OciStatus::Running, Phase::Paused)
}

pub fn resume(root: &OciRoot, id: &str) -> Result<()> {
    change_phase(root, id, OciStatus::Paused, Phase::Running)
}

/// The host PIDs of the container's processes.
pub fn ps(root: &OciRoot, id: &str) -> Result<Vec<i32>> {
    let record = root.load(id)?;
    let mut pids = ContainerCgroup::load(&record.cgroup).pids();
    pids.sort_unstable();
    Ok(pids)
}

/// Apply new limits to a container that has not stopped.
pub fn update(root: &OciRoot, id: &str, resources: &LinuxResources) -> Result<()> {
    let _lock = root.lock(id)?;
    let record = root.load(id)?;
    let status = record.status();
    if status == OciStatus::Stopped {
        return Err(OciError::NotRunning(id.to_string()));
    }
    ContainerCgroup::load(&record.cgroup).apply(resources)?;
    Ok(())
}

pub fn state(root: &OciRoot, id: &str) -> Result<StateJson> {
    let record = root.load(id)?;
    let version = root
        .load_spec(id)
        .map(|s| s.version().clone())
        .unwrap_or_else(|_| "1.0.2".to_string());
    Ok(record.state_json(&version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::CgroupPlacement;
    use crate::state::ProcessId;

    fn record(system_container: bool) -> Record {
        Record {
            id: "c".into(),
            bundle: "/b".into(),
            rootfs: "/r".into(),
            init: ProcessId {
                pid: 1,
                start_time: 1,
            },
            created: String::new(),
            phase: Phase::Running,
            owner: "root".into(),
            annotations: Default::default(),
            cgroup: CgroupPlacement::default(),
            created_cgroups: vec![],
            system_container,
        }
    }

    #[test]
    fn sigterm_powers_a_system_container_off() {
        let poweroff = crate::options::SIGRTMIN + 4;
        assert_eq!(signal_for(&record(true), libc::SIGTERM, false), poweroff);
        assert_eq!(
            signal_for(&record(true), libc::SIGTERM, true),
            libc::SIGTERM
        );
        assert_eq!(
            signal_for(&record(true), libc::SIGKILL, false),
            libc::SIGKILL
        );
        assert_eq!(
            signal_for(&record(false), libc::SIGTERM, false),
            libc::SIGTERM
        );
    }

    #[test]
    fn a_stopped_container_is_not_running() {
        let err = wrong_state(&record(false), OciStatus::Stopped, "running");
        assert!(err.to_string().contains("container not running"), "{err}");
        let err = wrong_state(&record(false), OciStatus::Paused, "running");
        assert_eq!(err.to_string(), "container c is paused, not running");
    }
}

//! A blocking client for the two systemd services a container runtime needs on a host whose
//! PID 1 is systemd: the manager, for a transient scope with `Delegate=yes` around the
//! container (so systemd knows the cgroup is the runtime's, as nspawn and runc's systemd
//! driver do it), and systemd-machined, so `machinectl` and `journalctl -M` see the container.
//!
//! Calls go over the system bus with zbus; each public method blocks until systemd answers
//! and, for unit jobs, until the job is finished.

mod client;
mod machine;
mod names;
mod scope;

use std::path::Path;
use std::time::Duration;

pub use client::SystemdClient;
pub use machine::{MachineClass, MachineRegistration, DEFAULT_MACHINE_SERVICE};
pub use names::{
    slice_cgroup_path, validate_machine_name, validate_scope_name, validate_slice_name,
};
pub use scope::{ScopeProperty, ScopeSpec, DEFAULT_SLICE};

/// Whether the host was booted with systemd (as sd_booted(3) tells: the directory
/// `/run/systemd/system` exists).
pub fn is_systemd_host() -> bool {
    std::fs::symlink_metadata(Path::new("/run/systemd/system")).is_ok_and(|m| m.is_dir())
}

/// What can go wrong talking to systemd and machined.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid unit name {name:?}: {reason}")]
    InvalidUnitName { name: String, reason: &'static str },
    #[error("invalid slice name {name:?}: {reason}")]
    InvalidSlice { name: String, reason: &'static str },
    #[error("invalid scope {unit}: {reason}")]
    InvalidScope { unit: String, reason: &'static str },
    #[error("invalid machine name {name:?}: {reason}")]
    InvalidMachineName { name: String, reason: &'static str },
    #[error("invalid root directory {path:?} for machine {machine}: not an absolute path")]
    InvalidRootDirectory { machine: String, path: String },
    #[error("connect to the system bus: {0}")]
    Connect(#[source] Box<zbus::Error>),
    #[error("systemd is not reachable on the system bus ({method} for {target}): {source}")]
    SystemdUnavailable {
        method: &'static str,
        target: String,
        #[source]
        source: Box<zbus::Error>,
    },
    #[error("systemd-machined is not running or not activatable ({method} for machine {machine}): {source}")]
    MachinedUnavailable {
        method: &'static str,
        machine: String,
        #[source]
        source: Box<zbus::Error>,
    },
    #[error("unit {unit} already exists")]
    UnitExists { unit: String },
    #[error("machine {machine} already exists")]
    MachineExists { machine: String },
    #[error("{method} for {target} failed: {source}")]
    Call {
        method: &'static str,
        target: String,
        #[source]
        source: Box<zbus::Error>,
    },
    #[error("job {method} for unit {unit} finished with result {result:?}")]
    JobFailed {
        method: &'static str,
        unit: String,
        result: String,
    },
    #[error("job {method} for unit {unit} did not finish within {timeout:?}")]
    JobTimeout {
        method: &'static str,
        unit: String,
        timeout: Duration,
    },
}

impl Error {
    /// Whether the error only says that the service is missing on this host (no system bus,
    /// no machined), which a caller may report as a warning and go on without it.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Connect(_) | Self::SystemdUnavailable { .. } | Self::MachinedUnavailable { .. }
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The OCI runtime: containers driven by runc's command line (`syscontainer-oci`, the
//! runtime containerd's runc shim calls), from a bundle's `config.json`.
//!
//! Unlike the isula-style CLI there is no monitor: `create` clones the init as its own
//! child, drives it to "created" (it parks on `exec.fifo`) and exits; the caller, a
//! subreaper (containerd's shim), reaps it. Every later command works from the record
//! under `--root` and the init's PID (with its start time, so a recycled PID never
//! matches).
//!
//! - [`record`]: the state directory (`<root>/<id>/`) and its record, the `state` JSON.
//! - [`cgroups_path`]: `linux.cgroupsPath` (cgroupfs or systemd `slice:prefix:name`) to a
//!   placement.
//! - [`bundle`]: loading `config.json` and completing it (runc's default devices, the
//!   system-container semantics of the `system.container` annotation).
//! - [`create`], [`lifecycle`] (start, kill, delete, pause, resume, ps, update, state),
//!   [`exec`], and [`console`] (the pty master sent over `--console-socket`).

pub mod bundle;
pub mod cgroups_path;
pub mod console;
pub mod create;
pub mod exec;
pub mod lifecycle;
pub mod record;

pub use create::{create, CreateOptions};
pub use exec::{exec, ExecOptions};
pub use lifecycle::{delete, kill, pause, ps, resume, start, state, update};
pub use record::{OciRoot, Record, StateJson};

/// What went wrong, worded so that containerd's checks ("container not running", "does
/// not exist") match.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("container {0:?} does not exist")]
    NotFound(String),
    #[error("container {0:?} already exists")]
    Exists(String),
    #[error("invalid container id {0:?}: use letters, digits, '_', '+', '-' and '.'")]
    BadId(String),
    #[error("container not running: {0}")]
    NotRunning(String),
    #[error("container {id} is {status}, not {wanted}")]
    WrongState {
        id: String,
        status: &'static str,
        wanted: &'static str,
    },
    #[error("cannot delete container {0} that is not stopped: use --force")]
    NotStopped(String),
    #[error("bundle {path}: {reason}")]
    Bundle {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("cgroupsPath {path:?}: {reason}")]
    CgroupsPath { path: String, reason: String },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error(transparent)]
    Process(#[from] crate::process::ProcessError),
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
}

pub type Result<T> = std::result::Result<T, OciError>;

pub(crate) fn io_error(
    op: &'static str,
    path: impl Into<std::path::PathBuf>,
) -> impl FnOnce(std::io::Error) -> OciError {
    let path = path.into();
    move |source| OciError::Io { op, path, source }
}

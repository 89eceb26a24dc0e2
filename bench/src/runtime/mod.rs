//! The peers being compared, behind one interface: start a container on a rootfs, find its
//! PID 1, run `/bin/true` in it, halt it, find the process that supervises it.

use std::path::Path;
use std::process::Child;
use std::time::Duration;

use anyhow::Result;

mod lxc;
mod nspawn;
mod syscontainer;

pub use lxc::Lxc;
pub use nspawn::Nspawn;
pub use syscontainer::Syscontainer;

/// How long a container may take to come up or go down before the run is abandoned.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// A container one peer started.
pub struct Started {
    pub name: String,
    /// The peer's own foreground process, for peers that have one (nspawn).
    pub child: Option<Child>,
    /// Per-container host state the peer needs until the container is gone.
    pub keep: Option<Box<dyn std::any::Any + Send>>,
}

pub trait Runtime: Sync {
    /// Short name for tables and charts.
    fn name(&self) -> &'static str;
    /// The version string the peer reports.
    fn version(&self) -> String;
    /// Run the peer's start command for a container on `rootfs`; returns when that command
    /// does (the container may still be booting).
    fn start(&self, name: &str, rootfs: &Path) -> Result<Started>;
    /// Host PID of the container's PID 1, waiting for it to exist.
    fn init_pid(&self, c: &Started) -> Result<i32>;
    /// The peer's own way of running a command in the container, if it has one.
    fn exec_true(&self, c: &Started) -> Option<Result<()>>;
    /// Graceful halt; returns once the container is fully stopped.
    fn stop(&self, c: &mut Started) -> Result<()>;
    /// The per-container supervisor process (monitor) on the host.
    fn monitor_pid(&self, c: &Started) -> Result<i32>;
    /// Remove whatever is left of the container, stopped or not; never fails.
    fn destroy(&self, c: &mut Started);
}

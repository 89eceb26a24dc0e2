//! The container's cgroups, in one place for the runtime, `syscontainer-tools` and lxcfs-rs.
//!
//! - [`controller`]: controllers as an enum.
//! - [`layout`]: the host's hierarchies (from mountinfo), legacy/hybrid/unified, and a
//!   process's cgroup in each (from `/proc/PID/cgroup`).
//! - [`placement`]: where a container's cgroup goes, as recorded in its config.
//! - [`manager`]: the [`Manager`] interface and [`ContainerCgroup`], the handle the runtime
//!   and tools hold; [`fs`] is the cgroupfs driver behind it (v1/hybrid and v2 specifics in
//!   `fs::v1` and `fs::v2`); [`systemd`] is the systemd driver (a delegated transient scope,
//!   whose directory the cgroupfs driver then manages).
//! - [`migration`]: keeping the kernel's migration lock fast while a container boots.
//! - [`stats`]: readers of cgroup statistics and limits (lxcfs-rs views, `stats`), over
//!   [`read`], which reuses one buffer per thread.

pub mod controller;
pub mod error;
pub mod fs;
pub mod layout;
pub mod manager;
pub mod migration;
pub mod placement;
pub mod read;
pub mod stats;
pub mod systemd;

pub use controller::Controller;
pub use error::{CgroupError, Result};
pub use fs::v1::{join_v1_self, memsw_first};
pub use layout::{CgroupDir, CgroupLayout, Hierarchy, HostMode, ProcessCgroups, Version};
pub use manager::{ContainerCgroup, DeviceKind, DeviceRule, Driver, Manager, ThrottleKind};
pub use placement::CgroupPlacement;

//! lxcfs-rs: per-container views of `/proc` files and the CPU list, served over FUSE.
//!
//! The core is pure: [`host`] and [`cgroup`] (the `syscontainer-cgroups` crate) parse files into structs, [`views`] compute and
//! render each file. [`render`] reads the inputs a view needs, [`process`] maps a FUSE caller
//! to its container, [`cache`] keeps rendered views for a moment, [`fs`] is the FUSE glue (over `/dev/fuse`, or per-CPU queues over io_uring in [`uring`]), and [`mounts`] bind-mounts the views into
//! containers (hook and toolkit).

pub mod cache;
pub use syscontainer_cgroups as cgroup;
pub mod cpuset;
pub mod error;
pub mod fs;
pub mod host;
mod kernfiles;
pub mod mounts;
pub mod process;
pub mod render;
pub mod toolkit;
pub mod uring;
pub mod views;
pub mod watch;

pub use error::{Error, Result};

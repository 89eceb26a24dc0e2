//! syscontainer: a system-container manager that boots an external root file system
//! with systemd as PID 1.
//!
//! Layers, top to bottom: [`options`] (every option, declared once, and the grammar of
//! its value) → [`spec`] (options to an OCI bundle, one file per concern) → [`container`], [`monitor`], [`exec`] (operations) →
//! [`process`], [`cgroups`], [`store`] (namespaces, mounts, cgroup files, records).

pub mod capabilities;
pub use syscontainer_cgroups as cgroups;
pub mod cni;
pub mod config;
pub mod console;
pub mod container;
pub mod error;
pub mod events;
pub mod exec;
pub mod fsutil;
pub mod health;
pub mod hooks;
pub mod hostside;
pub mod inspect;
pub mod logrotate;
pub mod machine;
pub mod monitor;
pub mod oci;
pub mod options;
pub mod process;
pub mod sealed_exe;
pub mod seccomp;
pub mod spec;
pub mod state;
pub mod store;
pub mod template;
#[cfg(test)]
mod testutil;
pub mod trusted_file;
pub mod users;
pub mod warmer;

pub use error::{Error, Result};

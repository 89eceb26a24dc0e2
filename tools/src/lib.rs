//! syscontainer-tools: hot-add devices, NICs, routes and host paths to system containers,
//! record them, and re-apply them at every start (the `syscontainer-hooks` OCI hook).
//!
//! Layers: [`spec`] (argument grammar, pure) and [`record`] (the per-container record,
//! pure) → [`inroot`] (contained path operations and mounts), `syscontainer_cgroups` (device access
//! and throttles), [`net`] (rtnetlink) → [`ops`] (all-or-nothing commands) and
//! [`apply`] (what the hook does).

pub mod apply;
pub mod error;
pub mod inroot;
pub mod net;
pub mod ops;
pub mod record;
pub mod resource;
pub mod spec;

pub use error::{Error, Result};

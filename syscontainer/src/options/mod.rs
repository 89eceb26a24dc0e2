//! Every `run`/`create`/`update` option, declared once.
//!
//! [`args`] holds the option types: clap `Args` structs grouped by what an option does
//! (process, resources, mounts, network files, kernel), which the CLI flattens into its
//! commands and [`crate::spec`] reads. [`values`] and [`system`] hold the grammar of each
//! value: pure parsers that return a typed value or an [`OptionError`] naming the bad
//! value. The tools and hooks use the same parsers, so a value means one thing everywhere.
//!
//! This module is a leaf: it depends on no other module of the crate.

mod args;
mod health;
mod label_file;
mod logopt;
mod network;
mod system;
mod values;

pub use args::*;
pub use health::*;
pub use label_file::*;
pub use logopt::*;
pub use network::*;
pub use system::*;
pub use values::*;

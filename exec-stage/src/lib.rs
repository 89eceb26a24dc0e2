//! What `syscontainer exec` shares with its exec stage: the request it hands over
//! ([`request`]), the terminal relay ([`terminal`]) and the steps a process takes inside a
//! container right before `execve` (user look-up, identity and capabilities, rlimits,
//! working directory, `PATH` search, the seccomp filter).
//!
//! Kept free of the CLI's dependencies (clap, serde, tracing, oci-spec, libseccomp) so that
//! the stage binary, started once per `exec`, stays small.

pub mod clone;
pub mod identity;
pub mod inside;
pub mod protected;
pub mod request;
pub mod seccomp;
pub mod terminal;
pub mod users;

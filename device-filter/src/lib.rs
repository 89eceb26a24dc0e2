//! Device rules for cgroup v2.
//!
//! cgroup v2 has no `devices` controller: the kernel asks a `BPF_PROG_TYPE_CGROUP_DEVICE`
//! program attached to the cgroup (attach type `BPF_CGROUP_DEVICE`) on every `open` and `mknod`
//! of a device node, as runc, crun, youki and systemd use it. On a hybrid host the `unified`
//! cgroup2 hierarchy enforces such a program too, alongside the v1 `devices` controller (both
//! must allow). A program attached with `BPF_F_ALLOW_MULTI`, as here, also runs for every cgroup
//! below, so cgroups that systemd inside the container creates stay filtered; programs attached
//! there can only narrow what ours allows.
//!
//! # Use
//!
//! ```no_run
//! use syscontainer_device_filter::{Access, DeviceCgroup, DeviceKind, Rule};
//!
//! let rules = [
//!     Rule::allow(DeviceKind::Char, Some(1), Some(3), Access::ALL), // /dev/null
//!     Rule::allow(DeviceKind::Char, Some(136), None, "rw".parse()?), // /dev/pts/*
//! ];
//! let cgroup = DeviceCgroup::open("/sys/fs/cgroup/unified/mycontainer")?;
//! cgroup.apply(&rules)?; // attach, or atomically replace the filter applied before
//! assert_eq!(cgroup.query()?.iter().filter(|p| p.is_ours()).count(), 1);
//! # Ok::<(), syscontainer_device_filter::Error>(())
//! ```
//!
//! # Meaning of a rule list
//!
//! Rules are in OCI order: for each requested access bit the **last** rule that names the device
//! and the bit decides; anything no rule decides is denied ([`decide`] is the reference, and the
//! unit tests check the compiled program against it). An empty list therefore denies every
//! device access, and the caller must list the devices a container always gets (`null`, `zero`,
//! `full`, `random`, `urandom`, `tty`, `console`, `ptmx`, `pts/*`, ...). A leading
//! "deny `a *:* rwm`", as runc's default list has, changes nothing. The kernel also asks with no
//! access bit at all, for `access(F_OK)` on a device node: the last rule naming the device
//! decides that, as runc's program and the v1 controller do (systemd checks
//! `ConditionPathExists=/dev/console` so, and a "no" leaves the console without a getty). Only `open` and `mknod` are
//! checked: file descriptors opened before a rule changed keep working.
//!
//! # Why a hand-assembled program
//!
//! The program is tiny and fixed in shape (three context loads, then a few compares per rule),
//! so [`compile`] writes the instructions itself, as crun does, instead of using aya or libbpf:
//! no BPF toolchain (clang, bpf-linker) at build time, no C library to link, no ELF or BTF to
//! carry, and the whole program is plain data that the unit tests can read and run.
//!
//! # Kernel requirements
//!
//! `BPF_JMP32` (Linux 5.1) and `BPF_F_REPLACE` (5.6); loading, querying and attaching need
//! `CAP_SYS_ADMIN` (or `CAP_BPF` with `CAP_NET_ADMIN`) in the initial user namespace. A process
//! that has those can also detach the filter, so the container itself must not reach `bpf(2)`
//! with them (user namespace or seccomp).

mod cgroup;
mod compile;
mod error;
mod insn;
mod rule;
mod sys;

pub use cgroup::{AttachedProgram, DeviceCgroup, Program, LICENSE, PROGRAM_NAME};
pub use compile::compile;
pub use error::{Error, Result};
pub use insn::{opcode, Insn};
pub use rule::{decide, Access, DeviceKind, DeviceType, Rule};

//! One interface over the ways a container's cgroup is managed: the cgroupfs driver
//! ([`crate::fs::FsManager`]: v1, hybrid and pure v2 hosts) and the systemd driver
//! ([`crate::systemd::SystemdManager`]: a transient scope with `Delegate=yes` made over D-Bus,
//! whose delegated directory is then managed as the cgroupfs driver does).

use std::fmt;
use std::ops::Deref;
use std::path::PathBuf;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};
use serde::{Deserialize, Serialize};

use crate::controller::Controller;
use crate::error::Result;
use crate::placement::CgroupPlacement;

/// What a container's cgroup can be asked to do, whatever manages it.
pub trait Manager: Send + Sync {
    /// Every directory of this cgroup, one per hierarchy.
    fn dirs(&self) -> Vec<PathBuf>;
    /// The directory of one controller, for reading raw files.
    fn controller_dir(&self, controller: Controller) -> Option<PathBuf>;
    /// The cgroup2 directory: the whole cgroup on a pure v2 host, the `unified` one on a
    /// hybrid host; `None` on a v1-only host. A new process can be born in it with
    /// `clone3(CLONE_INTO_CGROUP)`.
    fn v2_dir(&self) -> Option<PathBuf>;
    /// The `tasks` file of each v1 hierarchy (none on a pure v2 host), for
    /// [`crate::join_v1_self`].
    fn v1_tasks_files(&self) -> Vec<PathBuf>;

    /// Create the cgroup everywhere; returns the directories that did not exist before,
    /// parents first, so that they can be removed again.
    fn create(&self) -> Result<Vec<PathBuf>>;
    /// Replace the cgroup by a fresh, empty one at the same paths (for a new boot).
    fn reset(&self) -> Result<()>;
    /// Remove the cgroup subtree, then the parents `create` made (those in use stay).
    fn destroy(&self, created: &[PathBuf]) -> Result<()>;
    fn add_process(&self, pid: i32) -> Result<()>;
    /// The leaf of the cgroup2 directory that exec'd processes join (created on demand);
    /// `None` on a v1-only host. See [`crate::fs::subtree`].
    fn exec_dir(&self) -> Result<Option<PathBuf>>;
    /// Put a process that runs in the container but is not its init (`exec`) in the
    /// container's cgroups: its v1 directories and the cgroup2 exec leaf.
    fn add_exec_process(&self, pid: i32) -> Result<()>;
    /// Enable every controller the container's cgroup has for its subtree, so systemd inside
    /// can give them to its units. `Ok(false)` while init is still in the container's own
    /// cgroup2 directory (it has not made its `init.scope` yet): call again later.
    fn delegate_subtree(&self) -> Result<bool>;
    /// Whether the cgroup comes into being only with its first process (a systemd scope):
    /// the init cannot then be born in it, and limits are applied after
    /// [`Manager::add_process`] has put the init there.
    fn made_with_first_process(&self) -> bool {
        false
    }

    /// Apply an OCI resources block: memory, CPU, cpuset, pids, devices, block I/O, hugetlb.
    fn apply(&self, resources: &LinuxResources) -> Result<()>;
    /// Allow a device in the v1 devices controller, in the whole subtree (systemd's
    /// sub-cgroups included); nothing on a host without one. cgroup v2 has no per-rule
    /// change: see [`Manager::replace_device_filter`].
    fn allow_device(&self, rule: &DeviceRule) -> Result<()>;
    /// Deny a device in the v1 devices controller, in the whole subtree.
    fn deny_device(&self, rule: &DeviceRule) -> Result<()>;
    /// Replace the cgroup v2 device filter (pure v2, or a hybrid host's `unified`) by one
    /// built from the container's whole rule list, (allow, rule) in OCI order: the last rule
    /// that matches decides, anything unmatched is denied. The replacement is atomic; only
    /// our program (`sysc_devices`) is replaced. Nothing on a v1-only host.
    fn replace_device_filter(&self, rules: &[(bool, DeviceRule)]) -> Result<()>;
    /// Whether the container's own cgroup allows `major:minor` (tests, diagnostics).
    fn device_allowed(&self, major: u32, minor: u32) -> bool;
    /// Set a block I/O throttle or weight of one device; rate 0 clears it.
    fn set_throttle(&self, kind: ThrottleKind, major: u32, minor: u32, rate: u64) -> Result<()>;

    /// Freeze every process and wait until the kernel reports the cgroup frozen.
    fn freeze(&self) -> Result<()>;
    fn thaw(&self) -> Result<()>;
    /// Whether the kernel holds the cgroup frozen (`None`: no freezer to ask).
    fn frozen(&self) -> Option<bool>;
    /// Every process in the cgroup and its descendants.
    fn pids(&self) -> Vec<i32>;
    /// Send a signal to every process in the subtree; SIGKILL goes through `cgroup.kill`
    /// where the kernel has it (5.14+), which also catches processes forked meanwhile.
    fn signal_all(&self, signal: i32);

    /// Memory usage and limit in bytes (`u64::MAX` when unlimited).
    fn memory_usage(&self) -> Option<(u64, u64)>;
    fn cpu_usage_ns(&self) -> Option<u64>;
    fn pids_current(&self) -> Option<u64>;
}

/// How the container's cgroups are managed (`--cgroup-manager`), recorded in its placement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// Directly in the cgroup filesystem.
    #[default]
    Cgroupfs,
    /// In a transient systemd scope with `Delegate=yes`, made through systemd's D-Bus API.
    Systemd,
}

impl Driver {
    pub fn name(self) -> &'static str {
        match self {
            Driver::Cgroupfs => "cgroupfs",
            Driver::Systemd => "systemd",
        }
    }
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Driver {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Driver, String> {
        match s {
            "cgroupfs" => Ok(Driver::Cgroupfs),
            "systemd" => Ok(Driver::Systemd),
            other => Err(format!(
                "unknown cgroup manager {other:?}: expected systemd or cgroupfs"
            )),
        }
    }
}

/// A handle on one container's cgroup, behind whichever [`Manager`] drives it.
pub struct ContainerCgroup(Box<dyn Manager>);

impl ContainerCgroup {
    /// The container's cgroup, driven as its placement records.
    pub fn load(placement: &CgroupPlacement) -> ContainerCgroup {
        Self::load_with(placement.driver, placement)
    }

    pub fn load_with(driver: Driver, placement: &CgroupPlacement) -> ContainerCgroup {
        match driver {
            Driver::Cgroupfs => ContainerCgroup(Box::new(crate::fs::FsManager::load(placement))),
            Driver::Systemd => {
                ContainerCgroup(Box::new(crate::systemd::SystemdManager::load(placement)))
            }
        }
    }
}

impl Deref for ContainerCgroup {
    type Target = dyn Manager;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

/// A device rule's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    All,
    Block,
    Char,
}

/// A device access rule as the v1 devices controller writes it: `b 7:0 rwm`, `a *:* rwm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    pub kind: DeviceKind,
    /// `None`: any (`*`).
    pub major: Option<i64>,
    pub minor: Option<i64>,
    /// A subset of `rwm`.
    pub access: String,
}

impl DeviceRule {
    /// The rule of an OCI device entry and whether it allows.
    pub fn from_oci(rule: &LinuxDeviceCgroup) -> (bool, DeviceRule) {
        let kind = match rule.typ() {
            None | Some(LinuxDeviceType::A) => DeviceKind::All,
            Some(LinuxDeviceType::B) => DeviceKind::Block,
            Some(_) => DeviceKind::Char,
        };
        let any = |n: Option<i64>| n.filter(|n| *n >= 0);
        let access = rule.access().clone().unwrap_or_else(|| "rwm".into());
        (
            rule.allow(),
            DeviceRule {
                kind,
                major: any(rule.major()),
                minor: any(rule.minor()),
                access,
            },
        )
    }
}

impl fmt::Display for DeviceRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            DeviceKind::All => 'a',
            DeviceKind::Block => 'b',
            DeviceKind::Char => 'c',
        };
        let num = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
        write!(
            f,
            "{kind} {}:{} {}",
            num(self.major),
            num(self.minor),
            self.access
        )
    }
}

/// Which block I/O limit of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleKind {
    ReadBps,
    WriteBps,
    ReadIops,
    WriteIops,
    Weight,
}

impl ThrottleKind {
    pub const ALL: [ThrottleKind; 5] = [
        ThrottleKind::ReadBps,
        ThrottleKind::WriteBps,
        ThrottleKind::ReadIops,
        ThrottleKind::WriteIops,
        ThrottleKind::Weight,
    ];

    /// The command-line option that sets it.
    pub fn option(self) -> &'static str {
        match self {
            ThrottleKind::ReadBps => "--device-read-bps",
            ThrottleKind::WriteBps => "--device-write-bps",
            ThrottleKind::ReadIops => "--device-read-iops",
            ThrottleKind::WriteIops => "--device-write-iops",
            ThrottleKind::Weight => "--blkio-weight-device",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    #[test]
    fn device_rules_print_as_the_devices_controller_reads_them() {
        let deny_all = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap();
        let (allow, rule) = DeviceRule::from_oci(&deny_all);
        assert!(!allow);
        assert_eq!(rule.to_string(), "a *:* rwm");
        let loop0 = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::B)
            .major(7)
            .minor(0)
            .access("rw")
            .build()
            .unwrap();
        assert_eq!(DeviceRule::from_oci(&loop0).1.to_string(), "b 7:0 rw");
        let tty = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(136)
            .build()
            .unwrap();
        assert_eq!(DeviceRule::from_oci(&tty).1.to_string(), "c 136:* rwm");
    }
}

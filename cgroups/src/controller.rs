//! Cgroup controllers by name, as the kernel spells them in mount options and
//! `/proc/PID/cgroup`.

use std::fmt;

/// A cgroup controller, a named v1 hierarchy (`name=systemd`), or the unified (v2) hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Controller {
    Cpu,
    Cpuacct,
    Cpuset,
    Memory,
    Pids,
    /// v1 block I/O.
    Blkio,
    /// v2 block I/O.
    Io,
    Devices,
    Freezer,
    Hugetlb,
    NetCls,
    NetPrio,
    PerfEvent,
    Rdma,
    Misc,
    /// systemd's named v1 hierarchy, `name=systemd`.
    Systemd,
    /// The cgroup2 hierarchy (the empty name in `/proc/PID/cgroup`).
    Unified,
}

impl Controller {
    pub const ALL: [Controller; 17] = [
        Controller::Cpu,
        Controller::Cpuacct,
        Controller::Cpuset,
        Controller::Memory,
        Controller::Pids,
        Controller::Blkio,
        Controller::Io,
        Controller::Devices,
        Controller::Freezer,
        Controller::Hugetlb,
        Controller::NetCls,
        Controller::NetPrio,
        Controller::PerfEvent,
        Controller::Rdma,
        Controller::Misc,
        Controller::Systemd,
        Controller::Unified,
    ];

    /// The kernel's name: `memory`, `name=systemd`, `` for the unified hierarchy.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
            Controller::Cpuset => "cpuset",
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Blkio => "blkio",
            Controller::Io => "io",
            Controller::Devices => "devices",
            Controller::Freezer => "freezer",
            Controller::Hugetlb => "hugetlb",
            Controller::NetCls => "net_cls",
            Controller::NetPrio => "net_prio",
            Controller::PerfEvent => "perf_event",
            Controller::Rdma => "rdma",
            Controller::Misc => "misc",
            Controller::Systemd => "name=systemd",
            Controller::Unified => "",
        }
    }

    /// The controller of a kernel name; `None` for one this crate does not know.
    pub fn from_name(name: &str) -> Option<Controller> {
        Controller::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Controller::Unified => f.write_str("unified"),
            c => f.write_str(c.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Controller::ALL {
            assert_eq!(Controller::from_name(c.name()), Some(c));
        }
        assert_eq!(
            Controller::from_name("name=systemd"),
            Some(Controller::Systemd)
        );
        assert_eq!(Controller::from_name("name=other"), None);
        assert_eq!(Controller::from_name("xattr"), None);
        assert_eq!(Controller::Unified.to_string(), "unified");
    }
}

//! /proc/self/mountinfo as the cgroups crate reads it (the cgroup layout) and as lxcfs-rs
//! reads it (the mount at a path).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use syscontainer_cgroups::{CgroupLayout, Controller, ProcessCgroups};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(layout) = CgroupLayout::parse_mountinfo(s) {
        let _ = layout.mode();
        let own = ProcessCgroups::parse("12:memory:/a/b\n4:cpu,cpuacct:/a\n0::/a/b/c\n").unwrap();
        for controller in [Controller::Memory, Controller::Cpu, Controller::Cpuset] {
            if let Some((_, dir)) = layout.dir(controller, &own) {
                // A container's cgroup stays below the hierarchy's mount point.
                assert!(dir.path().starts_with(&dir.mountpoint), "{dir:?}");
                assert!(!dir.self_and_ancestors().is_empty());
            }
        }
    }
    for target in ["/var/lib/lxcfs-rs", "/proc/meminfo", "/"] {
        let _ = lxcfs_rs::mounts::mount_at(s, Path::new(target));
    }
});

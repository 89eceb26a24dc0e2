//! lxcfs-rs's parsers of the host's /proc files: meminfo, stat, cpuinfo, uptime, loadavg,
//! diskstats, and a process's stat and status lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lxcfs_rs::host::{self, Cpuinfo, Loadavg, Meminfo, Stat, Uptime};
use lxcfs_rs::process::PidStatus;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(meminfo) = Meminfo::parse(s) {
        assert!(!meminfo.lines.is_empty());
        if let Some(first) = meminfo.lines.first() {
            assert_eq!(meminfo.get(&first.key), Some(first.value));
        }
    }
    if let Ok(stat) = Stat::parse(s) {
        for cpu in stat.online_cpus() {
            assert!(stat.cpu(cpu).is_some(), "{s:?}");
        }
    }
    let _ = Cpuinfo::parse(s);
    if let Ok(uptime) = Uptime::parse(s) {
        assert!(
            uptime.uptime.is_finite() && uptime.idle.is_finite(),
            "{s:?}"
        );
    }
    let _ = Loadavg::parse(s);
    let _ = host::parse_diskstats(s);
    let _ = host::parse_pid_starttime(s);
    let _ = host::parse_pid_state(s);
    if let Ok(status) = PidStatus::parse(s) {
        let _ = status.is_namespace_init();
    }
});

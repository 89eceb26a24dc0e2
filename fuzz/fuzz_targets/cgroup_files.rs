//! The cgroup files lxcfs-rs and the runtime parse: /proc/PID/cgroup, memory.stat,
//! flat-keyed files, cpu.max, cpuacct usage, blkio and io.stat counters, cpu lists.
#![no_main]

use libfuzzer_sys::fuzz_target;
use syscontainer_cgroups::stats::{self, CpuUsage, MemoryStat};
use syscontainer_cgroups::{ProcessCgroups, Version};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cgroups) = ProcessCgroups::parse(s) {
        let pruned = cgroups.clone().of_container_init();
        assert_eq!(pruned.clone().of_container_init(), pruned, "{s:?}");
    }
    let _ = MemoryStat::parse(Version::V1, s);
    let _ = MemoryStat::parse(Version::V2, s);
    let _ = stats::parse_flat_keyed("cpu.stat", s);
    if let Ok(Some((quota, period))) = stats::parse_cpu_max(s) {
        assert_eq!(
            stats::parse_cpu_max(&format!("{quota} {period}")).unwrap(),
            Some((quota, period))
        );
    }
    let _ = CpuUsage::parse_usage_all(s);
    let _ = CpuUsage::parse_usage_percpu(s);
    let (first, second) = s.split_once('\0').unwrap_or((s, s));
    let _ = stats::parse_blkio_v1(first, second);
    let _ = stats::parse_io_stat(s);
    let _ = stats::parse_cpu_list(s);
});

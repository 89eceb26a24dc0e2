//! lxcfs-rs's views computed from fuzzed host and cgroup files: the input is split at NUL
//! bytes into host meminfo, memory.stat, cpuinfo, stat, the cpuset, diskstats, the blkio /
//! io.stat counters, swaps and uptime. The checks are what a container must never see: more
//! memory than its limit or the host, more free than total, other CPUs than its cpuset.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lxcfs_rs::cgroup::stats::{self, CpuUsage, MemoryCgroup, MemoryStat};
use lxcfs_rs::cgroup::Version;
use lxcfs_rs::host::{self, Cpuinfo, Meminfo, Stat, Uptime};
use lxcfs_rs::{cpuset, views};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = s.split('\0');
    let mut next = || parts.next().unwrap_or("");
    let (meminfo, memory_stat, cpuinfo, stat, cpus) = (next(), next(), next(), next(), next());
    let (diskstats, io, swaps, uptime) = (next(), next(), next(), next());
    let version = if s.len() % 2 == 0 {
        Version::V1
    } else {
        Version::V2
    };

    if let (Ok(host), Ok(stat)) = (
        Meminfo::parse(meminfo),
        MemoryStat::parse(version, memory_stat),
    ) {
        let mem = MemoryCgroup {
            limit: Some(256 << 20),
            usage: stat.anon.saturating_add(stat.file),
            stat,
            swap_limit: Some(64 << 20),
            swap_usage: Some(stat.shmem),
        };
        for swap in [true, false] {
            let view = views::meminfo::compute(&host, &mem, swap);
            let host_total = host.get("MemTotal").unwrap_or(0);
            assert!(
                view.total <= 256 * 1024 && view.total <= host_total,
                "{view:?}"
            );
            assert!(
                view.free <= view.total && view.available <= view.total,
                "{view:?}"
            );
            assert!(
                view.swap_free <= view.swap_total && view.swap_total <= 64 * 1024,
                "{view:?}"
            );
            let text = views::meminfo::render(&host, &mem, swap);
            let again = Meminfo::parse(&text).unwrap();
            assert_eq!(again.lines.len(), host.lines.len());
            if host.get("MemTotal").is_some() {
                assert_eq!(again.get("MemTotal"), Some(view.total));
            }
            let _ = views::swaps::render(swaps, &view, true, swap);
        }
    }

    let online = [0, 1, 2, 3, 5, 8];
    let set = cpuset::parse_cpu_list(cpus).ok();
    let visible = views::cpu::visible_cpus(&online, set.as_deref(), Some(2));
    assert!(!visible.is_empty() && visible.len() <= 2);
    assert!(visible.iter().all(|c| online.contains(c)));
    let shown = views::cpu::render_online(&visible);
    assert_eq!(cpuset::parse_cpu_list(&shown).unwrap().len(), visible.len());
    if let Ok(info) = Cpuinfo::parse(cpuinfo) {
        let _ = views::cpu::render_cpuinfo(&info, &visible);
    }
    if let Ok(host_stat) = Stat::parse(stat) {
        let usage = CpuUsage::parse_usage_all(memory_stat)
            .or_else(|_| CpuUsage::parse_usage_percpu(memory_stat))
            .ok();
        let accounted = views::cpu::visible_cpus(&online, set.as_deref(), None);
        let view = views::cpu::compute_stat_narrowed(
            &host_stat,
            &visible,
            &accounted,
            usage.as_ref(),
            100,
        );
        assert_eq!(view.cpus.len(), visible.len());
        let text = views::cpu::render_stat(&host_stat, &view);
        let again = Stat::parse(&text).unwrap();
        assert_eq!(again.online_cpus().len(), visible.len(), "{text}");
    }
    if let Ok(lines) = host::parse_diskstats(diskstats) {
        let counters = stats::parse_io_stat(io)
            .or_else(|_| stats::parse_blkio_v1(io, io))
            .ok();
        let _ = views::diskstats::render(&lines, counters.as_ref());
        let _ = views::diskstats::render(&lines, None);
    }
    if let Ok(host_uptime) = Uptime::parse(uptime) {
        let view = views::uptime::compute(&host_uptime, 12345, 100, visible.len());
        assert!(view.uptime >= 0.0 && view.idle <= view.uptime, "{view:?}");
        let _ = views::uptime::render(&view);
    }
});

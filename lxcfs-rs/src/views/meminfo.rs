use crate::cgroup::stats::MemoryCgroup;
use crate::host::Meminfo;

/// Memory figures of the container view, in kB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemView {
    pub total: u64,
    pub free: u64,
    pub available: u64,
    pub cached: u64,
    pub shmem: u64,
    pub swap_total: u64,
    pub swap_free: u64,
}

fn kb(bytes: u64) -> u64 {
    bytes / 1024
}

/// Computes the container's memory figures. `swap_enabled = false` (`-u`) reports no swap.
pub fn compute(host: &Meminfo, mem: &MemoryCgroup, swap_enabled: bool) -> MemView {
    let host_total = host.get("MemTotal").unwrap_or(0);
    let total = mem.limit.map_or(host_total, |l| kb(l).min(host_total));
    let free = total.saturating_sub(kb(mem.usage));
    let stat = &mem.stat;
    // shmem sits in the page cache but cannot be dropped: it is not available.
    let reclaimable = kb(stat.file.saturating_add(stat.slab_reclaimable));
    let available = free
        .saturating_add(reclaimable)
        .saturating_sub(kb(stat.shmem))
        .min(total);

    let (swap_total, swap_free) = if swap_enabled {
        let host_swap_total = host.get("SwapTotal").unwrap_or(0);
        let host_swap_free = host.get("SwapFree").unwrap_or(0);
        let swap_total = mem
            .swap_limit
            .map_or(host_swap_total, |l| kb(l).min(host_swap_total));
        let swap_used = mem
            .swap_usage
            .map_or(host_swap_total.saturating_sub(host_swap_free), kb);
        (swap_total, swap_total.saturating_sub(swap_used))
    } else {
        (0, 0)
    };
    MemView {
        total,
        free,
        available,
        cached: kb(stat.file).min(total),
        shmem: kb(stat.shmem).min(total),
        swap_total,
        swap_free,
    }
}

/// Renders `/proc/meminfo` in host line order, replacing the values the container view defines.
pub fn render(host: &Meminfo, mem: &MemoryCgroup, swap_enabled: bool) -> String {
    let view = compute(host, mem, swap_enabled);
    let stat = &mem.stat;
    let mut out = String::with_capacity(host.lines.len() * 28);
    for line in &host.lines {
        let value = match line.key.as_str() {
            "MemTotal" => view.total,
            "MemFree" => view.free,
            "MemAvailable" => view.available,
            "Buffers" | "SwapCached" => 0,
            "Cached" => view.cached,
            "Shmem" => view.shmem,
            "Active" => kb(stat.active_anon.saturating_add(stat.active_file)),
            "Inactive" => kb(stat.inactive_anon.saturating_add(stat.inactive_file)),
            "Active(anon)" => kb(stat.active_anon),
            "Inactive(anon)" => kb(stat.inactive_anon),
            "Active(file)" => kb(stat.active_file),
            "Inactive(file)" => kb(stat.inactive_file),
            "Unevictable" => kb(stat.unevictable),
            "Dirty" => kb(stat.dirty),
            "Writeback" => kb(stat.writeback),
            "AnonPages" => kb(stat.anon),
            "Mapped" => kb(stat.mapped),
            "Slab" => kb(stat
                .slab_reclaimable
                .saturating_add(stat.slab_unreclaimable)),
            "SReclaimable" => kb(stat.slab_reclaimable),
            "SUnreclaim" => kb(stat.slab_unreclaimable),
            "SwapTotal" => view.swap_total,
            "SwapFree" => view.swap_free,
            _ => line.value,
        };
        push_line(&mut out, &line.key, value, line.in_kb);
    }
    out
}

/// Appends `KEY:` padded to 16 columns, the value right-aligned in 8 and ` kB` if sized, as
/// the kernel prints them, without temporary strings.
fn push_line(out: &mut String, key: &str, value: u64, in_kb: bool) {
    use std::fmt::Write;
    out.push_str(key);
    out.push(':');
    let width = key.chars().count() + 1;
    out.extend(std::iter::repeat_n(' ', 16usize.saturating_sub(width)));
    let _ = write!(out, "{value:>8}");
    out.push_str(if in_kb { " kB\n" } else { "\n" });
}

#[cfg(test)]
mod tests {

    #[test]
    fn lines_are_padded_like_the_kernels() {
        for (key, value, in_kb) in [
            ("MemTotal", 262144u64, true),
            ("HugePages_Total", 0, false),
            ("DirectMap1G", 123456789012, true),
            ("AVeryLongKeyBeyondSixteen", 5, true),
        ] {
            let mut out = String::new();
            push_line(&mut out, key, value, in_kb);
            let label = format!("{key}:");
            let expected = if in_kb {
                format!("{label:<16}{value:>8} kB\n")
            } else {
                format!("{label:<16}{value:>8}\n")
            };
            assert_eq!(out, expected);
        }
    }

    use super::*;
    use crate::cgroup::stats::MemoryStat;

    const MIB: u64 = 1024 * 1024;

    fn host() -> Meminfo {
        Meminfo::parse(include_str!("../../tests/fixtures/host/meminfo")).unwrap()
    }

    fn cgroup(limit: Option<u64>, usage: u64, file: u64, shmem: u64) -> MemoryCgroup {
        MemoryCgroup {
            limit,
            usage,
            stat: MemoryStat {
                file,
                shmem,
                ..Default::default()
            },
            swap_limit: None,
            swap_usage: None,
        }
    }

    #[test]
    fn limit_is_capped_at_host_total() {
        let host = host();
        let host_total = host.get("MemTotal").unwrap();
        assert_eq!(
            compute(&host, &cgroup(Some(256 * MIB), 0, 0, 0), true).total,
            262144
        );
        assert_eq!(
            compute(&host, &cgroup(Some(u64::MAX / 2), 0, 0, 0), true).total,
            host_total
        );
        assert_eq!(
            compute(&host, &cgroup(None, 0, 0, 0), true).total,
            host_total
        );
    }

    #[test]
    fn usage_above_limit_saturates() {
        let view = compute(
            &host(),
            &cgroup(Some(100 * MIB), 200 * MIB, 300 * MIB, 0),
            true,
        );
        assert_eq!(view.free, 0);
        assert_eq!(view.available, view.total, "available never exceeds total");
    }

    #[test]
    fn shmem_is_not_available() {
        let with_shmem = compute(
            &host(),
            &cgroup(Some(256 * MIB), 100 * MIB, 60 * MIB, 40 * MIB),
            true,
        );
        assert_eq!(with_shmem.free, 156 * 1024);
        assert_eq!(with_shmem.available, (156 + 60 - 40) * 1024);
        let all_shmem = compute(
            &host(),
            &cgroup(Some(256 * MIB), 256 * MIB, 10 * MIB, 50 * MIB),
            true,
        );
        assert_eq!(all_shmem.available, 0, "saturates instead of wrapping");
    }

    #[test]
    fn swap_view() {
        let host = host();
        let mut mem = cgroup(Some(256 * MIB), 0, 0, 0);
        mem.swap_limit = Some(64 * MIB);
        mem.swap_usage = Some(16 * MIB);
        let view = compute(&host, &mem, true);
        assert_eq!((view.swap_total, view.swap_free), (64 * 1024, 48 * 1024));
        mem.swap_limit = Some(u64::MAX / 4);
        assert_eq!(
            compute(&host, &mem, true).swap_total,
            host.get("SwapTotal").unwrap()
        );
        assert_eq!(compute(&host, &mem, false).swap_total, 0);
    }

    #[test]
    fn render_keeps_host_order_and_units() {
        let host = host();
        let text = render(&host, &cgroup(Some(256 * MIB), 0, 0, 0), true);
        assert!(text.starts_with("MemTotal:         262144 kB\nMemFree:          262144 kB\n"));
        assert_eq!(text.lines().count(), host.lines.len());
        assert!(text.contains("HugePages_Total:       0\n"));
    }
}

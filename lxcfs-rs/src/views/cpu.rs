//! CPU views: `/proc/cpuinfo`, `/proc/stat` and `sys/devices/system/cpu/online`. All three use
//! the same renumbering: the i-th visible physical CPU is shown as CPU i.

use crate::cgroup::stats::CpuUsage;
use crate::cpuset::format_cpu_list;
use crate::host::{CpuTimes, Cpuinfo, Stat};

/// Physical CPUs the container sees: its cpuset restricted to online CPUs (all online CPUs
/// if that is empty), narrowed to the CFS quota's CPU count when given.
pub fn visible_cpus(
    host_online: &[u32],
    cpuset: Option<&[u32]>,
    cfs_cpus: Option<u32>,
) -> Vec<u32> {
    let mut visible: Vec<u32> = match cpuset {
        Some(set) => host_online
            .iter()
            .copied()
            .filter(|c| set.contains(c))
            .collect(),
        None => host_online.to_vec(),
    };
    if visible.is_empty() {
        visible = host_online.to_vec();
    }
    if let Some(n) = cfs_cpus {
        visible.truncate((n as usize).max(1));
    }
    visible
}

pub fn render_online(visible: &[u32]) -> String {
    let renumbered: Vec<u32> = (0..visible.len() as u32).collect();
    format!("{}\n", format_cpu_list(&renumbered))
}

/// The value `key` of a cpuinfo line (`key<tabs>: value`) is rewritten to in the container's
/// view of CPU `index` of `count`, or `None` to keep the host's line. The x86 topology fields
/// describe one package of `count` single-threaded cores numbered like `processor`, so
/// `siblings`, `cpu cores` and the ids agree with the visible CPU count (tools such as
/// `lscpu` and JVMs derive core and socket counts from them).
fn rewritten_cpuinfo_value(key: &str, index: usize, count: usize) -> Option<String> {
    match key {
        "processor" | "core id" | "apicid" | "initial apicid" => Some(index.to_string()),
        "siblings" | "cpu cores" => Some(count.to_string()),
        "physical id" => Some("0".into()),
        _ => None,
    }
}

pub fn render_cpuinfo(host: &Cpuinfo, visible: &[u32]) -> String {
    let mut out = String::new();
    let count = visible.len();
    for (index, physical) in visible.iter().enumerate() {
        // A visible CPU without its own block (e.g. onlined after the host file was read)
        // borrows another CPU's, so `processor` numbers stay 0..n-1 like stat and online.
        let Some(block) = host
            .blocks
            .iter()
            .find(|b| b.processor == Some(*physical))
            .or_else(|| host.blocks.iter().find(|b| b.processor.is_some()))
        else {
            continue;
        };
        for line in &block.lines {
            let rewritten = line.split_once(':').and_then(|(key_part, _)| {
                rewritten_cpuinfo_value(key_part.trim(), index, count)
                    .map(|value| format!("{key_part}: {value}\n"))
            });
            match rewritten {
                Some(text) => out.push_str(&text),
                None => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out.push('\n');
    }
    for block in host.blocks.iter().filter(|b| b.processor.is_none()) {
        for line in &block.lines {
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// Per-CPU times of the container view (index = renumbered CPU) and their sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatView {
    pub total: CpuTimes,
    pub cpus: Vec<CpuTimes>,
}

fn ticks(value: u64, unit_per_sec: u64, ticks_per_sec: u64) -> u64 {
    (value as u128 * ticks_per_sec as u128 / unit_per_sec.max(1) as u128).min(u64::MAX as u128)
        as u64
}

/// A container CPU line: its own user/system time, and the rest of the host CPU's elapsed time
/// as idle, so the line's total advances with wall-clock time like a real CPU's.
fn container_line(host: &CpuTimes, user: u64, system: u64) -> CpuTimes {
    let idle = host.total().saturating_sub(user.saturating_add(system));
    CpuTimes {
        user,
        system,
        idle,
        ..Default::default()
    }
}

/// The container's stat view when every CPU its time is accounted on is shown (`visible` is
/// the cpuset): each line carries the usage of its own physical CPU.
pub fn compute_stat(
    host: &Stat,
    visible: &[u32],
    usage: Option<&CpuUsage>,
    ticks_per_sec: u64,
) -> StatView {
    compute_stat_narrowed(host, visible, visible, usage, ticks_per_sec)
}

/// `ticks` split into `n` shares differing by at most one, larger shares first; they sum
/// to `ticks`.
fn share(ticks: u64, n: u64, index: u64) -> u64 {
    ticks / n + u64::from(index < ticks % n)
}

/// The container's stat view when `visible` (the CPUs shown) may be fewer than `accounted`
/// (the CPUs the container runs on, i.e. its cpuset before `--enable-cfs` narrowed it): the
/// usage on all of `accounted` is summed and spread over the visible CPUs, so the aggregate
/// line is the container's whole CPU time and the per-CPU lines still sum to it. When the
/// two sets are equal each line carries its own physical CPU's usage.
pub fn compute_stat_narrowed(
    host: &Stat,
    visible: &[u32],
    accounted: &[u32],
    usage: Option<&CpuUsage>,
    ticks_per_sec: u64,
) -> StatView {
    let n = visible.len().max(1) as u64;
    let narrowed = accounted.iter().any(|cpu| !visible.contains(cpu));
    let to_ticks = |ns: u64| ticks(ns, 1_000_000_000, ticks_per_sec);
    // (user, system) ticks summed over the accounted CPUs, when they are spread evenly.
    let spread: Option<(u64, u64)> = match usage {
        Some(CpuUsage::PerCpu(rows)) if narrowed => {
            let (user, system) = rows
                .iter()
                .filter(|(cpu, _, _)| accounted.contains(cpu))
                .fold((0u64, 0u64), |(u, s), (_, ru, rs)| {
                    (u.saturating_add(*ru), s.saturating_add(*rs))
                });
            Some((to_ticks(user), to_ticks(system)))
        }
        // v2 only has totals: always spread evenly.
        Some(CpuUsage::Total { user_us, system_us }) => Some((
            ticks(*user_us, 1_000_000, ticks_per_sec),
            ticks(*system_us, 1_000_000, ticks_per_sec),
        )),
        _ => None,
    };
    let cpus: Vec<CpuTimes> = visible
        .iter()
        .enumerate()
        .map(|(index, physical)| {
            let host_times = host.cpu(*physical).copied().unwrap_or_default();
            if let Some((user, system)) = spread {
                let i = index as u64;
                return container_line(&host_times, share(user, n, i), share(system, n, i));
            }
            match usage {
                Some(CpuUsage::PerCpu(rows)) => {
                    let (user, system) = rows
                        .iter()
                        .find(|(cpu, _, _)| cpu == physical)
                        .map_or((0, 0), |(_, u, s)| (to_ticks(*u), to_ticks(*s)));
                    container_line(&host_times, user, system)
                }
                _ => host_times,
            }
        })
        .collect();
    let total = cpus
        .iter()
        .fold(CpuTimes::default(), |sum, c| sum.saturating_add(c));
    StatView { total, cpus }
}

fn push_cpu_line(out: &mut String, label: &str, times: &CpuTimes) {
    out.push_str(label);
    for field in times.fields() {
        out.push(' ');
        out.push_str(&field.to_string());
    }
    out.push('\n');
}

pub fn render_stat(host: &Stat, view: &StatView) -> String {
    let mut out = String::with_capacity(1024);
    push_cpu_line(&mut out, "cpu ", &view.total);
    for (index, times) in view.cpus.iter().enumerate() {
        push_cpu_line(&mut out, &format!("cpu{index}"), times);
    }
    for line in &host.other_lines {
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpuset::parse_cpu_list;

    fn host_cpuinfo() -> Cpuinfo {
        Cpuinfo::parse(include_str!("../../tests/fixtures/host/cpuinfo")).unwrap()
    }

    fn host_stat() -> Stat {
        Stat::parse(include_str!("../../tests/fixtures/host/stat")).unwrap()
    }

    #[test]
    fn visible_is_cpuset_within_online_then_cfs() {
        let online = [0, 1, 2, 3];
        assert_eq!(visible_cpus(&online, Some(&[2, 3, 9]), None), vec![2, 3]);
        assert_eq!(visible_cpus(&online, Some(&[9]), None), vec![0, 1, 2, 3]);
        assert_eq!(visible_cpus(&online, None, Some(2)), vec![0, 1]);
        assert_eq!(visible_cpus(&online, Some(&[1, 3]), Some(1)), vec![1]);
    }

    #[test]
    fn renumbering_is_identical_across_cpuinfo_stat_and_online() {
        let visible = visible_cpus(&host_stat().online_cpus(), Some(&[1, 3]), None);
        let cpuinfo = render_cpuinfo(&host_cpuinfo(), &visible);
        let stat = render_stat(
            &host_stat(),
            &compute_stat(&host_stat(), &visible, None, 100),
        );
        let online = render_online(&visible);

        let cpuinfo_ids: Vec<u32> = Cpuinfo::parse(&cpuinfo)
            .unwrap()
            .blocks
            .iter()
            .filter_map(|b| b.processor)
            .collect();
        let stat_ids = Stat::parse(&stat).unwrap().online_cpus();
        let online_ids = parse_cpu_list(&online).unwrap();
        assert_eq!(cpuinfo_ids, vec![0, 1]);
        assert_eq!(stat_ids, cpuinfo_ids);
        assert_eq!(online_ids, cpuinfo_ids);
        assert_eq!(online, "0-1\n");
        // The renumbered CPU 1 is physical CPU 3: its model line and host times come along.
        assert!(cpuinfo
            .split("\n\n")
            .nth(1)
            .unwrap()
            .contains("cpu MHz\t\t: 3003.000"));
        assert_eq!(Stat::parse(&stat).unwrap().cpu(1), host_stat().cpu(3));
    }

    #[test]
    fn aggregate_equals_sum_of_cpu_lines() {
        let host = host_stat();
        let visible = [0, 2];
        let usages = [
            None,
            Some(CpuUsage::PerCpu(vec![
                (0, 5_000_000_000, 1_000_000_000),
                (2, 7_000_000_000, 0),
            ])),
            Some(CpuUsage::Total {
                user_us: 3_000_001,
                system_us: 1_000_000,
            }),
        ];
        for usage in &usages {
            let view = compute_stat(&host, &visible, usage.as_ref(), 100);
            let rendered = Stat::parse(&render_stat(&host, &view)).unwrap();
            let sum = rendered
                .cpus
                .iter()
                .fold(CpuTimes::default(), |s, (_, t)| s.saturating_add(t));
            assert_eq!(rendered.total, sum, "usage {usage:?}");
            assert_eq!(rendered.other_lines, host.other_lines);
        }
    }

    #[test]
    fn per_cpu_usage_becomes_ticks_and_idle_fills_the_rest() {
        let host = host_stat();
        let usage = CpuUsage::PerCpu(vec![(2, 5_000_000_000, 1_000_000_000)]);
        let view = compute_stat(&host, &[2], Some(&usage), 100);
        assert_eq!((view.cpus[0].user, view.cpus[0].system), (500, 100));
        assert_eq!(view.cpus[0].total(), host.cpu(2).unwrap().total());
        // usage larger than the host's elapsed time must not wrap
        let usage = CpuUsage::PerCpu(vec![(2, u64::MAX, u64::MAX)]);
        assert_eq!(compute_stat(&host, &[2], Some(&usage), 100).cpus[0].idle, 0);
    }

    #[test]
    fn cfs_narrowed_view_keeps_all_cpu_time_of_the_cpuset() {
        let host = host_stat();
        // The container runs on CPUs 0-3; the CFS quota narrows the view to one CPU.
        let accounted = [0, 1, 2, 3];
        let visible = visible_cpus(&accounted, None, Some(1));
        assert_eq!(visible, [0]);
        let usage = CpuUsage::PerCpu(vec![
            (0, 1_000_000_000, 100_000_000),
            (1, 2_000_000_000, 0),
            (2, 3_000_000_000, 200_000_000),
            (3, 4_000_000_010, 0),
            // a CPU outside the cpuset (usage from before a cpuset change) is not counted
            (4, 9_000_000_000, 0),
        ]);
        let view = compute_stat_narrowed(&host, &visible, &accounted, Some(&usage), 100);
        assert_eq!((view.total.user, view.total.system), (1000, 30));
        assert_eq!(view.cpus.len(), 1);
        assert_eq!(view.cpus[0].idle, host.cpu(0).unwrap().total() - 1030);

        // Two visible CPUs: the time is spread, the lines sum to the aggregate, idle fills
        // the rest of each host CPU's elapsed time.
        let visible = [0, 1];
        let view = compute_stat_narrowed(&host, &visible, &accounted, Some(&usage), 100);
        assert_eq!((view.total.user, view.total.system), (1000, 30));
        assert_eq!(
            view.cpus
                .iter()
                .map(|c| (c.user, c.system))
                .collect::<Vec<_>>(),
            [(500, 15), (500, 15)]
        );
        let rendered = Stat::parse(&render_stat(&host, &view)).unwrap();
        let sum = rendered
            .cpus
            .iter()
            .fold(CpuTimes::default(), |s, (_, t)| s.saturating_add(t));
        assert_eq!(rendered.total, sum);
        for (i, cpu) in view.cpus.iter().enumerate() {
            assert_eq!(cpu.total(), host.cpu(i as u32).unwrap().total());
        }

        // Odd totals: shares differ by at most one tick and still sum exactly.
        let usage = CpuUsage::PerCpu(vec![(0, 10_000_000, 0), (1, 60_000_000, 0)]);
        let view = compute_stat_narrowed(&host, &[0, 1], &[0, 1, 2], Some(&usage), 100);
        assert_eq!((view.cpus[0].user, view.cpus[1].user), (4, 3));

        // Not narrowed: each line is its own physical CPU's time, as before.
        let view = compute_stat_narrowed(&host, &[0, 1], &[0, 1], Some(&usage), 100);
        assert_eq!((view.cpus[0].user, view.cpus[1].user), (1, 6));
    }

    /// An x86 host with 2 packages of 2 cores with 2 threads, without a block for CPU 6.
    fn x86_cpuinfo() -> Cpuinfo {
        let mut text = String::new();
        for cpu in [0u32, 1, 2, 3, 4, 5, 7] {
            let (package, core, thread) = (cpu / 4, (cpu / 2) % 2, cpu % 2);
            let apic = package * 16 + core * 2 + thread;
            text.push_str(&format!(
                "processor\t: {cpu}\nvendor_id\t: GenuineIntel\nphysical id\t: {package}\n\
                 siblings\t: 4\ncore id\t\t: {core}\ncpu cores\t: 2\napicid\t\t: {apic}\n\
                 initial apicid\t: {apic}\nflags\t\t: fpu ht\n\n"
            ));
        }
        Cpuinfo::parse(&text).unwrap()
    }

    fn field<'a>(block: &'a crate::host::CpuinfoBlock, key: &str) -> &'a str {
        block
            .lines
            .iter()
            .find_map(|l| l.split_once(':').filter(|(k, _)| k.trim() == key))
            .map(|(_, v)| v.trim())
            .unwrap_or_else(|| panic!("no {key} in {:?}", block.lines))
    }

    #[test]
    fn cpuinfo_has_no_processor_gaps_when_a_host_block_is_missing() {
        let visible = [5, 6, 7];
        let rendered = Cpuinfo::parse(&render_cpuinfo(&x86_cpuinfo(), &visible)).unwrap();
        let ids: Vec<u32> = rendered.blocks.iter().filter_map(|b| b.processor).collect();
        assert_eq!(ids, [0, 1, 2]);
        assert_eq!(
            ids,
            parse_cpu_list(&render_online(&visible)).unwrap(),
            "cpuinfo agrees with online"
        );
    }

    #[test]
    fn cpuinfo_x86_topology_matches_the_visible_cpu_count() {
        // Physical CPUs 1 and 4: different packages and cores on the host.
        let visible = [1, 4, 5];
        let rendered = Cpuinfo::parse(&render_cpuinfo(&x86_cpuinfo(), &visible)).unwrap();
        assert_eq!(rendered.blocks.len(), 3);
        for (i, block) in rendered.blocks.iter().enumerate() {
            let i = i.to_string();
            assert_eq!(field(block, "processor"), i);
            assert_eq!(field(block, "siblings"), "3", "{block:?}");
            assert_eq!(field(block, "cpu cores"), "3", "{block:?}");
            assert_eq!(field(block, "physical id"), "0", "{block:?}");
            assert_eq!(field(block, "core id"), i, "{block:?}");
            assert_eq!(field(block, "apicid"), i, "{block:?}");
            assert_eq!(field(block, "initial apicid"), i, "{block:?}");
            // other lines are the host's, tab alignment included
            assert!(block.lines.contains(&"flags\t\t: fpu ht".to_string()));
            assert!(block.lines.contains(&"siblings\t: 3".to_string()));
        }
    }
}

//! Readers that turn cgroup statistics and limit files into plain structs, for v1 and v2:
//! `memory.stat`, memory limits, `cpu.max`/CFS quota, cpuacct/`cpu.stat`, cpusets, blkio and
//! `io.stat`, task lists. lxcfs-rs's views and the runtime's `stats` both read through here.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{CgroupError, Result};
use crate::layout::{CgroupDir, Version};
use crate::read::{optional, parse_u64, read_string, FileReader};

/// Limits at or above this are "unlimited" on cgroup v1 (the kernel reports a page-aligned
/// `LONG_MAX`).
const V1_UNLIMITED: u64 = 1 << 62;

/// Parses a kernel CPU list (`0-3,6,8-9`) into sorted, de-duplicated CPU numbers. Empty input
/// is an empty set.
pub fn parse_cpu_list(text: &str) -> Result<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.trim().is_empty()) {
        let part = part.trim();
        let bad = || CgroupError::parse("cpu list", "expected N or N-M", text.trim());
        match part.split_once('-') {
            Some((lo, hi)) => {
                let lo: u32 = lo.parse().map_err(|_| bad())?;
                let hi: u32 = hi.parse().map_err(|_| bad())?;
                if hi < lo || hi - lo > 65536 {
                    return Err(bad());
                }
                cpus.extend(lo..=hi);
            }
            None => cpus.push(part.parse().map_err(|_| bad())?),
        }
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

/// Parses a v1 byte limit (huge = unlimited) or a v2 limit (`max` = unlimited).
fn parse_limit(file: &'static str, text: &str) -> Result<Option<u64>> {
    let text = text.trim();
    if text == "max" {
        return Ok(None);
    }
    let value = parse_u64(file, text, text)?;
    Ok((value < V1_UNLIMITED).then_some(value))
}

/// Smallest limit in `file` over `dir` and its ancestors (missing files are skipped).
fn hierarchy_min_limit(dir: &CgroupDir, file: &'static str) -> Result<Option<u64>> {
    let mut smallest: Option<u64> = None;
    for ancestor in dir.self_and_ancestors() {
        let Some(text) = optional(read_string(&ancestor.join(file)))? else {
            continue;
        };
        if let Some(limit) = parse_limit(file, &text)? {
            smallest = Some(smallest.map_or(limit, |s| s.min(limit)));
        }
    }
    Ok(smallest)
}

/// Parses a flat-keyed file (`key value` per line) such as `memory.stat` or `cpu.stat`.
pub fn parse_flat_keyed(file: &'static str, text: &str) -> Result<HashMap<String, u64>> {
    let mut map = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (key, value) = line
            .split_once(' ')
            .ok_or_else(|| CgroupError::parse(file, "expected 'key value'", line))?;
        map.insert(key.to_string(), parse_u64(file, value, line)?);
    }
    Ok(map)
}

/// Memory statistics normalised across v1 (`total_*` keys) and v2, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryStat {
    /// Page cache including shmem (v1 `total_cache`, v2 `file`).
    pub file: u64,
    pub anon: u64,
    pub shmem: u64,
    pub active_anon: u64,
    pub inactive_anon: u64,
    pub active_file: u64,
    pub inactive_file: u64,
    pub unevictable: u64,
    pub mapped: u64,
    pub dirty: u64,
    pub writeback: u64,
    pub slab_reclaimable: u64,
    pub slab_unreclaimable: u64,
}

impl MemoryStat {
    /// Parses `memory.stat` (v1 `total_*` keys, v2 plain keys). Every line must be
    /// `key value`, as for [`parse_flat_keyed`]; the wanted keys go straight into the fields.
    pub fn parse(version: Version, text: &str) -> Result<Self> {
        let mut stat = MemoryStat::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (key, value) = line
                .split_once(' ')
                .ok_or_else(|| CgroupError::parse("memory.stat", "expected 'key value'", line))?;
            let value = parse_u64("memory.stat", value, line)?;
            let field = match (version, key) {
                (Version::V1, "total_cache") | (Version::V2, "file") => &mut stat.file,
                (Version::V1, "total_rss") | (Version::V2, "anon") => &mut stat.anon,
                (Version::V1, "total_shmem") | (Version::V2, "shmem") => &mut stat.shmem,
                (Version::V1, "total_active_anon") | (Version::V2, "active_anon") => {
                    &mut stat.active_anon
                }
                (Version::V1, "total_inactive_anon") | (Version::V2, "inactive_anon") => {
                    &mut stat.inactive_anon
                }
                (Version::V1, "total_active_file") | (Version::V2, "active_file") => {
                    &mut stat.active_file
                }
                (Version::V1, "total_inactive_file") | (Version::V2, "inactive_file") => {
                    &mut stat.inactive_file
                }
                (Version::V1, "total_unevictable") | (Version::V2, "unevictable") => {
                    &mut stat.unevictable
                }
                (Version::V1, "total_mapped_file") | (Version::V2, "file_mapped") => {
                    &mut stat.mapped
                }
                (Version::V1, "total_dirty") | (Version::V2, "file_dirty") => &mut stat.dirty,
                (Version::V1, "total_writeback") | (Version::V2, "file_writeback") => {
                    &mut stat.writeback
                }
                (Version::V2, "slab_reclaimable") => &mut stat.slab_reclaimable,
                (Version::V2, "slab_unreclaimable") => &mut stat.slab_unreclaimable,
                _ => continue,
            };
            *field = value;
        }
        Ok(stat)
    }
}

/// A container's memory cgroup state, in bytes. `None` limits mean unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryCgroup {
    pub limit: Option<u64>,
    pub usage: u64,
    pub stat: MemoryStat,
    /// Swap alone (v1: memsw minus memory).
    pub swap_limit: Option<u64>,
    pub swap_usage: Option<u64>,
}

impl MemoryCgroup {
    pub fn read(version: Version, dir: &CgroupDir) -> Result<Self> {
        match version {
            Version::V1 => {
                let limit = hierarchy_min_limit(dir, "memory.limit_in_bytes")?;
                let usage = parse_u64(
                    "memory.usage_in_bytes",
                    &dir.read("memory.usage_in_bytes")?,
                    "",
                )?;
                let stat = MemoryStat::parse(version, &dir.read("memory.stat")?)?;
                let memsw_limit = hierarchy_min_limit(dir, "memory.memsw.limit_in_bytes")?;
                let memsw_usage = dir
                    .read_optional("memory.memsw.usage_in_bytes")?
                    .map(|t| parse_u64("memory.memsw.usage_in_bytes", &t, &t))
                    .transpose()?;
                Ok(MemoryCgroup {
                    limit,
                    usage,
                    stat,
                    swap_limit: memsw_limit
                        .map(|memsw| memsw.saturating_sub(limit.unwrap_or(memsw))),
                    swap_usage: memsw_usage.map(|memsw| memsw.saturating_sub(usage)),
                })
            }
            Version::V2 => {
                let limit = hierarchy_min_limit(dir, "memory.max")?;
                let usage = parse_u64("memory.current", &dir.read("memory.current")?, "")?;
                let stat = MemoryStat::parse(version, &dir.read("memory.stat")?)?;
                let swap_limit = hierarchy_min_limit(dir, "memory.swap.max")?;
                let swap_usage = dir
                    .read_optional("memory.swap.current")?
                    .map(|t| parse_u64("memory.swap.current", &t, &t))
                    .transpose()?;
                Ok(MemoryCgroup {
                    limit,
                    usage,
                    stat,
                    swap_limit,
                    swap_usage,
                })
            }
        }
    }
}

/// Effective cpuset of a cgroup (`None` when the file is absent).
pub fn read_cpuset(
    version: Version,
    dir: &CgroupDir,
    files: &impl FileReader,
) -> Result<Option<Vec<u32>>> {
    let names: &[&str] = match version {
        Version::V1 => &["cpuset.effective_cpus", "cpuset.cpus"],
        Version::V2 => &["cpuset.cpus.effective"],
    };
    for name in names {
        if let Some(text) = dir.read_optional_with(name, files)? {
            let cpus = parse_cpu_list(&text)?;
            if !cpus.is_empty() {
                return Ok(Some(cpus));
            }
        }
    }
    Ok(None)
}

/// CFS bandwidth limit as a CPU count, ceil(quota/period), smallest over the hierarchy.
pub fn read_cfs_cpu_limit(version: Version, dir: &CgroupDir) -> Result<Option<u32>> {
    let mut smallest: Option<u32> = None;
    for ancestor in dir.self_and_ancestors() {
        let quota_period = match version {
            Version::V1 => {
                let quota = optional(read_string(&ancestor.join("cpu.cfs_quota_us")))?;
                let period = optional(read_string(&ancestor.join("cpu.cfs_period_us")))?;
                match (quota, period) {
                    (Some(q), Some(p)) => {
                        let q: i64 = q.trim().parse().map_err(|_| {
                            CgroupError::parse("cpu.cfs_quota_us", "expected an integer", q.trim())
                        })?;
                        let p = parse_u64("cpu.cfs_period_us", &p, p.trim())?;
                        (q > 0).then_some((q as u64, p))
                    }
                    _ => None,
                }
            }
            Version::V2 => match optional(read_string(&ancestor.join("cpu.max")))? {
                Some(text) => parse_cpu_max(&text)?,
                None => None,
            },
        };
        if let Some((quota, period)) = quota_period {
            if period > 0 {
                let cpus = quota.div_ceil(period).clamp(1, u32::MAX as u64) as u32;
                smallest = Some(smallest.map_or(cpus, |s| s.min(cpus)));
            }
        }
    }
    Ok(smallest)
}

/// Parses v2 `cpu.max` (`max 100000` or `QUOTA PERIOD`).
pub fn parse_cpu_max(text: &str) -> Result<Option<(u64, u64)>> {
    let mut words = text.split_whitespace();
    let (Some(quota), Some(period)) = (words.next(), words.next()) else {
        return Err(CgroupError::parse(
            "cpu.max",
            "expected 'QUOTA PERIOD'",
            text.trim(),
        ));
    };
    if quota == "max" {
        return Ok(None);
    }
    Ok(Some((
        parse_u64("cpu.max", quota, text)?,
        parse_u64("cpu.max", period, text)?,
    )))
}

/// CPU time consumed by a cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpuUsage {
    /// v1 cpuacct: (physical cpu, user ns, system ns).
    PerCpu(Vec<(u32, u64, u64)>),
    /// v2 `cpu.stat`: only totals, in microseconds.
    Total { user_us: u64, system_us: u64 },
}

impl CpuUsage {
    pub fn read(
        version: Version,
        dir: &CgroupDir,
        files: &impl FileReader,
    ) -> Result<Option<Self>> {
        match version {
            Version::V1 => {
                if let Some(text) = dir.read_optional_with("cpuacct.usage_all", files)? {
                    return Ok(Some(Self::parse_usage_all(&text)?));
                }
                match dir.read_optional_with("cpuacct.usage_percpu", files)? {
                    Some(text) => Ok(Some(Self::parse_usage_percpu(&text)?)),
                    None => Ok(None),
                }
            }
            Version::V2 => match dir.read_optional_with("cpu.stat", files)? {
                Some(text) => {
                    let map = parse_flat_keyed("cpu.stat", &text)?;
                    Ok(Some(CpuUsage::Total {
                        user_us: map.get("user_usec").copied().unwrap_or(0),
                        system_us: map.get("system_usec").copied().unwrap_or(0),
                    }))
                }
                None => Ok(None),
            },
        }
    }

    /// `cpuacct.usage_all`: a `cpu user system` header, then `N USER_NS SYSTEM_NS` lines.
    pub fn parse_usage_all(text: &str) -> Result<Self> {
        let mut rows = Vec::new();
        for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.len() != 3 {
                return Err(CgroupError::parse(
                    "cpuacct.usage_all",
                    "expected 3 fields",
                    line,
                ));
            }
            let cpu = parse_u64("cpuacct.usage_all", words[0], line)?;
            let cpu = u32::try_from(cpu).map_err(|_| {
                CgroupError::parse("cpuacct.usage_all", "cpu number too large", line)
            })?;
            rows.push((
                cpu,
                parse_u64("cpuacct.usage_all", words[1], line)?,
                parse_u64("cpuacct.usage_all", words[2], line)?,
            ));
        }
        Ok(CpuUsage::PerCpu(rows))
    }

    /// `cpuacct.usage_percpu`: total ns per cpu; counted as user time.
    pub fn parse_usage_percpu(text: &str) -> Result<Self> {
        let rows = text
            .split_whitespace()
            .enumerate()
            .map(|(i, w)| Ok((i as u32, parse_u64("cpuacct.usage_percpu", w, text)?, 0)))
            .collect::<Result<Vec<_>>>()?;
        Ok(CpuUsage::PerCpu(rows))
    }
}

/// Block I/O counters of one device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoCounters {
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub read_ios: u64,
    pub write_ios: u64,
}

/// Block I/O counters per `(major, minor)` device.
pub type IoByDevice = HashMap<(u32, u32), IoCounters>;

fn parse_device(word: &str, file: &'static str, line: &str) -> Result<(u32, u32)> {
    let (major, minor) = word
        .split_once(':')
        .ok_or_else(|| CgroupError::parse(file, "expected MAJOR:MINOR", line))?;
    let num = |w: &str| -> Result<u32> {
        w.parse()
            .map_err(|_| CgroupError::parse(file, "bad device number", line))
    };
    Ok((num(major)?, num(minor)?))
}

/// Parses v1 `blkio.throttle.io_service_bytes_recursive` and `io_serviced_recursive`.
pub fn parse_blkio_v1(bytes: &str, serviced: &str) -> Result<IoByDevice> {
    let mut devices = IoByDevice::new();
    for (text, is_bytes) in [(bytes, true), (serviced, false)] {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.first() == Some(&"Total") {
                continue;
            }
            if words.len() != 3 {
                return Err(CgroupError::parse(
                    "blkio",
                    "expected 'MAJ:MIN OP VALUE'",
                    line,
                ));
            }
            let device = parse_device(words[0], "blkio", line)?;
            let value = parse_u64("blkio", words[2], line)?;
            let counters = devices.entry(device).or_default();
            match (words[1], is_bytes) {
                ("Read", true) => counters.read_bytes = value,
                ("Write", true) => counters.write_bytes = value,
                ("Read", false) => counters.read_ios = value,
                ("Write", false) => counters.write_ios = value,
                _ => {}
            }
        }
    }
    Ok(devices)
}

/// Parses v2 `io.stat` (`MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=..`).
pub fn parse_io_stat(text: &str) -> Result<IoByDevice> {
    let mut devices = IoByDevice::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = line.split_whitespace();
        let device = parse_device(words.next().unwrap_or_default(), "io.stat", line)?;
        let counters = devices.entry(device).or_default();
        for word in words {
            let (key, value) = word
                .split_once('=')
                .ok_or_else(|| CgroupError::parse("io.stat", "expected key=value", line))?;
            let value = parse_u64("io.stat", value, line)?;
            match key {
                "rbytes" => counters.read_bytes = value,
                "wbytes" => counters.write_bytes = value,
                "rios" => counters.read_ios = value,
                "wios" => counters.write_ios = value,
                _ => {}
            }
        }
    }
    Ok(devices)
}

/// Reads the container's block I/O counters; `None` when the cgroup offers none.
pub fn read_io(
    version: Version,
    dir: &CgroupDir,
    files: &impl FileReader,
) -> Result<Option<IoByDevice>> {
    match version {
        Version::V1 => {
            let bytes =
                dir.read_optional_with("blkio.throttle.io_service_bytes_recursive", files)?;
            let serviced = dir.read_optional_with("blkio.throttle.io_serviced_recursive", files)?;
            match (bytes, serviced) {
                (Some(b), Some(s)) => Ok(Some(parse_blkio_v1(&b, &s)?)),
                _ => Ok(None),
            }
        }
        Version::V2 => dir
            .read_optional_with("io.stat", files)?
            .map(|t| parse_io_stat(&t))
            .transpose(),
    }
}

/// Thread ids of every task in the cgroup and its descendants.
pub fn list_tasks(version: Version, dir: &CgroupDir) -> Result<Vec<i32>> {
    let file = match version {
        Version::V1 => "tasks",
        Version::V2 => "cgroup.threads",
    };
    let mut tasks = Vec::new();
    let mut pending = vec![dir.path()];
    while let Some(path) = pending.pop() {
        let Some(text) = optional(read_string(&path.join(file)))? else {
            continue;
        };
        tasks.extend(
            text.split_whitespace()
                .filter_map(|w| w.parse::<i32>().ok()),
        );
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(entry.path());
            }
        }
    }
    Ok(tasks)
}

/// A cgroup's own memory usage and limit in bytes (`None`: unlimited), as `stats` shows them.
pub fn read_memory_usage(version: Version, dir: &Path) -> Result<(u64, Option<u64>)> {
    let (usage_file, limit_file) = match version {
        Version::V1 => ("memory.usage_in_bytes", "memory.limit_in_bytes"),
        Version::V2 => ("memory.current", "memory.max"),
    };
    let usage = read_string(&dir.join(usage_file))?;
    let usage = parse_u64(usage_file, &usage, usage.trim())?;
    let limit = parse_limit(limit_file, &read_string(&dir.join(limit_file))?)?;
    Ok((usage, limit))
}

/// CPU time a v1 cgroup used, from `cpuacct.usage`, in nanoseconds.
pub fn read_cpuacct_usage_ns(dir: &Path) -> Result<u64> {
    let text = read_string(&dir.join("cpuacct.usage"))?;
    parse_u64("cpuacct.usage", &text, text.trim())
}

/// CPU time a v2 cgroup used, from `usage_usec` of `cpu.stat`, in nanoseconds.
pub fn read_cpu_stat_usage_ns(dir: &Path) -> Result<u64> {
    let text = read_string(&dir.join("cpu.stat"))?;
    let usec = parse_flat_keyed("cpu.stat", &text)?
        .get("usage_usec")
        .copied()
        .ok_or_else(|| CgroupError::parse("cpu.stat", "no usage_usec", &text))?;
    Ok(usec.saturating_mul(1000))
}

/// `pids.current` (v1 and v2).
pub fn read_pids_current(dir: &Path) -> Result<u64> {
    let text = read_string(&dir.join("pids.current"))?;
    parse_u64("pids.current", &text, text.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_parsers() {
        let v1 = parse_blkio_v1(
            "8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\nTotal 12288\n",
            "8:0 Read 1\n8:0 Write 2\nTotal 3\n",
        )
        .unwrap();
        assert_eq!(
            v1[&(8, 0)],
            IoCounters {
                read_bytes: 4096,
                write_bytes: 8192,
                read_ios: 1,
                write_ios: 2
            }
        );
        let v2 =
            parse_io_stat("8:0 rbytes=512 wbytes=1024 rios=1 wios=2 dbytes=0 dios=0\n").unwrap();
        assert_eq!(v2[&(8, 0)].write_bytes, 1024);
        assert!(parse_io_stat("8-0 rbytes=1\n").is_err());
        assert!(parse_blkio_v1("8:0 Read\n", "").is_err());
    }

    #[test]
    fn cpu_parsers() {
        assert_eq!(parse_cpu_max("max 100000\n").unwrap(), None);
        assert_eq!(
            parse_cpu_max("150000 100000\n").unwrap(),
            Some((150000, 100000))
        );
        assert!(parse_cpu_max("150000\n").is_err());
        assert_eq!(
            CpuUsage::parse_usage_all("cpu user system\n0 10 20\n1 30 40\n").unwrap(),
            CpuUsage::PerCpu(vec![(0, 10, 20), (1, 30, 40)])
        );
        assert!(CpuUsage::parse_usage_all("cpu user system\n0 10\n").is_err());
        assert_eq!(
            CpuUsage::parse_usage_percpu("5 6 \n").unwrap(),
            CpuUsage::PerCpu(vec![(0, 5, 0), (1, 6, 0)])
        );
        assert!(parse_flat_keyed("memory.stat", "cache x\n").is_err());
    }

    #[test]
    fn memory_stat_takes_each_versions_keys() {
        let v1 = MemoryStat::parse(
            Version::V1,
            "cache 1\nrss 2\ntotal_cache 10\ntotal_rss 20\ntotal_shmem 3\ntotal_mapped_file 4\n\
             total_dirty 5\ntotal_writeback 6\ntotal_active_anon 7\ntotal_inactive_anon 8\n\
             total_active_file 9\ntotal_inactive_file 11\ntotal_unevictable 12\nfile 99\n",
        )
        .unwrap();
        assert_eq!(
            v1,
            MemoryStat {
                file: 10,
                anon: 20,
                shmem: 3,
                mapped: 4,
                dirty: 5,
                writeback: 6,
                active_anon: 7,
                inactive_anon: 8,
                active_file: 9,
                inactive_file: 11,
                unevictable: 12,
                slab_reclaimable: 0,
                slab_unreclaimable: 0,
            }
        );
        let v2 = MemoryStat::parse(
            Version::V2,
            "anon 1\nfile 2\nshmem 3\nfile_mapped 4\nfile_dirty 5\nfile_writeback 6\n\
             slab_reclaimable 7\nslab_unreclaimable 8\ntotal_cache 99\n",
        )
        .unwrap();
        assert_eq!(
            (
                v2.anon,
                v2.file,
                v2.shmem,
                v2.mapped,
                v2.dirty,
                v2.writeback
            ),
            (1, 2, 3, 4, 5, 6)
        );
        assert_eq!((v2.slab_reclaimable, v2.slab_unreclaimable), (7, 8));
        // Every line must parse, wanted or not.
        assert!(MemoryStat::parse(Version::V2, "anon 1\nunknown x\n").is_err());
        assert!(MemoryStat::parse(Version::V1, "total_cache\n").is_err());
    }

    #[test]
    fn parses_ranges_and_singles() {
        assert_eq!(
            parse_cpu_list("0-2,5,7-8\n").unwrap(),
            vec![0, 1, 2, 5, 7, 8]
        );
        assert_eq!(parse_cpu_list("\n").unwrap(), Vec::<u32>::new());
        assert_eq!(parse_cpu_list("3,1,1").unwrap(), vec![1, 3]);
    }

    #[test]
    fn rejects_malformed() {
        assert!(parse_cpu_list("a-b").is_err());
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("0-99999999").is_err());
    }

    #[test]
    fn usage_readers_for_stats() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("memory.usage_in_bytes"), "4096\n").unwrap();
        std::fs::write(d.join("memory.limit_in_bytes"), "9223372036854771712\n").unwrap();
        assert_eq!(read_memory_usage(Version::V1, d).unwrap(), (4096, None));
        std::fs::write(d.join("memory.current"), "100\n").unwrap();
        std::fs::write(d.join("memory.max"), "1048576\n").unwrap();
        assert_eq!(
            read_memory_usage(Version::V2, d).unwrap(),
            (100, Some(1048576))
        );
        std::fs::write(d.join("cpuacct.usage"), "123456\n").unwrap();
        assert_eq!(read_cpuacct_usage_ns(d).unwrap(), 123456);
        std::fs::write(
            d.join("cpu.stat"),
            "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n",
        )
        .unwrap();
        assert_eq!(read_cpu_stat_usage_ns(d).unwrap(), 1_500_000);
        std::fs::write(d.join("pids.current"), "7\n").unwrap();
        assert_eq!(read_pids_current(d).unwrap(), 7);
        std::fs::write(d.join("pids.current"), "x\n").unwrap();
        assert!(read_pids_current(d).is_err());
    }
}

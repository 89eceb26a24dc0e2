//! Cgroup hierarchies (from mountinfo), a process's cgroup per controller (from
//! `/proc/PID/cgroup`), and readers that turn cgroup files into plain structs. Every controller
//! is looked up at its own path: a process may sit in different cgroups per hierarchy.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::error::{parse_u64, read_string, Error, Result};

/// Limits at or above this are "unlimited" on cgroup v1 (the kernel reports a page-aligned
/// `LONG_MAX`).
const V1_UNLIMITED: u64 = 1 << 62;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// A mounted cgroup hierarchy: where it is mounted and which cgroup is its mount root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub mountpoint: PathBuf,
    pub root: String,
}

/// All cgroup hierarchies visible to this process, keyed by v1 controller (`memory`,
/// `name=systemd`, ...) plus the unified (v2) hierarchy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupLayout {
    pub v1: HashMap<String, Hierarchy>,
    pub unified: Option<Hierarchy>,
}

/// Super-block options of v1 cgroup mounts that are not controllers.
const NON_CONTROLLER_OPTIONS: &[&str] = &[
    "rw",
    "ro",
    "noprefix",
    "clone_children",
    "xattr",
    "cpuset_v2_mode",
    "favordynmods",
];

fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() {
            let oct = &field[i + 1..i + 4];
            if let Ok(v) = u8::from_str_radix(oct, 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl CgroupLayout {
    /// Builds the layout from `/proc/self/mountinfo` text. The first mount of a hierarchy wins.
    pub fn parse_mountinfo(text: &str) -> Result<Self> {
        let mut layout = CgroupLayout::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (left, right) = line
                .split_once(" - ")
                .ok_or_else(|| Error::parse("mountinfo", "missing ' - ' separator", line))?;
            let left: Vec<&str> = left.split_whitespace().collect();
            let right: Vec<&str> = right.split_whitespace().collect();
            if left.len() < 5 || right.len() < 3 {
                return Err(Error::parse("mountinfo", "too few fields", line));
            }
            let hierarchy = Hierarchy {
                root: unescape_mountinfo(left[3]),
                mountpoint: PathBuf::from(unescape_mountinfo(left[4])),
            };
            match right[0] {
                "cgroup2" => {
                    layout.unified.get_or_insert(hierarchy);
                }
                "cgroup" => {
                    for opt in right[2].split(',') {
                        let is_controller = !NON_CONTROLLER_OPTIONS.contains(&opt)
                            && (!opt.contains('=') || opt.starts_with("name="));
                        if is_controller {
                            layout
                                .v1
                                .entry(opt.to_string())
                                .or_insert_with(|| hierarchy.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(layout)
    }

    pub fn from_system() -> Result<Self> {
        Self::parse_mountinfo(&read_string(Path::new("/proc/self/mountinfo"))?)
    }

    /// The directory of `proc`'s cgroup for a v1 controller, if that hierarchy is mounted.
    pub fn v1_dir(&self, controller: &str, proc: &ProcessCgroups) -> Option<CgroupDir> {
        let hierarchy = self.v1.get(controller)?;
        let path = proc.v1.get(controller)?;
        CgroupDir::new(hierarchy, path)
    }

    pub fn v2_dir(&self, proc: &ProcessCgroups) -> Option<CgroupDir> {
        CgroupDir::new(self.unified.as_ref()?, proc.unified.as_deref()?)
    }

    /// The v1 directory of `controller` if mounted, else the unified directory.
    pub fn dir(&self, controller: &str, proc: &ProcessCgroups) -> Option<(Version, CgroupDir)> {
        if let Some(dir) = self.v1_dir(controller, proc) {
            return Some((Version::V1, dir));
        }
        self.v2_dir(proc).map(|d| (Version::V2, d))
    }
}

/// Parsed `/proc/PID/cgroup`: v1 controller → path, and the v2 path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessCgroups {
    pub v1: HashMap<String, String>,
    pub unified: Option<String>,
}

impl ProcessCgroups {
    pub fn parse(text: &str) -> Result<Self> {
        let mut cgroups = ProcessCgroups::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let mut parts = line.splitn(3, ':');
            let (Some(id), Some(controllers), Some(path)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(Error::parse("cgroup", "expected ID:CONTROLLERS:PATH", line));
            };
            if id.parse::<u32>().is_err() || !path.starts_with('/') {
                return Err(Error::parse(
                    "cgroup",
                    "expected ID:CONTROLLERS:/PATH",
                    line,
                ));
            }
            if id == "0" && controllers.is_empty() {
                cgroups.unified = Some(path.to_string());
            } else {
                for controller in controllers.split(',').filter(|c| !c.is_empty()) {
                    cgroups.v1.insert(controller.to_string(), path.to_string());
                }
            }
        }
        Ok(cgroups)
    }

    pub fn read(pid: i32) -> Result<Self> {
        Self::parse(&read_string(Path::new(&format!("/proc/{pid}/cgroup")))?)
    }

    /// The cgroups of the container whose init this is: a systemd init moves itself into
    /// `init.scope` below the container's cgroup, which holds only PID 1, while the
    /// container's usage (and its own limits) are one level up. Like lxcfs, a trailing
    /// `/init.scope` is dropped.
    pub fn of_container_init(mut self) -> Self {
        fn prune(path: &mut String) {
            if let Some(parent) = path.strip_suffix("/init.scope") {
                *path = if parent.is_empty() {
                    "/".to_string()
                } else {
                    parent.to_string()
                };
            }
        }
        self.v1.values_mut().for_each(prune);
        if let Some(path) = self.unified.as_mut() {
            prune(path);
        }
        self
    }
}

/// One cgroup directory: the hierarchy mount point and the cgroup path below the mount root.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CgroupDir {
    pub mountpoint: PathBuf,
    /// Normal components only (never `..`).
    pub relative: PathBuf,
}

impl CgroupDir {
    /// Maps a cgroup path as seen in `/proc/PID/cgroup` into a directory under the hierarchy's
    /// mount point. Paths outside the mount root (another cgroup namespace) map to the root.
    pub fn new(hierarchy: &Hierarchy, cgroup_path: &str) -> Option<Self> {
        let root = Path::new(&hierarchy.root);
        let path = Path::new(cgroup_path);
        let below = path.strip_prefix(root).unwrap_or(Path::new(""));
        let mut relative = PathBuf::new();
        for component in below.components() {
            match component {
                Component::Normal(c) => relative.push(c),
                Component::RootDir | Component::CurDir => {}
                Component::ParentDir | Component::Prefix(_) => return None,
            }
        }
        Some(CgroupDir {
            mountpoint: hierarchy.mountpoint.clone(),
            relative,
        })
    }

    pub fn path(&self) -> PathBuf {
        self.mountpoint.join(&self.relative)
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    /// This cgroup and each ancestor up to and including the mount root, deepest first.
    pub fn self_and_ancestors(&self) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        let mut relative = self.relative.clone();
        loop {
            dirs.push(self.mountpoint.join(&relative));
            if !relative.pop() {
                break;
            }
        }
        dirs
    }

    fn read(&self, name: &str) -> Result<String> {
        read_string(&self.file(name))
    }

    /// Reads an optional file: `Ok(None)` if it does not exist.
    fn read_optional(&self, name: &str) -> Result<Option<String>> {
        optional(self.read(name))
    }
}

fn optional(r: Result<String>) -> Result<Option<String>> {
    match r {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
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
            .ok_or_else(|| Error::parse(file, "expected 'key value'", line))?;
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
                .ok_or_else(|| Error::parse("memory.stat", "expected 'key value'", line))?;
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
pub fn read_cpuset(version: Version, dir: &CgroupDir) -> Result<Option<Vec<u32>>> {
    let names: &[&str] = match version {
        Version::V1 => &["cpuset.effective_cpus", "cpuset.cpus"],
        Version::V2 => &["cpuset.cpus.effective"],
    };
    for name in names {
        if let Some(text) = dir.read_optional(name)? {
            let cpus = crate::cpuset::parse_cpu_list(&text)?;
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
                            Error::parse("cpu.cfs_quota_us", "expected an integer", q.trim())
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
        return Err(Error::parse(
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
    pub fn read(version: Version, dir: &CgroupDir) -> Result<Option<Self>> {
        match version {
            Version::V1 => {
                if let Some(text) = dir.read_optional("cpuacct.usage_all")? {
                    return Ok(Some(Self::parse_usage_all(&text)?));
                }
                match dir.read_optional("cpuacct.usage_percpu")? {
                    Some(text) => Ok(Some(Self::parse_usage_percpu(&text)?)),
                    None => Ok(None),
                }
            }
            Version::V2 => match dir.read_optional("cpu.stat")? {
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
                return Err(Error::parse("cpuacct.usage_all", "expected 3 fields", line));
            }
            let cpu = parse_u64("cpuacct.usage_all", words[0], line)?;
            let cpu = u32::try_from(cpu)
                .map_err(|_| Error::parse("cpuacct.usage_all", "cpu number too large", line))?;
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
        .ok_or_else(|| Error::parse(file, "expected MAJOR:MINOR", line))?;
    let num = |w: &str| -> Result<u32> {
        w.parse()
            .map_err(|_| Error::parse(file, "bad device number", line))
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
                return Err(Error::parse("blkio", "expected 'MAJ:MIN OP VALUE'", line));
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
                .ok_or_else(|| Error::parse("io.stat", "expected key=value", line))?;
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
pub fn read_io(version: Version, dir: &CgroupDir) -> Result<Option<IoByDevice>> {
    match version {
        Version::V1 => {
            let bytes = dir.read_optional("blkio.throttle.io_service_bytes_recursive")?;
            let serviced = dir.read_optional("blkio.throttle.io_serviced_recursive")?;
            match (bytes, serviced) {
                (Some(b), Some(s)) => Ok(Some(parse_blkio_v1(&b, &s)?)),
                _ => Ok(None),
            }
        }
        Version::V2 => dir
            .read_optional("io.stat")?
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

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
50 31 0:32 /sub /mnt/mem\\040x rw,relatime - cgroup cgroup rw,memory
";

    #[test]
    fn layout_from_hybrid_mountinfo() {
        let layout = CgroupLayout::parse_mountinfo(MOUNTINFO).unwrap();
        assert_eq!(layout.v1["cpu"].mountpoint, Path::new("/sys/fs/cgroup/cpu"));
        assert_eq!(
            layout.v1["cpuacct"].mountpoint,
            Path::new("/sys/fs/cgroup/cpuacct")
        );
        assert_eq!(
            layout.v1["memory"].mountpoint,
            Path::new("/sys/fs/cgroup/memory")
        );
        assert!(layout.v1.contains_key("name=systemd"));
        assert!(!layout.v1.contains_key("xattr"));
        assert_eq!(
            layout.unified.as_ref().unwrap().mountpoint,
            Path::new("/sys/fs/cgroup/unified")
        );
        assert!(CgroupLayout::parse_mountinfo("garbage line\n").is_err());
        assert_eq!(unescape_mountinfo("/mnt/mem\\040x"), "/mnt/mem x");
    }

    #[test]
    fn process_cgroups_use_each_controllers_own_path() {
        let layout = CgroupLayout::parse_mountinfo(MOUNTINFO).unwrap();
        let proc = ProcessCgroups::parse(
            "9:name=systemd:/sys\n4:memory:/mem/c1\n2:cpuacct:/acct/c1\n1:cpu:/cpu/c1\n0::/uni/c1\n",
        )
        .unwrap();
        assert_eq!(
            layout.v1_dir("memory", &proc).unwrap().path(),
            Path::new("/sys/fs/cgroup/memory/mem/c1")
        );
        assert_eq!(
            layout.v1_dir("cpuacct", &proc).unwrap().path(),
            Path::new("/sys/fs/cgroup/cpuacct/acct/c1")
        );
        let (version, dir) = layout.dir("pids", &proc).unwrap();
        assert_eq!(version, Version::V2);
        assert_eq!(dir.path(), Path::new("/sys/fs/cgroup/unified/uni/c1"));
        assert!(ProcessCgroups::parse("x:memory:/a\n").is_err());
        assert!(ProcessCgroups::parse("4:memory\n").is_err());
        assert!(ProcessCgroups::parse("4:memory:relative\n").is_err());
    }

    #[test]
    fn cgroup_dir_rejects_parent_components_and_strips_root() {
        let h = Hierarchy {
            mountpoint: "/m".into(),
            root: "/sub".into(),
        };
        assert_eq!(
            CgroupDir::new(&h, "/sub/a").unwrap().path(),
            Path::new("/m/a")
        );
        assert!(CgroupDir::new(&h, "/sub/../x").is_none());
        let d = CgroupDir::new(&h, "/sub/a/b").unwrap();
        assert_eq!(
            d.self_and_ancestors(),
            vec![PathBuf::from("/m/a/b"), "/m/a".into(), "/m".into()]
        );
    }

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
    fn container_init_drops_systemds_init_scope() {
        let c = ProcessCgroups::parse(
            "4:memory:/ctr/init.scope\n3:cpuset:/ctr\n2:pids:/init.scope\n1:cpu:/a/init.scope.x\n0::/ctr/init.scope\n",
        )
        .unwrap()
        .of_container_init();
        assert_eq!(c.v1["memory"], "/ctr");
        assert_eq!(c.v1["cpuset"], "/ctr");
        assert_eq!(c.v1["pids"], "/");
        assert_eq!(c.v1["cpu"], "/a/init.scope.x");
        assert_eq!(c.unified.as_deref(), Some("/ctr"));
    }
}

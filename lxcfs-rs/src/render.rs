//! Thin I/O around the pure views: reads exactly the host and cgroup files a view needs
//! and renders it for the host or for one container.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cgroup::stats::{self as cgroup, CpuUsage, MemoryCgroup};
use crate::cgroup::{CgroupDir, CgroupLayout, Controller, ProcessCgroups, Version};
use crate::error::{read_string, Result};
use crate::host::{self, Cpuinfo, Loadavg, Meminfo, Stat, Uptime};
use crate::kernfiles::{self, KeptFiles};
use crate::views;

/// The files the daemon serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewFile {
    Cpuinfo,
    Meminfo,
    Stat,
    Diskstats,
    Partitions,
    Swaps,
    Uptime,
    Loadavg,
    CpuOnline,
}

impl ViewFile {
    pub const ALL: [ViewFile; 9] = [
        ViewFile::Cpuinfo,
        ViewFile::Meminfo,
        ViewFile::Stat,
        ViewFile::Diskstats,
        ViewFile::Partitions,
        ViewFile::Swaps,
        ViewFile::Uptime,
        ViewFile::Loadavg,
        ViewFile::CpuOnline,
    ];

    /// Whether a container's rendering may be served again for up to
    /// [`crate::cache::VIEW_TTL`]: the views that read several files. `uptime` (which must
    /// count from the init's start to the moment of the read) and `loadavg` (sampled on its
    /// own) are rendered at every open.
    pub fn cacheable(self) -> bool {
        !matches!(self, ViewFile::Uptime | ViewFile::Loadavg)
    }

    /// The cgroup limit files a container's rendering depends on, as (controller, the files
    /// in v1, the files in v2, whether the ancestors' files count too, whether a change is
    /// always a write to one of them). Usage counters are not listed: they may be up to
    /// [`crate::cache::VIEW_TTL`] old, a limit never.
    fn limit_files(self, cfs: bool) -> Vec<LimitFiles> {
        const MEMORY: LimitFiles = LimitFiles {
            controller: Controller::Memory,
            v1: &["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"],
            v2: &["memory.max", "memory.swap.max"],
            ancestors: true,
            written: true,
            first_present: false,
        };
        // The effective cpuset also changes without a write to it: a parent's cpuset
        // shrinking (v1 and v2) and CPU hotplug.
        const CPUSET: LimitFiles = LimitFiles {
            controller: Controller::Cpuset,
            v1: &["cpuset.effective_cpus", "cpuset.cpus"],
            v2: &["cpuset.cpus.effective"],
            ancestors: false,
            written: false,
            first_present: true,
        };
        const CFS: LimitFiles = LimitFiles {
            controller: Controller::Cpu,
            v1: &["cpu.cfs_quota_us", "cpu.cfs_period_us"],
            v2: &["cpu.max"],
            ancestors: true,
            written: true,
            first_present: false,
        };
        match self {
            ViewFile::Meminfo | ViewFile::Swaps => vec![MEMORY],
            ViewFile::Cpuinfo | ViewFile::CpuOnline | ViewFile::Stat if cfs => vec![CPUSET, CFS],
            ViewFile::Cpuinfo | ViewFile::CpuOnline | ViewFile::Stat => vec![CPUSET],
            _ => Vec::new(),
        }
    }

    /// Whether the view depends on the host's online CPUs (changed by hotplug, no write).
    fn reads_online_cpus(self) -> bool {
        matches!(
            self,
            ViewFile::Cpuinfo | ViewFile::CpuOnline | ViewFile::Stat
        )
    }

    /// Path below the mount point, which is also the path below `/` in a container.
    pub fn relative_path(self) -> &'static str {
        match self {
            ViewFile::Cpuinfo => "proc/cpuinfo",
            ViewFile::Meminfo => "proc/meminfo",
            ViewFile::Stat => "proc/stat",
            ViewFile::Diskstats => "proc/diskstats",
            ViewFile::Partitions => "proc/partitions",
            ViewFile::Swaps => "proc/swaps",
            ViewFile::Uptime => "proc/uptime",
            ViewFile::Loadavg => "proc/loadavg",
            ViewFile::CpuOnline => "sys/devices/system/cpu/online",
        }
    }
}

/// Daemon options that change views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// `--enable-cfs`: narrow the CPU count to the CFS quota.
    pub cfs: bool,
    /// Cleared by `-u`: report no swap.
    pub swap: bool,
    /// `-l`: per-container load average.
    pub loadavg: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cfs: false,
            swap: true,
            loadavg: false,
        }
    }
}

/// Where host files are read from (fixture trees in tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPaths {
    pub proc: PathBuf,
    pub sys: PathBuf,
}

impl Default for HostPaths {
    fn default() -> Self {
        HostPaths {
            proc: "/proc".into(),
            sys: "/sys".into(),
        }
    }
}

impl HostPaths {
    pub fn file(&self, view: ViewFile) -> PathBuf {
        match view {
            ViewFile::CpuOnline => self.sys.join("devices/system/cpu/online"),
            _ => self
                .proc
                .join(view.relative_path().trim_start_matches("proc/")),
        }
    }

    fn proc_file(&self, name: &str) -> PathBuf {
        self.proc.join(name)
    }
}

#[derive(Debug, Clone, Copy)]
struct LimitFiles {
    controller: Controller,
    v1: &'static [&'static str],
    v2: &'static [&'static str],
    ancestors: bool,
    /// Every change of these limits is a write(2) to one of the files, which inotify sees
    /// ([`crate::watch::LimitWatch`]); otherwise the files are re-read at every open.
    written: bool,
    /// The files are alternatives: only the first one present is read (as the view does).
    first_present: bool,
}

/// Which limit files [`Renderer::limits`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSet {
    /// Every limit file (no watch available).
    All,
    /// Only those whose changes a watch cannot see.
    Unwatchable,
}

/// The contents of the limit files a view depends on (`None` for an absent file), read at
/// one moment: two equal [`Limits`] mean the view's limits did not change in between.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits(pub Vec<Option<String>>);

/// A container as seen through its init process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub init_pid: i32,
    /// `starttime` of the init, ticks after host boot.
    pub init_start_ticks: u64,
    pub cgroups: ProcessCgroups,
}

/// Per-cgroup load averages, sampled by a background thread.
#[derive(Debug, Default)]
pub struct LoadTracker {
    states: Mutex<HashMap<CgroupDir, TrackedLoad>>,
}

#[derive(Debug, Clone, Copy)]
struct TrackedLoad {
    version: Version,
    state: views::loadavg::LoadState,
    last_read: Instant,
}

/// Cgroups whose load nobody read for this long stop being sampled.
const LOAD_IDLE_EXPIRY: Duration = Duration::from_secs(600);

impl LoadTracker {
    /// Current load of `dir`; the first call registers it for sampling.
    pub fn get(&self, version: Version, dir: &CgroupDir, proc: &Path) -> views::loadavg::LoadState {
        if let Some(tracked) = self.lock().get_mut(dir) {
            tracked.last_read = Instant::now();
            return tracked.state;
        }
        let mut state = views::loadavg::LoadState::default();
        let (running, total) = count_tasks(version, dir, proc);
        state.sample(running, total);
        self.lock().insert(
            dir.clone(),
            TrackedLoad {
                version,
                state,
                last_read: Instant::now(),
            },
        );
        state
    }

    /// Takes one sample of every registered cgroup; forgets vanished or unread ones.
    pub fn sample_all(&self, proc: &Path) {
        let dirs: Vec<(CgroupDir, Version)> = {
            let mut states = self.lock();
            states.retain(|dir, t| t.last_read.elapsed() < LOAD_IDLE_EXPIRY && dir.path().is_dir());
            states.iter().map(|(d, t)| (d.clone(), t.version)).collect()
        };
        for (dir, version) in dirs {
            let (running, total) = count_tasks(version, &dir, proc);
            if let Some(tracked) = self.lock().get_mut(&dir) {
                tracked.state.sample(running, total);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CgroupDir, TrackedLoad>> {
        self.states.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `Ok(None)` for a file that does not exist.
fn optional(read: Result<String>) -> Result<Option<String>> {
    match read {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// (usage, `memory.stat`, swap usage) of a memory cgroup: what [`MemoryCgroup::read`] reads
/// besides the limits (v1 swap usage = memsw usage − usage).
fn read_memory_usage(
    version: Version,
    dir: &Path,
) -> Result<(u64, cgroup::MemoryStat, Option<u64>)> {
    use crate::cgroup::read::parse_u64;
    let (usage_file, swap_file) = match version {
        Version::V1 => ("memory.usage_in_bytes", "memory.memsw.usage_in_bytes"),
        Version::V2 => ("memory.current", "memory.swap.current"),
    };
    let usage = parse_u64(
        usage_file,
        &kernfiles::read_string(&dir.join(usage_file))?,
        "",
    )?;
    let stat =
        cgroup::MemoryStat::parse(version, &kernfiles::read_string(&dir.join("memory.stat"))?)?;
    let swap = optional(kernfiles::read_string(&dir.join(swap_file)))?
        .map(|t| parse_u64(swap_file, &t, &t))
        .transpose()?;
    let swap_usage = match version {
        Version::V1 => swap.map(|memsw| memsw.saturating_sub(usage)),
        Version::V2 => swap,
    };
    Ok((usage, stat, swap_usage))
}

/// (runnable or uninterruptible tasks, all tasks) of a cgroup subtree, as the kernel counts load.
fn count_tasks(version: Version, dir: &CgroupDir, proc: &Path) -> (u64, u64) {
    let tasks = cgroup::list_tasks(version, dir).unwrap_or_default();
    let running = tasks
        .iter()
        .filter(|tid| {
            read_string(&proc.join(tid.to_string()).join("stat"))
                .and_then(|s| host::parse_pid_state(&s))
                .is_ok_and(|state| state == 'R' || state == 'D')
        })
        .count();
    (running as u64, tasks.len() as u64)
}

/// Renders views from host files and cgroup hierarchies.
#[derive(Debug)]
pub struct Renderer {
    pub layout: CgroupLayout,
    pub host: HostPaths,
    pub options: Options,
    pub ticks_per_sec: u64,
    pub loads: LoadTracker,
    /// (memory limit, swap limit) over the hierarchy of a memory cgroup, with the watch
    /// generation they were read at: reused only at that generation, i.e. while no limit
    /// file was written.
    memory_limits: Mutex<HashMap<PathBuf, (u64, MemoryLimits)>>,
}

type MemoryLimits = (Option<u64>, Option<u64>);

/// At most this many cgroups' memory limits are kept.
const MAX_MEMORY_LIMITS: usize = 4096;

impl Renderer {
    pub fn new(
        layout: CgroupLayout,
        host: HostPaths,
        options: Options,
        ticks_per_sec: u64,
    ) -> Self {
        Renderer {
            layout,
            host,
            options,
            ticks_per_sec,
            loads: LoadTracker::default(),
            memory_limits: Mutex::new(HashMap::new()),
        }
    }

    /// The host's own file, unchanged.
    pub fn render_host(&self, view: ViewFile) -> Result<Vec<u8>> {
        kernfiles::read_bytes(&self.host.file(view))
    }

    /// The container's view of `view`, falling back to the host file when the container's
    /// cgroups do not offer what the view needs.
    pub fn render(&self, view: ViewFile, container: &Container) -> Result<Vec<u8>> {
        self.render_at(view, container, None)
    }

    /// Like [`Renderer::render`]; `generation` is the current generation of a
    /// [`crate::watch::LimitWatch`] that watches this view's limit files, if any: limits read
    /// at that same generation are reused instead of read again.
    pub fn render_at(
        &self,
        view: ViewFile,
        container: &Container,
        generation: Option<u64>,
    ) -> Result<Vec<u8>> {
        match self.render_container(view, container, generation) {
            Ok(Some(text)) => Ok(text.into_bytes()),
            Ok(None) => self.render_host(view),
            Err(e) if e.is_not_found() => {
                tracing::debug!(
                    ?view,
                    init = container.init_pid,
                    "falling back to host view: {e}"
                );
                self.render_host(view)
            }
            Err(e) => Err(e),
        }
    }

    /// Reads afresh the limits `view` depends on for `container` (memory and swap limits,
    /// cpuset, CFS quota, the host's online CPUs), or with [`LimitSet::Unwatchable`] those of
    /// them a watch cannot follow, so that a cached rendering is served only while they are
    /// unchanged.
    pub fn limits(&self, view: ViewFile, container: &Container, set: LimitSet) -> Result<Limits> {
        let mut values = Vec::new();
        for files in view.limit_files(self.options.cfs) {
            if set == LimitSet::Unwatchable && files.written {
                continue;
            }
            for path in self.limit_paths(&files, container) {
                let value = match path {
                    Some(path) => optional(kernfiles::read_string(&path))?,
                    None => None,
                };
                let found = value.as_deref().is_some_and(|t| !t.trim().is_empty());
                values.push(value);
                if found && files.first_present {
                    break;
                }
            }
        }
        if view.reads_online_cpus() {
            let online = kernfiles::read_string(&self.host.file(ViewFile::CpuOnline));
            values.push(optional(online)?);
        }
        Ok(Limits(values))
    }

    /// The limit files of `view` for `container` whose every change is a write to them:
    /// what a [`crate::watch::LimitWatch`] must watch.
    pub fn watched_limit_files(&self, view: ViewFile, container: &Container) -> Vec<PathBuf> {
        view.limit_files(self.options.cfs)
            .iter()
            .filter(|files| files.written)
            .flat_map(|files| self.limit_paths(files, container))
            .flatten()
            .collect()
    }

    /// The paths of `files` for `container` (`None` where the controller is not mounted).
    fn limit_paths(&self, files: &LimitFiles, container: &Container) -> Vec<Option<PathBuf>> {
        let Some((version, dir)) = self.layout.dir(files.controller, &container.cgroups) else {
            return vec![None];
        };
        let names = match version {
            Version::V1 => files.v1,
            Version::V2 => files.v2,
        };
        let dirs = if files.ancestors {
            dir.self_and_ancestors()
        } else {
            vec![dir.path()]
        };
        dirs.iter()
            .flat_map(|dir| names.iter().map(move |name| Some(dir.join(name))))
            .collect()
    }

    fn host_text(&self, name: &str) -> Result<String> {
        kernfiles::read_string(&self.host.proc_file(name))
    }

    fn host_online(&self) -> Result<Vec<u32>> {
        Ok(crate::cpuset::parse_cpu_list(&kernfiles::read_string(
            &self.host.file(ViewFile::CpuOnline),
        )?)?)
    }

    /// Physical CPUs visible to the container.
    pub fn visible_cpus(&self, container: &Container) -> Result<Vec<u32>> {
        Ok(self.cpu_sets(container)?.0)
    }

    /// (CPUs shown, CPUs the container's time is accounted on): the second is the cpuset
    /// before `--enable-cfs` narrowed it.
    fn cpu_sets(&self, container: &Container) -> Result<(Vec<u32>, Vec<u32>)> {
        let cpuset = match self.layout.dir(Controller::Cpuset, &container.cgroups) {
            Some((version, dir)) => cgroup::read_cpuset(version, &dir, &KeptFiles)?,
            None => None,
        };
        let cfs = match (
            self.options.cfs,
            self.layout.dir(Controller::Cpu, &container.cgroups),
        ) {
            (true, Some((version, dir))) => cgroup::read_cfs_cpu_limit(version, &dir)?,
            _ => None,
        };
        let online = self.host_online()?;
        let accounted = views::cpu::visible_cpus(&online, cpuset.as_deref(), None);
        let visible = views::cpu::visible_cpus(&online, cpuset.as_deref(), cfs);
        Ok((visible, accounted))
    }

    fn memory(
        &self,
        container: &Container,
        generation: Option<u64>,
    ) -> Result<Option<MemoryCgroup>> {
        let Some((version, dir)) = self.layout.dir(Controller::Memory, &container.cgroups) else {
            return Ok(None);
        };
        let path = dir.path();
        let known = generation.and_then(|g| {
            let limits = self.lock_memory_limits();
            limits
                .get(&path)
                .filter(|(at, _)| *at == g)
                .map(|(_, l)| *l)
        });
        if let Some((limit, swap_limit)) = known {
            let (usage, stat, swap_usage) = read_memory_usage(version, &path)?;
            return Ok(Some(MemoryCgroup {
                limit,
                usage,
                stat,
                swap_limit,
                swap_usage,
            }));
        }
        let mem = MemoryCgroup::read(version, &dir)?;
        if let Some(g) = generation {
            let mut limits = self.lock_memory_limits();
            limits.retain(|_, (at, _)| *at == g);
            if limits.len() >= MAX_MEMORY_LIMITS {
                limits.clear();
            }
            limits.insert(path, (g, (mem.limit, mem.swap_limit)));
        }
        Ok(Some(mem))
    }

    fn lock_memory_limits(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<PathBuf, (u64, MemoryLimits)>> {
        self.memory_limits.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cgroup whose tasks make up the container's load: the first v1 controller in which
    /// the container has its own cgroup (not the root), else the unified one.
    fn task_cgroup(&self, cgroups: &ProcessCgroups) -> Option<(Version, CgroupDir)> {
        [
            Controller::Cpu,
            Controller::Cpuacct,
            Controller::Memory,
            Controller::Pids,
        ]
        .into_iter()
        .filter_map(|c| self.layout.v1_dir(c, cgroups))
        .find(|dir| !dir.relative.as_os_str().is_empty())
        .map(|dir| (Version::V1, dir))
        .or_else(|| self.layout.v2_dir(cgroups).map(|d| (Version::V2, d)))
    }

    fn render_container(
        &self,
        view: ViewFile,
        container: &Container,
        generation: Option<u64>,
    ) -> Result<Option<String>> {
        let cgroups = &container.cgroups;
        Ok(Some(match view {
            ViewFile::Meminfo => {
                let Some(mem) = self.memory(container, generation)? else {
                    return Ok(None);
                };
                let host = Meminfo::parse(&self.host_text("meminfo")?)?;
                views::meminfo::render(&host, &mem, self.options.swap)
            }
            ViewFile::Swaps => {
                let Some(mem) = self.memory(container, generation)? else {
                    return Ok(None);
                };
                let host = Meminfo::parse(&self.host_text("meminfo")?)?;
                let view = views::meminfo::compute(&host, &mem, self.options.swap);
                let host_swaps = self.host_text("swaps")?;
                views::swaps::render(
                    &host_swaps,
                    &view,
                    mem.swap_limit.is_some(),
                    self.options.swap,
                )
            }
            ViewFile::Cpuinfo => {
                let visible = self.visible_cpus(container)?;
                views::cpu::render_cpuinfo(&Cpuinfo::parse(&self.host_text("cpuinfo")?)?, &visible)
            }
            ViewFile::CpuOnline => views::cpu::render_online(&self.visible_cpus(container)?),
            ViewFile::Stat => {
                let (visible, accounted) = self.cpu_sets(container)?;
                let host = Stat::parse(&self.host_text("stat")?)?;
                let usage = match self.layout.dir(Controller::Cpuacct, cgroups) {
                    Some((version, dir)) => CpuUsage::read(version, &dir, &KeptFiles)?,
                    None => None,
                };
                let view = views::cpu::compute_stat_narrowed(
                    &host,
                    &visible,
                    &accounted,
                    usage.as_ref(),
                    self.ticks_per_sec,
                );
                views::cpu::render_stat(&host, &view)
            }
            ViewFile::Uptime => {
                let host = Uptime::parse(&self.host_text("uptime")?)?;
                let host_cpus = self.host_online()?.len();
                let view = views::uptime::compute(
                    &host,
                    container.init_start_ticks,
                    self.ticks_per_sec,
                    host_cpus,
                );
                views::uptime::render(&view)
            }
            ViewFile::Loadavg => {
                if !self.options.loadavg {
                    return Ok(None);
                }
                let Some((version, dir)) = self.task_cgroup(cgroups) else {
                    return Ok(None);
                };
                let host = Loadavg::parse(&self.host_text("loadavg")?)?;
                let state = self.loads.get(version, &dir, &self.host.proc);
                views::loadavg::render(&state, &host)
            }
            ViewFile::Diskstats => {
                let io = match self.layout.dir(Controller::Blkio, cgroups) {
                    Some((version, dir)) => cgroup::read_io(version, &dir, &KeptFiles)?,
                    None => None,
                };
                let host = host::parse_diskstats(&self.host_text("diskstats")?)?;
                views::diskstats::render(&host, io.as_ref())
            }
            ViewFile::Partitions => return Ok(None),
        }))
    }
}

//! The cgroupfs driver: the container's cgroup written directly in the cgroup filesystem, on
//! cgroup v1, hybrid and pure v2 hosts.
//!
//! `cgroups-rs` finds the hierarchies and writes most controller files. On a hybrid host it
//! leaves the cgroup2 (`/sys/fs/cgroup/unified`) alone, so that one is handled here: systemd
//! inside the container wants its own cgroup there too. What differs per version lives in
//! [`v1`] (devices controller, `blkio.*`, memsw order, `tasks`) and [`v2`] (`io.max`, the
//! device-filter slot).

pub mod subtree;
pub mod v1;
pub mod v2;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cgroups_rs::fs::blkio::BlkIoController;
use cgroups_rs::fs::cgroup::Cgroup;
use cgroups_rs::fs::cpu::CpuController;
use cgroups_rs::fs::cpuset::CpuSetController;
use cgroups_rs::fs::freezer::FreezerController;
use cgroups_rs::fs::hugetlb::HugeTlbController;
use cgroups_rs::fs::memory::MemController;
use cgroups_rs::fs::pid::PidController;
use cgroups_rs::fs::{hierarchies, MaxValue};
use cgroups_rs::CgroupPid;
use cgroups_rs::FreezerState;
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use crate::controller::Controller;
use crate::error::{CgroupError, Result};
use crate::layout::{CgroupLayout, HostMode, Version};
use crate::manager::{DeviceRule, Manager, ThrottleKind};
use crate::placement::CgroupPlacement;

/// One container's cgroup in every hierarchy, managed through the cgroup filesystem.
pub struct FsManager {
    cgroup: Cgroup,
    /// The container's directory in the hybrid host's cgroup2, if the host is hybrid.
    unified: Option<PathBuf>,
}

impl FsManager {
    pub fn load(placement: &CgroupPlacement) -> FsManager {
        let hierarchy = hierarchies::auto();
        let v2 = hierarchy.v2();
        let unified_base = placement.base(Controller::Unified);
        let cgroup = if v2 {
            let path = if unified_base.is_empty() {
                placement.path.clone()
            } else {
                format!("{unified_base}/{}", placement.path)
            };
            Cgroup::load(hierarchy, path)
        } else {
            let relative: HashMap<String, String> = placement
                .bases
                .iter()
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Cgroup::load_with_relative_paths(hierarchy, &placement.path, relative)
        };
        // Only a v1 host can be hybrid: a pure v2 one is spared a second mount table read.
        let unified = (!v2)
            .then(hybrid_unified_mountpoint)
            .flatten()
            .map(|mountpoint| mountpoint.join(unified_base).join(&placement.path));
        FsManager { cgroup, unified }
    }

    fn version(&self) -> Version {
        if self.cgroup.v2() {
            Version::V2
        } else {
            Version::V1
        }
    }

    /// The directories `cgroups-rs` manages: one per v1 hierarchy, or the single cgroup2
    /// directory on a pure v2 host.
    fn managed_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self
            .cgroup
            .subsystems()
            .iter()
            .map(|s| s.to_controller().path().to_path_buf())
            .collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }

    /// Where a controller's files are: its v1 directory, or the cgroup2 directory on a pure
    /// v2 host.
    fn stats_dir(&self, controller: Controller) -> Option<PathBuf> {
        match self.version() {
            Version::V1 => self.controller_dir(controller),
            Version::V2 => self.managed_dirs().into_iter().next(),
        }
    }

    fn create_unified(&self) -> Result<()> {
        match &self.unified {
            Some(u) => fs::create_dir_all(u).map_err(|source| CgroupError::Io {
                op: "create",
                path: u.clone(),
                source,
            }),
            None => Ok(()),
        }
    }

    fn apply_memory(&self, memory: &LinuxMemory) -> Result<()> {
        let mem: &MemController = self.controller()?;
        if self.version() == Version::V2 {
            return self.apply_memory_v2(mem, memory);
        }
        let set_limit = |limit| mem.set_limit(limit).map_err(|e| self.error(e));
        let set_swap = |swap| mem.set_memswap_limit(swap).map_err(|e| self.error(e));
        match (memory.limit(), memory.swap()) {
            (Some(limit), Some(swap)) => {
                // cgroup v1 keeps memory <= memory+swap at every step.
                let current = mem.memory_stat().limit_in_bytes;
                if v1::memsw_first(current, limit) {
                    set_swap(swap)?;
                    set_limit(limit)?;
                } else {
                    set_limit(limit)?;
                    set_swap(swap)?;
                }
            }
            (Some(limit), None) => set_limit(limit)?,
            (None, Some(swap)) => set_swap(swap)?,
            (None, None) => {}
        }
        if let Some(reservation) = memory.reservation() {
            mem.set_soft_limit(reservation).map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    /// `memory.max`, `memory.swap.max` (swap alone: OCI's swap counts memory too) and
    /// `memory.low`. cgroups-rs would write memory plus swap to `memory.swap.max`.
    fn apply_memory_v2(&self, mem: &MemController, memory: &LinuxMemory) -> Result<()> {
        if let Some(limit) = memory.limit() {
            mem.set_limit(limit).map_err(|e| self.error(e))?;
        }
        if let Some(swap) = memory.swap() {
            let dir = self
                .v2_dir()
                .ok_or_else(|| self.refused("no cgroup2 directory".into()))?;
            let limit = match memory.limit() {
                Some(limit) => limit,
                None => crate::stats::read_memory_usage(Version::V2, &dir)?
                    .1
                    .map_or(-1, |l| l as i64),
            };
            let value = v2::swap_max(limit, swap).map_err(|m| self.refused(m))?;
            write_line(&dir.join("memory.swap.max"), &value)?;
        }
        if let Some(reservation) = memory.reservation() {
            mem.set_soft_limit(reservation).map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    fn apply_cpu(&self, cpu: &LinuxCpu) -> Result<()> {
        let ctl: &CpuController = self.controller()?;
        if let Some(shares) = cpu.shares() {
            let value = match self.version() {
                Version::V1 => shares,
                Version::V2 => v2::cpu_weight_of_shares(shares),
            };
            ctl.set_shares(value).map_err(|e| self.error(e))?;
        }
        if cpu.quota().is_some() || cpu.period().is_some() {
            ctl.set_cfs_quota_and_period(cpu.quota(), cpu.period())
                .map_err(|e| self.error(e))?;
        }
        if cpu.cpus().is_some() || cpu.mems().is_some() {
            let set: &CpuSetController = self.controller()?;
            if let Some(cpus) = cpu.cpus() {
                set.set_cpus(cpus).map_err(|e| self.error(e))?;
            }
            if let Some(mems) = cpu.mems() {
                set.set_mems(mems).map_err(|e| self.error(e))?;
            }
        }
        Ok(())
    }

    fn apply_pids(&self, limit: i64) -> Result<()> {
        let ctl: &PidController = self.controller()?;
        let max = if limit > 0 {
            MaxValue::Value(limit)
        } else {
            MaxValue::Max
        };
        ctl.set_pid_max(max).map_err(|e| self.error(e))
    }

    fn apply_hugetlb(&self, limits: &[oci_spec::runtime::LinuxHugepageLimit]) -> Result<()> {
        let Ok(ctl) = self.controller::<HugeTlbController>() else {
            return Err(
                self.refused("--hugetlb-limit: this host has no hugetlb cgroup controller".into())
            );
        };
        for l in limits {
            if !ctl.size_supported(l.page_size()) {
                return Err(self.refused(format!(
                    "--hugetlb-limit: page size {} is not supported here",
                    l.page_size()
                )));
            }
            ctl.set_limit_in_bytes(l.page_size(), l.limit().max(0) as u64)
                .map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    /// The weight through `cgroups-rs`; per-device weights and throttles through
    /// [`Manager::set_throttle`], the same code `syscontainer-tools` uses.
    fn apply_block_io(&self, io: &LinuxBlockIo) -> Result<()> {
        let ctl: &BlkIoController = self.controller()?;
        let weight_files = ["blkio.weight", "io.bfq.weight", "io.weight"];
        let has_weights = self
            .controller_dir(Controller::Blkio)
            .is_some_and(|d| weight_files.iter().any(|f| d.join(f).exists()));
        if (io.weight().is_some() || io.weight_device().is_some()) && !has_weights {
            return Err(self.refused("--blkio-weight: this kernel's block I/O scheduler has no weight control (BFQ is not available)".into()));
        }
        if let Some(w) = io.weight() {
            match (self.version(), self.v2_dir()) {
                (Version::V2, Some(dir)) => set_io_weight_v2(&dir, w as u64)?,
                _ => ctl.set_weight(w as u64).map_err(|e| self.error(e))?,
            }
        }
        for d in io.weight_device().as_deref().unwrap_or(&[]) {
            if let Some(w) = d.weight() {
                self.set_throttle(
                    ThrottleKind::Weight,
                    d.major() as u32,
                    d.minor() as u32,
                    w as u64,
                )?;
            }
        }
        let throttles = [
            (io.throttle_read_bps_device(), ThrottleKind::ReadBps),
            (io.throttle_write_bps_device(), ThrottleKind::WriteBps),
            (io.throttle_read_iops_device(), ThrottleKind::ReadIops),
            (io.throttle_write_iops_device(), ThrottleKind::WriteIops),
        ];
        for (list, kind) in throttles {
            for d in list.as_deref().unwrap_or(&[]) {
                self.set_throttle(kind, d.major() as u32, d.minor() as u32, d.rate())?;
            }
        }
        Ok(())
    }

    /// Write the device allow/deny list in order to the v1 devices controller, and install
    /// it as the device filter of the cgroup2 directory (pure v2, or a hybrid host's
    /// `unified`, where the kernel enforces it too).
    fn apply_devices(&self, rules: &[oci_spec::runtime::LinuxDeviceCgroup]) -> Result<()> {
        let rules: Vec<(bool, DeviceRule)> = rules.iter().map(DeviceRule::from_oci).collect();
        for (_, rule) in &rules {
            if rule.access.is_empty() || !rule.access.chars().all(|c| "rwm".contains(c)) {
                return Err(self.refused(format!("invalid device access {:?}", rule.access)));
            }
        }
        if let Some(dir) = self.controller_dir(Controller::Devices) {
            for (allow, rule) in &rules {
                if *allow {
                    v1::allow_device(&dir, rule)?;
                } else {
                    v1::deny_device(&dir, rule)?;
                }
            }
        }
        self.replace_device_filter(&rules)
    }

    fn controller<T>(&self) -> Result<&T>
    where
        T: cgroups_rs::fs::Controller + cgroups_rs::fs::ControllIdentifier,
        for<'a> &'a T: From<&'a cgroups_rs::fs::Subsystem>,
    {
        self.cgroup.controller_of::<T>().ok_or_else(|| {
            self.refused(format!(
                "the host has no {} controller",
                T::controller_type()
            ))
        })
    }

    fn refused(&self, message: String) -> CgroupError {
        CgroupError::Controller {
            path: self.cgroup.path().to_string(),
            message,
        }
    }

    fn error(&self, e: cgroups_rs::fs::error::Error) -> CgroupError {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        self.refused(message)
    }
}

impl Manager for FsManager {
    fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs = self.managed_dirs();
        dirs.extend(self.unified.clone());
        dirs
    }

    fn controller_dir(&self, controller: Controller) -> Option<PathBuf> {
        self.cgroup
            .subsystems()
            .iter()
            .find(|s| s.controller_name() == controller.name())
            .map(|s| s.to_controller().path().to_path_buf())
    }

    fn v2_dir(&self) -> Option<PathBuf> {
        match self.version() {
            Version::V2 => self.managed_dirs().into_iter().next(),
            Version::V1 => self.unified.clone(),
        }
    }

    fn v1_tasks_files(&self) -> Vec<PathBuf> {
        if self.version() == Version::V2 {
            return Vec::new();
        }
        self.managed_dirs()
            .into_iter()
            .map(|d| d.join("tasks"))
            .collect()
    }

    fn create(&self) -> Result<Vec<PathBuf>> {
        let mut created = Vec::new();
        for dir in self.dirs() {
            let mut missing: Vec<PathBuf> = dir
                .ancestors()
                .take_while(|p| !p.exists())
                .map(Path::to_path_buf)
                .collect();
            missing.reverse();
            created.extend(missing);
        }
        let made = self.cgroup.create().map_err(|e| self.error(e));
        if let Err(e) = made.and_then(|()| self.create_unified()) {
            remove_dirs(&created);
            return Err(e);
        }
        Ok(created)
    }

    /// The previous boot's systemd left sub-cgroups, and a v1 devices cgroup refuses a new
    /// deny-all while removed children are still going offline. The directories keep their
    /// paths, so the record of what this container created stays valid.
    fn reset(&self) -> Result<()> {
        for dir in self.dirs() {
            remove_tree(&dir)?;
        }
        self.cgroup.create().map_err(|e| self.error(e))?;
        self.create_unified()
    }

    fn destroy(&self, created: &[PathBuf]) -> Result<()> {
        let mut last_err = None;
        for dir in self.dirs() {
            if let Err(e) = remove_tree(&dir) {
                last_err = Some(e);
            }
        }
        remove_dirs(created);
        match last_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn exec_dir(&self) -> Result<Option<PathBuf>> {
        let Some(dir) = self.v2_dir() else {
            return Ok(None);
        };
        // Made, with its controllers, when the init's subtree was delegated at the start;
        // made here only for an exec that comes before that.
        let leaf = subtree::exec_leaf(&dir);
        if leaf.is_dir() {
            return Ok(Some(leaf));
        }
        subtree::ensure_exec_leaf(&dir).map(Some)
    }

    fn add_exec_process(&self, pid: i32) -> Result<()> {
        if self.version() == Version::V1 {
            self.cgroup
                .add_task_by_tgid(CgroupPid::from(pid as u64))
                .map_err(|e| self.error(e))?;
        }
        if let Some(leaf) = self.exec_dir()? {
            write_file(&leaf.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    fn delegate_subtree(&self) -> Result<bool> {
        match self.v2_dir() {
            Some(dir) => subtree::delegate(&dir),
            None => Ok(true),
        }
    }

    fn add_process(&self, pid: i32) -> Result<()> {
        self.cgroup
            .add_task_by_tgid(CgroupPid::from(pid as u64))
            .map_err(|e| self.error(e))?;
        if let Some(u) = &self.unified {
            write_file(&u.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    fn apply(&self, resources: &LinuxResources) -> Result<()> {
        if let Some(memory) = resources.memory() {
            self.apply_memory(memory)?;
        }
        if let Some(cpu) = resources.cpu() {
            self.apply_cpu(cpu)?;
        }
        if let Some(pids) = resources.pids() {
            self.apply_pids(pids.limit())?;
        }
        if let Some(rules) = resources.devices() {
            self.apply_devices(rules)?;
        }
        if resources.memory().and_then(|m| m.disable_oom_killer()) == Some(true) {
            let mem: &MemController = self.controller()?;
            mem.disable_oom_killer().map_err(|e| self.error(e))?;
        }
        if let Some(io) = resources.block_io() {
            self.apply_block_io(io)?;
        }
        if let Some(limits) = resources.hugepage_limits() {
            self.apply_hugetlb(limits)?;
        }
        Ok(())
    }

    fn allow_device(&self, rule: &DeviceRule) -> Result<()> {
        match self.controller_dir(Controller::Devices) {
            Some(dir) => v1::allow_device(&dir, rule),
            None => Ok(()),
        }
    }

    fn deny_device(&self, rule: &DeviceRule) -> Result<()> {
        match self.controller_dir(Controller::Devices) {
            Some(dir) => v1::deny_device(&dir, rule),
            None => Ok(()),
        }
    }

    /// Where a v1 devices controller enforces the rules as well (hybrid host), a kernel
    /// without cgroup BPF only loses the second check: warn instead of failing the start.
    fn replace_device_filter(&self, rules: &[(bool, DeviceRule)]) -> Result<()> {
        let Some(dir) = self.v2_dir() else {
            return Ok(());
        };
        match v2::apply_device_rules(&dir, rules) {
            Err(e) if self.controller_dir(Controller::Devices).is_some() => {
                tracing::warn!("{e}; the v1 devices controller still enforces the rules");
                Ok(())
            }
            result => result,
        }
    }

    fn device_allowed(&self, major: u32, minor: u32) -> bool {
        self.controller_dir(Controller::Devices)
            .is_some_and(|dir| v1::device_listed(&dir, major, minor))
    }

    fn set_throttle(&self, kind: ThrottleKind, major: u32, minor: u32, rate: u64) -> Result<()> {
        let target = match (self.controller_dir(Controller::Blkio), self.version()) {
            (Some(dir), Version::V1) => Some((Version::V1, dir)),
            (_, Version::V2) => self.v2_dir().map(|d| (Version::V2, d)),
            (None, Version::V1) => None,
        };
        set_throttle_in(target, kind, major, minor, rate)
    }

    /// v1 passes through FREEZING while tasks are being stopped; thaws again if the
    /// cgroup never reports FROZEN.
    fn freeze(&self) -> Result<()> {
        if let (Version::V2, Some(dir)) = (self.version(), self.v2_dir()) {
            return freeze_v2(&dir);
        }
        let f: &FreezerController = self.controller()?;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            f.freeze().map_err(|e| self.error(e))?;
            if matches!(f.state(), Ok(FreezerState::Frozen)) {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                let _ = f.thaw();
                return Err(CgroupError::NotFrozen(self.cgroup.path().to_string()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn thaw(&self) -> Result<()> {
        let f: &FreezerController = self.controller()?;
        f.thaw().map_err(|e| self.error(e))
    }

    fn frozen(&self) -> Option<bool> {
        if let (Version::V2, Some(dir)) = (self.version(), self.v2_dir()) {
            let events = fs::read_to_string(dir.join("cgroup.events")).ok()?;
            return Some(events.lines().any(|l| l.trim() == "frozen 1"));
        }
        let f: &FreezerController = self.controller().ok()?;
        // FREEZING counts: the tasks are being stopped.
        f.state().ok().map(|s| !matches!(s, FreezerState::Thawed))
    }

    fn pids(&self) -> Vec<i32> {
        let Some(dir) = self.dirs().into_iter().next() else {
            return Vec::new();
        };
        let mut pids = Vec::new();
        collect_procs(&dir, &mut pids);
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// After `cgroup.kill` the PIDs still get the signal: on a hybrid host a process that
    /// joined only the v1 directories is not in the `unified` one.
    fn signal_all(&self, signal: i32) {
        if signal == libc::SIGKILL {
            if let Some(kill_file) = self.v2_dir().map(|d| d.join("cgroup.kill")) {
                if kill_file.exists() {
                    if let Err(e) = fs::write(&kill_file, "1") {
                        tracing::debug!("write 1 to {}: {e}", kill_file.display());
                    }
                }
            }
        }
        for pid in self.pids() {
            // SAFETY: plain kill(2).
            unsafe { libc::kill(pid, signal) };
        }
    }

    fn memory_usage(&self) -> Option<(u64, u64)> {
        let dir = self.stats_dir(Controller::Memory)?;
        let (usage, limit) = crate::stats::read_memory_usage(self.version(), &dir).ok()?;
        Some((usage, limit.unwrap_or(u64::MAX)))
    }

    fn cpu_usage_ns(&self) -> Option<u64> {
        if self.version() == Version::V2 {
            let dir = self.v2_dir()?;
            return crate::stats::read_cpu_stat_usage_ns(&dir).ok();
        }
        let dir = self.controller_dir(Controller::Cpuacct)?;
        crate::stats::read_cpuacct_usage_ns(&dir).ok()
    }

    fn pids_current(&self) -> Option<u64> {
        let dir = self.stats_dir(Controller::Pids)?;
        crate::stats::read_pids_current(&dir).ok()
    }
}

/// The one writer of block I/O throttles and per-device weights: `target` is the
/// container's blkio directory (v1) or cgroup2 directory (v2).
fn set_throttle_in(
    target: Option<(Version, PathBuf)>,
    kind: ThrottleKind,
    major: u32,
    minor: u32,
    rate: u64,
) -> Result<()> {
    let Some((version, dir)) = target else {
        return Err(CgroupError::Unsupported(
            "the container has no blkio/io cgroup: throttles cannot be set".into(),
        ));
    };
    let (file, line, weight_fallback) = match version {
        Version::V1 => {
            let (file, line) = v1::throttle_line(kind, major, minor, rate);
            (file, line, "blkio.weight_device")
        }
        Version::V2 => {
            let (file, line) = v2::throttle_line(kind, major, minor, rate);
            (file, line, "io.weight")
        }
    };
    let path = if kind == ThrottleKind::Weight && !dir.join(file).exists() {
        dir.join(weight_fallback)
    } else {
        dir.join(file)
    };
    if version == Version::V1 && kind == ThrottleKind::Weight && !path.exists() {
        return Err(CgroupError::Unsupported(format!(
            "--blkio-weight-device: the host's blkio controller has no weight_device file in {}",
            dir.display()
        )));
    }
    write_line(&path, &line).map_err(|e| weight_hint(kind, major, minor, e))
}

/// The cgroup's block I/O weight on v2: `io.bfq.weight` takes the v1 value; without bfq,
/// `io.weight` gets it converted.
fn set_io_weight_v2(dir: &Path, weight: u64) -> Result<()> {
    let bfq = dir.join("io.bfq.weight");
    if bfq.exists() {
        return write_line(&bfq, &weight.to_string());
    }
    let converted = v2::io_weight_of_blkio_weight(weight);
    write_line(&dir.join("io.weight"), &format!("default {converted}"))
}

/// Freeze through `cgroup.freeze` and wait for `cgroup.events` to say `frozen 1` (the file
/// `cgroup.freeze` only says what was asked); thaws again if it never does.
fn freeze_v2(dir: &Path) -> Result<()> {
    write_line(&dir.join("cgroup.freeze"), "1")?;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        let events = fs::read_to_string(dir.join("cgroup.events")).unwrap_or_default();
        if events.lines().any(|l| l.trim() == "frozen 1") {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = write_line(&dir.join("cgroup.freeze"), "0");
    Err(CgroupError::NotFrozen(dir.display().to_string()))
}

/// A weight needs the bfq scheduler on the device: say so when the kernel refuses.
fn weight_hint(kind: ThrottleKind, major: u32, minor: u32, e: CgroupError) -> CgroupError {
    if kind != ThrottleKind::Weight {
        return e;
    }
    let sched = fs::read_to_string(format!("/sys/dev/block/{major}:{minor}/queue/scheduler"))
        .unwrap_or_default();
    if sched.contains("[bfq]") {
        return e;
    }
    CgroupError::Unsupported(format!(
        "{e} (a weight needs the bfq I/O scheduler on device {major}:{minor}; it has {})",
        sched
            .split_whitespace()
            .find(|s| s.starts_with('['))
            .unwrap_or("none")
    ))
}

/// Where a hybrid host mounts its controller-less cgroup2 (systemd's `unified`), from the
/// host's layout.
fn hybrid_unified_mountpoint() -> Option<PathBuf> {
    let layout = CgroupLayout::from_system().ok()?;
    match layout.mode() {
        HostMode::Hybrid => layout.unified.map(|h| h.mountpoint),
        HostMode::Legacy | HostMode::Unified => None,
    }
}

fn write_file(path: &Path, value: &str) -> Result<()> {
    fs::write(path, value).map_err(|source| CgroupError::Io {
        op: "write",
        path: path.to_path_buf(),
        source,
    })
}

/// Write one line to a controller file, naming the line and file on failure.
fn write_line(path: &Path, line: &str) -> Result<()> {
    fs::write(path, line).map_err(|source| CgroupError::Write {
        path: path.to_path_buf(),
        line: line.to_string(),
        source,
    })
}

fn collect_procs(dir: &Path, out: &mut Vec<i32>) {
    if let Ok(procs) = fs::read_to_string(dir.join("cgroup.procs")) {
        out.extend(procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect_procs(&e.path(), out);
            }
        }
    }
}

/// rmdir a cgroup and its descendants, deepest first. A cgroup whose last process has
/// just died can stay busy for a moment, hence the short retry.
fn remove_tree(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path())?;
            }
        }
    }
    let mut attempts = 0;
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if attempts < 50 && e.raw_os_error() == Some(libc::EBUSY) => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(source) => {
                return Err(CgroupError::Io {
                    op: "remove",
                    path: dir.to_path_buf(),
                    source,
                })
            }
        }
    }
}

/// Remove directories that this container created, deepest first; ones that other
/// containers still use are not empty and stay.
fn remove_dirs(created: &[PathBuf]) {
    for dir in created.iter().rev() {
        let _ = fs::remove_dir(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_freezing_waits_for_the_kernels_word() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
        freeze_v2(dir).unwrap();
        assert_eq!(fs::read_to_string(dir.join("cgroup.freeze")).unwrap(), "1");
    }

    #[test]
    fn v2_weights_prefer_bfq_and_convert_for_io_weight() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        set_io_weight_v2(dir, 300).unwrap();
        assert_eq!(
            fs::read_to_string(dir.join("io.weight")).unwrap(),
            "default 2930"
        );
        fs::write(dir.join("io.bfq.weight"), "default 100\n").unwrap();
        set_io_weight_v2(dir, 300).unwrap();
        assert_eq!(
            fs::read_to_string(dir.join("io.bfq.weight")).unwrap(),
            "300"
        );
    }

    #[test]
    fn throttles_go_to_the_versions_file() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().to_path_buf();
        set_throttle_in(
            Some((Version::V1, dir.clone())),
            ThrottleKind::ReadBps,
            7,
            0,
            1024,
        )
        .unwrap();
        assert_eq!(
            fs::read_to_string(dir.join("blkio.throttle.read_bps_device")).unwrap(),
            "7:0 1024"
        );
        set_throttle_in(
            Some((Version::V2, dir.clone())),
            ThrottleKind::WriteIops,
            7,
            0,
            0,
        )
        .unwrap();
        assert_eq!(
            fs::read_to_string(dir.join("io.max")).unwrap(),
            "7:0 wiops=max"
        );
        // A v1 weight needs a weight_device file.
        let err =
            set_throttle_in(Some((Version::V1, dir)), ThrottleKind::Weight, 7, 0, 300).unwrap_err();
        assert!(err.to_string().contains("no weight_device file"), "{err}");
        // No blkio controller: a clear error.
        assert!(set_throttle_in(None, ThrottleKind::ReadBps, 7, 0, 1)
            .unwrap_err()
            .to_string()
            .contains("no blkio"));
    }
}

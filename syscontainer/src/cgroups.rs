//! The container's cgroups, in every hierarchy the host has.
//!
//! `cgroups-rs` finds the hierarchies and writes the controller files, on cgroup v1,
//! hybrid and pure v2 hosts alike. On a hybrid host it leaves the cgroup2 at
//! `/sys/fs/cgroup/unified` alone, so that one is handled here: systemd inside the
//! container wants its own cgroup there too.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cgroups_rs::fs::blkio::BlkIoController;
use cgroups_rs::fs::cgroup::Cgroup;
use cgroups_rs::fs::cpu::CpuController;
use cgroups_rs::fs::cpuacct::CpuAcctController;
use cgroups_rs::fs::cpuset::CpuSetController;
use cgroups_rs::fs::devices::{DevicePermissions, DeviceType, DevicesController};
use cgroups_rs::fs::freezer::FreezerController;
use cgroups_rs::fs::hugetlb::HugeTlbController;
use cgroups_rs::fs::memory::MemController;
use cgroups_rs::fs::pid::PidController;
use cgroups_rs::fs::{hierarchies, Controller, MaxValue};
use cgroups_rs::CgroupPid;
use cgroups_rs::FreezerState;
use oci_spec::runtime::{
    LinuxBlockIo, LinuxDeviceCgroup, LinuxDeviceType, LinuxResources, LinuxThrottleDevice,
};

use crate::config::CgroupPlacement;

const HYBRID_UNIFIED: &str = "/sys/fs/cgroup/unified";

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cgroup {path}: {message}")]
    Controller { path: String, message: String },
    #[error("cgroup {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read this process's cgroups: {0}")]
    Own(String),
    #[error("cgroup {0} did not freeze within 5 s")]
    NotFrozen(String),
}

pub type Result<T> = std::result::Result<T, CgroupError>;

impl CgroupPlacement {
    /// Where a container with this `--cgroup-parent` goes. Relative parents start at the
    /// caller's own cgroup in each hierarchy (as docker resolves them from its daemon's).
    pub fn resolve(parent: &str, id: &str) -> Result<CgroupPlacement> {
        let path = format!("{}/{}", parent.trim_matches('/'), id)
            .trim_start_matches('/')
            .to_string();
        if parent.starts_with('/') {
            return Ok(CgroupPlacement {
                path,
                bases: BTreeMap::new(),
            });
        }
        let own =
            fs::read_to_string("/proc/self/cgroup").map_err(|e| CgroupError::Own(e.to_string()))?;
        Ok(CgroupPlacement {
            path,
            bases: parse_proc_cgroup(&own),
        })
    }
}

/// `/proc/PID/cgroup` → controller (or `name=…`, or `` for cgroup2) → path.
pub fn parse_proc_cgroup(content: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for line in content.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        for c in controllers.split(',') {
            map.insert(c.to_string(), path.to_string());
        }
    }
    map
}

/// A handle on one container's cgroup in all hierarchies.
pub struct ContainerCgroup {
    cgroup: Cgroup,
    /// The container's directory in the hybrid host's cgroup2, if the host is hybrid.
    unified: Option<PathBuf>,
}

impl ContainerCgroup {
    pub fn load(placement: &CgroupPlacement) -> ContainerCgroup {
        let hierarchy = hierarchies::auto();
        let v2 = hierarchy.v2();
        let relative: HashMap<String, String> = placement
            .bases
            .iter()
            .filter(|(k, _)| !k.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let cgroup = if v2 {
            let base = placement
                .bases
                .get("")
                .map(|b| b.trim_matches('/'))
                .unwrap_or("");
            let path = if base.is_empty() {
                placement.path.clone()
            } else {
                format!("{base}/{}", placement.path)
            };
            Cgroup::load(hierarchy, path)
        } else {
            Cgroup::load_with_relative_paths(hierarchy, &placement.path, relative)
        };
        let unified = (!v2 && is_cgroup2(Path::new(HYBRID_UNIFIED))).then(|| {
            let base = placement
                .bases
                .get("")
                .map(|b| b.trim_matches('/'))
                .unwrap_or("");
            Path::new(HYBRID_UNIFIED).join(base).join(&placement.path)
        });
        ContainerCgroup { cgroup, unified }
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

    /// Every directory of this cgroup, one per hierarchy.
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs = self.managed_dirs();
        dirs.extend(self.unified.clone());
        dirs
    }

    /// Create the cgroup everywhere; returns the directories that did not exist before,
    /// parents first, so that they can be removed again.
    pub fn create(&self) -> Result<Vec<PathBuf>> {
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
        let made = made.and_then(|()| match &self.unified {
            Some(u) => fs::create_dir_all(u).map_err(|source| CgroupError::Io {
                op: "create",
                path: u.clone(),
                source,
            }),
            None => Ok(()),
        });
        if let Err(e) = made {
            remove_dirs(&created);
            return Err(e);
        }
        Ok(created)
    }

    /// The cgroup2 directory: the whole cgroup on a pure v2 host, the `unified` one on a
    /// hybrid host; `None` on a v1-only host. A new process can be born in it with
    /// `clone3(CLONE_INTO_CGROUP)`.
    pub fn v2_dir(&self) -> Option<PathBuf> {
        if self.cgroup.v2() {
            self.dirs().into_iter().next()
        } else {
            self.unified.clone()
        }
    }

    /// The `tasks` file of each v1 hierarchy (none on a pure v2 host), for
    /// [`join_v1_self`].
    pub fn v1_tasks_files(&self) -> Vec<PathBuf> {
        if self.cgroup.v2() {
            return Vec::new();
        }
        self.managed_dirs()
            .into_iter()
            .map(|d| d.join("tasks"))
            .collect()
    }

    pub fn add_process(&self, pid: i32) -> Result<()> {
        self.cgroup
            .add_task_by_tgid(CgroupPid::from(pid as u64))
            .map_err(|e| self.error(e))?;
        if let Some(u) = &self.unified {
            write_file(&u.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Apply the memory, CPU and pids limits of an OCI resources block.
    pub fn apply(&self, resources: &LinuxResources) -> Result<()> {
        if let Some(memory) = resources.memory() {
            let mem: &MemController = self.controller()?;
            let set_limit = |limit| mem.set_limit(limit).map_err(|e| self.error(e));
            let set_swap = |swap| mem.set_memswap_limit(swap).map_err(|e| self.error(e));
            match (memory.limit(), memory.swap()) {
                (Some(limit), Some(swap)) => {
                    // cgroup v1 keeps memory <= memory+swap at every step: a raise
                    // needs the new memsw first, a lowering the new memory first.
                    let current = mem.memory_stat().limit_in_bytes;
                    if memsw_first(current, limit) {
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
        }
        if let Some(cpu) = resources.cpu() {
            let ctl: &CpuController = self.controller()?;
            if let Some(shares) = cpu.shares() {
                ctl.set_shares(shares).map_err(|e| self.error(e))?;
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
        }
        if let Some(pids) = resources.pids() {
            let ctl: &PidController = self.controller()?;
            let max = if pids.limit() > 0 {
                MaxValue::Value(pids.limit())
            } else {
                MaxValue::Max
            };
            ctl.set_pid_max(max).map_err(|e| self.error(e))?;
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
            let Ok(ctl) = self.controller::<HugeTlbController>() else {
                return Err(CgroupError::Controller {
                    path: self.cgroup.path().to_string(),
                    message: "--hugetlb-limit: this host has no hugetlb cgroup controller".into(),
                });
            };
            for l in limits {
                if !ctl.size_supported(l.page_size()) {
                    return Err(CgroupError::Controller {
                        path: self.cgroup.path().to_string(),
                        message: format!(
                            "--hugetlb-limit: page size {} is not supported here",
                            l.page_size()
                        ),
                    });
                }
                ctl.set_limit_in_bytes(l.page_size(), l.limit().max(0) as u64)
                    .map_err(|e| self.error(e))?;
            }
        }
        Ok(())
    }

    fn apply_block_io(&self, io: &LinuxBlockIo) -> Result<()> {
        let ctl: &BlkIoController = self.controller()?;
        let has_weights = self
            .controller_dir("blkio")
            .is_some_and(|d| d.join("blkio.weight").exists() || d.join("io.weight").exists());
        if (io.weight().is_some() || io.weight_device().is_some()) && !has_weights {
            return Err(CgroupError::Controller {
                path: self.cgroup.path().to_string(),
                message: "--blkio-weight: this kernel's block I/O scheduler has no weight control (BFQ is not available)".into(),
            });
        }
        if let Some(w) = io.weight() {
            ctl.set_weight(w as u64).map_err(|e| self.error(e))?;
        }
        for d in io.weight_device().as_deref().unwrap_or(&[]) {
            if let Some(w) = d.weight() {
                ctl.set_weight_for_device(d.major() as u64, d.minor() as u64, w as u64)
                    .map_err(|e| self.error(e))?;
            }
        }
        type Setter = fn(&BlkIoController, u64, u64, u64) -> cgroups_rs::fs::error::Result<()>;
        let throttles: [(&Option<Vec<LinuxThrottleDevice>>, Setter); 4] = [
            (
                io.throttle_read_bps_device(),
                BlkIoController::throttle_read_bps_for_device,
            ),
            (
                io.throttle_write_bps_device(),
                BlkIoController::throttle_write_bps_for_device,
            ),
            (
                io.throttle_read_iops_device(),
                BlkIoController::throttle_read_iops_for_device,
            ),
            (
                io.throttle_write_iops_device(),
                BlkIoController::throttle_write_iops_for_device,
            ),
        ];
        for (list, set) in throttles {
            for d in list.as_deref().unwrap_or(&[]) {
                set(ctl, d.major() as u64, d.minor() as u64, d.rate())
                    .map_err(|e| self.error(e))?;
            }
        }
        Ok(())
    }

    /// Write the device allow/deny list in order. On cgroup v1 this is the `devices`
    /// controller; a pure cgroup2 host needs a BPF program instead, which is not built yet,
    /// so there the rules are skipped with a warning (as the mknod-less /dev still limits
    /// what the container can open).
    fn apply_devices(&self, rules: &[LinuxDeviceCgroup]) -> Result<()> {
        let Ok(ctl) = self.controller::<DevicesController>() else {
            tracing::warn!(
                "no devices cgroup controller: device rules are not enforced on this host"
            );
            return Ok(());
        };
        for rule in rules {
            let devtype = match rule.typ() {
                None | Some(LinuxDeviceType::A) => DeviceType::All,
                Some(LinuxDeviceType::B) => DeviceType::Block,
                Some(_) => DeviceType::Char,
            };
            let access = rule.access().as_deref().unwrap_or("rwm");
            let perms = DevicePermissions::from_str(access).map_err(|e| self.error(e))?;
            let (major, minor) = (rule.major().unwrap_or(-1), rule.minor().unwrap_or(-1));
            if rule.allow() {
                ctl.allow_device(devtype, major, minor, &perms)
            } else {
                ctl.deny_device(devtype, major, minor, &perms)
            }
            .map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    /// Freeze every process and wait until the kernel reports the cgroup frozen (v1 passes
    /// through FREEZING while tasks are being stopped). Thaws again if that never happens.
    pub fn freeze(&self) -> Result<()> {
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

    pub fn thaw(&self) -> Result<()> {
        let f: &FreezerController = self.controller()?;
        f.thaw().map_err(|e| self.error(e))
    }

    /// Every process in the cgroup and its descendants.
    pub fn pids(&self) -> Vec<i32> {
        let Some(dir) = self.dirs().into_iter().next() else {
            return Vec::new();
        };
        let mut pids = Vec::new();
        collect_procs(&dir, &mut pids);
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Send a signal to every process in the subtree.
    pub fn signal_all(&self, signal: i32) {
        for pid in self.pids() {
            // SAFETY: plain kill(2).
            unsafe { libc::kill(pid, signal) };
        }
    }

    /// Remove the container's cgroup subtree in every hierarchy, then the parents it
    /// created (those still in use by others stay).
    pub fn destroy(&self, created: &[PathBuf]) -> Result<()> {
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

    /// Replace the cgroup by a fresh one for a new boot: the previous boot's systemd left
    /// sub-cgroups, and a v1 devices cgroup refuses a new deny-all while removed children are
    /// still going offline. The directories keep their paths, so the record of what this
    /// container created stays valid.
    pub fn reset(&self) -> Result<()> {
        for dir in self.dirs() {
            remove_tree(&dir)?;
        }
        self.cgroup.create().map_err(|e| self.error(e))?;
        if let Some(u) = &self.unified {
            fs::create_dir_all(u).map_err(|source| CgroupError::Io {
                op: "create",
                path: u.clone(),
                source,
            })?;
        }
        Ok(())
    }

    pub fn memory_usage(&self) -> Option<(u64, u64)> {
        let mem: &MemController = self.controller().ok()?;
        let stat = mem.memory_stat();
        Some((stat.usage_in_bytes, stat.limit_in_bytes as u64))
    }

    pub fn cpu_usage_ns(&self) -> Option<u64> {
        let acct: &CpuAcctController = self.controller().ok()?;
        Some(acct.cpuacct().usage)
    }

    pub fn pids_current(&self) -> Option<u64> {
        let ctl: &PidController = self.controller().ok()?;
        ctl.get_pid_current().ok()
    }

    /// The directory of one controller (`memory`, `cpu`, …), for reading raw files.
    pub fn controller_dir(&self, name: &str) -> Option<PathBuf> {
        self.cgroup
            .subsystems()
            .iter()
            .find(|s| s.controller_name() == name)
            .map(|s| s.to_controller().path().to_path_buf())
    }

    fn controller<T>(&self) -> Result<&T>
    where
        T: Controller + cgroups_rs::fs::ControllIdentifier,
        for<'a> &'a T: From<&'a cgroups_rs::fs::Subsystem>,
    {
        self.cgroup
            .controller_of::<T>()
            .ok_or_else(|| CgroupError::Controller {
                path: self.cgroup.path().to_string(),
                message: format!("the host has no {} controller", T::controller_type()),
            })
    }

    fn error(&self, e: cgroups_rs::fs::error::Error) -> CgroupError {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        CgroupError::Controller {
            path: self.cgroup.path().to_string(),
            message,
        }
    }
}

/// Move the calling process into the v1 hierarchies by writing `0` to each `tasks` file.
/// The caller must be single-threaded, so that moving its only thread moves the whole
/// process. Unlike a PID written to `cgroup.procs`, a move of the writer's own single
/// thread does not take the kernel's global threadgroup lock, whose first writer waits
/// for an RCU grace period (~10 ms measured here).
pub fn join_v1_self(tasks_files: &[PathBuf]) -> Result<()> {
    for f in tasks_files {
        write_file(f, "0")?;
    }
    Ok(())
}

fn is_cgroup2(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

fn write_file(path: &Path, value: &str) -> Result<()> {
    fs::write(path, value).map_err(|source| CgroupError::Io {
        op: "write",
        path: path.to_path_buf(),
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

/// Whether a memory limit going from `current` to `new` (-1: unlimited) must come after
/// the new memory+swap limit (cgroup v1 refuses memory > memsw at any moment): when it
/// rises. When it falls, memory goes first.
pub fn memsw_first(current: i64, new: i64) -> bool {
    new == -1 || (current != -1 && new > current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joining_v1_writes_zero_to_each_tasks_file() {
        let dir = std::env::temp_dir().join(format!("sc-cg-{}", std::process::id()));
        fs::create_dir_all(dir.join("a")).unwrap();
        fs::create_dir_all(dir.join("b")).unwrap();
        let files = vec![dir.join("a/tasks"), dir.join("b/tasks")];
        join_v1_self(&files).unwrap();
        for f in &files {
            assert_eq!(fs::read_to_string(f).unwrap(), "0");
        }
        let missing = vec![dir.join("c/tasks")];
        assert!(join_v1_self(&missing).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn memory_and_memsw_are_written_in_a_valid_order() {
        const M: i64 = 1 << 20;
        assert!(memsw_first(128 * M, 512 * M), "a raise sets memsw first");
        assert!(memsw_first(128 * M, -1), "unlimited is a raise");
        assert!(
            !memsw_first(512 * M, 128 * M),
            "a lowering sets memory first"
        );
        assert!(!memsw_first(128 * M, 128 * M));
        assert!(!memsw_first(-1, 128 * M), "from unlimited is a lowering");
    }

    #[test]
    fn proc_cgroup_parsing() {
        let map = parse_proc_cgroup(
            "9:name=systemd:/\n4:memory:/process_api/8a34\n2:cpu,cpuacct:/x:y\n0::/init.scope\n",
        );
        assert_eq!(map["name=systemd"], "/");
        assert_eq!(map["memory"], "/process_api/8a34");
        assert_eq!(map["cpu"], "/x:y");
        assert_eq!(map["cpuacct"], "/x:y");
        assert_eq!(map[""], "/init.scope");
    }

    #[test]
    fn absolute_and_relative_placements() {
        let abs = CgroupPlacement::resolve("/syscontainer", "abc").unwrap();
        assert_eq!(abs.path, "syscontainer/abc");
        assert!(abs.bases.is_empty());
        let rel = CgroupPlacement::resolve("tests", "abc").unwrap();
        assert_eq!(rel.path, "tests/abc");
        assert!(!rel.bases.is_empty());
    }
}

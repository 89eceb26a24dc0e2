//! The container's cgroup: where it goes and its limits (memory, CPU, pids, block I/O,
//! huge pages, the OOM killer). Devices allowed in the cgroup are in `devices`.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxBlockIo, LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxDeviceType, LinuxHugepageLimitBuilder,
    LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder, LinuxThrottleDevice,
    LinuxThrottleDeviceBuilder, LinuxWeightDeviceBuilder, Spec,
};

use super::devices::device_numbers;
use super::{conflict, Plan, Result, SpecError};
use crate::config::CgroupPlacement;
use crate::options::{CgroupArgs, ContainerOptions, ResourceArgs};

/// Default `--cgroup-parent` when neither the CLI nor daemon.json gives one.
pub const DEFAULT_CGROUP_PARENT: &str = "/syscontainer";
const CFS_PERIOD_US: u64 = 100_000;

/// The combinations of limits that no cgroup takes, refused before anything is built.
pub(super) fn check(opts: &ContainerOptions) -> Result<()> {
    let r = &opts.resources;
    if let (Some(swap), Some(mem)) = (r.memory_swap, r.memory) {
        if swap != -1 && (swap as u64) < mem {
            return Err(conflict(
                "--memory-swap",
                swap.to_string(),
                "must be at least --memory (it is memory plus swap)",
            ));
        }
    }
    if r.memory_swap.is_some() && r.memory.is_none() {
        return Err(conflict(
            "--memory-swap",
            r.memory_swap.unwrap_or_default().to_string(),
            "needs --memory as well",
        ));
    }
    if let Err(reason) = crate::options::check_memory_reservation(r.memory, r.memory_reservation) {
        return Err(conflict(
            "--memory-reservation",
            r.memory_reservation.unwrap_or_default().to_string(),
            reason,
        ));
    }
    check_cpusets(r.cpuset_cpus.as_deref(), r.cpuset_mems.as_deref())?;
    if r.cpus.is_some() && (r.cpu_quota.is_some() || r.cpu_period.is_some()) {
        return Err(conflict(
            "--cpus",
            r.cpus.unwrap_or_default().to_string(),
            "cannot be combined with --cpu-quota or --cpu-period",
        ));
    }
    Ok(())
}

/// Where the container's cgroup goes and who manages it: `--cgroup-parent`, else
/// daemon.json's, else a scope in `machine.slice` (systemd driver) or
/// [`DEFAULT_CGROUP_PARENT`] (cgroupfs); see [`super::cgroup_driver`].
pub(super) fn placement(
    opts: &ContainerOptions,
    id: &str,
    default_cgroup_parent: Option<&str>,
) -> Result<CgroupPlacement> {
    let parent = opts
        .cgroup
        .cgroup_parent
        .as_deref()
        .or(default_cgroup_parent);
    super::cgroup_driver::placement(
        opts.cgroup.cgroup_manager,
        parent,
        DEFAULT_CGROUP_PARENT,
        id,
    )
}

pub(super) fn apply(plan: &Plan, spec: &mut Spec) -> Result<()> {
    let opts = plan.opts;
    let mut resources = live_limits(&opts.resources)?;
    if let Some(b) = block_io(&opts.cgroup)? {
        resources.set_block_io(Some(b));
    }
    if opts.cgroup.oom_kill_disable {
        let mut memory = resources.memory().unwrap_or_default();
        memory.set_disable_oom_killer(Some(true));
        resources.set_memory(Some(memory));
    }
    if !opts.cgroup.hugetlb_limits.is_empty() {
        let limits = opts
            .cgroup
            .hugetlb_limits
            .iter()
            .map(|(page, limit)| {
                LinuxHugepageLimitBuilder::default()
                    .page_size(page.clone())
                    .limit(*limit as i64)
                    .build()
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        resources.set_hugepage_limits(Some(limits));
    }
    let mut linux = spec.linux().clone().unwrap_or_default();
    linux.set_resources(Some(resources));
    spec.set_linux(Some(linux));
    Ok(())
}

/// The memory, CPU and pids limits (the ones `update` changes).
fn live_limits(r: &ResourceArgs) -> Result<oci_spec::runtime::LinuxResources> {
    let mut memory = LinuxMemoryBuilder::default();
    if let Some(m) = r.memory {
        memory = memory.limit(m as i64);
    }
    if let Some(s) = r.memory_swap {
        memory = memory.swap(s);
    }
    if let Some(v) = r.memory_reservation {
        memory = memory.reservation(v as i64);
    }
    let mut cpu = LinuxCpuBuilder::default();
    if let Some(shares) = r.cpu_shares {
        cpu = cpu.shares(shares);
    }
    if let Some(cpus) = r.cpus {
        cpu = cpu
            .period(CFS_PERIOD_US)
            .quota((cpus * CFS_PERIOD_US as f64).round() as i64);
    }
    if let Some(q) = r.cpu_quota {
        cpu = cpu.quota(q);
    }
    if let Some(p) = r.cpu_period {
        cpu = cpu.period(p);
    }
    if let Some(c) = &r.cpuset_cpus {
        cpu = cpu.cpus(c.clone());
    }
    if let Some(m) = &r.cpuset_mems {
        cpu = cpu.mems(m.clone());
    }
    let mut resources = LinuxResourcesBuilder::default()
        .memory(memory.build()?)
        .cpu(cpu.build()?);
    if let Some(p) = r.pids_limit {
        resources = resources.pids(LinuxPidsBuilder::default().limit(p).build()?);
    }
    Ok(resources.build()?)
}

/// `--blkio-weight*` and the `--device-*-bps/iops` throttles; `None` when none is given.
fn block_io(c: &CgroupArgs) -> Result<Option<LinuxBlockIo>> {
    if !c.has_block_io() {
        return Ok(None);
    }
    let mut b = LinuxBlockIoBuilder::default();
    if let Some(w) = c.blkio_weight.filter(|w| *w > 0) {
        b = b.weight(w);
    }
    if !c.blkio_weight_device.is_empty() {
        let mut list = Vec::new();
        for (dev, w) in &c.blkio_weight_device {
            let (_, major, minor, _) = device_numbers(dev, "--blkio-weight-device")?;
            list.push(
                LinuxWeightDeviceBuilder::default()
                    .major(major)
                    .minor(minor)
                    .weight(*w)
                    .build()?,
            );
        }
        b = b.weight_device(list);
    }
    if let Some(t) = throttles(&c.device_read_bps, "--device-read-bps")? {
        b = b.throttle_read_bps_device(t);
    }
    if let Some(t) = throttles(&c.device_write_bps, "--device-write-bps")? {
        b = b.throttle_write_bps_device(t);
    }
    if let Some(t) = throttles(&c.device_read_iops, "--device-read-iops")? {
        b = b.throttle_read_iops_device(t);
    }
    if let Some(t) = throttles(&c.device_write_iops, "--device-write-iops")? {
        b = b.throttle_write_iops_device(t);
    }
    Ok(Some(b.build()?))
}

fn throttles(
    list: &[(PathBuf, u64)],
    option: &'static str,
) -> Result<Option<Vec<LinuxThrottleDevice>>> {
    if list.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for (dev, rate) in list {
        let (typ, major, minor, _) = device_numbers(dev, option)?;
        if typ != LinuxDeviceType::B {
            return Err(conflict(
                option,
                dev.display().to_string(),
                "not a block device",
            ));
        }
        out.push(
            LinuxThrottleDeviceBuilder::default()
                .major(major)
                .minor(minor)
                .rate(*rate)
                .build()?,
        );
    }
    Ok(Some(out))
}

/// What a cpuset list names: CPUs or memory nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpusetKind {
    Cpus,
    MemoryNodes,
}

impl CpusetKind {
    fn online_file(self) -> &'static str {
        match self {
            CpusetKind::Cpus => "/sys/devices/system/cpu/online",
            CpusetKind::MemoryNodes => "/sys/devices/system/node/online",
        }
    }

    fn what(self) -> &'static str {
        match self {
            CpusetKind::Cpus => "cpu",
            CpusetKind::MemoryNodes => "memory node",
        }
    }
}

/// The host's online CPUs or memory nodes, in the kernel's list format. A kernel
/// without NUMA has no `node` directory: node 0 is then the only one.
pub fn host_online(kind: CpusetKind) -> String {
    std::fs::read_to_string(Path::new(kind.online_file()))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "0".to_string())
}

/// `--cpuset-cpus` / `--cpuset-mems` must name CPUs and nodes the host has online, or
/// the kernel refuses the cpuset only at start. Shared with `update`.
pub fn check_cpusets(cpus: Option<&str>, mems: Option<&str>) -> Result<()> {
    for (option, list, kind) in [
        ("--cpuset-cpus", cpus, CpusetKind::Cpus),
        ("--cpuset-mems", mems, CpusetKind::MemoryNodes),
    ] {
        if let Some(list) = list {
            let online = host_online(kind);
            crate::options::check_cpu_list_available(list, &online, kind.what()).map_err(|e| {
                SpecError::Conflict {
                    option,
                    value: list.to_string(),
                    reason: e.reason,
                }
            })?;
        }
    }
    Ok(())
}

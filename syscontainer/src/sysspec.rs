//! Apply the system-container options ([`SystemOptions`]) to a built OCI spec and record.
//! Everything here is checked before anything is created; a bad combination is a
//! [`SpecError`] naming the option and value.

use std::collections::HashMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup,
    LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxHugepageLimitBuilder, LinuxIdMappingBuilder,
    LinuxMemory, LinuxNamespaceBuilder, LinuxNamespaceType, LinuxResources, LinuxThrottleDevice,
    LinuxThrottleDeviceBuilder, LinuxWeightDeviceBuilder, Mount, PosixRlimit, PosixRlimitBuilder,
    PosixRlimitType, Spec,
};

use crate::config::ContainerConfig;
use crate::options::NetMode;
use crate::spec::{ContainerOptions, Result, SpecError};
use crate::sysopts::{self, SecurityOpt, SystemOptions};
use crate::users;

fn conflict(
    option: &'static str,
    value: impl Into<String>,
    reason: impl Into<String>,
) -> SpecError {
    SpecError::Conflict {
        option,
        value: value.into(),
        reason: reason.into(),
    }
}

/// Extra text for the container's `/etc/hosts` and `/etc/resolv.conf`.
pub fn hosts_lines(opts: &SystemOptions) -> String {
    opts.add_hosts
        .iter()
        .map(|(h, ip)| format!("{ip}\t{h}\n"))
        .collect()
}

pub fn resolv_conf(opts: &SystemOptions, host: &str) -> String {
    sysopts::render_resolv_conf(host, &opts.dns, &opts.dns_search, &opts.dns_options)
}

/// (type, major, minor) of a device node on the host.
fn device_numbers(path: &Path, option: &'static str) -> Result<(LinuxDeviceType, i64, i64, u32)> {
    let meta = std::fs::metadata(path).map_err(|e| {
        conflict(
            option,
            path.display().to_string(),
            e.to_string().to_lowercase(),
        )
    })?;
    let typ = if meta.file_type().is_block_device() {
        LinuxDeviceType::B
    } else if meta.file_type().is_char_device() {
        LinuxDeviceType::C
    } else {
        return Err(conflict(
            option,
            path.display().to_string(),
            "not a device node",
        ));
    };
    let rdev = meta.rdev();
    Ok((
        typ,
        nix::sys::stat::major(rdev) as i64,
        nix::sys::stat::minor(rdev) as i64,
        meta.mode() & 0o7777,
    ))
}

fn throttles(
    list: &[(std::path::PathBuf, u64)],
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

fn rlimit(name: &str, soft: u64, hard: u64) -> Result<PosixRlimit> {
    let typ: PosixRlimitType = serde_json::from_value(serde_json::Value::String(name.to_string()))
        .map_err(|_| conflict("--ulimit", name, "unknown limit"))?;
    Ok(PosixRlimitBuilder::default()
        .typ(typ)
        .soft(soft)
        .hard(hard)
        .build()?)
}

/// Apply the options to the spec and the record. `privileged` containers keep a writable
/// `/proc/sys` already, so `--ns-change-opt` is ignored for them.
pub fn apply(
    container: &ContainerOptions,
    rootfs: &Path,
    spec: &mut Spec,
    config: &mut ContainerConfig,
) -> Result<()> {
    let opts: &SystemOptions = &container.system;
    let (env, privileged, system_container, net) = (
        container.env.as_slice(),
        container.privileged,
        container.system_container,
        container.net,
    );
    let mut linux = spec.linux().clone().unwrap_or_default();
    let mut process = spec.process().clone().unwrap_or_default();
    let mut resources: LinuxResources = linux.resources().clone().unwrap_or_default();
    let mut mounts: Vec<Mount> = spec.mounts().clone().unwrap_or_default();

    // /proc/sys
    if net == NetMode::Host {
        if opts.ns_change_opt.net && !privileged {
            return Err(conflict(
                "--ns-change-opt",
                "net",
                "the container shares the host's network namespace (--net host)",
            ));
        }
        if let Some((k, v)) = opts.sysctls.iter().find(|(k, _)| k.starts_with("net.")) {
            return Err(conflict(
                "--sysctl",
                format!("{k}={v}"),
                "the container shares the host's network namespace (--net host)",
            ));
        }
    }
    if !opts.sysctls.is_empty() {
        let mut map: HashMap<String, String> = linux.sysctl().clone().unwrap_or_default();
        map.extend(opts.sysctls.iter().cloned());
        linux.set_sysctl(Some(map));
    }
    if !privileged {
        config.writable_proc_paths = opts.ns_change_opt.writable_paths();
    }

    // Host channel: the tmpfs is mounted on the host at start; the container binds it.
    if let Some(hc) = &opts.host_channel {
        if std::fs::symlink_metadata(&hc.host).is_ok() {
            return Err(conflict(
                "--host-channel",
                hc.host.display().to_string(),
                "the host path already exists",
            ));
        }
        let mut options = vec!["rbind".to_string(), "nosuid".into(), "nodev".into()];
        options.push(if hc.readonly { "ro" } else { "rw" }.into());
        mounts.push(
            oci_spec::runtime::MountBuilder::default()
                .destination(&hc.container)
                .typ("bind")
                .source(&hc.host)
                .options(options)
                .build()?,
        );
        config.host_channel = Some(hc.clone());
    }
    config.env_target_file = opts.env_target_file.clone();

    // Kernel modules are loaded on the host by the tools' prestart hook; check the names now.
    if let Some((_, modules)) = env.iter().rev().find(|(k, _)| k == "KERNEL_MODULES") {
        sysopts::parse_kernel_modules(modules)
            .map_err(|e| conflict("-e", format!("KERNEL_MODULES={modules}"), e.reason))?;
    }

    // Process: rlimits, OOM score, groups, no_new_privileges.
    let mut rlimits: Vec<PosixRlimit> = process.rlimits().clone().unwrap_or_default();
    for u in &opts.ulimits {
        rlimits.retain(|r| {
            serde_json::to_value(r.typ()).ok() != Some(serde_json::Value::String(u.name.clone()))
        });
        rlimits.push(rlimit(&u.name, u.soft, u.hard)?);
    }
    if let Some(n) = opts.files_limit {
        if opts.ulimits.iter().any(|u| u.name == "RLIMIT_NOFILE") {
            return Err(conflict(
                "--files-limit",
                n.to_string(),
                "cannot be combined with --ulimit nofile",
            ));
        }
        rlimits.push(rlimit("RLIMIT_NOFILE", n, n)?);
    }
    if !rlimits.is_empty() {
        process.set_rlimits(Some(rlimits));
    }
    if let Some(adj) = opts.oom_score_adj {
        process.set_oom_score_adj(Some(adj));
    }
    if !opts.group_add.is_empty() {
        let mut user = process.user().clone();
        let mut gids = user.additional_gids().clone().unwrap_or_default();
        for g in &opts.group_add {
            let gid = users::resolve_group(rootfs, g)?;
            if !gids.contains(&gid) {
                gids.push(gid);
            }
        }
        user.set_additional_gids(Some(gids));
        process.set_user(user);
    }
    for s in &opts.security_opts {
        match s {
            SecurityOpt::NoNewPrivileges(v) => {
                process.set_no_new_privileges(Some(*v));
            }
            SecurityOpt::SeccompUnconfined => {}
            SecurityOpt::SeccompProfile(p) => {
                let profile = crate::seccomp::load_profile(p).map_err(|e| {
                    conflict(
                        "--security-opt",
                        format!("seccomp={}", p.display()),
                        e.to_string(),
                    )
                })?;
                linux.set_seccomp(Some(profile));
            }
        }
    }

    // Devices: a node inside plus an allow rule in the devices cgroup.
    let mut devices: Vec<LinuxDevice> = linux.devices().clone().unwrap_or_default();
    let mut rules: Vec<LinuxDeviceCgroup> = resources.devices().clone().unwrap_or_default();
    for d in &opts.devices {
        let (typ, major, minor, mode) = device_numbers(&d.host, "--device")?;
        devices.retain(|x| x.path() != &d.container);
        devices.push(
            LinuxDeviceBuilder::default()
                .path(&d.container)
                .typ(typ)
                .major(major)
                .minor(minor)
                .file_mode(mode)
                .uid(0u32)
                .gid(0u32)
                .build()?,
        );
        rules.push(
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(typ)
                .major(major)
                .minor(minor)
                .access(d.permissions.clone())
                .build()?,
        );
    }
    linux.set_devices(Some(devices));
    resources.set_devices(Some(rules));

    // Block I/O.
    let needs_blkio = opts.blkio_weight.is_some()
        || !opts.blkio_weight_device.is_empty()
        || !opts.device_read_bps.is_empty()
        || !opts.device_write_bps.is_empty()
        || !opts.device_read_iops.is_empty()
        || !opts.device_write_iops.is_empty();
    if needs_blkio {
        let mut b = LinuxBlockIoBuilder::default();
        if let Some(w) = opts.blkio_weight.filter(|w| *w > 0) {
            b = b.weight(w);
        }
        if !opts.blkio_weight_device.is_empty() {
            let mut list = Vec::new();
            for (dev, w) in &opts.blkio_weight_device {
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
        if let Some(t) = throttles(&opts.device_read_bps, "--device-read-bps")? {
            b = b.throttle_read_bps_device(t);
        }
        if let Some(t) = throttles(&opts.device_write_bps, "--device-write-bps")? {
            b = b.throttle_write_bps_device(t);
        }
        if let Some(t) = throttles(&opts.device_read_iops, "--device-read-iops")? {
            b = b.throttle_read_iops_device(t);
        }
        if let Some(t) = throttles(&opts.device_write_iops, "--device-write-iops")? {
            b = b.throttle_write_iops_device(t);
        }
        resources.set_block_io(Some(b.build()?));
    }

    if opts.oom_kill_disable {
        let mut memory: LinuxMemory = resources.memory().unwrap_or_default();
        memory.set_disable_oom_killer(Some(true));
        resources.set_memory(Some(memory));
    }
    if !opts.hugetlb_limits.is_empty() {
        let mut limits = Vec::new();
        for (page, limit) in &opts.hugetlb_limits {
            limits.push(
                LinuxHugepageLimitBuilder::default()
                    .page_size(page.clone())
                    .limit(*limit as i64)
                    .build()?,
            );
        }
        resources.set_hugepage_limits(Some(limits));
    }

    if let Some(remap) = opts.user_remap {
        if privileged {
            return Err(conflict(
                "--user-remap",
                format!("{}:{}:{}", remap.uid, remap.gid, remap.size),
                "cannot be combined with --privileged",
            ));
        }
        if !system_container {
            return Err(conflict(
                "--user-remap",
                format!("{}:{}:{}", remap.uid, remap.gid, remap.size),
                "needs --system-container",
            ));
        }
        let mut namespaces = linux.namespaces().clone().unwrap_or_default();
        namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::User)
                .build()?,
        );
        linux.set_namespaces(Some(namespaces));
        let map = |host: u32| {
            LinuxIdMappingBuilder::default()
                .container_id(0u32)
                .host_id(host)
                .size(remap.size)
                .build()
        };
        linux.set_uid_mappings(Some(vec![map(remap.uid)?]));
        linux.set_gid_mappings(Some(vec![map(remap.gid)?]));
        config.user_remap = Some(remap);
    }

    linux.set_resources(Some(resources));
    spec.set_linux(Some(linux));
    spec.set_process(Some(process));
    spec.set_mounts(Some(mounts));
    Ok(())
}

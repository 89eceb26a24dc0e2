//! Device nodes in the container's /dev and the devices cgroup rules that allow them:
//! the defaults every container gets, then `--device`.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use oci_spec::runtime::{
    LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType,
    Spec,
};

use super::{conflict, Plan, Result};

/// Character devices every container gets (runc's defaults too): (path, major, minor).
pub(crate) const DEFAULT_DEVICES: &[(&str, i64, i64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// Optional devices, given when the host has them.
const OPTIONAL_DEVICES: &[(&str, i64, i64)] = &[("/dev/net/tun", 10, 200), ("/dev/fuse", 10, 229)];

/// Devices allowed in the devices cgroup besides the created nodes: (type, major, minor
/// (-1 = any), access). Console and ptys are bound in, not created.
const ALLOWED_DEVICE_RULES: &[(LinuxDeviceType, i64, i64, &str)] = &[
    (LinuxDeviceType::C, -1, -1, "m"),
    (LinuxDeviceType::B, -1, -1, "m"),
    (LinuxDeviceType::C, 5, 1, "rwm"),
    (LinuxDeviceType::C, 5, 2, "rwm"),
    (LinuxDeviceType::C, 136, -1, "rwm"),
];

/// A character device node, `rw-rw-rw-` and owned by root, as the default devices are made.
pub(crate) fn char_device(path: &str, major: i64, minor: i64) -> LinuxDevice {
    let mut device = LinuxDevice::default();
    device.set_path(path.into());
    device.set_typ(LinuxDeviceType::C);
    device.set_major(major);
    device.set_minor(minor);
    device.set_file_mode(Some(0o666));
    device.set_uid(Some(0));
    device.set_gid(Some(0));
    device
}

pub(super) fn apply(plan: &Plan, spec: &mut Spec) -> Result<()> {
    let host = host_devices();
    let mut devices: Vec<LinuxDevice> = host
        .iter()
        .map(|(path, major, minor)| char_device(path, *major, *minor))
        .collect();
    let mut rules = default_rules(plan.opts.privileged, &host)?;
    for d in &plan.opts.devices.devices {
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
    let mut linux = spec.linux().clone().unwrap_or_default();
    let mut resources = linux.resources().clone().unwrap_or_default();
    resources.set_devices(Some(rules));
    linux.set_resources(Some(resources));
    linux.set_devices(Some(devices));
    // Without CAP_SYS_ADMIN `bpf(2)` cannot open the attached filter to detach it
    // (`BPF_PROG_GET_FD_BY_ID` needs it); an application container without it also could not
    // load the default filter after dropping to a user other than root.
    let refuse_bpf =
        !plan.opts.privileged && !seccomp_unconfined(plan) && super::keeps_sys_admin(spec);
    if linux.seccomp().is_none() && refuse_bpf {
        // Without it the container could detach its cgroup v2 device filter (see
        // crate::seccomp::default_profile); a profile given with --security-opt replaces it.
        let profile = crate::seccomp::default_profile()
            .map_err(|e| conflict("--security-opt", "seccomp", e.to_string()))?;
        linux.set_seccomp(Some(profile));
    }
    spec.set_linux(Some(linux));
    Ok(())
}

fn seccomp_unconfined(plan: &Plan) -> bool {
    plan.opts
        .process
        .security_opts
        .iter()
        .any(|s| matches!(s, crate::options::SecurityOpt::SeccompUnconfined))
}

fn host_devices() -> Vec<(&'static str, i64, i64)> {
    let mut devices = DEFAULT_DEVICES.to_vec();
    devices.extend(
        OPTIONAL_DEVICES
            .iter()
            .filter(|(p, _, _)| Path::new(p).exists()),
    );
    devices
}

/// Deny everything, then allow the console, ptys and the default nodes; or allow
/// everything for `--privileged`.
fn default_rules(
    privileged: bool,
    host: &[(&'static str, i64, i64)],
) -> Result<Vec<LinuxDeviceCgroup>> {
    if privileged {
        return Ok(vec![LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .access("rwm")
            .build()?]);
    }
    let mut rules = vec![LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .access("rwm")
        .build()?];
    for (typ, major, minor, access) in ALLOWED_DEVICE_RULES {
        let mut rule = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(*typ)
            .access(*access);
        if *major >= 0 {
            rule = rule.major(*major);
        }
        if *minor >= 0 {
            rule = rule.minor(*minor);
        }
        rules.push(rule.build()?);
    }
    for (_, major, minor) in host {
        rules.push(
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(LinuxDeviceType::C)
                .major(*major)
                .minor(*minor)
                .access("rwm")
                .build()?,
        );
    }
    Ok(rules)
}

/// (type, major, minor, mode) of a device node on the host.
pub(super) fn device_numbers(
    path: &Path,
    option: &'static str,
) -> Result<(LinuxDeviceType, i64, i64, u32)> {
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

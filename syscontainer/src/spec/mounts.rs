//! The mount table of a container, in mount order, and the /proc and /sys paths it may
//! not see or change. The `cgroup` entry stands for "the host's cgroup hierarchies, each
//! mounted as the container's own view"; the container init expands it.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{Mount, MountBuilder, Spec};

use super::{conflict, Plan, Result};
use crate::options::{HostChannel, MountKind, MountRequest};

pub const MASKED_PATHS: &[&str] = &[
    "/proc/kcore",
    "/proc/keys",
    "/proc/timer_list",
    "/proc/sysrq-trigger",
    "/proc/latency_stats",
    "/proc/acpi",
    "/proc/scsi",
    "/sys/firmware",
];

pub const READONLY_PATHS: &[&str] = &["/proc/sys", "/proc/bus", "/proc/fs", "/proc/irq"];

/// The files of the bundle bind-mounted over /etc, unless the user mounts their own.
pub const ETC_FILES: &[&str] = &["hostname", "hosts", "resolv.conf"];

const DEFAULT_SHM_SIZE: u64 = 64 << 20;

/// API file systems systemd mounts at boot with a `/bin/mount` child each (its
/// `dev-hugepages.mount` and `sys-fs-fuse-connections.mount`) when it holds CAP_SYS_ADMIN
/// outside a user namespace and the host path of its condition exists. Mounted by the
/// runtime instead, with the options systemd's units use, systemd finds them in place and
/// starts no process: the same mounts, about 25 ms sooner to `running` (docs/performance/boot-and-density.md).
/// (destination, file system, options, host path that must exist)
pub const SYSTEMD_API_MOUNTS: &[(&str, &str, &[&str], &str)] = &[
    (
        "/dev/hugepages",
        "hugetlbfs",
        &[],
        "/sys/kernel/mm/hugepages",
    ),
    (
        "/sys/fs/fuse/connections",
        "fusectl",
        &["nosuid", "nodev", "noexec"],
        "/sys/fs/fuse/connections",
    ),
];

pub(super) fn apply(plan: &Plan, spec: &mut Spec) -> Result<()> {
    let opts = plan.opts;
    let mut mounts = system_mounts(
        opts.mounts.shm_size.unwrap_or(DEFAULT_SHM_SIZE),
        opts.system_container || opts.privileged,
    );
    for file in ETC_FILES {
        let dest = format!("/etc/{file}");
        if opts
            .mounts
            .requests()
            .any(|m| m.destination == Path::new(&dest))
        {
            continue;
        }
        // Source is relative to the bundle: the init resolves it against the container dir.
        mounts.push(mount(&dest, "bind", file, &["rbind", "rw"]));
    }
    // Without CAP_SYS_ADMIN systemd mounts none of these itself.
    if opts.system_container && opts.kernel.user_remap.is_none() && super::keeps_sys_admin(spec) {
        let taken = |dest: &str| {
            opts.mounts
                .requests()
                .any(|m| m.destination == Path::new(dest))
        };
        mounts.extend(
            systemd_api_mounts(|p| Path::new(p).exists())
                .into_iter()
                .filter(|m| !taken(&m.destination().to_string_lossy())),
        );
    }
    mounts.extend(opts.mounts.requests().map(user_mount));
    if let Some(hc) = &opts.mounts.host_channel {
        mounts.push(host_channel_mount(hc)?);
    }
    spec.set_mounts(Some(mounts));

    let hidden = |paths: &[&str]| -> Vec<String> {
        if opts.privileged {
            vec![]
        } else {
            paths.iter().map(|s| s.to_string()).collect()
        }
    };
    let mut linux = spec.linux().clone().unwrap_or_default();
    linux.set_masked_paths(Some(hidden(MASKED_PATHS)));
    linux.set_readonly_paths(Some(hidden(READONLY_PATHS)));
    spec.set_linux(Some(linux));
    Ok(())
}

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Mount {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()
        .expect("static mount entries are complete")
}

/// The mounts every container gets, in mount order.
pub fn system_mounts(shm_size: u64, cgroup_rw: bool) -> Vec<Mount> {
    let shm = format!("size={shm_size}");
    let cgroup_mode = if cgroup_rw { "rw" } else { "ro" };
    vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", &shm],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", cgroup_mode],
        ),
        mount("/run", "tmpfs", "tmpfs", &["nosuid", "nodev", "mode=755"]),
        mount(
            "/run/lock",
            "tmpfs",
            "tmpfs",
            &["nosuid", "nodev", "noexec", "size=5m"],
        ),
        mount("/tmp", "tmpfs", "tmpfs", &["nosuid", "nodev", "mode=1777"]),
    ]
}

/// The entries of [`SYSTEMD_API_MOUNTS`] whose host path `exists`.
pub fn systemd_api_mounts(exists: impl Fn(&str) -> bool) -> Vec<Mount> {
    SYSTEMD_API_MOUNTS
        .iter()
        .filter(|(_, _, _, host_path)| exists(host_path))
        .map(|(dest, fstype, options, _)| mount(dest, fstype, fstype, options))
        .collect()
}

fn user_mount(req: &MountRequest) -> Mount {
    let mut options: Vec<String> = match req.kind {
        MountKind::Bind => vec!["rbind".into()],
        MountKind::Tmpfs => vec!["nosuid".into(), "nodev".into()],
    };
    options.push(if req.readonly { "ro" } else { "rw" }.into());
    options.extend(req.options.iter().cloned());
    let (typ, source) = match req.kind {
        MountKind::Bind => ("bind", req.source.clone().unwrap_or_default()),
        MountKind::Tmpfs => ("tmpfs", PathBuf::from("tmpfs")),
    };
    MountBuilder::default()
        .destination(&req.destination)
        .typ(typ)
        .source(source)
        .options(options)
        .build()
        .expect("user mount entries are complete")
}

/// The host channel's tmpfs is mounted on the host at start; the container binds it.
fn host_channel_mount(hc: &HostChannel) -> Result<Mount> {
    if std::fs::symlink_metadata(&hc.host).is_ok() {
        return Err(conflict(
            "--host-channel",
            hc.host.display().to_string(),
            "the host path already exists",
        ));
    }
    let mut options = vec!["rbind".to_string(), "nosuid".into(), "nodev".into()];
    options.push(if hc.readonly { "ro" } else { "rw" }.into());
    Ok(MountBuilder::default()
        .destination(&hc.container)
        .typ("bind")
        .source(&hc.host)
        .options(options)
        .build()?)
}

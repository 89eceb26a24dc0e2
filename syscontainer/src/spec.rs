//! From validated `run`/`create` options to an OCI bundle: the runtime spec
//! (`config.json`), the manager's record (`container.json`) and the files the container
//! gets bind-mounted (`hostname`, `hosts`, `resolv.conf`).
//!
//! The mount table of a system container is data here ([`system_mounts`]); the
//! container init walks it in order.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCpuBuilder, LinuxDeviceBuilder, LinuxDeviceCgroupBuilder,
    LinuxDeviceType, LinuxMemoryBuilder, LinuxNamespaceBuilder, LinuxNamespaceType,
    LinuxPidsBuilder, LinuxResourcesBuilder, Mount, MountBuilder, ProcessBuilder, RootBuilder,
    Spec, SpecBuilder, UserBuilder,
};

use crate::capabilities;
use crate::config::{CgroupPlacement, ContainerConfig};
use crate::fsutil::secure_join;
use crate::options::{CapabilityName, MountKind, MountRequest, NetMode, RestartPolicy, UserSpec};
use crate::users;

/// Default `--cgroup-parent` when neither the CLI nor daemon.json gives one.
pub const DEFAULT_CGROUP_PARENT: &str = "/syscontainer";
pub const DEFAULT_STOP_TIMEOUT: u64 = 10;
const CFS_PERIOD_US: u64 = 100_000;
/// Annotation carrying the container's stop signal for OCI tools.
pub const STOP_SIGNAL_ANNOTATION: &str = "org.opencontainers.image.stopSignal";

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("--system-container requires --external-rootfs")]
    SystemContainerNeedsRootfs,
    #[error("with --external-rootfs the image argument must be \"none\", not {0:?}")]
    ImageWithRootfs(String),
    #[error("image {0:?}: images are not supported, boot a root file system with --external-rootfs PATH none")]
    ImagesUnsupported(String),
    #[error("rootfs {path}: {reason}")]
    Rootfs { path: PathBuf, reason: String },
    #[error("no command given: name one after the image, or use --system-container for init")]
    NoCommand,
    #[error("{option} {value}: {reason}")]
    Conflict {
        option: &'static str,
        value: String,
        reason: String,
    },
    #[error("user {0}")]
    User(#[from] users::UserError),
    #[error("cgroup placement: {0}")]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error("oci spec: {0}")]
    Oci(#[from] oci_spec::OciSpecError),
}

pub type Result<T> = std::result::Result<T, SpecError>;

/// Everything `run`/`create` can be told, already parsed and validated one by one.
#[derive(Debug, Clone, Default)]
pub struct ContainerOptions {
    pub name: Option<String>,
    pub image: String,
    pub external_rootfs: Option<PathBuf>,
    pub system_container: bool,
    pub command: Vec<String>,
    pub tty: bool,
    pub interactive: bool,
    pub env: Vec<(String, String)>,
    pub hostname: Option<String>,
    pub mounts: Vec<MountRequest>,
    pub read_only: bool,
    pub cgroup_parent: Option<String>,
    pub memory: Option<u64>,
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<u64>,
    pub cpus: Option<f64>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<i64>,
    pub cap_add: Vec<CapabilityName>,
    pub cap_drop: Vec<CapabilityName>,
    pub privileged: bool,
    pub restart: RestartPolicy,
    pub auto_remove: bool,
    pub stop_signal: Option<i32>,
    pub stop_timeout: Option<u64>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub workdir: Option<PathBuf>,
    pub user: Option<UserSpec>,
    pub net: NetMode,
    pub shm_size: Option<u64>,
    pub system: crate::sysopts::SystemOptions,
}

/// A bundle ready to be stored.
#[derive(Debug)]
pub struct Bundle {
    pub config: ContainerConfig,
    pub spec: Spec,
    /// Files written into the container's directory and bind-mounted into it.
    pub files: Vec<(&'static str, Vec<u8>)>,
}

/// What systemd needs in a container; the rest (module loading, raw I/O, the clock,
/// MAC policy) stays with the host unless `--privileged`.
const DENIED_CAPS_SYSTEM: &[Capability] = &[
    Capability::SysModule,
    Capability::SysRawio,
    Capability::SysTime,
    Capability::MacAdmin,
    Capability::MacOverride,
];

/// Docker's default set, for application containers.
const APP_CAPS: &[Capability] = &[
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// Character devices every container gets: (path, major, minor).
const DEFAULT_DEVICES: &[(&str, i64, i64)] = &[
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

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Mount {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()
        .expect("static mount entries are complete")
}

/// The mount table of a container, in mount order. The `cgroup` entry stands for "the
/// host's cgroup hierarchies, each mounted as the container's own view"; the init
/// expands it.
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

/// Check that `rootfs` can be booted: absolute, a directory, with `/etc` and binaries,
/// and (for `init`) an `/sbin/init` that resolves inside it.
pub fn validate_rootfs(rootfs: &Path, command: &[String]) -> Result<()> {
    let bad = |reason: &str| SpecError::Rootfs {
        path: rootfs.to_path_buf(),
        reason: reason.to_string(),
    };
    if !rootfs.is_absolute() {
        return Err(bad("must be an absolute path"));
    }
    let meta = std::fs::metadata(rootfs).map_err(|e| bad(&e.to_string().to_lowercase()))?;
    if !meta.is_dir() {
        return Err(bad("is not a directory"));
    }
    let mut missing = Vec::new();
    for want in ["etc", "usr"] {
        if !rootfs.join(want).is_dir() {
            missing.push(format!("/{want}"));
        }
    }
    let program = command.first().map(String::as_str).unwrap_or("init");
    let program_path = if program == "init" {
        "/sbin/init"
    } else {
        program
    };
    if program_path.starts_with('/') {
        let resolved =
            secure_join(rootfs, Path::new(program_path)).map_err(|e| bad(&e.to_string()))?;
        if !resolved.is_file() {
            missing.push(program_path.to_string());
        }
    }
    if !missing.is_empty() {
        return Err(bad(&format!(
            "does not look like an OS tree: missing {}",
            missing.join(", ")
        )));
    }
    Ok(())
}

fn capability_set(opts: &ContainerOptions) -> Vec<Capability> {
    let all = capabilities::all_spec();
    if opts.privileged {
        return all;
    }
    let mut set: Vec<Capability> = if opts.system_container {
        all.iter()
            .copied()
            .filter(|c| !DENIED_CAPS_SYSTEM.contains(c))
            .collect()
    } else {
        APP_CAPS.to_vec()
    };
    for add in &opts.cap_add {
        match add {
            CapabilityName::All => set = all.clone(),
            CapabilityName::One(c) => {
                if let Some(c) = capabilities::to_spec(*c) {
                    if !set.contains(&c) {
                        set.push(c);
                    }
                }
            }
        }
    }
    for drop in &opts.cap_drop {
        match drop {
            CapabilityName::All => set.clear(),
            CapabilityName::One(c) => {
                if let Some(c) = capabilities::to_spec(*c) {
                    set.retain(|x| *x != c);
                }
            }
        }
    }
    set
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

/// Build the bundle for a new container with the given ID.
pub fn build(
    opts: &ContainerOptions,
    id: &str,
    default_cgroup_parent: Option<&str>,
) -> Result<Bundle> {
    let rootfs = match (&opts.external_rootfs, opts.system_container) {
        (None, true) => return Err(SpecError::SystemContainerNeedsRootfs),
        (None, false) => return Err(SpecError::ImagesUnsupported(opts.image.clone())),
        (Some(r), _) => r.clone(),
    };
    if opts.image != "none" {
        return Err(SpecError::ImageWithRootfs(opts.image.clone()));
    }
    let mut command = opts.command.clone();
    if command.is_empty() {
        if !opts.system_container {
            return Err(SpecError::NoCommand);
        }
        command.push("init".into());
    }
    validate_rootfs(&rootfs, &command)?;
    if let (Some(swap), Some(mem)) = (opts.memory_swap, opts.memory) {
        if swap != -1 && (swap as u64) < mem {
            return Err(SpecError::Conflict {
                option: "--memory-swap",
                value: swap.to_string(),
                reason: "must be at least --memory (it is memory plus swap)".into(),
            });
        }
    }
    if opts.memory_swap.is_some() && opts.memory.is_none() {
        return Err(SpecError::Conflict {
            option: "--memory-swap",
            value: opts.memory_swap.unwrap_or_default().to_string(),
            reason: "needs --memory as well".into(),
        });
    }
    if let Err(reason) =
        crate::options::check_memory_reservation(opts.memory, opts.memory_reservation)
    {
        return Err(SpecError::Conflict {
            option: "--memory-reservation",
            value: opts.memory_reservation.unwrap_or_default().to_string(),
            reason,
        });
    }
    check_cpusets(opts.cpuset_cpus.as_deref(), opts.cpuset_mems.as_deref())?;
    if opts.cpus.is_some() && (opts.cpu_quota.is_some() || opts.cpu_period.is_some()) {
        return Err(SpecError::Conflict {
            option: "--cpus",
            value: opts.cpus.unwrap_or_default().to_string(),
            reason: "cannot be combined with --cpu-quota or --cpu-period".into(),
        });
    }
    if opts.auto_remove && opts.restart != RestartPolicy::No {
        return Err(SpecError::Conflict {
            option: "--rm",
            value: "true".into(),
            reason: format!("cannot be combined with --restart {}", opts.restart),
        });
    }

    let name = opts
        .name
        .clone()
        .unwrap_or_else(|| format!("sc-{}", &id[..12]));
    let hostname = opts
        .hostname
        .clone()
        .unwrap_or_else(|| id[..12].to_string());

    let args: Vec<String> = if command[0] == "init" {
        std::iter::once("/sbin/init".to_string())
            .chain(command[1..].iter().cloned())
            .collect()
    } else {
        command.clone()
    };

    let mut env: Vec<String> = vec![
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        "container=syscontainer".into(),
        format!("container_uuid={}", &id[..32]),
    ];
    if opts.tty || opts.system_container {
        env.push("TERM=xterm".into());
    }
    for (k, v) in &opts.env {
        env.retain(|e| e.split_once('=').map(|(ek, _)| ek) != Some(k.as_str()));
        env.push(format!("{k}={v}"));
    }

    let (uid, gid, additional_gids) = match &opts.user {
        Some(u) => users::resolve(&rootfs, u)?,
        None => (0, 0, vec![]),
    };
    let capabilities: std::collections::HashSet<Capability> =
        capability_set(opts).into_iter().collect();
    let process = ProcessBuilder::default()
        .terminal(true)
        .args(args)
        .env(env)
        .cwd(opts.workdir.clone().unwrap_or_else(|| PathBuf::from("/")))
        .user(
            UserBuilder::default()
                .uid(uid)
                .gid(gid)
                .additional_gids(additional_gids)
                .build()?,
        )
        .capabilities(
            oci_spec::runtime::LinuxCapabilitiesBuilder::default()
                .bounding(capabilities.clone())
                .effective(capabilities.clone())
                .permitted(capabilities.clone())
                .inheritable(std::collections::HashSet::new())
                .ambient(std::collections::HashSet::new())
                .build()?,
        )
        .no_new_privileges(false)
        // oci-spec's default is RLIMIT_NOFILE=1024; a system container inherits the
        // runtime's limits unless --ulimit/--files-limit say otherwise.
        .rlimits(Vec::new())
        .build()?;

    let mut namespaces = vec![
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Cgroup,
    ];
    if opts.net == NetMode::None {
        namespaces.push(LinuxNamespaceType::Network);
    }
    let namespaces = namespaces
        .into_iter()
        .map(|t| LinuxNamespaceBuilder::default().typ(t).build())
        .collect::<std::result::Result<Vec<_>, _>>()?;

    let mut memory = LinuxMemoryBuilder::default();
    if let Some(m) = opts.memory {
        memory = memory.limit(m as i64);
    }
    if let Some(s) = opts.memory_swap {
        memory = memory.swap(s);
    }
    if let Some(r) = opts.memory_reservation {
        memory = memory.reservation(r as i64);
    }
    let mut cpu = LinuxCpuBuilder::default();
    if let Some(shares) = opts.cpu_shares {
        cpu = cpu.shares(shares);
    }
    if let Some(cpus) = opts.cpus {
        cpu = cpu
            .period(CFS_PERIOD_US)
            .quota((cpus * CFS_PERIOD_US as f64).round() as i64);
    }
    if let Some(q) = opts.cpu_quota {
        cpu = cpu.quota(q);
    }
    if let Some(p) = opts.cpu_period {
        cpu = cpu.period(p);
    }
    if let Some(c) = &opts.cpuset_cpus {
        cpu = cpu.cpus(c.clone());
    }
    if let Some(m) = &opts.cpuset_mems {
        cpu = cpu.mems(m.clone());
    }
    let devices = host_devices();
    let mut device_rules = vec![LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .access("rwm")
        .build()?];
    if opts.privileged {
        device_rules = vec![LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .access("rwm")
            .build()?];
    } else {
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
            device_rules.push(rule.build()?);
        }
        for (_, major, minor) in &devices {
            device_rules.push(
                LinuxDeviceCgroupBuilder::default()
                    .allow(true)
                    .typ(LinuxDeviceType::C)
                    .major(*major)
                    .minor(*minor)
                    .access("rwm")
                    .build()?,
            );
        }
    }
    let mut resources = LinuxResourcesBuilder::default()
        .memory(memory.build()?)
        .cpu(cpu.build()?)
        .devices(device_rules);
    if let Some(p) = opts.pids_limit {
        resources = resources.pids(LinuxPidsBuilder::default().limit(p).build()?);
    }

    let parent = opts
        .cgroup_parent
        .as_deref()
        .or(default_cgroup_parent)
        .unwrap_or(DEFAULT_CGROUP_PARENT);
    let placement = CgroupPlacement::resolve(parent, id)?;

    let linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .resources(resources.build()?)
        .cgroups_path(PathBuf::from("/").join(&placement.path))
        .devices(
            devices
                .iter()
                .map(|(path, major, minor)| {
                    LinuxDeviceBuilder::default()
                        .path(*path)
                        .typ(LinuxDeviceType::C)
                        .major(*major)
                        .minor(*minor)
                        .file_mode(0o666u32)
                        .uid(0u32)
                        .gid(0u32)
                        .build()
                })
                .collect::<std::result::Result<Vec<_>, _>>()?,
        )
        .masked_paths(if opts.privileged {
            vec![]
        } else {
            MASKED_PATHS.iter().map(|s| s.to_string()).collect()
        })
        .readonly_paths(if opts.privileged {
            vec![]
        } else {
            READONLY_PATHS.iter().map(|s| s.to_string()).collect()
        })
        .build()?;

    let mut mounts = system_mounts(
        opts.shm_size.unwrap_or(64 << 20),
        opts.system_container || opts.privileged,
    );
    for file in ["hostname", "hosts", "resolv.conf"] {
        let dest = format!("/etc/{file}");
        if opts
            .mounts
            .iter()
            .any(|m| m.destination == Path::new(&dest))
        {
            continue;
        }
        // Source is relative to the bundle: the init resolves it against the container dir.
        mounts.push(mount(&dest, "bind", file, &["rbind", "rw"]));
    }
    mounts.extend(opts.mounts.iter().map(user_mount));

    let mut annotations: HashMap<String, String> = opts
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(sig) = opts.stop_signal {
        annotations.insert(
            STOP_SIGNAL_ANNOTATION.into(),
            crate::options::signal_name(sig),
        );
    }

    let mut spec = SpecBuilder::default()
        .version("1.0.2")
        .root(
            RootBuilder::default()
                .path(&rootfs)
                .readonly(opts.read_only)
                .build()?,
        )
        .hostname(hostname.clone())
        .process(process)
        .mounts(mounts)
        .linux(linux)
        .annotations(annotations)
        .build()?;

    let config = ContainerConfig {
        id: id.to_string(),
        name,
        created: crate::state::now_rfc3339(),
        image: opts.image.clone(),
        rootfs,
        system_container: opts.system_container,
        command,
        restart: opts.restart,
        auto_remove: opts.auto_remove,
        stop_signal: opts.stop_signal,
        stop_timeout: opts.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT),
        tty: opts.tty,
        open_stdin: opts.interactive,
        labels: opts.labels.clone(),
        net: opts.net,
        cgroup: placement,
        writable_proc_paths: Vec::new(),
        host_channel: None,
        env_target_file: None,
        rootfs_device: None,
        user_remap: None,
    };
    let mut config = config;
    let rootfs = config.rootfs.clone();
    crate::sysspec::apply(opts, &rootfs, &mut spec, &mut config)?;

    let hosts = format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n{}",
        crate::sysspec::hosts_lines(&opts.system)
    );
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let resolv = crate::sysspec::resolv_conf(&opts.system, &host_resolv).into_bytes();
    Ok(Bundle {
        config,
        spec,
        files: vec![
            ("hostname", format!("{hostname}\n").into_bytes()),
            ("hosts", hosts.into_bytes()),
            ("resolv.conf", resolv),
        ],
    })
}

/// The host's online CPUs and memory nodes, in the kernel's list format. A kernel
/// without NUMA has no `node` directory: node 0 is then the only one.
pub fn host_online(kind: &str) -> String {
    let path = match kind {
        "cpu" => "/sys/devices/system/cpu/online",
        _ => "/sys/devices/system/node/online",
    };
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "0".to_string())
}

/// `--cpuset-cpus` / `--cpuset-mems` must name CPUs and nodes the host has online, or
/// the kernel refuses the cpuset only at start. Shared with `update`.
pub fn check_cpusets(cpus: Option<&str>, mems: Option<&str>) -> Result<()> {
    for (option, list, kind, what) in [
        ("--cpuset-cpus", cpus, "cpu", "cpu"),
        ("--cpuset-mems", mems, "node", "memory node"),
    ] {
        if let Some(list) = list {
            crate::options::check_cpu_list_available(list, &host_online(kind), what).map_err(
                |e| SpecError::Conflict {
                    option,
                    value: list.to_string(),
                    reason: e.reason,
                },
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rootfs() -> PathBuf {
        let root = std::env::temp_dir().join(format!(
            "sc-spec-{}-{}",
            std::process::id(),
            crate::store::new_id()
        ));
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("usr/lib/systemd")).unwrap();
        std::fs::create_dir_all(root.join("sbin")).unwrap();
        std::fs::write(root.join("usr/lib/systemd/systemd"), "").unwrap();
        std::os::unix::fs::symlink("/usr/lib/systemd/systemd", root.join("sbin/init")).unwrap();
        std::fs::write(
            root.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nwww:x:33:33::/var/www:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            root.join("etc/group"),
            "root:x:0:\nwww:x:33:\nadm:x:4:www\n",
        )
        .unwrap();
        root
    }

    fn system(root: &Path) -> ContainerOptions {
        ContainerOptions {
            image: "none".into(),
            external_rootfs: Some(root.to_path_buf()),
            system_container: true,
            ..Default::default()
        }
    }

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn system_container_boots_sbin_init() {
        let root = rootfs();
        let b = build(&system(&root), ID, None).unwrap();
        let process = b.spec.process().as_ref().unwrap();
        assert_eq!(
            process.args().as_ref().unwrap(),
            &vec!["/sbin/init".to_string()]
        );
        let env = process.env().as_ref().unwrap();
        assert!(env.contains(&"container=syscontainer".to_string()));
        assert!(env.contains(&"container_uuid=0123456789abcdef0123456789abcdef".to_string()));
        let caps = process
            .capabilities()
            .as_ref()
            .unwrap()
            .bounding()
            .as_ref()
            .unwrap();
        assert!(caps.contains(&Capability::SysAdmin));
        assert!(caps.contains(&Capability::Mknod));
        assert!(!caps.contains(&Capability::SysModule));
        assert!(!caps.contains(&Capability::SysTime));
        assert_eq!(b.config.cgroup.path, format!("syscontainer/{ID}"));
        assert_eq!(b.config.name, "sc-0123456789ab");
        assert_eq!(b.spec.hostname().as_deref(), Some("0123456789ab"));
        let dests: Vec<String> = b
            .spec
            .mounts()
            .as_ref()
            .unwrap()
            .iter()
            .map(|m| m.destination().display().to_string())
            .collect();
        for d in [
            "/proc",
            "/sys",
            "/dev",
            "/dev/pts",
            "/run",
            "/tmp",
            "/sys/fs/cgroup",
            "/etc/hostname",
        ] {
            assert!(dests.contains(&d.to_string()), "{d} missing from {dests:?}");
        }
        let linux = b.spec.linux().as_ref().unwrap();
        assert!(linux
            .readonly_paths()
            .as_ref()
            .unwrap()
            .contains(&"/proc/sys".to_string()));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn limits_go_to_resources() {
        let root = rootfs();
        let mut o = system(&root);
        o.memory = Some(256 << 20);
        o.memory_swap = Some(512 << 20);
        o.cpus = Some(1.5);
        o.cpuset_cpus = Some("0".into());
        o.pids_limit = Some(100);
        o.cgroup_parent = Some("tests".into());
        let b = build(&o, ID, Some("/ignored")).unwrap();
        let res = b
            .spec
            .linux()
            .as_ref()
            .unwrap()
            .resources()
            .as_ref()
            .unwrap();
        assert_eq!(res.memory().as_ref().unwrap().limit(), Some(256 << 20));
        assert_eq!(res.memory().as_ref().unwrap().swap(), Some(512 << 20));
        assert_eq!(res.cpu().as_ref().unwrap().quota(), Some(150_000));
        assert_eq!(res.cpu().as_ref().unwrap().period(), Some(100_000));
        assert_eq!(res.pids().as_ref().unwrap().limit(), 100);
        assert_eq!(b.config.cgroup.path, format!("tests/{ID}"));
        assert!(!b.config.cgroup.bases.is_empty());
        let b = build(&system(&root), ID, Some("/from-daemon-json")).unwrap();
        assert_eq!(b.config.cgroup.path, format!("from-daemon-json/{ID}"));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn bad_combinations_are_refused() {
        let root = rootfs();
        let mut o = system(&root);
        o.external_rootfs = None;
        assert!(matches!(
            build(&o, ID, None),
            Err(SpecError::SystemContainerNeedsRootfs)
        ));
        let mut o = system(&root);
        o.image = "debian".into();
        assert!(build(&o, ID, None)
            .unwrap_err()
            .to_string()
            .contains("\"debian\""));
        let mut o = system(&root);
        o.external_rootfs = Some("relative/path".into());
        assert!(build(&o, ID, None)
            .unwrap_err()
            .to_string()
            .contains("absolute"));
        let mut o = system(&root);
        o.external_rootfs = Some(root.join("etc"));
        let e = build(&o, ID, None).unwrap_err().to_string();
        assert!(e.contains("missing /etc, /usr, /sbin/init"), "{e}");
        let mut o = system(&root);
        o.memory = Some(512 << 20);
        o.memory_swap = Some(256 << 20);
        assert!(build(&o, ID, None)
            .unwrap_err()
            .to_string()
            .contains("--memory-swap"));
        let mut o = system(&root);
        o.cpus = Some(1.0);
        o.cpu_quota = Some(5000);
        assert!(build(&o, ID, None).is_err());
        let mut o = system(&root);
        o.auto_remove = true;
        o.restart = RestartPolicy::Always;
        assert!(build(&o, ID, None)
            .unwrap_err()
            .to_string()
            .contains("--rm"));
        let mut o = system(&root);
        o.system_container = false;
        assert!(matches!(build(&o, ID, None), Err(SpecError::NoCommand)));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn reservation_above_memory_and_offline_cpus_are_refused() {
        let root = rootfs();
        let mut o = system(&root);
        o.memory = Some(512 << 20);
        o.memory_reservation = Some(1 << 30);
        let e = build(&o, ID, None).unwrap_err().to_string();
        assert!(
            e.starts_with("--memory-reservation 1073741824: minimum memory limit can not be less than memory reservation limit")
                && e.contains("--memory 536870912"),
            "{e}"
        );
        o.memory_reservation = Some(256 << 20);
        assert!(build(&o, ID, None).is_ok());
        let mut o = system(&root);
        o.cpuset_cpus = Some("0-4095".into());
        let e = build(&o, ID, None).unwrap_err().to_string();
        assert!(e.starts_with("--cpuset-cpus 0-4095: cpu "), "{e}");
        let mut o = system(&root);
        o.cpuset_mems = Some("4000".into());
        let e = build(&o, ID, None).unwrap_err().to_string();
        assert!(
            e.starts_with("--cpuset-mems 4000: memory node 4000 not online"),
            "{e}"
        );
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn capabilities_add_drop_privileged() {
        let root = rootfs();
        let mut o = system(&root);
        o.cap_add = vec![CapabilityName::One(caps::Capability::CAP_SYS_TIME)];
        o.cap_drop = vec![CapabilityName::One(caps::Capability::CAP_NET_ADMIN)];
        let b = build(&o, ID, None).unwrap();
        let caps = b
            .spec
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .as_ref()
            .unwrap()
            .bounding()
            .clone()
            .unwrap();
        assert!(caps.contains(&Capability::SysTime));
        assert!(!caps.contains(&Capability::NetAdmin));
        let mut o = system(&root);
        o.privileged = true;
        let b = build(&o, ID, None).unwrap();
        let caps = b
            .spec
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .as_ref()
            .unwrap()
            .bounding()
            .clone()
            .unwrap();
        assert!(caps.contains(&Capability::SysModule));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn user_is_resolved_in_the_rootfs() {
        let root = rootfs();
        let mut o = system(&root);
        o.user = Some(UserSpec {
            user: "www".into(),
            group: None,
        });
        let b = build(&o, ID, None).unwrap();
        let user = b.spec.process().as_ref().unwrap().user();
        assert_eq!((user.uid(), user.gid()), (33, 33));
        assert_eq!(user.additional_gids().as_ref().unwrap(), &vec![4]);
        o.user = Some(UserSpec {
            user: "nobody-here".into(),
            group: None,
        });
        assert!(build(&o, ID, None)
            .unwrap_err()
            .to_string()
            .contains("nobody-here"));
        std::fs::remove_dir_all(root).unwrap();
    }
}

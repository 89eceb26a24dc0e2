//! The option types of `run`/`create`/`update`: each option is declared here once, as a
//! clap argument, and is read by the spec builder as the same field.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use clap::{ArgAction, Args};

use super::network::{parse_network, CniArgs, NetworkChoice};
use super::system::{
    self as so, DeviceRequest, FilesLimit, HostChannel, NsChangeOpt, SecurityOpt, Ulimit, UserRemap,
};
use super::values::{self as opt, CapabilityName, MountRequest, RestartPolicy, UserSpec};

/// Everything `run`/`create` can be told about a container, parsed value by value.
#[derive(Debug, Clone, Default, Args)]
pub struct ContainerOptions {
    /// Container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*).
    #[arg(short = 'n', long, value_parser = opt::parse_name)]
    pub name: Option<String>,
    /// Boot a system container: PID 1 is the rootfs's init (requires --external-rootfs).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value_t = false, action = ArgAction::Set, value_parser = parse_bool)]
    pub system_container: bool,
    /// Root file system directory to boot in place (the image argument is then `none`).
    #[arg(long, value_name = "PATH")]
    pub external_rootfs: Option<PathBuf>,
    /// All capabilities, all devices, no masked paths.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value_t = false, action = ArgAction::Set, value_parser = parse_bool)]
    pub privileged: bool,
    #[command(flatten)]
    pub process: ProcessArgs,
    #[command(flatten)]
    pub resources: ResourceArgs,
    #[command(flatten)]
    pub cgroup: CgroupArgs,
    #[command(flatten)]
    pub devices: DeviceArgs,
    #[command(flatten)]
    pub mounts: MountArgs,
    #[command(flatten)]
    pub network: NetworkArgs,
    #[command(flatten)]
    pub kernel: KernelArgs,
    #[command(flatten)]
    pub lifecycle: LifecycleArgs,
    #[command(flatten)]
    pub health: super::health::HealthArgs,
    #[command(flatten)]
    pub logging: super::logopt::LogArgs,
    /// `none` with --external-rootfs.
    pub image: String,
    /// Command and arguments; `init` (the default for system containers) is /sbin/init.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// PID 1: its console, environment, identity, privileges and process limits.
#[derive(Debug, Clone, Default, Args)]
pub struct ProcessArgs {
    /// Keep stdin open for attach.
    #[arg(short = 'i', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value_t = false, action = ArgAction::Set, value_parser = parse_bool)]
    pub interactive: bool,
    /// The console is a terminal (always true for the console pty; kept for isula syntax).
    #[arg(short = 't', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value_t = false, action = ArgAction::Set, value_parser = parse_bool)]
    pub tty: bool,
    /// Environment variable KEY=VALUE (KEY alone takes the caller's value).
    #[arg(short = 'e', long = "env", value_parser = opt::parse_env, value_name = "KEY=VALUE")]
    pub env: Vec<(String, String)>,
    /// Write the container's environment to this file in the rootfs at every start.
    #[arg(long, value_name = "/PATH", value_parser = opt::parse_abs_path)]
    pub env_target_file: Option<PathBuf>,
    /// Program to run as PID 1; the words after the image become its arguments (`""`: none).
    #[arg(long, value_name = "CMD")]
    pub entrypoint: Option<String>,
    /// Working directory of PID 1.
    #[arg(short = 'w', long, value_parser = opt::parse_abs_path)]
    pub workdir: Option<PathBuf>,
    /// USER[:GROUP] of PID 1, looked up in the rootfs.
    #[arg(short = 'u', long, value_parser = opt::parse_user)]
    pub user: Option<UserSpec>,
    /// Additional group (name in the rootfs or number) for PID 1.
    #[arg(long = "group-add")]
    pub group_add: Vec<String>,
    /// Add a capability (or ALL).
    #[arg(long, value_parser = opt::parse_capability)]
    pub cap_add: Vec<CapabilityName>,
    /// Drop a capability (or ALL).
    #[arg(long, value_parser = opt::parse_capability)]
    pub cap_drop: Vec<CapabilityName>,
    /// no-new-privileges, seccomp=unconfined or seccomp=/abs/profile.json.
    #[arg(long = "security-opt", value_parser = so::parse_security_opt)]
    pub security_opts: Vec<SecurityOpt>,
    /// Resource limit NAME=SOFT[:HARD] (nofile, nproc, core, …).
    #[arg(long = "ulimit", value_parser = so::parse_ulimit)]
    pub ulimits: Vec<Ulimit>,
    /// Open files limit of every process (RLIMIT_NOFILE; -1 or 0: no limit).
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = so::parse_files_limit)]
    pub files_limit: Option<FilesLimit>,
    /// OOM score adjustment of PID 1 (-1000..1000).
    #[arg(long, allow_hyphen_values = true, value_parser = so::parse_oom_score_adj)]
    pub oom_score_adj: Option<i32>,
}

impl ProcessArgs {
    /// `--files-limit` as a number of files; `None` for "not given" and "no limit".
    pub fn files_limit(&self) -> Option<u64> {
        self.files_limit.and_then(|f| f.0)
    }
}

/// The memory, CPU and pids limits: set at create, changed live by `update` (where
/// `None` leaves a value as it is).
#[derive(Debug, Clone, Default, Args)]
pub struct ResourceArgs {
    /// Memory limit (e.g. 512m, 1g; at least 4m).
    #[arg(short = 'm', long, value_parser = opt::parse_memory_limit, value_name = "BYTES")]
    pub memory: Option<u64>,
    /// Memory plus swap limit; -1 for unlimited swap.
    #[arg(long, value_parser = opt::parse_memory_swap, allow_hyphen_values = true, value_name = "BYTES")]
    pub memory_swap: Option<i64>,
    /// Memory soft limit.
    #[arg(long, value_parser = opt::parse_bytes, value_name = "BYTES")]
    pub memory_reservation: Option<u64>,
    /// Number of CPUs (CFS quota over a 100ms period).
    #[arg(long, value_parser = opt::parse_cpus)]
    pub cpus: Option<f64>,
    /// CPU shares (relative weight, 2..262144).
    #[arg(short = 'c', long, value_parser = |s: &str| opt::parse_int_in::<u64>(s, 2, 262_144))]
    pub cpu_shares: Option<u64>,
    /// CFS quota in microseconds per period (-1 for none, or 1000 and more).
    #[arg(long, allow_hyphen_values = true, value_parser = opt::parse_cpu_quota)]
    pub cpu_quota: Option<i64>,
    /// CFS period in microseconds (1000..1000000).
    #[arg(long, value_parser = |s: &str| opt::parse_int_in::<u64>(s, 1000, 1_000_000))]
    pub cpu_period: Option<u64>,
    /// CPUs allowed (0-3,5).
    #[arg(long, value_parser = opt::parse_cpu_list)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes allowed (0-1).
    #[arg(long, value_parser = opt::parse_cpu_list)]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes (-1 for unlimited).
    #[arg(long, allow_hyphen_values = true, value_parser = |s: &str| opt::parse_int_in::<i64>(s, -1, i64::MAX))]
    pub pids_limit: Option<i64>,
}

impl ResourceArgs {
    /// True when no limit is given (an `update` with nothing to change).
    pub fn is_empty(&self) -> bool {
        self.memory.is_none()
            && self.memory_swap.is_none()
            && self.memory_reservation.is_none()
            && self.cpus.is_none()
            && self.cpu_shares.is_none()
            && self.cpu_quota.is_none()
            && self.cpu_period.is_none()
            && self.cpuset_cpus.is_none()
            && self.cpuset_mems.is_none()
            && self.pids_limit.is_none()
    }
}

/// The container's cgroup: where it goes and the limits fixed at create (block I/O,
/// huge pages, the OOM killer).
#[derive(Debug, Clone, Default, Args)]
pub struct CgroupArgs {
    /// Parent cgroup: absolute from the hierarchy roots, relative from the caller's cgroup.
    #[arg(long, value_parser = opt::parse_cgroup_parent, value_name = "PATH")]
    pub cgroup_parent: Option<String>,
    /// Who manages the container's cgroup: systemd (a delegated transient scope; the
    /// default on a systemd host when the parent is unset or a NAME.slice) or cgroupfs.
    #[arg(long, value_name = "systemd|cgroupfs")]
    pub cgroup_manager: Option<crate::cgroups::Driver>,
    /// Do not let the OOM killer act in this container (cgroup v1).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value_t = false, action = ArgAction::Set, value_parser = parse_bool)]
    pub oom_kill_disable: bool,
    /// Read rate limit DEVICE:BYTES.
    #[arg(long = "device-read-bps", value_parser = |s: &str| so::parse_device_rate(s, true))]
    pub device_read_bps: Vec<(PathBuf, u64)>,
    /// Write rate limit DEVICE:BYTES.
    #[arg(long = "device-write-bps", value_parser = |s: &str| so::parse_device_rate(s, true))]
    pub device_write_bps: Vec<(PathBuf, u64)>,
    /// Read IO/s limit DEVICE:N.
    #[arg(long = "device-read-iops", value_parser = |s: &str| so::parse_device_rate(s, false))]
    pub device_read_iops: Vec<(PathBuf, u64)>,
    /// Write IO/s limit DEVICE:N.
    #[arg(long = "device-write-iops", value_parser = |s: &str| so::parse_device_rate(s, false))]
    pub device_write_iops: Vec<(PathBuf, u64)>,
    /// Block IO weight (10..1000).
    #[arg(long, value_parser = so::parse_blkio_weight)]
    pub blkio_weight: Option<u16>,
    /// Per-device block IO weight DEVICE:WEIGHT.
    #[arg(long = "blkio-weight-device", value_parser = so::parse_blkio_weight_device)]
    pub blkio_weight_device: Vec<(PathBuf, u16)>,
    /// Huge page limit [PAGESIZE:]LIMIT (page size default 2MB).
    #[arg(long = "hugetlb-limit", value_parser = so::parse_hugetlb_limit)]
    pub hugetlb_limits: Vec<(String, u64)>,
}

impl CgroupArgs {
    /// True when any block I/O weight or throttle is given.
    pub fn has_block_io(&self) -> bool {
        self.blkio_weight.is_some()
            || !self.blkio_weight_device.is_empty()
            || !self.device_read_bps.is_empty()
            || !self.device_write_bps.is_empty()
            || !self.device_read_iops.is_empty()
            || !self.device_write_iops.is_empty()
    }
}

/// Host devices given to the container.
#[derive(Debug, Clone, Default, Args)]
pub struct DeviceArgs {
    /// Host device HOST[:CONTAINER][:rwm].
    #[arg(long = "device", value_parser = so::parse_device)]
    pub devices: Vec<DeviceRequest>,
}

/// What is mounted where: the rootfs mode, binds, tmpfs, /dev/shm, the host channel.
#[derive(Debug, Clone, Default, Args)]
pub struct MountArgs {
    /// Bind mount HOST:CONTAINER[:ro|rw].
    #[arg(short = 'v', long = "volume", value_parser = opt::parse_volume, value_name = "HOST:CTR[:ro]")]
    pub volumes: Vec<MountRequest>,
    /// Mount type=bind|tmpfs,source=..,target=..[,readonly][,tmpfs-size=..][,tmpfs-mode=..].
    #[arg(long = "mount", value_parser = opt::parse_mount, value_name = "SPEC")]
    pub mounts: Vec<MountRequest>,
    /// A tmpfs at PATH[:OPTIONS].
    #[arg(long, value_parser = opt::parse_tmpfs, value_name = "PATH[:OPTS]")]
    pub tmpfs: Vec<MountRequest>,
    /// Mount the rootfs read-only.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value_t = false, action = ArgAction::Set, value_parser = parse_bool)]
    pub read_only: bool,
    /// Size of /dev/shm (more than 0).
    #[arg(long, value_parser = opt::parse_shm_size)]
    pub shm_size: Option<u64>,
    /// A tmpfs shared with the host: HOST:CONTAINER[:rw|ro[:SIZE]] (HOST must not exist; default 64M).
    #[arg(long, value_name = "HOST:CTR[:rw|ro[:SIZE]]", value_parser = |s: &str| so::parse_host_channel(s, so::host_memory()))]
    pub host_channel: Option<HostChannel>,
}

impl MountArgs {
    /// The user's mounts in mount order: volumes, then --mount, then --tmpfs.
    pub fn requests(&self) -> impl Iterator<Item = &MountRequest> {
        self.volumes.iter().chain(&self.mounts).chain(&self.tmpfs)
    }
}

/// The network namespace and the files naming the network: hostname, hosts, resolv.conf.
#[derive(Debug, Clone, Default, Args)]
pub struct NetworkArgs {
    /// Host name inside the container.
    #[arg(short = 'h', long, value_parser = opt::parse_hostname)]
    pub hostname: Option<String>,
    /// Network: none (a private namespace with only lo; default), host, or CNI network names (a[,b]).
    #[arg(long = "net", alias = "network", value_parser = parse_network, default_value = "none")]
    pub net: NetworkChoice,
    #[command(flatten)]
    pub cni: CniArgs,
    /// DNS server for /etc/resolv.conf.
    #[arg(long = "dns", value_name = "IP", value_parser = so::parse_ip)]
    pub dns: Vec<IpAddr>,
    /// resolv.conf option.
    #[arg(long = "dns-option", alias = "dns-opt", value_parser = so::parse_resolv_word)]
    pub dns_options: Vec<String>,
    /// resolv.conf search domain.
    #[arg(long = "dns-search", value_parser = so::parse_resolv_word)]
    pub dns_search: Vec<String>,
    /// Extra /etc/hosts line HOST:IP.
    #[arg(long = "add-host", value_name = "HOST:IP", value_parser = so::parse_add_host)]
    pub add_hosts: Vec<(String, IpAddr)>,
}

/// Kernel state the container may see or change: namespaced sysctls, the user namespace.
#[derive(Debug, Clone, Default, Args)]
pub struct KernelArgs {
    /// Make /proc/sys/net (net) or the IPC sysctls and /proc/sys/fs/mqueue (ipc) writable.
    #[arg(long, value_name = "net|ipc|net,ipc", value_parser = so::parse_ns_change_opt)]
    pub ns_change_opt: Option<NsChangeOpt>,
    /// Namespaced sysctl KEY=VALUE (kernel IPC keys, kernel.pid_max, net.*, fs.mqueue.*).
    #[arg(long = "sysctl", value_name = "KEY=VALUE", value_parser = so::parse_sysctl)]
    pub sysctls: Vec<(String, String)>,
    /// Run in a user namespace: container ids 0..OFFSET are host UID.., GID.. (system containers only).
    #[arg(long, value_name = "UID:GID:OFFSET", value_parser = so::parse_user_remap)]
    pub user_remap: Option<UserRemap>,
}

/// How the manager treats the container: restart, removal, stop, labels.
#[derive(Debug, Clone, Default, Args)]
pub struct LifecycleArgs {
    /// Restart policy: no, on-reboot, always, unless-stopped, on-failure[:N].
    #[arg(long, value_parser = opt::parse_restart_policy, default_value = "no")]
    pub restart: RestartPolicy,
    /// Remove the container when it exits.
    #[arg(long = "rm", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value_t = false, action = ArgAction::Set, value_parser = parse_bool)]
    pub auto_remove: bool,
    /// Signal for `stop` (default SIGRTMIN+4, poweroff, for systemd; else SIGTERM).
    #[arg(long, value_parser = opt::parse_signal)]
    pub stop_signal: Option<i32>,
    /// Seconds `stop` waits before SIGKILL (default 10).
    #[arg(long, value_parser = |s: &str| opt::parse_int_in::<u64>(s, 0, 86_400))]
    pub stop_timeout: Option<u64>,
    /// Label KEY=VALUE.
    #[arg(short = 'l', long = "label", value_parser = opt::parse_key_value)]
    pub labels: Vec<(String, String)>,
    /// OCI annotation KEY=VALUE.
    #[arg(long = "annotation", value_parser = opt::parse_key_value)]
    pub annotations: Vec<(String, String)>,
}

impl LifecycleArgs {
    /// The labels as stored in the record (a later KEY wins).
    pub fn label_map(&self) -> BTreeMap<String, String> {
        self.labels.iter().cloned().collect()
    }
}

/// isula's boolean values: `--flag`, `--flag=true`, `--flag=false`.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("{s:?} is not a boolean: use true or false")),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::options::NetMode;

    #[derive(Debug, Parser)]
    #[command(disable_help_flag = true)]
    struct Create {
        #[command(flatten)]
        options: ContainerOptions,
    }

    #[derive(Debug, Parser)]
    struct Update {
        #[command(flatten)]
        resources: ResourceArgs,
    }

    #[test]
    fn one_declaration_reaches_each_group() {
        let c = Create::try_parse_from([
            "create",
            "--rm",
            "--network",
            "host",
            "-h",
            "web",
            "--pids-limit",
            "-1",
            "--hugetlb-limit",
            "1g",
            "--device",
            "/dev/null:/dev/n:rw",
            "--ulimit",
            "nofile=10",
            "--sysctl",
            "kernel.msgmax=10",
            "-v",
            "/a:/b",
            "--tmpfs",
            "/t",
            "none",
            "/bin/sh",
            "-c",
            "true",
        ])
        .unwrap()
        .options;
        assert!(c.lifecycle.auto_remove);
        assert_eq!(c.lifecycle.restart, RestartPolicy::No);
        assert_eq!(c.network.net.mode, NetMode::Host);
        assert_eq!(c.network.hostname.as_deref(), Some("web"));
        assert_eq!(c.resources.pids_limit, Some(-1));
        assert_eq!(c.cgroup.hugetlb_limits, vec![("2MB".to_string(), 1 << 30)]);
        assert_eq!(c.devices.devices[0].permissions, "rw");
        assert_eq!(c.process.ulimits.len(), 1);
        assert_eq!(c.kernel.sysctls.len(), 1);
        let dests: Vec<_> = c.mounts.requests().map(|m| m.destination.clone()).collect();
        assert_eq!(dests, vec![PathBuf::from("/b"), PathBuf::from("/t")]);
        assert_eq!(c.image, "none");
        assert_eq!(c.command, vec!["/bin/sh", "-c", "true"]);

        let defaults = Create::try_parse_from(["create", "none"]).unwrap().options;
        assert_eq!(defaults.network.net.mode, NetMode::None);
        assert!(defaults.resources.is_empty());
    }

    #[test]
    fn isula_spellings_are_accepted() {
        let c = Create::try_parse_from([
            "create",
            "-ti",
            "-n",
            "web",
            "--system-container=true",
            "--dns-opt",
            "ndots:2",
            "--dns-option",
            "timeout:1",
            "none",
        ])
        .unwrap()
        .options;
        assert!(c.process.tty && c.process.interactive);
        assert_eq!(c.name.as_deref(), Some("web"));
        assert!(c.system_container);
        assert_eq!(c.network.dns_options, vec!["ndots:2", "timeout:1"]);
        assert_eq!(c.image, "none");
    }

    #[test]
    fn booleans_take_an_optional_true_or_false() {
        let c = Create::try_parse_from([
            "create",
            "--system-container=false",
            "--privileged",
            "--read-only=true",
            "--rm=false",
            "-t=false",
            "--interactive=true",
            "--oom-kill-disable",
            "none",
            "init",
        ])
        .unwrap()
        .options;
        assert!(!c.system_container);
        assert!(c.privileged);
        assert!(c.mounts.read_only);
        assert!(!c.lifecycle.auto_remove);
        assert!(!c.process.tty);
        assert!(c.process.interactive);
        assert!(c.cgroup.oom_kill_disable);
        assert_eq!(c.image, "none");
        assert_eq!(c.command, vec!["init"]);

        let defaults = Create::try_parse_from(["create", "none"]).unwrap().options;
        assert!(!defaults.system_container && !defaults.privileged && !defaults.process.tty);
    }

    #[test]
    fn a_boolean_never_swallows_the_next_word() {
        // Without `=`, the word after a boolean is the image, not its value.
        let c = Create::try_parse_from(["create", "--privileged", "false"])
            .unwrap()
            .options;
        assert!(c.privileged);
        assert_eq!(c.image, "false");
        assert!(Create::try_parse_from(["create", "--rm=yes", "none"]).is_err());
        assert!(Create::try_parse_from(["create", "--system-container=", "none"]).is_err());
    }

    #[test]
    fn update_takes_the_same_resource_flags() {
        let u = Update::try_parse_from(["update", "-m", "1.5g", "-c", "512", "--cpus", "0.5"])
            .unwrap()
            .resources;
        assert_eq!(u.memory, Some(3 << 29));
        assert_eq!(u.cpu_shares, Some(512));
        assert!(!u.is_empty());
        assert!(Update::try_parse_from(["update", "--hugetlb-limit", "1g"]).is_err());
        assert!(Update::try_parse_from(["update", "-m", "1m"]).is_err());
    }
}

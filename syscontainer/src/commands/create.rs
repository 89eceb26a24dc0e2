//! `create [OPTIONS] none|IMAGE [COMMAND] [ARG...]`

use std::path::PathBuf;

use anyhow::Context;
use clap::{ArgAction, Args};
use syscontainer::container::{self, DaemonConfig};
use syscontainer::options::{
    self as opt, CapabilityName, MountRequest, NetMode, RestartPolicy, UserSpec,
};
use syscontainer::spec::ContainerOptions;
use syscontainer::sysopts as so;

use super::Ctx;

/// Options shared by `create` and `run` (isula's syntax).
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
    /// Container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*).
    #[arg(long, value_parser = opt::parse_name)]
    pub name: Option<String>,
    /// Keep stdin open for attach.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// The console is a terminal (always true for the console pty; kept for isula syntax).
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Boot a system container: PID 1 is the rootfs's init (requires --external-rootfs).
    #[arg(long)]
    pub system_container: bool,
    /// Root file system directory to boot in place (the image argument is then `none`).
    #[arg(long, value_name = "PATH")]
    pub external_rootfs: Option<PathBuf>,
    /// Environment variable KEY=VALUE (KEY alone takes the caller's value).
    #[arg(short = 'e', long = "env", value_parser = opt::parse_env, value_name = "KEY=VALUE")]
    pub env: Vec<(String, String)>,
    /// File of KEY=VALUE lines.
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Host name inside the container.
    #[arg(short = 'h', long, value_parser = opt::parse_hostname)]
    pub hostname: Option<String>,
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
    #[arg(long)]
    pub read_only: bool,
    /// Parent cgroup: absolute from the hierarchy roots, relative from the caller's cgroup.
    #[arg(long, value_parser = opt::parse_cgroup_parent, value_name = "PATH")]
    pub cgroup_parent: Option<String>,
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
    /// Add a capability (or ALL).
    #[arg(long, value_parser = opt::parse_capability)]
    pub cap_add: Vec<CapabilityName>,
    /// Drop a capability (or ALL).
    #[arg(long, value_parser = opt::parse_capability)]
    pub cap_drop: Vec<CapabilityName>,
    /// All capabilities, all devices, no masked paths.
    #[arg(long)]
    pub privileged: bool,
    /// Restart policy: no, on-reboot, always, unless-stopped, on-failure[:N].
    #[arg(long, value_parser = opt::parse_restart_policy, default_value = "no")]
    pub restart: RestartPolicy,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Signal for `stop` (default SIGRTMIN+3 for systemd, else SIGTERM).
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
    /// Write the container ID to this file (which must not exist).
    #[arg(long)]
    pub cidfile: Option<PathBuf>,
    /// Working directory of PID 1.
    #[arg(short = 'w', long, value_parser = opt::parse_abs_path)]
    pub workdir: Option<PathBuf>,
    /// USER[:GROUP] of PID 1, looked up in the rootfs.
    #[arg(short = 'u', long, value_parser = opt::parse_user)]
    pub user: Option<UserSpec>,
    /// Network: none (a private namespace with only lo; default) or host.
    #[arg(long = "net", alias = "network", value_parser = opt::parse_net_mode, default_value = "none")]
    pub net: NetMode,
    /// Size of /dev/shm (more than 0).
    #[arg(long, value_parser = opt::parse_shm_size)]
    pub shm_size: Option<u64>,
    /// OCI hooks file (absolute path).
    #[arg(long, value_name = "FILE")]
    pub hook_spec: Option<PathBuf>,
    #[command(flatten)]
    pub system: SystemArgs,
    /// `none` with --external-rootfs.
    pub image: String,
    /// Command and arguments; `init` (the default for system containers) is /sbin/init.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// The system-container options (openEuler's guide).
#[derive(Debug, Args)]
pub struct SystemArgs {
    /// Make /proc/sys/net (net) or the IPC sysctls and /proc/sys/fs/mqueue (ipc) writable.
    #[arg(long, value_name = "net|ipc|net,ipc", value_parser = so::parse_ns_change_opt)]
    pub ns_change_opt: Option<so::NsChangeOpt>,
    /// Namespaced sysctl KEY=VALUE (kernel IPC keys, kernel.pid_max, net.*, fs.mqueue.*).
    #[arg(long = "sysctl", value_name = "KEY=VALUE", value_parser = so::parse_sysctl)]
    pub sysctls: Vec<(String, String)>,
    /// A tmpfs shared with the host: HOST:CONTAINER[:rw|ro[:SIZE]] (HOST must not exist; default 64M).
    #[arg(long, value_name = "HOST:CTR[:rw|ro[:SIZE]]", value_parser = |s: &str| so::parse_host_channel(s, so::host_memory()))]
    pub host_channel: Option<so::HostChannel>,
    /// Write the container's environment to this file in the rootfs at every start.
    #[arg(long, value_name = "/PATH", value_parser = opt::parse_abs_path)]
    pub env_target_file: Option<PathBuf>,
    /// Open files limit of every process (RLIMIT_NOFILE; -1 or 0: no limit).
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = so::parse_files_limit)]
    pub files_limit: Option<so::FilesLimit>,
    /// DNS server for /etc/resolv.conf.
    #[arg(long = "dns", value_name = "IP", value_parser = so::parse_ip)]
    pub dns: Vec<std::net::IpAddr>,
    /// resolv.conf option.
    #[arg(long = "dns-option", value_parser = so::parse_resolv_word)]
    pub dns_options: Vec<String>,
    /// resolv.conf search domain.
    #[arg(long = "dns-search", value_parser = so::parse_resolv_word)]
    pub dns_search: Vec<String>,
    /// Extra /etc/hosts line HOST:IP.
    #[arg(long = "add-host", value_name = "HOST:IP", value_parser = so::parse_add_host)]
    pub add_hosts: Vec<(String, std::net::IpAddr)>,
    /// Do not let the OOM killer act in this container (cgroup v1).
    #[arg(long)]
    pub oom_kill_disable: bool,
    /// OOM score adjustment of PID 1 (-1000..1000).
    #[arg(long, allow_hyphen_values = true, value_parser = so::parse_oom_score_adj)]
    pub oom_score_adj: Option<i32>,
    /// Resource limit NAME=SOFT[:HARD] (nofile, nproc, core, …).
    #[arg(long = "ulimit", value_parser = so::parse_ulimit)]
    pub ulimits: Vec<so::Ulimit>,
    /// Host device HOST[:CONTAINER][:rwm].
    #[arg(long = "device", value_parser = so::parse_device)]
    pub devices: Vec<so::DeviceRequest>,
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
    /// Additional group (name in the rootfs or number) for PID 1.
    #[arg(long = "group-add")]
    pub group_add: Vec<String>,
    /// no-new-privileges, seccomp=unconfined or seccomp=/abs/profile.json.
    #[arg(long = "security-opt", value_parser = so::parse_security_opt)]
    pub security_opts: Vec<so::SecurityOpt>,
    /// Run in a user namespace: container ids 0..OFFSET are host UID.., GID.. (system containers only).
    #[arg(long, value_name = "UID:GID:OFFSET", value_parser = so::parse_user_remap)]
    pub user_remap: Option<so::UserRemap>,
}

impl SystemArgs {
    fn to_options(&self) -> so::SystemOptions {
        so::SystemOptions {
            ns_change_opt: self.ns_change_opt.unwrap_or_default(),
            sysctls: self.sysctls.clone(),
            host_channel: self.host_channel.clone(),
            env_target_file: self.env_target_file.clone(),
            files_limit: self.files_limit.and_then(|f| f.0),
            dns: self.dns.clone(),
            dns_options: self.dns_options.clone(),
            dns_search: self.dns_search.clone(),
            add_hosts: self.add_hosts.clone(),
            oom_kill_disable: self.oom_kill_disable,
            oom_score_adj: self.oom_score_adj,
            ulimits: self.ulimits.clone(),
            devices: self.devices.clone(),
            device_read_bps: self.device_read_bps.clone(),
            device_write_bps: self.device_write_bps.clone(),
            device_read_iops: self.device_read_iops.clone(),
            device_write_iops: self.device_write_iops.clone(),
            blkio_weight: self.blkio_weight,
            blkio_weight_device: self.blkio_weight_device.clone(),
            hugetlb_limits: self.hugetlb_limits.clone(),
            group_add: self.group_add.clone(),
            security_opts: self.security_opts.clone(),
            user_remap: self.user_remap,
        }
    }
}

impl CreateArgs {
    pub fn to_options(&self) -> anyhow::Result<ContainerOptions> {
        let mut env = Vec::new();
        for file in &self.env_file {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("read --env-file {}", file.display()))?;
            env.extend(
                opt::parse_env_file_content(&text)
                    .with_context(|| format!("--env-file {}", file.display()))?,
            );
        }
        env.extend(self.env.iter().cloned());
        let mut mounts = self.volumes.clone();
        mounts.extend(self.mounts.iter().cloned());
        mounts.extend(self.tmpfs.iter().cloned());
        Ok(ContainerOptions {
            name: self.name.clone(),
            image: self.image.clone(),
            external_rootfs: self.external_rootfs.clone(),
            system_container: self.system_container,
            command: self.command.clone(),
            tty: self.tty,
            interactive: self.interactive,
            env,
            hostname: self.hostname.clone(),
            mounts,
            read_only: self.read_only,
            cgroup_parent: self.cgroup_parent.clone(),
            memory: self.memory,
            memory_swap: self.memory_swap,
            memory_reservation: self.memory_reservation,
            cpus: self.cpus,
            cpu_shares: self.cpu_shares,
            cpu_quota: self.cpu_quota,
            cpu_period: self.cpu_period,
            cpuset_cpus: self.cpuset_cpus.clone(),
            cpuset_mems: self.cpuset_mems.clone(),
            pids_limit: self.pids_limit,
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            privileged: self.privileged,
            restart: self.restart,
            auto_remove: self.rm,
            stop_signal: self.stop_signal,
            stop_timeout: self.stop_timeout,
            labels: self.labels.iter().cloned().collect(),
            annotations: self.annotations.iter().cloned().collect(),
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            net: self.net,
            shm_size: self.shm_size,
            system: self.system.to_options(),
        })
    }
}

/// Create the container; returns its ID. Shared with `run`.
pub fn create_container(ctx: &Ctx, args: &CreateArgs) -> anyhow::Result<String> {
    if let Some(cidfile) = &args.cidfile {
        if cidfile.exists() {
            anyhow::bail!("--cidfile {}: the file already exists", cidfile.display());
        }
    }
    let opts = args.to_options()?;
    let daemon = DaemonConfig::load(&ctx.daemon_config)?;
    let config = container::create(&ctx.store, &opts, &daemon, args.hook_spec.as_deref())?;
    if let Some(cidfile) = &args.cidfile {
        if let Err(e) = std::fs::write(cidfile, &config.id) {
            let _ = ctx.store.remove(&config.id);
            anyhow::bail!("--cidfile {}: {e}", cidfile.display());
        }
    }
    Ok(config.id)
}

pub fn run(ctx: &Ctx, args: CreateArgs) -> anyhow::Result<u8> {
    let id = create_container(ctx, &args)?;
    println!("{id}");
    Ok(0)
}

//! From validated `run`/`create` options to an OCI bundle: the runtime spec
//! (`config.json`), the manager's record (`container.json`) and the files the container
//! gets bind-mounted (`hostname`, `hosts`, `resolv.conf`).
//!
//! [`build`] settles the rootfs and the command, then hands the spec to one function
//! per concern, each `fn(&Plan, &mut Spec) -> Result<()>` in its own file:
//! [`process`], [`namespaces`], [`resources`], [`devices`], [`mounts`], [`system`];
//! [`etc_files`] renders the bundle's /etc files. The option types come from
//! [`crate::options`] and the errors from [`error`]; neither imports this module.

pub mod cgroup_driver;
mod devices;
pub(crate) use devices::{char_device, DEFAULT_DEVICES};
mod error;
mod etc_files;
mod mounts;
mod namespaces;
mod network;
mod process;
mod resources;
mod system;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Linux, RootBuilder, Spec};

use crate::config::{CgroupPlacement, ContainerConfig};
use crate::fsutil::secure_join;
use crate::options::{ContainerOptions, RestartPolicy};

pub(crate) use error::conflict;
pub use error::{Result, SpecError};
pub use mounts::{system_mounts, MASKED_PATHS, READONLY_PATHS};
pub use process::system_container_capabilities;
pub use resources::{check_cpusets, host_online, CpusetKind, DEFAULT_CGROUP_PARENT};

pub const DEFAULT_STOP_TIMEOUT: u64 = 10;
/// Annotation carrying the container's stop signal for OCI tools.
pub const STOP_SIGNAL_ANNOTATION: &str = "org.opencontainers.image.stopSignal";

/// A bundle ready to be stored.
#[derive(Debug)]
pub struct Bundle {
    pub config: ContainerConfig,
    pub spec: Spec,
    /// Files written into the container's directory and bind-mounted into it.
    pub files: Vec<(&'static str, Vec<u8>)>,
}

/// What each part of the spec is built from: the options and what [`build`] settled
/// from them first.
pub struct Plan<'a> {
    pub opts: &'a ContainerOptions,
    pub id: &'a str,
    /// The checked `--external-rootfs`.
    pub rootfs: PathBuf,
    /// The command; `init` when none was given to a system container.
    pub command: Vec<String>,
    pub hostname: String,
}

/// The parts of the spec, applied in this order.
const PARTS: &[fn(&Plan, &mut Spec) -> Result<()>] = &[
    process::apply,
    namespaces::apply,
    resources::apply,
    devices::apply,
    mounts::apply,
    system::apply,
    network::apply,
];

/// Build the bundle for a new container with the given ID.
pub fn build(
    opts: &ContainerOptions,
    id: &str,
    default_cgroup_parent: Option<&str>,
) -> Result<Bundle> {
    let plan = Plan::new(opts, id)?;
    resources::check(opts)?;
    if opts.lifecycle.auto_remove && opts.lifecycle.restart != RestartPolicy::No {
        return Err(conflict(
            "--rm",
            "true",
            format!(
                "cannot be combined with --restart {}",
                opts.lifecycle.restart
            ),
        ));
    }
    let placement = resources::placement(opts, id, default_cgroup_parent)?;
    let mut spec = base_spec(&plan, &placement)?;
    for part in PARTS {
        part(&plan, &mut spec)?;
    }
    Ok(Bundle {
        config: record(&plan, placement)?,
        spec,
        files: etc_files::render(&plan),
    })
}

impl<'a> Plan<'a> {
    fn new(opts: &'a ContainerOptions, id: &'a str) -> Result<Self> {
        let rootfs = match (&opts.external_rootfs, opts.system_container) {
            (None, true) => return Err(SpecError::SystemContainerNeedsRootfs),
            (None, false) => return Err(SpecError::ImagesUnsupported(opts.image.clone())),
            (Some(r), _) => r.clone(),
        };
        if opts.image != "none" {
            return Err(SpecError::ImageWithRootfs(opts.image.clone()));
        }
        let mut command = opts.command.clone();
        if let Some(entrypoint) = opts.process.entrypoint.as_deref().filter(|e| !e.is_empty()) {
            command.insert(0, entrypoint.to_string());
        } else if command.is_empty() {
            if !opts.system_container {
                return Err(SpecError::NoCommand);
            }
            command.push("init".into());
        }
        validate_rootfs(&rootfs, &command)?;
        let hostname = opts
            .network
            .hostname
            .clone()
            .unwrap_or_else(|| id[..12].to_string());
        Ok(Plan {
            opts,
            id,
            rootfs,
            command,
            hostname,
        })
    }
}

/// The spec before the parts: version, root, hostname, annotations, cgroup path.
fn base_spec(plan: &Plan, placement: &CgroupPlacement) -> Result<Spec> {
    let opts = plan.opts;
    let mut annotations: HashMap<String, String> =
        opts.lifecycle.annotations.iter().cloned().collect();
    if let Some(sig) = opts.lifecycle.stop_signal {
        annotations.insert(
            STOP_SIGNAL_ANNOTATION.into(),
            crate::options::signal_name(sig),
        );
    }
    let mut linux = Linux::default();
    linux.set_cgroups_path(Some(PathBuf::from("/").join(&placement.path)));
    let mut spec = Spec::default();
    spec.set_version("1.0.2".into());
    spec.set_root(Some(
        RootBuilder::default()
            .path(&plan.rootfs)
            .readonly(opts.mounts.read_only)
            .build()?,
    ));
    spec.set_hostname(Some(plan.hostname.clone()));
    spec.set_linux(Some(linux));
    spec.set_annotations(Some(annotations));
    Ok(spec)
}

/// The manager's record of the container.
fn record(plan: &Plan, placement: CgroupPlacement) -> Result<ContainerConfig> {
    let opts = plan.opts;
    let healthcheck = opts
        .health
        .check()
        .map_err(|e| conflict("health check option", e.value, e.reason))?;
    let log_rotation = opts
        .logging
        .rotation()
        .map_err(|e| conflict("--log-opt", e.value, e.reason))?;
    Ok(ContainerConfig {
        id: plan.id.to_string(),
        name: opts
            .name
            .clone()
            .unwrap_or_else(|| format!("sc-{}", &plan.id[..12])),
        created: crate::state::now_rfc3339(),
        image: opts.image.clone(),
        rootfs: plan.rootfs.clone(),
        system_container: opts.system_container,
        command: plan.command.clone(),
        restart: opts.lifecycle.restart,
        auto_remove: opts.lifecycle.auto_remove,
        stop_signal: opts.lifecycle.stop_signal,
        stop_timeout: opts.lifecycle.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT),
        tty: opts.process.tty,
        open_stdin: opts.process.interactive,
        labels: opts.lifecycle.label_map(),
        net: opts.network.net.mode,
        cgroup: placement,
        writable_proc_paths: system::writable_proc_paths(opts),
        host_channel: opts.mounts.host_channel.clone(),
        env_target_file: opts.process.env_target_file.clone(),
        rootfs_device: None,
        user_remap: opts.kernel.user_remap,
        cni: network::request(opts),
        entrypoint: opts.process.entrypoint.clone().filter(|e| !e.is_empty()),
        healthcheck,
        log_rotation,
    })
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

/// Whether the container's processes can hold CAP_SYS_ADMIN (in the bounding set).
fn keeps_sys_admin(spec: &Spec) -> bool {
    spec.process()
        .as_ref()
        .and_then(|p| p.capabilities().as_ref())
        .and_then(|c| c.bounding().as_ref())
        .is_some_and(|set| set.contains(&oci_spec::runtime::Capability::SysAdmin))
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::Capability;

    use super::*;
    use crate::options::{CapabilityName, UserSpec};

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
    fn entrypoint_comes_first_and_the_command_words_follow() {
        let root = rootfs();
        let args = |entrypoint: Option<&str>, command: &[&str]| {
            let mut o = system(&root);
            o.process.entrypoint = entrypoint.map(str::to_string);
            o.command = command.iter().map(|s| s.to_string()).collect();
            let b = build(&o, ID, None).unwrap();
            let args = b.spec.process().as_ref().unwrap().args().clone().unwrap();
            (args, b.config.entrypoint)
        };
        let systemd = "/usr/lib/systemd/systemd";
        assert_eq!(
            args(Some(systemd), &["--log-level=debug"]),
            (
                vec![systemd.to_string(), "--log-level=debug".to_string()],
                Some(systemd.to_string())
            )
        );
        assert_eq!(args(Some(systemd), &[]).0, vec![systemd.to_string()]);
        // An empty entrypoint is none: the default init.
        assert_eq!(args(Some(""), &[]), (vec!["/sbin/init".to_string()], None));
        // The entrypoint must exist in the rootfs.
        let mut o = system(&root);
        o.process.entrypoint = Some("/bin/missing".into());
        let e = build(&o, ID, None).unwrap_err().to_string();
        assert!(e.contains("/bin/missing"), "{e}");
        let _ = std::fs::remove_dir_all(&root);
    }

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
    fn systemd_api_file_systems_are_mounted_for_a_systemd_that_would_mount_them() {
        let all = mounts::systemd_api_mounts(|_| true);
        let dests: Vec<String> = all
            .iter()
            .map(|m| m.destination().display().to_string())
            .collect();
        assert_eq!(dests, ["/dev/hugepages", "/sys/fs/fuse/connections"]);
        assert_eq!(all[0].typ().as_deref(), Some("hugetlbfs"));
        assert_eq!(all[1].typ().as_deref(), Some("fusectl"));
        let only_fuse = mounts::systemd_api_mounts(|p| p == "/sys/fs/fuse/connections");
        assert_eq!(only_fuse.len(), 1);
        assert_eq!(
            only_fuse[0].destination(),
            Path::new("/sys/fs/fuse/connections")
        );
        assert!(mounts::systemd_api_mounts(|_| false).is_empty());

        let root = rootfs();
        let dests = |o: &ContainerOptions| -> Vec<PathBuf> {
            let spec = build(o, ID, None).unwrap().spec;
            spec.mounts()
                .as_ref()
                .unwrap()
                .iter()
                .filter(|m| matches!(m.typ().as_deref(), Some("hugetlbfs" | "fusectl")))
                .map(|m| m.destination().clone())
                .collect()
        };
        let on_host: Vec<PathBuf> = mounts::systemd_api_mounts(|p| Path::new(p).exists())
            .iter()
            .map(|m| m.destination().clone())
            .collect();
        assert_eq!(dests(&system(&root)), on_host);
        // Without CAP_SYS_ADMIN systemd would mount neither; nor for an application.
        let mut o = system(&root);
        o.process.cap_drop = vec![CapabilityName::One(caps::Capability::CAP_SYS_ADMIN)];
        assert!(dests(&o).is_empty());
        let mut o = system(&root);
        o.system_container = false;
        o.command = vec!["/sbin/init".into()];
        assert!(dests(&o).is_empty());
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn limits_go_to_resources() {
        let root = rootfs();
        let mut o = system(&root);
        o.resources.memory = Some(256 << 20);
        o.resources.memory_swap = Some(512 << 20);
        o.resources.cpus = Some(1.5);
        o.resources.cpuset_cpus = Some("0".into());
        o.resources.pids_limit = Some(100);
        o.cgroup.cgroup_parent = Some("tests".into());
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
    fn ulimits_files_limit_and_kernel_modules() {
        use crate::options::{parse_files_limit, parse_ulimit};
        use oci_spec::runtime::PosixRlimitType;
        let root = rootfs();
        let mut o = system(&root);
        o.process.ulimits = vec![
            parse_ulimit("nproc=100:200").unwrap(),
            parse_ulimit("nproc=300").unwrap(),
        ];
        o.process.files_limit = Some(parse_files_limit("4096").unwrap());
        let b = build(&o, ID, None).unwrap();
        let rlimits: Vec<_> = b
            .spec
            .process()
            .as_ref()
            .unwrap()
            .rlimits()
            .clone()
            .unwrap()
            .iter()
            .map(|r| (r.typ(), r.soft(), r.hard()))
            .collect();
        assert_eq!(
            rlimits,
            vec![
                (PosixRlimitType::RlimitNproc, 300, 300),
                (PosixRlimitType::RlimitNofile, 4096, 4096)
            ]
        );
        o.process.ulimits = vec![parse_ulimit("nofile=10").unwrap()];
        assert!(build(&o, ID, None)
            .unwrap_err()
            .to_string()
            .contains("--files-limit 4096"));

        // The prestart hook loads what this grammar accepts, so create refuses the rest.
        let mut o = system(&root);
        let longest = "m".repeat(crate::options::KERNEL_MODULE_NAME_MAX);
        o.process.env = vec![("KERNEL_MODULES".into(), format!("ext4,{longest}"))];
        assert!(build(&o, ID, None).is_ok());
        for bad in [format!("{longest}m"), "ext4 fuse".to_string()] {
            o.process.env = vec![("KERNEL_MODULES".into(), bad.clone())];
            let e = build(&o, ID, None).unwrap_err().to_string();
            assert!(e.contains(&format!("KERNEL_MODULES={bad}")), "{e}");
        }
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
        o.resources.memory = Some(512 << 20);
        o.resources.memory_swap = Some(256 << 20);
        assert!(build(&o, ID, None)
            .unwrap_err()
            .to_string()
            .contains("--memory-swap"));
        let mut o = system(&root);
        o.resources.cpus = Some(1.0);
        o.resources.cpu_quota = Some(5000);
        assert!(build(&o, ID, None).is_err());
        let mut o = system(&root);
        o.lifecycle.auto_remove = true;
        o.lifecycle.restart = RestartPolicy::Always;
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
        o.resources.memory = Some(512 << 20);
        o.resources.memory_reservation = Some(1 << 30);
        let e = build(&o, ID, None).unwrap_err().to_string();
        assert!(
            e.starts_with("--memory-reservation 1073741824: minimum memory limit can not be less than memory reservation limit")
                && e.contains("--memory 536870912"),
            "{e}"
        );
        o.resources.memory_reservation = Some(256 << 20);
        assert!(build(&o, ID, None).is_ok());
        let mut o = system(&root);
        o.resources.cpuset_cpus = Some("0-4095".into());
        let e = build(&o, ID, None).unwrap_err().to_string();
        assert!(e.starts_with("--cpuset-cpus 0-4095: cpu "), "{e}");
        let mut o = system(&root);
        o.resources.cpuset_mems = Some("4000".into());
        let e = build(&o, ID, None).unwrap_err().to_string();
        assert!(
            e.starts_with("--cpuset-mems 4000: memory node 4000 not online"),
            "{e}"
        );
        std::fs::remove_dir_all(root).unwrap();
    }

    fn bounding_capabilities(spec: &Spec) -> oci_spec::runtime::Capabilities {
        let process = spec.process().as_ref().unwrap();
        let capabilities = process.capabilities().as_ref().unwrap();
        capabilities.bounding().clone().unwrap()
    }

    #[test]
    fn capabilities_add_drop_privileged() {
        let root = rootfs();
        let mut o = system(&root);
        o.process.cap_add = vec![CapabilityName::One(caps::Capability::CAP_SYS_TIME)];
        o.process.cap_drop = vec![CapabilityName::One(caps::Capability::CAP_NET_ADMIN)];
        let caps = bounding_capabilities(&build(&o, ID, None).unwrap().spec);
        assert!(caps.contains(&Capability::SysTime));
        assert!(!caps.contains(&Capability::NetAdmin));
        let mut o = system(&root);
        o.privileged = true;
        let caps = bounding_capabilities(&build(&o, ID, None).unwrap().spec);
        assert!(caps.contains(&Capability::SysModule));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn user_is_resolved_in_the_rootfs() {
        let root = rootfs();
        let mut o = system(&root);
        o.process.user = Some(UserSpec {
            user: "www".into(),
            group: None,
        });
        let b = build(&o, ID, None).unwrap();
        let user = b.spec.process().as_ref().unwrap().user();
        assert_eq!((user.uid(), user.gid()), (33, 33));
        assert_eq!(user.additional_gids().as_ref().unwrap(), &vec![4]);
        o.process.user = Some(UserSpec {
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

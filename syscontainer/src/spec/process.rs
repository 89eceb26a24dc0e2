//! PID 1: its command, environment, identity, capabilities and process limits.

use std::collections::HashSet;
use std::path::PathBuf;

use oci_spec::runtime::{
    Capability, LinuxCapabilitiesBuilder, PosixRlimit, PosixRlimitBuilder, PosixRlimitType,
    Process, ProcessBuilder, Spec, UserBuilder,
};

use super::{conflict, Plan, Result};
use crate::capabilities;
use crate::options::{CapabilityName, ContainerOptions, SecurityOpt};
use crate::users;

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

/// The process of the spec, and the seccomp profile of `--security-opt seccomp=FILE`.
pub(super) fn apply(plan: &Plan, spec: &mut Spec) -> Result<()> {
    let mut process = base_process(plan)?;
    apply_limits(plan.opts, &mut process)?;
    apply_groups(plan, &mut process)?;
    apply_security_opts(plan.opts, &mut process, spec)?;
    spec.set_process(Some(process));
    Ok(())
}

fn base_process(plan: &Plan) -> Result<Process> {
    let opts = plan.opts;
    let args: Vec<String> = if plan.command[0] == "init" {
        std::iter::once("/sbin/init".to_string())
            .chain(plan.command[1..].iter().cloned())
            .collect()
    } else {
        plan.command.clone()
    };
    let (uid, gid, additional_gids) = match &opts.process.user {
        Some(u) => users::resolve(&plan.rootfs, u)?,
        None => (0, 0, vec![]),
    };
    let capabilities: HashSet<Capability> = capability_set(opts).into_iter().collect();
    Ok(ProcessBuilder::default()
        .terminal(true)
        .args(args)
        .env(environment(plan))
        .cwd(
            opts.process
                .workdir
                .clone()
                .unwrap_or_else(|| PathBuf::from("/")),
        )
        .user(
            UserBuilder::default()
                .uid(uid)
                .gid(gid)
                .additional_gids(additional_gids)
                .build()?,
        )
        .capabilities(
            LinuxCapabilitiesBuilder::default()
                .bounding(capabilities.clone())
                .effective(capabilities.clone())
                .permitted(capabilities)
                .inheritable(HashSet::new())
                .ambient(HashSet::new())
                .build()?,
        )
        .no_new_privileges(false)
        // oci-spec's default is RLIMIT_NOFILE=1024; a system container inherits the
        // runtime's limits unless --ulimit/--files-limit say otherwise.
        .rlimits(Vec::new())
        .build()?)
}

/// The runtime's variables, then the user's (a later KEY replaces an earlier one).
fn environment(plan: &Plan) -> Vec<String> {
    let opts = plan.opts;
    let mut env: Vec<String> = vec![
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        "container=syscontainer".into(),
        format!("container_uuid={}", &plan.id[..32]),
    ];
    if opts.process.tty || opts.system_container {
        env.push("TERM=xterm".into());
    }
    for (k, v) in &opts.process.env {
        env.retain(|e| e.split_once('=').map(|(ek, _)| ek) != Some(k.as_str()));
        env.push(format!("{k}={v}"));
    }
    env
}

/// The capabilities of a system container (everything but what no container may have),
/// as the OCI runtime grants them to one marked with the `system.container` annotation.
pub fn system_container_capabilities() -> Vec<Capability> {
    capabilities::all_spec()
        .into_iter()
        .filter(|c| !DENIED_CAPS_SYSTEM.contains(c))
        .collect()
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
    for add in &opts.process.cap_add {
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
    for drop in &opts.process.cap_drop {
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

fn rlimit(kind: PosixRlimitType, soft: u64, hard: u64) -> Result<PosixRlimit> {
    Ok(PosixRlimitBuilder::default()
        .typ(kind)
        .soft(soft)
        .hard(hard)
        .build()?)
}

/// `--ulimit`, `--files-limit` and `--oom-score-adj`.
fn apply_limits(opts: &ContainerOptions, process: &mut Process) -> Result<()> {
    let mut rlimits: Vec<PosixRlimit> = process.rlimits().clone().unwrap_or_default();
    for u in &opts.process.ulimits {
        rlimits.retain(|r| r.typ() != u.kind);
        rlimits.push(rlimit(u.kind, u.soft, u.hard)?);
    }
    if let Some(n) = opts.process.files_limit() {
        if opts
            .process
            .ulimits
            .iter()
            .any(|u| u.kind == PosixRlimitType::RlimitNofile)
        {
            return Err(conflict(
                "--files-limit",
                n.to_string(),
                "cannot be combined with --ulimit nofile",
            ));
        }
        rlimits.push(rlimit(PosixRlimitType::RlimitNofile, n, n)?);
    }
    if !rlimits.is_empty() {
        process.set_rlimits(Some(rlimits));
    }
    if let Some(adj) = opts.process.oom_score_adj {
        process.set_oom_score_adj(Some(adj));
    }
    Ok(())
}

/// `--group-add`: groups named in the rootfs or given by number.
fn apply_groups(plan: &Plan, process: &mut Process) -> Result<()> {
    let groups = &plan.opts.process.group_add;
    if groups.is_empty() {
        return Ok(());
    }
    let mut user = process.user().clone();
    let mut gids = user.additional_gids().clone().unwrap_or_default();
    for g in groups {
        let gid = users::resolve_group(&plan.rootfs, g)?;
        if !gids.contains(&gid) {
            gids.push(gid);
        }
    }
    user.set_additional_gids(Some(gids));
    process.set_user(user);
    Ok(())
}

fn apply_security_opts(
    opts: &ContainerOptions,
    process: &mut Process,
    spec: &mut Spec,
) -> Result<()> {
    for s in &opts.process.security_opts {
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
                let mut linux = spec.linux().clone().unwrap_or_default();
                linux.set_seccomp(Some(profile));
                spec.set_linux(Some(linux));
            }
        }
    }
    Ok(())
}

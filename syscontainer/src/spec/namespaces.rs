//! The namespaces a container gets, and the user namespace of `--user-remap`.

use oci_spec::runtime::{
    Linux, LinuxIdMappingBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, Spec,
};

use super::{conflict, Plan, Result};
use crate::options::{ContainerOptions, NetMode, UserRemap};

pub(super) fn apply(plan: &Plan, spec: &mut Spec) -> Result<()> {
    let opts = plan.opts;
    let mut types = vec![
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Cgroup,
    ];
    if opts.network.net.mode != NetMode::Host {
        types.push(LinuxNamespaceType::Network);
    }
    if let Some(remap) = opts.kernel.user_remap {
        check_user_remap(opts, remap)?;
        types.push(LinuxNamespaceType::User);
    }
    let namespaces = types
        .into_iter()
        .map(|t| LinuxNamespaceBuilder::default().typ(t).build())
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut linux: Linux = spec.linux().clone().unwrap_or_default();
    linux.set_namespaces(Some(namespaces));
    if let Some(remap) = opts.kernel.user_remap {
        let map = |host: u32| {
            LinuxIdMappingBuilder::default()
                .container_id(0u32)
                .host_id(host)
                .size(remap.size)
                .build()
        };
        linux.set_uid_mappings(Some(vec![map(remap.uid)?]));
        linux.set_gid_mappings(Some(vec![map(remap.gid)?]));
    }
    spec.set_linux(Some(linux));
    Ok(())
}

fn check_user_remap(opts: &ContainerOptions, remap: UserRemap) -> Result<()> {
    let value = || format!("{}:{}:{}", remap.uid, remap.gid, remap.size);
    if opts.privileged {
        return Err(conflict(
            "--user-remap",
            value(),
            "cannot be combined with --privileged",
        ));
    }
    if !opts.system_container {
        return Err(conflict(
            "--user-remap",
            value(),
            "needs --system-container",
        ));
    }
    Ok(())
}

//! The system-container options that touch the kernel: namespaced sysctls, which parts
//! of /proc/sys are writable (`--ns-change-opt`), and the kernel modules the tools'
//! prestart hook loads. Checked here, before anything is created.

use std::collections::HashMap;

use oci_spec::runtime::Spec;

use super::{conflict, Plan, Result};
use crate::options::{parse_kernel_modules, ContainerOptions, NetMode};

pub(super) fn apply(plan: &Plan, spec: &mut Spec) -> Result<()> {
    let opts = plan.opts;
    check_host_network(opts)?;
    check_kernel_modules(opts)?;
    if !opts.kernel.sysctls.is_empty() {
        let mut linux = spec.linux().clone().unwrap_or_default();
        let mut map: HashMap<String, String> = linux.sysctl().clone().unwrap_or_default();
        map.extend(opts.kernel.sysctls.iter().cloned());
        linux.set_sysctl(Some(map));
        spec.set_linux(Some(linux));
    }
    Ok(())
}

/// The /proc paths the container init leaves writable. `--privileged` containers keep
/// a writable /proc/sys already, so `--ns-change-opt` is ignored for them.
pub(super) fn writable_proc_paths(opts: &ContainerOptions) -> Vec<String> {
    if opts.privileged {
        return Vec::new();
    }
    opts.kernel
        .ns_change_opt
        .unwrap_or_default()
        .writable_paths()
}

/// A container on the host's network may not change the host's network sysctls.
fn check_host_network(opts: &ContainerOptions) -> Result<()> {
    if opts.network.net.mode != NetMode::Host {
        return Ok(());
    }
    let ns_change = opts.kernel.ns_change_opt.unwrap_or_default();
    if ns_change.net && !opts.privileged {
        return Err(conflict(
            "--ns-change-opt",
            "net",
            "the container shares the host's network namespace (--net host)",
        ));
    }
    if let Some((k, v)) = opts
        .kernel
        .sysctls
        .iter()
        .find(|(k, _)| k.starts_with("net."))
    {
        return Err(conflict(
            "--sysctl",
            format!("{k}={v}"),
            "the container shares the host's network namespace (--net host)",
        ));
    }
    Ok(())
}

/// Kernel modules are loaded on the host by the tools' prestart hook; check the names now.
fn check_kernel_modules(opts: &ContainerOptions) -> Result<()> {
    if let Some((_, modules)) = opts
        .process
        .env
        .iter()
        .rev()
        .find(|(k, _)| k == "KERNEL_MODULES")
    {
        parse_kernel_modules(modules)
            .map_err(|e| conflict("-e", format!("KERNEL_MODULES={modules}"), e.reason))?;
    }
    Ok(())
}

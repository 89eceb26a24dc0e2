//! What `syscontainer-hooks` does: re-create every recorded resource at prestart (each
//! one all-or-nothing; one that fails is reported and the others still apply) and, at
//! poststop, give physical NICs back to the host and remove host-side veth ends.

use std::path::Path;

use crate::error::{Error, Result};
use crate::net::Net;
use crate::ops::{device, nic, path, route, Target, Undo};
use crate::record::{Record, ThrottleKind};
use crate::spec::parse_kernel_modules;

/// Run one resource's apply step; undo it if it fails half-way.
fn one<'a>(errors: &mut Vec<String>, what: String, f: impl FnOnce(&mut Undo<'a>) -> Result<()>) {
    let mut undo = Undo::default();
    if let Err(e) = f(&mut undo) {
        undo.run();
        tracing::warn!("{what}: {e}");
        errors.push(format!("{what}: {e}"));
    }
}

/// Load the modules named in the container's `KERNEL_MODULES` environment variable.
pub fn load_kernel_modules(env: &[String]) -> Result<Vec<String>> {
    let Some(value) = env.iter().find_map(|e| e.strip_prefix("KERNEL_MODULES=")) else {
        return Ok(Vec::new());
    };
    let modules = parse_kernel_modules(value)?;
    for m in &modules {
        if Path::new("/sys/module").join(m.replace('-', "_")).exists() {
            continue;
        }
        if !Path::new("/proc/modules").exists() {
            return Err(Error::Failed(format!(
                "load kernel module {m}: the kernel has no loadable module support"
            )));
        }
        let out = std::process::Command::new("modprobe")
            .arg("--")
            .arg(m)
            .output()
            .map_err(|e| Error::Failed(format!("load kernel module {m}: run modprobe: {e}")))?;
        if !out.status.success() {
            return Err(Error::Failed(format!(
                "load kernel module {m}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    Ok(modules)
}

/// prestart: everything in the record, into the starting container. Returns the
/// resources that could not be applied (already reported in the log).
pub fn prestart(bundle: &Path, pid: i32, rootfs: &Path) -> Result<Vec<String>> {
    let target = Target::for_hook(bundle, pid, Some(rootfs))?;
    let Some(live) = &target.live else {
        return Err(Error::Failed(format!(
            "prestart: process {pid} of container {} is gone",
            target.name
        )));
    };
    let env: Vec<String> = target
        .store
        .load_spec(&target.id)
        .ok()
        .and_then(|s| s.process().as_ref().and_then(|p| p.env().clone()))
        .unwrap_or_default();
    load_kernel_modules(&env)?;
    let _lock = target.store.lock(&target.id)?;
    let rec = Record::load(&target.dir)?;
    let mut errors = Vec::new();
    for d in &rec.devices {
        one(&mut errors, format!("device {}", d.path), |u| {
            device::apply_device(live, d, true, u)
        });
    }
    for kind in ThrottleKind::ALL {
        for t in rec.throttles(kind) {
            one(&mut errors, format!("{} {}", kind.option(), t.path), |_| {
                Ok(live.cgroups.set_throttle(kind, t.major, t.minor, t.rate)?)
            });
        }
    }
    for b in &rec.binds {
        one(&mut errors, format!("path {}", b.container_path), |u| {
            path::apply_bind(live, b, u)
        });
    }
    if !rec.nics.is_empty() || !rec.routes.is_empty() {
        let net = Net::new()?;
        let ctr = net.join(Path::new(&format!("/proc/{pid}/ns/net")))?;
        if rec.has_eth() {
            // A previous run that ended without its poststop (monitor killed) may still
            // hold the NICs in its pinned namespace: take them back first.
            if nic::pin_path(&target.id).exists() {
                errors.extend(return_pinned_nics(&net, &rec, &target.id));
                nic::unpin_netns(&target.id);
            }
            nic::pin_netns(&target.id, pid)?;
        }
        for n in &rec.nics {
            // A host end left by a container that died without its poststop.
            if n.kind == "veth" {
                if let Ok(Some(l)) = net.link(&net.host, &n.host_nic_name) {
                    let _ = net.delete(&net.host, l.index, &n.host_nic_name);
                }
            }
            one(
                &mut errors,
                format!("network interface {}", n.ctr_nic_name),
                |u| nic::apply_nic(&net, &ctr, n, u),
            );
        }
        for r in &rec.routes {
            one(
                &mut errors,
                format!("route {}", serde_json::to_string(r).unwrap_or_default()),
                |u| route::apply_route(&net, &ctr, r, u),
            );
        }
    }
    Ok(errors)
}

/// Give the physical NICs still in the pinned namespace back to the host.
fn return_pinned_nics(net: &Net, rec: &Record, id: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let pin = nic::pin_path(id);
    let ctr = match net.join(&pin) {
        Ok(ctr) => ctr,
        Err(e) => {
            tracing::warn!("no pinned network namespace: {e}");
            return errors;
        }
    };
    for n in rec.nics.iter().filter(|n| n.kind == "eth") {
        let r = net.link(&ctr, &n.ctr_nic_name).and_then(|l| match l {
            Some(_) => {
                tracing::info!(
                    "giving {} back to the host as {}",
                    n.ctr_nic_name,
                    n.host_nic_name
                );
                nic::give_back(net, &ctr, n)
            }
            None => {
                tracing::info!("{} is not in the pinned namespace", n.ctr_nic_name);
                Ok(())
            }
        });
        if let Err(e) = r {
            tracing::warn!("give {} back: {e}", n.host_nic_name);
            errors.push(format!("give {} back: {e}", n.host_nic_name));
        }
    }
    errors
}

/// poststop: staged device nodes are removed, physical NICs go back to the host under
/// their names, veth host ends are deleted, the pinned namespace is released.
pub fn poststop(bundle: &Path) -> Result<Vec<String>> {
    let target = Target::for_hook(bundle, 0, None)?;
    let _lock = target.store.lock(&target.id)?;
    let rec = Record::load(&target.dir)?;
    let mut errors = Vec::new();
    // Nodes staged for a user-namespaced container: prestart makes them again.
    let stage = target.dir.join(device::STAGE_DIR);
    if let Err(e) = std::fs::remove_dir_all(&stage) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!("remove {}: {e}", stage.display());
            errors.push(format!("remove {}: {e}", stage.display()));
        }
    }
    if rec.nics.is_empty() {
        nic::unpin_netns(&target.id);
        return Ok(errors);
    }
    let net = Net::new()?;
    if rec.has_eth() {
        errors.extend(return_pinned_nics(&net, &rec, &target.id));
    }
    for n in rec.nics.iter().filter(|n| n.kind == "veth") {
        if let Ok(Some(l)) = net.link(&net.host, &n.host_nic_name) {
            if let Err(e) = net.delete(&net.host, l.index, &n.host_nic_name) {
                errors.push(e.to_string());
            }
        }
    }
    nic::unpin_netns(&target.id);
    Ok(errors)
}

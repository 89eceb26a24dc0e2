//! What `syscontainer-hooks` does: re-create every recorded resource at prestart (each
//! one all-or-nothing; one that fails is reported and the others still apply) and, at
//! poststop, let each give back what the host lent it. Both walk [`resource::all`], so
//! no resource type is left out.

use std::path::Path;

use crate::error::{Error, Result};
use crate::net::{Net, Ns};
use crate::ops::{device, nic, Target, Undo};
use crate::record::Record;
use crate::resource::{self, Env, Poststop, Resource};

type Resources = Vec<(&'static str, Vec<Box<dyn Resource>>)>;

/// Run one resource's apply step; undo it if it fails half-way. Whether it succeeded.
fn one<'a>(
    errors: &mut Vec<String>,
    what: String,
    f: impl FnOnce(&mut Undo<'a>) -> Result<()>,
) -> bool {
    let mut undo = Undo::default();
    if let Err(e) = f(&mut undo) {
        undo.run();
        tracing::warn!("{what}: {e}");
        errors.push(format!("{what}: {e}"));
        return false;
    }
    true
}

/// Load the modules named in the container's `KERNEL_MODULES` environment variable.
pub fn load_kernel_modules(env: &[String]) -> Result<Vec<String>> {
    let Some(value) = env.iter().find_map(|e| e.strip_prefix("KERNEL_MODULES=")) else {
        return Ok(Vec::new());
    };
    let modules = syscontainer::options::parse_kernel_modules(value)
        .map_err(|e| Error::Invalid(format!("KERNEL_MODULES: {e}")))?;
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
    let resources = resource::all(&rec);
    let each = || resources.iter().flat_map(|(_, list)| list.iter());
    let mut errors = Vec::new();
    let net = if each().any(|r| r.in_netns()) {
        let net = Net::new()?;
        let ctr = net.join(Path::new(&format!("/proc/{pid}/ns/net")))?;
        if each().any(|r| r.pins_netns()) {
            // A previous run that ended without its poststop (monitor killed) may still
            // hold the host NICs in its pinned namespace: take them back first.
            if nic::pin_path(&target.id).exists() {
                errors.extend(return_pinned(&net, &resources, &target.id));
                nic::unpin_netns(&target.id);
            }
            nic::pin_netns(&target.id, pid)?;
        }
        Some((net, ctr))
    } else {
        None
    };
    let at = Env {
        live,
        net: net.as_ref().map(|(net, ctr)| (net, ctr)),
    };
    let mut devices = Vec::new();
    for r in each() {
        let applied = one(&mut errors, r.describe(), |u| {
            r.validate()?;
            r.reapply(&at, u)
        });
        if applied {
            devices.extend(r.device_rule());
        }
    }
    sclog::crash_point("hook:prestart-after-resources");
    // The monitor installed the spec's device filter; the devices re-made above join it
    // before PID 1 runs.
    one(&mut errors, "device filter".into(), |_| {
        Ok(live
            .cgroups()
            .replace_device_filter(&device::full_rules(live, &devices)?)?)
    });
    Ok(errors)
}

/// Let every resource give back what the host lent it, from the pinned namespace
/// (if it can be joined).
fn return_pinned(net: &Net, resources: &Resources, id: &str) -> Vec<String> {
    let pinned = match net.join(&nic::pin_path(id)) {
        Ok(ns) => Some(ns),
        Err(e) => {
            tracing::warn!("no pinned network namespace: {e}");
            None
        }
    };
    give_back_all(net, pinned.as_ref(), resources)
}

fn give_back_all(net: &Net, pinned: Option<&Ns>, resources: &Resources) -> Vec<String> {
    let at = Poststop { net, pinned };
    let mut errors = Vec::new();
    for r in resources.iter().flat_map(|(_, list)| list.iter()) {
        if let Err(e) = r.give_back(&at) {
            tracing::warn!("{e}");
            errors.push(e.to_string());
        }
    }
    errors
}

/// poststop: staged device nodes are removed, every resource gives back what the host
/// lent it (host NICs return under their names, veth host ends are deleted), and the
/// pinned namespace is released.
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
    sclog::crash_point("hook:poststop-after-stage");
    let resources = resource::all(&rec);
    let each = || resources.iter().flat_map(|(_, list)| list.iter());
    if !each().any(|r| r.in_netns()) {
        nic::unpin_netns(&target.id);
        return Ok(errors);
    }
    let net = Net::new()?;
    if each().any(|r| r.pins_netns()) {
        errors.extend(return_pinned(&net, &resources, &target.id));
    } else {
        errors.extend(give_back_all(&net, None, &resources));
    }
    nic::unpin_netns(&target.id);
    Ok(errors)
}

//! A bundle's `config.json`, loaded and completed for the init.
//!
//! Completions, each a pure function of the spec:
//! - runc's default devices (`null`, `zero`, `full`, `random`, `urandom`, `tty`) in a
//!   `/dev` tmpfs, and the device-cgroup rules runc always allows (those, `/dev/ptmx`,
//!   `/dev/pts/*`), so an image's spec that lists no devices still gets a working `/dev`;
//! - with the annotation [`SYSTEM_CONTAINER_ANNOTATION`] = `true`, the system-container
//!   semantics the isula path gives `--system-container` (see [`systemize`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxCapabilities, LinuxDevice, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType,
    LinuxNamespaceBuilder, LinuxNamespaceType, Mount, Spec,
};

use super::{OciError, Result};
use crate::spec::{char_device, DEFAULT_DEVICES};

/// iSulad's annotation for a system container (`isula run --system-container` sets
/// `system.container=true` in the spec); the same key here turns on the same semantics.
pub const SYSTEM_CONTAINER_ANNOTATION: &str = "system.container";
/// A hook spec file (the isula `--hook-spec` format) whose hooks a system container gets.
pub const HOOK_SPEC_ANNOTATION: &str = "syscontainer.hook-spec";
/// `container=` as systemd reads it (the isula path's value).
const CONTAINER_ENV: &str = "container=syscontainer";

/// A loaded bundle: the spec and its rootfs as an absolute host path.
#[derive(Debug)]
pub struct Bundle {
    pub dir: PathBuf,
    pub spec: Spec,
    pub rootfs: PathBuf,
    pub system_container: bool,
}

/// Load `BUNDLE/config.json` (root.path relative to the bundle) and complete it.
pub fn load(dir: &Path) -> Result<Bundle> {
    let bad = |reason: String| OciError::Bundle {
        path: dir.to_path_buf(),
        reason,
    };
    let dir = std::fs::canonicalize(dir).map_err(|e| bad(e.to_string()))?;
    let config = dir.join("config.json");
    // Not `Spec::load`: its error says only "serde failed", not what is wrong where.
    let text = std::fs::read(&config).map_err(|e| bad(format!("config.json: {e}")))?;
    let mut spec: Spec =
        serde_json::from_slice(&text).map_err(|e| bad(format!("config.json: {e}")))?;
    let root = spec
        .root()
        .clone()
        .ok_or_else(|| bad("config.json has no root".into()))?;
    let rootfs = dir.join(root.path());
    let rootfs = std::fs::canonicalize(&rootfs)
        .map_err(|e| bad(format!("rootfs {}: {e}", rootfs.display())))?;
    let mut root = root;
    root.set_path(rootfs.clone());
    spec.set_root(Some(root));
    if spec.process().is_none() {
        return Err(bad("config.json has no process".into()));
    }
    let system_container = is_system_container(&spec);
    add_default_devices(&mut spec);
    if system_container {
        systemize(&mut spec).map_err(bad)?;
    }
    Ok(Bundle {
        dir,
        spec,
        rootfs,
        system_container,
    })
}

/// Whether the container joins an existing PID namespace (a pod that shares one): its init
/// is then visible there from the fork on, before it has executed anything of the container.
pub fn joins_a_pid_namespace(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|namespaces| {
            namespaces
                .iter()
                .any(|ns| ns.typ() == LinuxNamespaceType::Pid && ns.path().is_some())
        })
}

pub fn is_system_container(spec: &Spec) -> bool {
    spec.annotations()
        .as_ref()
        .and_then(|a| a.get(SYSTEM_CONTAINER_ANNOTATION))
        .is_some_and(|v| v == "true")
}

fn char_rule(major: Option<i64>, minor: Option<i64>) -> LinuxDeviceCgroup {
    let mut b = LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(LinuxDeviceType::C)
        .access("rwm");
    if let Some(m) = major {
        b = b.major(m);
    }
    if let Some(m) = minor {
        b = b.minor(m);
    }
    b.build().expect("a device rule with every field set")
}

/// The nodes a fresh `/dev` tmpfs needs, and the cgroup rules that let them be used.
pub fn add_default_devices(spec: &mut Spec) {
    let dev_is_tmpfs = spec
        .mounts()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .any(|m| m.destination() == Path::new("/dev") && m.typ().as_deref() == Some("tmpfs"));
    let mut linux = spec.linux().clone().unwrap_or_default();
    if dev_is_tmpfs {
        let mut devices: Vec<LinuxDevice> = linux.devices().clone().unwrap_or_default();
        for (path, major, minor) in DEFAULT_DEVICES {
            if devices.iter().any(|d| d.path() == Path::new(path)) {
                continue;
            }
            devices.push(char_device(path, *major, *minor));
        }
        linux.set_devices(Some(devices));
    }
    if let Some(mut resources) = linux.resources().clone() {
        if let Some(mut rules) = resources.devices().clone() {
            let mut allowed: Vec<LinuxDeviceCgroup> = DEFAULT_DEVICES
                .iter()
                .map(|(_, major, minor)| char_rule(Some(*major), Some(*minor)))
                .collect();
            allowed.push(char_rule(Some(5), Some(2)));
            allowed.push(char_rule(Some(136), None));
            rules.extend(allowed);
            resources.set_devices(Some(rules));
            linux.set_resources(Some(resources));
        }
    }
    spec.set_linux(Some(linux));
}

/// The destinations the kernel file systems go to, before any user mount.
fn is_kernel_mount(m: &Mount) -> bool {
    let d = m.destination();
    ["/proc", "/dev", "/sys"]
        .iter()
        .any(|top| d == Path::new(top) || d.starts_with(top))
}

/// What `--system-container` gives a container on the isula path, applied to a
/// containerd spec: `container=` in the environment, a cgroup namespace with every
/// hierarchy mounted writable (systemd manages its own subtree), `/run`, `/run/lock` and
/// `/tmp` as tmpfs, the system container's capabilities, and its default seccomp profile
/// (everything but `bpf`) when the spec names none.
pub fn systemize(spec: &mut Spec) -> std::result::Result<(), String> {
    let mut process = spec.process().clone().unwrap_or_default();
    let mut env = process.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("container=")) {
        env.push(CONTAINER_ENV.to_string());
    }
    process.set_env(Some(env));
    let caps: HashSet<_> = crate::spec::system_container_capabilities()
        .into_iter()
        .collect();
    let mut capabilities: LinuxCapabilities = process.capabilities().clone().unwrap_or_default();
    let union = |set: &Option<HashSet<_>>| -> Option<HashSet<_>> {
        Some(
            set.clone()
                .unwrap_or_default()
                .union(&caps)
                .copied()
                .collect(),
        )
    };
    capabilities.set_bounding(union(capabilities.bounding()));
    capabilities.set_effective(union(capabilities.effective()));
    capabilities.set_permitted(union(capabilities.permitted()));
    process.set_capabilities(Some(capabilities));
    spec.set_process(Some(process));

    let mut linux = spec.linux().clone().unwrap_or_default();
    let mut namespaces = linux.namespaces().clone().unwrap_or_default();
    if !namespaces
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Cgroup)
    {
        namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Cgroup)
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    linux.set_namespaces(Some(namespaces));
    if linux.seccomp().is_none() {
        linux.set_seccomp(Some(
            crate::seccomp::default_profile().map_err(|e| e.to_string())?,
        ));
    }
    spec.set_linux(Some(linux));
    spec.set_mounts(Some(system_mounts(spec.mounts().as_deref().unwrap_or(&[]))));
    Ok(())
}

/// The spec's kernel mounts, then the system mounts it lacks (the cgroup one replaced by
/// the writable view), then its other mounts (so `/run` does not hide binds below it).
fn system_mounts(mounts: &[Mount]) -> Vec<Mount> {
    let system = crate::spec::system_mounts(64 << 20, true);
    let cgroup = Path::new("/sys/fs/cgroup");
    let (kernel, others): (Vec<&Mount>, Vec<&Mount>) =
        mounts.iter().partition(|m| is_kernel_mount(m));
    let mut out: Vec<Mount> = kernel
        .into_iter()
        .filter(|m| m.destination() != cgroup)
        .cloned()
        .collect();
    let present: HashSet<PathBuf> = mounts
        .iter()
        .map(|m| m.destination().clone())
        .filter(|d| d != cgroup)
        .collect();
    out.extend(
        system
            .into_iter()
            .filter(|m| !present.contains(m.destination())),
    );
    out.extend(others.into_iter().cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Spec {
        serde_json::from_value(json).unwrap()
    }

    fn containerd_like() -> Spec {
        spec(serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "process": {"args": ["/sbin/init"], "cwd": "/", "user": {"uid": 0, "gid": 0},
                        "env": ["PATH=/bin"]},
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"},
                {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                 "options": ["ro"]},
                {"destination": "/run/secrets", "type": "bind", "source": "/s",
                 "options": ["rbind"]}
            ],
            "linux": {
                "namespaces": [{"type": "pid"}, {"type": "mount"}],
                "resources": {"devices": [{"allow": false, "access": "rwm"}]},
                "devices": [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3}]
            },
            "annotations": {"system.container": "true"}
        }))
    }

    #[test]
    fn a_malformed_exec_cpu_affinity_is_refused_naming_the_value() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rootfs")).unwrap();
        let mut json = serde_json::to_value(containerd_like()).unwrap();
        for (initial, ok) in [("0-1,3", true), ("0-", false), ("\u{663}", false)] {
            json["process"]["execCPUAffinity"] = serde_json::json!({"initial": initial});
            std::fs::write(dir.path().join("config.json"), json.to_string()).unwrap();
            match load(dir.path()) {
                Ok(_) => assert!(ok, "{initial:?} was taken"),
                Err(e) => {
                    assert!(!ok, "{initial:?}: {e}");
                    assert!(e.to_string().contains(initial), "{e}");
                }
            }
        }
    }

    #[test]
    fn a_dev_tmpfs_gets_runcs_default_devices_once() {
        let mut s = containerd_like();
        add_default_devices(&mut s);
        let linux = s.linux().clone().unwrap();
        let devices = linux.devices().clone().unwrap();
        let paths: Vec<_> = devices
            .iter()
            .map(|d| d.path().display().to_string())
            .collect();
        assert_eq!(
            paths,
            [
                "/dev/null",
                "/dev/zero",
                "/dev/full",
                "/dev/random",
                "/dev/urandom",
                "/dev/tty"
            ]
        );
        let rules = linux
            .resources()
            .clone()
            .unwrap()
            .devices()
            .clone()
            .unwrap();
        assert!(!rules[0].allow(), "the spec's deny-all stays first");
        assert!(rules
            .iter()
            .any(|r| r.allow() && r.major() == Some(136) && r.minor().is_none()));
    }

    #[test]
    fn the_annotation_is_only_true() {
        assert!(is_system_container(&containerd_like()));
        let mut s = containerd_like();
        s.set_annotations(Some(
            [("system.container".to_string(), "false".to_string())].into(),
        ));
        assert!(!is_system_container(&s));
    }

    #[test]
    fn systemize_adds_what_systemd_needs() {
        let mut s = containerd_like();
        systemize(&mut s).unwrap();
        let env = s.process().clone().unwrap().env().clone().unwrap();
        assert!(env.contains(&"container=syscontainer".to_string()));
        let dests: Vec<String> = s
            .mounts()
            .clone()
            .unwrap()
            .iter()
            .map(|m| m.destination().display().to_string())
            .collect();
        let pos = |d: &str| dests.iter().position(|x| x == d).unwrap_or(usize::MAX);
        assert!(pos("/run") < pos("/run/secrets"), "{dests:?}");
        assert!(pos("/tmp") != usize::MAX && pos("/run/lock") != usize::MAX);
        assert_eq!(dests.iter().filter(|d| *d == "/dev").count(), 1);
        let cgroup = s
            .mounts()
            .clone()
            .unwrap()
            .into_iter()
            .find(|m| m.destination() == Path::new("/sys/fs/cgroup"))
            .unwrap();
        assert!(cgroup
            .options()
            .clone()
            .unwrap()
            .contains(&"rw".to_string()));
        let linux = s.linux().clone().unwrap();
        assert!(linux
            .namespaces()
            .clone()
            .unwrap()
            .iter()
            .any(|n| n.typ() == LinuxNamespaceType::Cgroup));
        assert!(linux.seccomp().is_some());
        let caps = s.process().clone().unwrap().capabilities().clone().unwrap();
        assert!(caps
            .effective()
            .clone()
            .unwrap()
            .contains(&oci_spec::runtime::Capability::SysAdmin));
    }
}

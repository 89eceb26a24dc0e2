//! The systemd driver: on a host whose PID 1 is systemd, the container's cgroup is a transient
//! scope `syscontainer-<short id>.scope` in a slice (`machine.slice` by default, as nspawn),
//! made through systemd's D-Bus API with `Delegate=yes` and the container's init as its
//! only process, and stopped (StopUnit) when the container goes.
//!
//! With `Delegate=yes` the scope's subtree is the runtime's (systemd.io/CGROUP_DELEGATION),
//! so everything else — limits, device rules, freezing, processes, signals, statistics — is
//! written in the scope's directory by the cgroupfs driver, exactly as for a cgroupfs
//! container. The attributes of the scope's own cgroup stay systemd's, though: it rewrites
//! them from the unit's properties whenever it realizes the unit again (every
//! `daemon-reload`), so after writing the limits [`Manager::apply`] also sets them as the
//! unit's properties, read back from the files ([`properties`]); runc's systemd driver sets
//! the properties it can map too. The one difference is birth: a scope needs its first
//! process, so the init is cloned parked, put in the new scope by [`Manager::add_process`],
//! and only then are the limits applied.

mod properties;

use std::path::PathBuf;

use oci_spec::runtime::LinuxResources;
use syscontainer_systemd_client::{
    slice_cgroup_path, validate_scope_name, validate_slice_name, Error as SystemdError, ScopeSpec,
    SystemdClient,
};

use crate::controller::Controller;
use crate::error::{CgroupError, Result};
use crate::fs::FsManager;
use crate::manager::{DeviceRule, Driver, Manager, ThrottleKind};
use crate::placement::CgroupPlacement;

pub use syscontainer_systemd_client::{is_systemd_host, DEFAULT_SLICE};

/// The scope unit of the container `id`: `syscontainer-<first 12 hex>.scope`.
pub fn scope_unit_name(id: &str) -> String {
    format!("syscontainer-{}.scope", &id[..id.len().min(12)])
}

/// Where the systemd driver puts the container `id` when its parent is `slice`: the scope's
/// cgroup path as systemd derives it (`machine.slice/syscontainer-….scope`).
pub fn scope_placement(slice: &str, id: &str) -> Result<CgroupPlacement> {
    let unit = scope_unit_name(id);
    validate_scope_name(&unit)?;
    let slice_path = slice_cgroup_path(slice)?;
    let path = if slice_path.is_empty() {
        unit
    } else {
        format!("{slice_path}/{unit}")
    };
    Ok(CgroupPlacement {
        path,
        bases: Default::default(),
        driver: Driver::Systemd,
    })
}

/// A container's delegated scope: systemd makes and removes it, the cgroupfs driver
/// manages what is inside.
pub struct SystemdManager {
    inner: FsManager,
    unit: String,
    slice: String,
    /// The scope's cgroup path from the hierarchy root, as systemd reports it.
    cgroup_path: String,
}

impl SystemdManager {
    /// The scope of a systemd-driver placement (see [`scope_placement`]): the unit is the
    /// path's last component, the slice the one before it (`-.slice`, the root, if none).
    pub fn load(placement: &CgroupPlacement) -> SystemdManager {
        let mut parts = placement.path.rsplit('/');
        let unit = parts.next().unwrap_or_default().to_string();
        let slice = parts.next().unwrap_or("-.slice").to_string();
        SystemdManager {
            inner: FsManager::load(placement),
            unit,
            slice,
            cgroup_path: format!("/{}", placement.path.trim_start_matches('/')),
        }
    }

    pub fn unit(&self) -> &str {
        &self.unit
    }

    /// The directory that tells whether the scope exists: the cgroup2 one, else the first.
    fn scope_dir(&self) -> Option<PathBuf> {
        self.inner
            .v2_dir()
            .or_else(|| self.inner.dirs().into_iter().next())
    }

    /// StartTransientUnit with `pid` as the scope's process. A unit of that name left from
    /// an earlier boot (still stopping, or failed) is stopped and forgotten first.
    fn start_scope(&self, client: &SystemdClient, pid: u32) -> Result<()> {
        validate_slice_name(&self.slice)?;
        let mut spec = ScopeSpec::new(self.unit.clone(), vec![pid]);
        spec.slice = self.slice.clone();
        spec.description = format!("syscontainer container {}", self.unit);
        let started = match client.start_scope(&spec) {
            Err(SystemdError::UnitExists { .. }) => {
                client.stop_scope(&self.unit)?;
                client.reset_failed(&self.unit)?;
                client.start_scope(&spec)
            }
            other => other,
        };
        let path = match started {
            Ok(path) => path,
            Err(e) => {
                let _ = client.reset_failed(&self.unit);
                return Err(e.into());
            }
        };
        if path.to_str() != Some(self.cgroup_path.as_str()) {
            let _ = client.stop_scope(&self.unit);
            return Err(CgroupError::Unsupported(format!(
                "systemd put scope {} at {}, not at the recorded {}",
                self.unit,
                path.display(),
                self.cgroup_path
            )));
        }
        Ok(())
    }

    /// Hand systemd the limits now in the scope's own cgroup v2 files, so that it keeps
    /// them when it re-applies the unit's properties. Legacy and hybrid hosts' v1 files are
    /// not mapped.
    fn hand_limits_to_systemd(&self) -> Result<()> {
        let Some(dir) = self.inner.v2_dir() else {
            return Ok(());
        };
        let properties =
            properties::unit_properties_of_files(|file| properties::read_scope_file(&dir, file))?;
        if properties.is_empty() {
            return Ok(());
        }
        let client = SystemdClient::connect()?;
        if client.set_unit_properties(&self.unit, &properties).is_ok() {
            return Ok(());
        }
        // systemd refuses the whole list when it lacks one property (AllowedCPUs came in
        // v244, CPUQuotaPeriodUSec in v242): hand over what it knows, one by one. The limits
        // are in effect either way; one systemd does not know would not outlive a reload.
        for property in properties {
            if let Err(e) = client.set_unit_properties(&self.unit, std::slice::from_ref(&property))
            {
                tracing::warn!(
                    "{}: systemd does not keep {} for us: {e}",
                    self.unit,
                    property.name()
                );
            }
        }
        Ok(())
    }

    /// Stop the scope (systemd kills what is left and removes its cgroup tree) and forget
    /// a failed state, so that the name can be used again.
    fn stop_scope(&self) -> Result<()> {
        let client = SystemdClient::connect()?;
        client.stop_scope(&self.unit)?;
        client.reset_failed(&self.unit)?;
        Ok(())
    }
}

impl Manager for SystemdManager {
    fn dirs(&self) -> Vec<PathBuf> {
        self.inner.dirs()
    }

    fn controller_dir(&self, controller: Controller) -> Option<PathBuf> {
        self.inner.controller_dir(controller)
    }

    fn v2_dir(&self) -> Option<PathBuf> {
        self.inner.v2_dir()
    }

    fn v1_tasks_files(&self) -> Vec<PathBuf> {
        self.inner.v1_tasks_files()
    }

    /// Nothing to make yet: the scope is made with the init in [`Manager::add_process`].
    fn create(&self) -> Result<Vec<PathBuf>> {
        Ok(Vec::new())
    }

    fn reset(&self) -> Result<()> {
        self.stop_scope()?;
        self.inner.destroy(&[])
    }

    /// StopUnit first; whatever systemd left (nothing, normally) is removed as cgroupfs does.
    fn destroy(&self, created: &[PathBuf]) -> Result<()> {
        let stopped = self.stop_scope();
        let removed = self.inner.destroy(created);
        stopped.and(removed)
    }

    /// The first process makes the scope; later ones (an `exec` that cannot be born in the
    /// cgroup) join it as with cgroupfs.
    fn add_process(&self, pid: i32) -> Result<()> {
        if self.scope_dir().is_some_and(|d| d.exists()) {
            return self.inner.add_process(pid);
        }
        let leader = u32::try_from(pid)
            .map_err(|_| CgroupError::Unsupported(format!("invalid process id {pid}")))?;
        let client = SystemdClient::connect()?;
        self.start_scope(&client, leader)?;
        // On a v1 or hybrid host systemd may not have made the scope in every controller
        // hierarchy: those are made and joined directly.
        if !self.inner.v1_tasks_files().is_empty() {
            if !self.inner.dirs().iter().all(|d| d.exists()) {
                self.inner.create()?;
            }
            self.inner.add_process(pid)?;
        }
        Ok(())
    }

    fn made_with_first_process(&self) -> bool {
        true
    }

    fn exec_dir(&self) -> Result<Option<PathBuf>> {
        self.inner.exec_dir()
    }

    fn add_exec_process(&self, pid: i32) -> Result<()> {
        self.inner.add_exec_process(pid)
    }

    fn delegate_subtree(&self) -> Result<bool> {
        self.inner.delegate_subtree()
    }

    fn apply(&self, resources: &LinuxResources) -> Result<()> {
        self.inner.apply(resources)?;
        self.hand_limits_to_systemd()
    }

    fn allow_device(&self, rule: &DeviceRule) -> Result<()> {
        self.inner.allow_device(rule)
    }

    fn deny_device(&self, rule: &DeviceRule) -> Result<()> {
        self.inner.deny_device(rule)
    }

    fn replace_device_filter(&self, rules: &[(bool, DeviceRule)]) -> Result<()> {
        self.inner.replace_device_filter(rules)
    }

    fn device_allowed(&self, major: u32, minor: u32) -> bool {
        self.inner.device_allowed(major, minor)
    }

    fn set_throttle(&self, kind: ThrottleKind, major: u32, minor: u32, rate: u64) -> Result<()> {
        self.inner.set_throttle(kind, major, minor, rate)
    }

    fn freeze(&self) -> Result<()> {
        self.inner.freeze()
    }

    fn thaw(&self) -> Result<()> {
        self.inner.thaw()
    }

    fn frozen(&self) -> Option<bool> {
        self.inner.frozen()
    }

    fn pids(&self) -> Vec<i32> {
        self.inner.pids()
    }

    fn signal_all(&self, signal: i32) {
        self.inner.signal_all(signal)
    }

    fn memory_usage(&self) -> Option<(u64, u64)> {
        self.inner.memory_usage()
    }

    fn cpu_usage_ns(&self) -> Option<u64> {
        self.inner.cpu_usage_ns()
    }

    fn pids_current(&self) -> Option<u64> {
        self.inner.pids_current()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn scopes_go_where_systemd_puts_them() {
        let p = scope_placement(DEFAULT_SLICE, ID).unwrap();
        assert_eq!(p.path, "machine.slice/syscontainer-0123456789ab.scope");
        assert_eq!(p.driver, Driver::Systemd);
        assert!(p.bases.is_empty());
        let nested = scope_placement("a-b.slice", ID).unwrap();
        assert_eq!(
            nested.path,
            "a.slice/a-b.slice/syscontainer-0123456789ab.scope"
        );
        let root = scope_placement("-.slice", ID).unwrap();
        assert_eq!(root.path, "syscontainer-0123456789ab.scope");
        assert!(scope_placement("machine", ID).is_err());
    }

    #[test]
    fn the_unit_and_slice_come_back_from_the_recorded_path() {
        let m = SystemdManager::load(&scope_placement("a-b.slice", ID).unwrap());
        assert_eq!(m.unit, "syscontainer-0123456789ab.scope");
        assert_eq!(m.slice, "a-b.slice");
        assert_eq!(
            m.cgroup_path,
            "/a.slice/a-b.slice/syscontainer-0123456789ab.scope"
        );
        let root = SystemdManager::load(&scope_placement("-.slice", ID).unwrap());
        assert_eq!(root.slice, "-.slice");
        assert!(root.made_with_first_process());
    }

    #[test]
    fn placements_without_a_driver_are_cgroupfs_ones() {
        let old: CgroupPlacement = serde_json::from_str(r#"{"path":"x/y","bases":{}}"#).unwrap();
        assert_eq!(old.driver, Driver::Cgroupfs);
        let new: CgroupPlacement =
            serde_json::from_str(r#"{"path":"x/y","bases":{},"driver":"systemd"}"#).unwrap();
        assert_eq!(new.driver, Driver::Systemd);
    }
}

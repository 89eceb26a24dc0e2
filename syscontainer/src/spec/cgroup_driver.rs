//! Which driver manages the container's cgroup (`--cgroup-manager`, daemon.json's
//! `cgroup-manager`), and where each puts it.
//!
//! On a host whose PID 1 is systemd the default is the systemd driver (a delegated scope in
//! `machine.slice`, or in the slice `--cgroup-parent` names), unless the parent is a cgroup
//! path: systemd can only place units in slices. Elsewhere the default is cgroupfs.

use super::{conflict, Result};
use crate::cgroups::systemd::{scope_placement, DEFAULT_SLICE};
use crate::cgroups::{CgroupPlacement, Driver};

/// Whether a `--cgroup-parent` names a systemd slice rather than a cgroup path.
fn is_slice_name(parent: &str) -> bool {
    !parent.contains('/') && parent.ends_with(".slice")
}

/// The driver for a container: `requested` (option or daemon.json) if given, else systemd
/// on a systemd host when `parent` is unset or a slice, else cgroupfs.
pub fn choose(
    requested: Option<Driver>,
    parent: Option<&str>,
    systemd_host: bool,
) -> Result<Driver> {
    match (requested, parent) {
        (Some(Driver::Systemd), Some(p)) if !is_slice_name(p) => Err(conflict(
            "--cgroup-parent",
            p,
            "is not a systemd slice (NAME.slice), which --cgroup-manager systemd needs",
        )),
        (Some(Driver::Systemd), _) if !systemd_host => Err(conflict(
            "--cgroup-manager",
            "systemd",
            "this host's PID 1 is not systemd (no /run/systemd/system)",
        )),
        (Some(driver), _) => Ok(driver),
        (None, parent) if systemd_host && parent.is_none_or(is_slice_name) => Ok(Driver::Systemd),
        (None, _) => Ok(Driver::Cgroupfs),
    }
}

/// Where the container `id` goes: a scope in the parent slice (systemd), or the parent
/// cgroup path, `default_path` if none (cgroupfs).
pub fn placement(
    requested: Option<Driver>,
    parent: Option<&str>,
    default_path: &str,
    id: &str,
) -> Result<CgroupPlacement> {
    let systemd_host = crate::cgroups::systemd::is_systemd_host();
    Ok(match choose(requested, parent, systemd_host)? {
        Driver::Systemd => scope_placement(parent.unwrap_or(DEFAULT_SLICE), id)?,
        Driver::Cgroupfs => CgroupPlacement::resolve(parent.unwrap_or(default_path), id)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_hosts_default_to_systemd_unless_the_parent_is_a_path() {
        assert_eq!(choose(None, None, true).unwrap(), Driver::Systemd);
        assert_eq!(
            choose(None, Some("machine.slice"), true).unwrap(),
            Driver::Systemd
        );
        assert_eq!(
            choose(None, Some("/syscontainer"), true).unwrap(),
            Driver::Cgroupfs
        );
        assert_eq!(choose(None, Some("tests"), true).unwrap(), Driver::Cgroupfs);
        assert_eq!(
            choose(None, Some("/x/a.slice"), true).unwrap(),
            Driver::Cgroupfs
        );
    }

    #[test]
    fn other_hosts_default_to_cgroupfs() {
        assert_eq!(choose(None, None, false).unwrap(), Driver::Cgroupfs);
        assert_eq!(
            choose(None, Some("machine.slice"), false).unwrap(),
            Driver::Cgroupfs
        );
    }

    #[test]
    fn an_explicit_choice_wins_within_its_limits() {
        assert_eq!(
            choose(Some(Driver::Cgroupfs), None, true).unwrap(),
            Driver::Cgroupfs
        );
        assert_eq!(
            choose(Some(Driver::Systemd), Some("user.slice"), true).unwrap(),
            Driver::Systemd
        );
        let path = choose(Some(Driver::Systemd), Some("/syscontainer"), true).unwrap_err();
        assert_eq!(
            path.to_string(),
            "--cgroup-parent /syscontainer: is not a systemd slice (NAME.slice), which --cgroup-manager systemd needs"
        );
        let no_systemd = choose(Some(Driver::Systemd), None, false).unwrap_err();
        assert!(
            no_systemd.to_string().contains("not systemd"),
            "{no_systemd}"
        );
    }

    #[test]
    fn cgroupfs_placements_stay_as_before() {
        let p = placement(Some(Driver::Cgroupfs), None, "/syscontainer", "abc").unwrap();
        assert_eq!(p.path, "syscontainer/abc");
        assert_eq!(p.driver, Driver::Cgroupfs);
    }
}

//! Where a container's cgroup goes in each hierarchy.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::controller::Controller;
use crate::error::{CgroupError, Result};
use crate::layout::ProcessCgroups;
use crate::manager::Driver;

/// Where a container's cgroup is, recorded in its config.
///
/// `path` is appended to each hierarchy's base; the base is the hierarchy root for an
/// absolute `--cgroup-parent` and, for a relative one, the cgroup that the process
/// running `create` was in, per hierarchy (recorded in `bases` so later commands and
/// the monitor compute the same paths).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CgroupPlacement {
    pub path: String,
    /// controller name (as in /proc/self/cgroup, e.g. `memory`, `name=systemd`, `` for
    /// cgroup2) → base path. Empty for an absolute placement.
    pub bases: BTreeMap<String, String>,
    /// Which driver manages the cgroup; records made before the choice existed are
    /// cgroupfs ones.
    #[serde(default)]
    pub driver: Driver,
}

impl CgroupPlacement {
    /// Where a container with this `--cgroup-parent` goes. Relative parents start at the
    /// caller's own cgroup in each hierarchy (as docker resolves them from its daemon's).
    pub fn resolve(parent: &str, id: &str) -> Result<CgroupPlacement> {
        let path = format!("{}/{}", parent.trim_matches('/'), id)
            .trim_start_matches('/')
            .to_string();
        if parent.starts_with('/') {
            return Ok(CgroupPlacement {
                path,
                bases: BTreeMap::new(),
                driver: Driver::Cgroupfs,
            });
        }
        let own = ProcessCgroups::read(std::process::id() as i32)
            .map_err(|e| CgroupError::Own(e.to_string()))?;
        Ok(CgroupPlacement {
            path,
            bases: bases_of(&own),
            driver: Driver::Cgroupfs,
        })
    }

    /// The base of one hierarchy (`""` for its root).
    pub fn base(&self, controller: Controller) -> &str {
        self.bases
            .get(controller.name())
            .map(|b| b.trim_matches('/'))
            .unwrap_or("")
    }
}

fn bases_of(own: &ProcessCgroups) -> BTreeMap<String, String> {
    let mut bases: BTreeMap<String, String> = own
        .v1
        .iter()
        .map(|(c, p)| (c.name().to_string(), p.clone()))
        .collect();
    if let Some(unified) = &own.unified {
        bases.insert(Controller::Unified.name().to_string(), unified.clone());
    }
    bases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_and_relative_placements() {
        let abs = CgroupPlacement::resolve("/syscontainer", "abc").unwrap();
        assert_eq!(abs.path, "syscontainer/abc");
        assert!(abs.bases.is_empty());
        let rel = CgroupPlacement::resolve("tests", "abc").unwrap();
        assert_eq!(rel.path, "tests/abc");
        assert!(!rel.bases.is_empty());
    }

    #[test]
    fn bases_are_keyed_by_kernel_names() {
        let own = ProcessCgroups::parse("9:name=systemd:/s\n4:memory:/m\n0::/u\n").unwrap();
        let p = CgroupPlacement {
            path: "x".into(),
            bases: bases_of(&own),
            driver: Driver::Cgroupfs,
        };
        assert_eq!(p.bases["name=systemd"], "/s");
        assert_eq!(p.bases[""], "/u");
        assert_eq!(p.base(Controller::Memory), "m");
        assert_eq!(p.base(Controller::Cpu), "");
    }
}

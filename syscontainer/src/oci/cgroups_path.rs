//! `linux.cgroupsPath` to a cgroup placement, as runc reads it.
//!
//! - cgroupfs driver: an absolute path (`/a/b`) below each hierarchy's root; a relative
//!   one (`a/b`) below the caller's own cgroup in each hierarchy; none at all is
//!   `/syscontainer-oci/<id>`.
//! - systemd driver (`--systemd-cgroup`): `slice:prefix:name`, the transient scope
//!   `prefix-name.scope` in `slice` (`system.slice` if empty), made with `Delegate=yes`.

use syscontainer_systemd_client::{slice_cgroup_path, validate_scope_name};

use super::{OciError, Result};
use crate::cgroups::{CgroupPlacement, Driver};

/// The parent of containers whose spec names no cgroupsPath (cgroupfs driver).
pub const DEFAULT_PARENT: &str = "/syscontainer-oci";
const DEFAULT_SLICE: &str = "system.slice";

fn bad(path: &str, reason: impl Into<String>) -> OciError {
    OciError::CgroupsPath {
        path: path.to_string(),
        reason: reason.into(),
    }
}

/// Where container `id` goes.
pub fn placement(cgroups_path: Option<&str>, id: &str, systemd: bool) -> Result<CgroupPlacement> {
    let path = cgroups_path.unwrap_or("").trim();
    if systemd {
        return systemd_placement(path, id);
    }
    if path.contains(':') {
        return Err(bad(
            path,
            "is in the systemd form slice:prefix:name; pass --systemd-cgroup",
        ));
    }
    let path = if path.is_empty() {
        format!("{DEFAULT_PARENT}/{id}")
    } else {
        path.to_string()
    };
    if path.split('/').any(|part| part == "..") {
        return Err(bad(&path, "may not contain \"..\""));
    }
    let trimmed = path.trim_end_matches('/');
    let (parent, leaf) = trimmed.rsplit_once('/').unwrap_or(("", trimmed));
    if leaf.is_empty() {
        return Err(bad(&path, "names no cgroup"));
    }
    let parent = if parent.is_empty() && path.starts_with('/') {
        "/"
    } else {
        parent
    };
    Ok(CgroupPlacement::resolve(parent, leaf)?)
}

/// The scope's unit name and cgroup path (below the hierarchy root) of `slice:prefix:name`.
pub fn systemd_scope(path: &str, id: &str) -> Result<(String, String)> {
    let (slice, prefix, name) = if path.is_empty() {
        ("", "syscontainer-oci", id)
    } else {
        let parts: Vec<&str> = path.split(':').collect();
        let [slice, prefix, name] = parts[..] else {
            return Err(bad(path, "expected slice:prefix:name"));
        };
        (slice, prefix, name)
    };
    if name.ends_with(".slice") {
        return Err(bad(
            path,
            "a slice as the container's cgroup is not supported",
        ));
    }
    if name.is_empty() {
        return Err(bad(path, "names no scope"));
    }
    let slice = if slice.is_empty() {
        DEFAULT_SLICE
    } else {
        slice
    };
    let unit = if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    validate_scope_name(&unit).map_err(|e| bad(path, e.to_string()))?;
    let slice_path = slice_cgroup_path(slice).map_err(|e| bad(path, e.to_string()))?;
    let cgroup = if slice_path.is_empty() {
        unit.clone()
    } else {
        format!("{slice_path}/{unit}")
    };
    Ok((unit, cgroup))
}

fn systemd_placement(path: &str, id: &str) -> Result<CgroupPlacement> {
    let (_, cgroup) = systemd_scope(path, id)?;
    Ok(CgroupPlacement {
        path: cgroup,
        bases: Default::default(),
        driver: Driver::Systemd,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_cgroupfs_paths_start_at_the_hierarchy_root() {
        let p = placement(Some("/k8s.io/abc"), "abc", false).unwrap();
        assert_eq!(p.path, "k8s.io/abc");
        assert!(p.bases.is_empty());
        assert_eq!(p.driver, Driver::Cgroupfs);
        let top = placement(Some("/abc"), "abc", false).unwrap();
        assert_eq!(top.path, "abc");
        assert!(top.bases.is_empty());
        let default = placement(None, "c1", false).unwrap();
        assert_eq!(default.path, "syscontainer-oci/c1");
    }

    #[test]
    fn relative_cgroupfs_paths_start_at_the_callers_cgroup() {
        let p = placement(Some("tests/c1"), "c1", false).unwrap();
        assert_eq!(p.path, "tests/c1");
        assert!(!p.bases.is_empty());
        let leaf = placement(Some("c1"), "c1", false).unwrap();
        assert_eq!(leaf.path, "c1");
        assert!(!leaf.bases.is_empty());
    }

    #[test]
    fn bad_cgroupfs_paths_are_refused() {
        for bad in ["/a/../b", "/", "system.slice:cri:x"] {
            let err = placement(Some(bad), "x", false).unwrap_err();
            assert!(err.to_string().starts_with("cgroupsPath"), "{err}");
        }
    }

    #[test]
    fn systemd_paths_become_delegated_scopes() {
        assert_eq!(
            systemd_scope("kubepods-besteffort-pod1.slice:cri-containerd:abc", "abc").unwrap(),
            (
                "cri-containerd-abc.scope".to_string(),
                "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-abc.scope"
                    .to_string()
            )
        );
        assert_eq!(
            systemd_scope(":runc:abc", "abc").unwrap().1,
            "system.slice/runc-abc.scope"
        );
        assert_eq!(
            systemd_scope("", "abc").unwrap().1,
            "system.slice/syscontainer-oci-abc.scope"
        );
        assert_eq!(
            systemd_scope("machine.slice::abc", "abc").unwrap().0,
            "abc.scope"
        );
        let p = placement(Some("system.slice:x:y"), "y", true).unwrap();
        assert_eq!(p.driver, Driver::Systemd);
        assert_eq!(p.path, "system.slice/x-y.scope");
        for bad in ["a:b", "a:b:c:d", "system.slice:x:y.slice", "bad:x:y"] {
            assert!(systemd_scope(bad, "y").is_err(), "{bad}");
        }
    }
}

//! Device access and block-IO throttles in the container's cgroups.
//!
//! cgroup v1: a rule is written to `devices.allow` / `devices.deny` of the container's
//! cgroup and of every sub-cgroup its systemd made (parents first for allow, children
//! first for deny), throttles to `blkio.throttle.*_device`, weights to
//! `blkio.bfq.weight_device` (or `blkio.weight_device`). cgroup v2: throttles go to
//! `io.max`, weights to `io.bfq.weight`/`io.weight`; device access there is a BPF
//! program owned by the runtime, so only the node is made.

use std::path::{Path, PathBuf};

use syscontainer::cgroups::ContainerCgroup;

use crate::error::{Error, Result};
use crate::record::ThrottleKind;

/// The container's cgroup directories that this module writes to.
pub struct Cgroups {
    devices: Option<PathBuf>,
    blkio: Option<PathBuf>,
    /// The cgroup2 directory on a pure v2 host.
    v2: Option<PathBuf>,
}

impl Cgroups {
    pub fn of(cg: &ContainerCgroup) -> Cgroups {
        let devices = cg.controller_dir("devices");
        let blkio = cg.controller_dir("blkio");
        let v2 = if devices.is_none() && blkio.is_none() {
            cg.dirs().into_iter().next()
        } else {
            None
        };
        Cgroups { devices, blkio, v2 }
    }

    /// For tests and fixtures: explicit directories.
    pub fn from_dirs(
        devices: Option<PathBuf>,
        blkio: Option<PathBuf>,
        v2: Option<PathBuf>,
    ) -> Cgroups {
        Cgroups { devices, blkio, v2 }
    }

    /// Allow a device (`b 7:0 rwm`) in the whole subtree. On failure what was allowed
    /// is denied again.
    pub fn allow_device(&self, rule: &str) -> Result<()> {
        let Some(dir) = &self.devices else {
            return Ok(());
        };
        let dirs = subtree(dir);
        for (i, d) in dirs.iter().enumerate() {
            if let Err(e) = write(&d.join("devices.allow"), rule) {
                for done in dirs[..i].iter().rev() {
                    let _ = write(&done.join("devices.deny"), rule);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Deny a device in the whole subtree, children first.
    pub fn deny_device(&self, rule: &str) -> Result<()> {
        let Some(dir) = &self.devices else {
            return Ok(());
        };
        let mut result = Ok(());
        for d in subtree(dir).iter().rev() {
            if let Err(e) = write(&d.join("devices.deny"), rule) {
                result = Err(e);
            }
        }
        result
    }

    /// Whether the container's own cgroup lists the rule as allowed (tests, diagnostics).
    pub fn device_allowed(&self, major: u32, minor: u32) -> bool {
        let Some(dir) = &self.devices else {
            return false;
        };
        std::fs::read_to_string(dir.join("devices.list"))
            .unwrap_or_default()
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(&format!("{major}:{minor}")))
    }

    /// Set a throttle or weight (rate 0 clears it).
    pub fn set_throttle(
        &self,
        kind: ThrottleKind,
        major: u32,
        minor: u32,
        rate: u64,
    ) -> Result<()> {
        if let Some(dir) = &self.blkio {
            let (file, line) = v1_throttle_line(kind, major, minor, rate);
            let path = if kind == ThrottleKind::Weight && !dir.join(file).exists() {
                dir.join("blkio.weight_device")
            } else {
                dir.join(file)
            };
            if kind == ThrottleKind::Weight && !path.exists() {
                return Err(Error::Invalid(format!(
                    "--blkio-weight-device: the host's blkio controller has no weight_device file in {}",
                    dir.display()
                )));
            }
            return write(&path, &line).map_err(|e| weight_hint(kind, major, minor, e));
        }
        if let Some(dir) = &self.v2 {
            let (file, line) = v2_throttle_line(kind, major, minor, rate);
            let path = if kind == ThrottleKind::Weight && !dir.join(file).exists() {
                dir.join("io.weight")
            } else {
                dir.join(file)
            };
            return write(&path, &line).map_err(|e| weight_hint(kind, major, minor, e));
        }
        Err(Error::Failed(
            "the container has no blkio/io cgroup: throttles cannot be set".into(),
        ))
    }
}

/// A weight needs the bfq scheduler on the device: say so when the kernel refuses.
fn weight_hint(kind: ThrottleKind, major: u32, minor: u32, e: Error) -> Error {
    if kind != ThrottleKind::Weight {
        return e;
    }
    let sched = std::fs::read_to_string(format!("/sys/dev/block/{major}:{minor}/queue/scheduler"))
        .unwrap_or_default();
    if sched.contains("[bfq]") {
        return e;
    }
    Error::Failed(format!(
        "{e} (a weight needs the bfq I/O scheduler on device {major}:{minor}; it has {})",
        sched
            .split_whitespace()
            .find(|s| s.starts_with('['))
            .unwrap_or("none")
    ))
}

/// v1 file and line for a throttle (rate 0 clears it).
pub fn v1_throttle_line(
    kind: ThrottleKind,
    major: u32,
    minor: u32,
    rate: u64,
) -> (&'static str, String) {
    let file = match kind {
        ThrottleKind::ReadBps => "blkio.throttle.read_bps_device",
        ThrottleKind::WriteBps => "blkio.throttle.write_bps_device",
        ThrottleKind::ReadIops => "blkio.throttle.read_iops_device",
        ThrottleKind::WriteIops => "blkio.throttle.write_iops_device",
        ThrottleKind::Weight => "blkio.bfq.weight_device",
    };
    // 0 clears a throttle; a weight is cleared with "default" (bfq refuses 0).
    if kind == ThrottleKind::Weight && rate == 0 {
        return (file, format!("{major}:{minor} default"));
    }
    (file, format!("{major}:{minor} {rate}"))
}

/// v2 file and line for a throttle (`max` clears a limit).
pub fn v2_throttle_line(
    kind: ThrottleKind,
    major: u32,
    minor: u32,
    rate: u64,
) -> (&'static str, String) {
    let v = if rate == 0 {
        "max".to_string()
    } else {
        rate.to_string()
    };
    match kind {
        ThrottleKind::ReadBps => ("io.max", format!("{major}:{minor} rbps={v}")),
        ThrottleKind::WriteBps => ("io.max", format!("{major}:{minor} wbps={v}")),
        ThrottleKind::ReadIops => ("io.max", format!("{major}:{minor} riops={v}")),
        ThrottleKind::WriteIops => ("io.max", format!("{major}:{minor} wiops={v}")),
        ThrottleKind::Weight => (
            "io.bfq.weight",
            format!(
                "{major}:{minor} {}",
                if rate == 0 {
                    "default".into()
                } else {
                    rate.to_string()
                }
            ),
        ),
    }
}

/// A cgroup directory and all directories below it, parents before children.
fn subtree(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(entries) = std::fs::read_dir(&out[i]) {
            let mut children: Vec<PathBuf> = entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect();
            children.sort();
            out.extend(children);
        }
        i += 1;
    }
    out
}

fn write(path: &Path, line: &str) -> Result<()> {
    std::fs::write(path, line)
        .map_err(|e| Error::Failed(format!("write {line:?} to {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_lines() {
        assert_eq!(
            v1_throttle_line(ThrottleKind::ReadBps, 7, 3, 1048576),
            ("blkio.throttle.read_bps_device", "7:3 1048576".into())
        );
        assert_eq!(
            v1_throttle_line(ThrottleKind::Weight, 7, 3, 0),
            ("blkio.bfq.weight_device", "7:3 default".into())
        );
        assert_eq!(
            v2_throttle_line(ThrottleKind::WriteIops, 7, 3, 0),
            ("io.max", "7:3 wiops=max".into())
        );
        assert_eq!(
            v2_throttle_line(ThrottleKind::Weight, 8, 0, 300),
            ("io.bfq.weight", "8:0 300".into())
        );
    }

    #[test]
    fn allow_and_deny_walk_the_subtree_in_order() {
        let root = std::env::temp_dir().join(format!("sct-cg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("system.slice/a.service")).unwrap();
        std::fs::create_dir_all(root.join("init.scope")).unwrap();
        let cg = Cgroups::from_dirs(Some(root.clone()), None, None);
        cg.allow_device("b 7:0 rwm").unwrap();
        for d in ["", "system.slice", "system.slice/a.service", "init.scope"] {
            assert_eq!(
                std::fs::read_to_string(root.join(d).join("devices.allow")).unwrap(),
                "b 7:0 rwm"
            );
        }
        cg.deny_device("b 7:0 rwm").unwrap();
        assert_eq!(
            std::fs::read_to_string(root.join("init.scope/devices.deny")).unwrap(),
            "b 7:0 rwm"
        );
        // No blkio controller: a clear error.
        assert!(cg
            .set_throttle(ThrottleKind::ReadBps, 7, 0, 1)
            .unwrap_err()
            .to_string()
            .contains("no blkio"));
        std::fs::remove_dir_all(&root).unwrap();
    }
}

//! What only cgroup v1 (and the v1 side of a hybrid host) has: the devices controller's
//! allow/deny files, `blkio.*` throttle files, memory+swap ordering, and `tasks` files.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::manager::{DeviceRule, ThrottleKind};

use super::write_line;

/// Allow a device in `dir` and every cgroup below it, parents first (a child can only
/// allow what its parent allows). On failure what was allowed is denied again.
pub fn allow_device(dir: &Path, rule: &DeviceRule) -> Result<()> {
    let line = rule.to_string();
    let dirs = subtree(dir);
    for (i, d) in dirs.iter().enumerate() {
        if let Err(e) = write_line(&d.join("devices.allow"), &line) {
            for done in dirs[..i].iter().rev() {
                let _ = write_line(&done.join("devices.deny"), &line);
            }
            return Err(e);
        }
    }
    Ok(())
}

/// Deny a device in `dir` and every cgroup below it, children first; keeps going past a
/// failure and reports the last one.
pub fn deny_device(dir: &Path, rule: &DeviceRule) -> Result<()> {
    let line = rule.to_string();
    let mut result = Ok(());
    for d in subtree(dir).iter().rev() {
        if let Err(e) = write_line(&d.join("devices.deny"), &line) {
            result = Err(e);
        }
    }
    result
}

/// Whether `devices.list` of `dir` names `major:minor`.
pub fn device_listed(dir: &Path, major: u32, minor: u32) -> bool {
    let wanted = format!("{major}:{minor}");
    std::fs::read_to_string(dir.join("devices.list"))
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(wanted.as_str()))
}

/// v1 file and line for a throttle (rate 0 clears it).
pub fn throttle_line(
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

/// Whether a memory limit going from `current` to `new` (-1: unlimited) must come after
/// the new memory+swap limit (cgroup v1 refuses memory > memsw at any moment): when it
/// rises. When it falls, memory goes first.
pub fn memsw_first(current: i64, new: i64) -> bool {
    new == -1 || (current != -1 && new > current)
}

/// Move the calling process into the v1 hierarchies by writing `0` to each `tasks` file.
/// The caller must be single-threaded, so that moving its only thread moves the whole
/// process. Unlike a PID written to `cgroup.procs`, a move of the writer's own single
/// thread does not take the kernel's global threadgroup lock, whose first writer waits
/// for an RCU grace period (~10 ms measured here).
pub fn join_v1_self(tasks_files: &[PathBuf]) -> Result<()> {
    for f in tasks_files {
        super::write_file(f, "0")?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manager::DeviceKind;
    use std::fs;

    #[test]
    fn joining_v1_writes_zero_to_each_tasks_file() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        fs::create_dir_all(dir.join("a")).unwrap();
        fs::create_dir_all(dir.join("b")).unwrap();
        let files = vec![dir.join("a/tasks"), dir.join("b/tasks")];
        join_v1_self(&files).unwrap();
        for f in &files {
            assert_eq!(fs::read_to_string(f).unwrap(), "0");
        }
        let missing = vec![dir.join("c/tasks")];
        assert!(join_v1_self(&missing).is_err());
    }

    #[test]
    fn memory_and_memsw_are_written_in_a_valid_order() {
        const M: i64 = 1 << 20;
        assert!(memsw_first(128 * M, 512 * M), "a raise sets memsw first");
        assert!(memsw_first(128 * M, -1), "unlimited is a raise");
        assert!(
            !memsw_first(512 * M, 128 * M),
            "a lowering sets memory first"
        );
        assert!(!memsw_first(128 * M, 128 * M));
        assert!(!memsw_first(-1, 128 * M), "from unlimited is a lowering");
    }

    #[test]
    fn throttle_lines() {
        assert_eq!(
            throttle_line(ThrottleKind::ReadBps, 7, 3, 1048576),
            ("blkio.throttle.read_bps_device", "7:3 1048576".into())
        );
        assert_eq!(
            throttle_line(ThrottleKind::Weight, 7, 3, 0),
            ("blkio.bfq.weight_device", "7:3 default".into())
        );
    }

    #[test]
    fn allow_and_deny_walk_the_subtree_in_order() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        fs::create_dir_all(root.join("system.slice/a.service")).unwrap();
        fs::create_dir_all(root.join("init.scope")).unwrap();
        let rule = DeviceRule {
            kind: DeviceKind::Block,
            major: Some(7),
            minor: Some(0),
            access: "rwm".into(),
        };
        allow_device(root, &rule).unwrap();
        for d in ["", "system.slice", "system.slice/a.service", "init.scope"] {
            assert_eq!(
                fs::read_to_string(root.join(d).join("devices.allow")).unwrap(),
                "b 7:0 rwm"
            );
        }
        deny_device(root, &rule).unwrap();
        assert_eq!(
            fs::read_to_string(root.join("init.scope/devices.deny")).unwrap(),
            "b 7:0 rwm"
        );
        fs::write(root.join("devices.list"), "a *:* m\nb 7:0 rwm\n").unwrap();
        assert!(device_listed(root, 7, 0));
        assert!(!device_listed(root, 7, 1));
    }
}

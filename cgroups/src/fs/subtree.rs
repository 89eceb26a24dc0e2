//! The container's cgroup2 subtree: the controllers it hands to systemd inside, and the
//! leaf where `exec` puts its processes.
//!
//! cgroup v2 puts no process in a cgroup whose `cgroup.subtree_control` is not empty (the
//! "no internal process" rule), and systemd inside enables controllers in the container's
//! cgroup as soon as it has moved itself into `init.scope`. So an exec'd process cannot join
//! the container's own cgroup; like LXC (`.lxc`), it goes into a leaf the runtime owns:
//!
//! ```text
//! <container>/                   systemd's root: init.scope, system.slice, … and
//!   .syscontainer/               the runtime's: every controller enabled below it
//!     exec/                      exec'd processes (a leaf)
//! ```
//!
//! systemd writes `-controller` into its root's `cgroup.subtree_control` for every controller
//! no unit asked for; the kernel refuses that (EBUSY) while a child has the controller
//! enabled, so `.syscontainer` enabling every controller keeps all of them available to
//! the units inside.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{CgroupError, Result};

/// The runtime's own child of the container's cgroup2 directory.
pub const RUNTIME_DIR: &str = ".syscontainer";
/// The leaf below [`RUNTIME_DIR`] that exec'd processes are born in.
pub const EXEC_LEAF: &str = "exec";

/// The exec leaf of a container's cgroup2 directory.
pub fn exec_leaf(container: &Path) -> PathBuf {
    container.join(RUNTIME_DIR).join(EXEC_LEAF)
}

/// Controllers named in a `cgroup.controllers` or `cgroup.subtree_control` text.
pub fn controllers_in(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

/// The `+controller` writes that make `enabled` hold every one of `available`.
pub fn enable_lines(available: &[String], enabled: &[String]) -> Vec<String> {
    available
        .iter()
        .filter(|c| !enabled.contains(c))
        .map(|c| format!("+{c}"))
        .collect()
}

fn read_controllers(dir: &Path, file: &str) -> Vec<String> {
    controllers_in(&fs::read_to_string(dir.join(file)).unwrap_or_default())
}

/// Whether a cgroup holds processes of its own (not counting its children).
pub fn has_own_processes(dir: &Path) -> bool {
    fs::read_to_string(dir.join("cgroup.procs")).is_ok_and(|p| !p.trim().is_empty())
}

/// Enable in `dir`'s `cgroup.subtree_control` every controller of its `cgroup.controllers`.
/// One write per controller, so that one the kernel refuses does not block the others;
/// returns the first refusal.
pub fn enable_all(dir: &Path) -> Result<()> {
    let available = read_controllers(dir, "cgroup.controllers");
    let enabled = read_controllers(dir, "cgroup.subtree_control");
    let file = dir.join("cgroup.subtree_control");
    let mut first_error = None;
    for line in enable_lines(&available, &enabled) {
        if let Err(source) = fs::write(&file, &line) {
            first_error.get_or_insert(CgroupError::Write {
                path: file.clone(),
                line,
                source,
            });
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn create_dir(dir: &Path) -> Result<()> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(CgroupError::Io {
            op: "create",
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// Create the runtime's directory and the exec leaf below the container's cgroup2
/// directory, enabling in the runtime's directory what the container's cgroup enables.
/// Returns the leaf.
pub fn ensure_exec_leaf(container: &Path) -> Result<PathBuf> {
    let runtime = container.join(RUNTIME_DIR);
    create_dir(&runtime)?;
    enable_all(&runtime)?;
    let leaf = exec_leaf(container);
    create_dir(&leaf)?;
    Ok(leaf)
}

/// Hand every controller the container's cgroup has to its subtree, once its init has left
/// it (systemd moves itself into `init.scope` first thing). Returns whether that is done:
/// `false` while the container's cgroup still holds a process of its own.
pub fn delegate(container: &Path) -> Result<bool> {
    if has_own_processes(container) {
        return Ok(false);
    }
    // systemd may disable a controller between the two writes; a second round enables it
    // again, and after that the runtime's directory holds it in place.
    for _ in 0..3 {
        enable_all(container)?;
        ensure_exec_leaf(container)?;
        let wanted = read_controllers(container, "cgroup.controllers");
        let pinned = read_controllers(&container.join(RUNTIME_DIR), "cgroup.subtree_control");
        if wanted.iter().all(|c| pinned.contains(c)) {
            return Ok(true);
        }
    }
    Err(CgroupError::Unsupported(format!(
        "cgroup {}: controllers {:?} could not be enabled for its subtree",
        container.display(),
        read_controllers(container, "cgroup.controllers")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_missing_controllers_are_enabled() {
        let available = controllers_in("cpuset cpu io memory hugetlb pids rdma misc\n");
        let enabled = controllers_in("memory pids\n");
        assert_eq!(
            enable_lines(&available, &enabled),
            ["+cpuset", "+cpu", "+io", "+hugetlb", "+rdma", "+misc"]
        );
        assert!(enable_lines(&enabled, &available).is_empty());
    }

    #[test]
    fn the_exec_leaf_lies_below_the_runtimes_directory() {
        let root = tempfile::tempdir().unwrap();
        let container = root.path();
        fs::write(container.join("cgroup.procs"), "").unwrap();
        let leaf = ensure_exec_leaf(container).unwrap();
        assert_eq!(leaf, container.join(".syscontainer/exec"));
        assert!(leaf.is_dir());
        // Again: nothing to do, no error.
        assert_eq!(ensure_exec_leaf(container).unwrap(), leaf);
    }

    #[test]
    fn delegation_waits_until_init_has_left_the_cgroup() {
        let root = tempfile::tempdir().unwrap();
        let container = root.path();
        fs::write(container.join("cgroup.procs"), "1234\n").unwrap();
        assert!(!delegate(container).unwrap());
        assert!(!container.join(RUNTIME_DIR).exists());
        fs::write(container.join("cgroup.procs"), "").unwrap();
        // A plain directory has no controllers: nothing to enable, done.
        assert!(delegate(container).unwrap());
        assert!(exec_leaf(container).is_dir());
    }
}

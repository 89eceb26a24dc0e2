//! Files the kernel generates at each read — the host's /proc and sysfs files (`uptime`, the
//! online CPU list, …) and cgroup files (a container's cpuset, memory, CPU and I/O usage) —
//! kept open and read again from offset 0 with `pread`: such a file is generated afresh by
//! every read from its start, so a read costs one `pread` instead of `openat` (a path walk),
//! `read` and `close`. Every view reads one to four of them at each rendering.
//!
//! The files are kept per thread: a file read in several chunks by two threads at once could
//! mix two generations. A kept cgroup file whose cgroup was removed fails with ENODEV (even if
//! a new cgroup has the same path); it is then opened again by path. A file on another file
//! system (a test's fixture) is read by path every time, since it may be replaced.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use nix::sys::statfs::{
    fstatfs, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC, PROC_SUPER_MAGIC, SYSFS_MAGIC,
};

use crate::error::Result;
use syscontainer_cgroups::read::{reread_string, reread_with, FileReader};

/// Files kept per thread before the thread closes them all and starts again: cgroup files of
/// containers long gone would otherwise stay open. The daemon has a thread per CPU (io_uring)
/// plus its FUSE workers, so this stays small.
const KEPT_PER_THREAD: usize = 64;

thread_local! {
    static OPEN: RefCell<HashMap<PathBuf, File>> = RefCell::new(HashMap::new());
}

/// Reads a whole file as a string.
pub(crate) fn read_string(path: &Path) -> Result<String> {
    read_with(
        path,
        |file| Ok(reread_string(file, path)?),
        || crate::error::read_string(path),
    )
}

/// Reads a whole file as bytes.
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    read_with(
        path,
        |file| Ok(reread_with(file, path, <[u8]>::to_vec)?),
        || crate::error::read_bytes(path),
    )
}

/// The cgroups crate's statistics readers (a container's cpuset, CPU usage and I/O) read
/// through this, so that they too re-read kept files.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KeptFiles;

impl FileReader for KeptFiles {
    fn read_string(&self, path: &Path) -> syscontainer_cgroups::Result<String> {
        read_with(
            path,
            |file| reread_string(file, path),
            || syscontainer_cgroups::read::read_string(path),
        )
    }
}

/// `reread` on this thread's open `path`, opened now if the kernel generates it; otherwise,
/// or if the open file fails to read, `by_path`.
fn read_with<T, E: std::fmt::Display>(
    path: &Path,
    reread: impl FnOnce(&File) -> std::result::Result<T, E>,
    by_path: impl FnOnce() -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    OPEN.with(|open| {
        let mut open = open.borrow_mut();
        if !open.contains_key(path) {
            match File::open(path) {
                Ok(file) if is_generated(&file) => {
                    if open.len() >= KEPT_PER_THREAD {
                        open.clear();
                    }
                    open.insert(path.to_path_buf(), file);
                }
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    // Out of descriptors: give this thread's back before reading by path.
                    open.clear();
                    return by_path();
                }
                _ => return by_path(),
            }
        }
        match reread(&open[path]) {
            Ok(value) => Ok(value),
            Err(e) => {
                tracing::debug!(
                    "re-reading {} failed, opening it again: {e}",
                    path.display()
                );
                open.remove(path);
                by_path()
            }
        }
    })
}

/// Whether the kernel generates the file's content at each read (procfs, sysfs, cgroupfs).
fn is_generated(file: &File) -> bool {
    fstatfs(file).is_ok_and(|fs| {
        let kind = fs.filesystem_type();
        [
            PROC_SUPER_MAGIC,
            SYSFS_MAGIC,
            CGROUP_SUPER_MAGIC,
            CGROUP2_SUPER_MAGIC,
        ]
        .contains(&kind)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_proc_file_is_generated_afresh_at_each_read() {
        let path = Path::new("/proc/uptime");
        let seconds =
            |text: String| -> f64 { text.split_whitespace().next().unwrap().parse().unwrap() };
        let first = seconds(read_string(path).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(30));
        let second = seconds(read_string(path).unwrap());
        assert!(second > first, "uptime moved on: {first} then {second}");
        assert!(
            OPEN.with(|open| open.borrow().contains_key(path)),
            "kept open"
        );
    }

    #[test]
    fn a_file_elsewhere_is_read_by_path_and_its_replacement_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meminfo");
        std::fs::write(&path, "old\n").unwrap();
        assert_eq!(read_string(&path).unwrap(), "old\n");
        let replacement = dir.path().join("meminfo.new");
        std::fs::write(&replacement, "new\n").unwrap();
        std::fs::rename(&replacement, &path).unwrap();
        assert_eq!(read_bytes(&path).unwrap(), b"new\n");
        assert!(
            !OPEN.with(|open| open.borrow().contains_key(&path)),
            "not kept"
        );
    }

    #[test]
    fn a_kept_file_whose_object_is_gone_is_opened_again_by_path() {
        let mut child = std::process::Command::new("sleep")
            .arg("10")
            .spawn()
            .unwrap();
        let path = PathBuf::from(format!("/proc/{}/stat", child.id()));
        assert!(read_string(&path).unwrap().contains("(sleep)"));
        assert!(
            OPEN.with(|open| open.borrow().contains_key(&path)),
            "kept open"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        let err = read_string(&path).unwrap_err();
        assert!(err.is_not_found(), "by path, the process is gone: {err}");
        assert!(
            !OPEN.with(|open| open.borrow().contains_key(&path)),
            "dropped"
        );
    }

    #[test]
    fn a_missing_file_is_not_found() {
        let err = read_string(Path::new("/proc/no-such-file")).unwrap_err();
        assert!(err.is_not_found(), "{err}");
    }
}

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

/// Files kept per thread: about eight per container (its cgroup's memory, CPU, cpuset and I/O
/// files) besides the host's few, so a thread keeps the files of some 120 containers. Each kept
/// cgroup file holds a page of kernel buffer. The daemon raises its soft limit on open files to
/// the hard one; running out of descriptors only costs reads by path.
const KEPT_PER_THREAD: usize = 1024;

/// This thread's kept files.
struct Kept {
    files: HashMap<PathBuf, File>,
    capacity: usize,
    /// Counts the files closed to make room, to pick the next one.
    evictions: u64,
}

impl Default for Kept {
    fn default() -> Kept {
        Kept::with_capacity(KEPT_PER_THREAD)
    }
}

impl Kept {
    fn with_capacity(capacity: usize) -> Kept {
        Kept {
            files: HashMap::new(),
            capacity,
            evictions: 0,
        }
    }

    /// Keeps `file`, closing another one first when the set is full. The one closed is
    /// picked at random, not the one used longest ago: readers in many containers take
    /// their turns in a cycle, and a cycle longer than the set would make every read miss
    /// under least-recently-used, where random picks leave part of the reads hitting. A
    /// file of a container long gone is closed in its turn.
    fn insert(&mut self, path: &Path, file: File) {
        if self.files.len() >= self.capacity {
            self.close_some(1);
        }
        self.files.insert(path.to_path_buf(), file);
    }

    /// Closes `count` files picked at random.
    fn close_some(&mut self, count: usize) {
        for _ in 0..count.min(self.files.len()) {
            self.evictions += 1;
            // Fibonacci hashing spreads the counter over the set; the map's own order is
            // seeded at random per map.
            let pick = (self.evictions.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize
                % self.files.len();
            if let Some(path) = self.files.keys().nth(pick).cloned() {
                self.files.remove(&path);
            }
        }
    }
}

thread_local! {
    static KEPT: RefCell<Kept> = RefCell::new(Kept::default());
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
    KEPT.with(|kept| {
        let mut kept = kept.borrow_mut();
        if !kept.files.contains_key(path) {
            match File::open(path) {
                Ok(file) if is_generated(&file) => kept.insert(path, file),
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    // Out of descriptors: give half of this thread's back before reading by path.
                    let half = kept.files.len().div_ceil(2);
                    kept.close_some(half);
                    return by_path();
                }
                _ => return by_path(),
            }
        }
        match reread(&kept.files[path]) {
            Ok(value) => Ok(value),
            Err(e) => {
                tracing::debug!(
                    "re-reading {} failed, opening it again: {e}",
                    path.display()
                );
                kept.files.remove(path);
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
            KEPT.with(|kept| kept.borrow().files.contains_key(path)),
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
            !KEPT.with(|kept| kept.borrow().files.contains_key(&path)),
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
            KEPT.with(|kept| kept.borrow().files.contains_key(&path)),
            "kept open"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        let err = read_string(&path).unwrap_err();
        assert!(err.is_not_found(), "by path, the process is gone: {err}");
        assert!(
            !KEPT.with(|kept| kept.borrow().files.contains_key(&path)),
            "dropped"
        );
    }

    #[test]
    fn a_full_set_closes_one_file_to_keep_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = (0..=8).map(|i| dir.path().join(i.to_string())).collect();
        let mut kept = Kept::with_capacity(8);
        for path in &paths {
            kept.insert(path, File::create(path).unwrap());
        }
        assert_eq!(kept.files.len(), 8, "one closed, one kept");
        assert!(kept.files.contains_key(&paths[8]), "the new file is kept");
    }

    /// Readers in 48 containers taking turns through a set that holds 32 containers' files:
    /// least-recently-used would close each file just before its next use, and never hit.
    /// Random picks keep about 40 % of the reads hitting (38 % at worst in 2000 simulated
    /// runs).
    #[test]
    fn a_cycle_longer_than_the_set_still_finds_most_files_kept() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = (0..48).map(|i| dir.path().join(i.to_string())).collect();
        for path in &paths {
            File::create(path).unwrap();
        }
        let mut kept = Kept::with_capacity(32);
        let (mut reads, mut hits) = (0, 0);
        for cycle in 0..20 {
            for path in &paths {
                let hit = kept.files.contains_key(path);
                if !hit {
                    kept.insert(path, File::open(path).unwrap());
                }
                if cycle > 0 {
                    reads += 1;
                    hits += usize::from(hit);
                }
            }
        }
        assert!(
            hits * 4 >= reads,
            "{hits} of {reads} reads found their file kept"
        );
    }

    #[test]
    fn a_missing_file_is_not_found() {
        let err = read_string(Path::new("/proc/no-such-file")).unwrap_err();
        assert!(err.is_not_found(), "{err}");
    }
}

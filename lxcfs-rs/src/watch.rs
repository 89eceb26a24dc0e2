//! Tells whether any watched limit file was written since a view was rendered, without
//! re-reading the files: one inotify instance watches the limit files of the containers'
//! cgroups and their ancestors, and a generation number counts the events seen.
//!
//! Why this is exact: a write(2) to a cgroup file (v1 or cgroup2) queues `IN_MODIFY` on the
//! file's inode before the write returns, and kernfs has one inode per cgroup file whatever
//! mount, bind mount, mount namespace or cgroup namespace the writer went through (checked on
//! this host: docs/performance/lxcfs.md). [`LimitWatch::generation`] drains the queue at every
//! open, so a read that starts after the write returned sees the new generation. What a
//! watch cannot see is left to the caller to re-read: a cpuset narrowed by a parent or by CPU
//! hotplug writes no watched file.
//!
//! A watch pins the inode: removing a cgroup raises no event while it is watched. So a watch
//! is re-added (which resolves the path afresh) when another container renders with it, or
//! [`REWATCH_AFTER`] after it was added (a cgroup that holds the container's init cannot be
//! removed; re-adding bounds the case of an init that left it, and came back to a re-created
//! cgroup of the same path, by the time the daemon trusts a container's cgroup paths anyway),
//! and watches nobody rendered with for [`WATCH_IDLE_EXPIRY`] are removed.

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Watches unused by any rendering for this long are removed.
pub const WATCH_IDLE_EXPIRY: Duration = Duration::from_secs(60);

/// A watch is re-added (its path resolved afresh) at a render this long after it was added.
pub const REWATCH_AFTER: Duration = Duration::from_secs(1);

/// The container a watch was added for: its init's pid and start time.
pub type Owner = (i32, u64);

const EVENTS: u32 = libc::IN_MODIFY | libc::IN_ATTRIB | libc::IN_DELETE_SELF | libc::IN_MOVE_SELF;

#[derive(Debug)]
struct Watched {
    wd: i32,
    owner: Owner,
    added: Instant,
    last_used: Instant,
}

#[derive(Debug, Default)]
struct State {
    generation: u64,
    by_path: HashMap<PathBuf, Watched>,
    last_sweep: Option<Instant>,
}

/// One inotify instance over the limit files views depend on.
#[derive(Debug)]
pub struct LimitWatch {
    fd: OwnedFd,
    state: Mutex<State>,
}

impl LimitWatch {
    pub fn new() -> std::io::Result<Self> {
        // SAFETY: plain syscall; a returned descriptor is owned by nothing else.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(LimitWatch {
            // SAFETY: `fd` was just returned by inotify_init1.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            state: Mutex::new(State::default()),
        })
    }

    /// The current generation: it differs from an earlier one iff a watched file was
    /// written, changed, removed or moved in between (or the event queue overflowed).
    pub fn generation(&self) -> u64 {
        let mut state = self.lock();
        self.drain(&mut state);
        state.generation
    }

    /// Watches `paths` (absent files are skipped: a cgroup file that does not exist is no
    /// limit, and one that appears later holds the default, no limit either) and returns the
    /// generation a rendering made from now on is valid for, or `None` if a file could not
    /// be watched (then the rendering must not be reused).
    pub fn watch(&self, paths: &[PathBuf], owner: Owner) -> Option<u64> {
        let mut state = self.lock();
        let now = Instant::now();
        let mut complete = true;
        for path in paths {
            if let Some(watched) = state.by_path.get_mut(path) {
                if watched.owner == owner && now.duration_since(watched.added) < REWATCH_AFTER {
                    watched.last_used = now;
                    continue;
                }
            }
            match self.add_watch(path) {
                Ok(Some(wd)) => {
                    let watched = Watched {
                        wd,
                        owner,
                        added: now,
                        last_used: now,
                    };
                    state.by_path.insert(path.clone(), watched);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(path = %path.display(), "cannot watch limit file: {e}");
                    complete = false;
                }
            }
        }
        self.sweep(&mut state, now);
        self.drain(&mut state);
        complete.then_some(state.generation)
    }

    /// Number of watched files.
    pub fn len(&self) -> usize {
        self.lock().by_path.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The watch descriptor of `path`, `None` if the file does not exist.
    fn add_watch(&self, path: &Path) -> std::io::Result<Option<i32>> {
        let name = CString::new(path.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        // SAFETY: `name` is NUL-terminated and the descriptor is open.
        let wd = unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), name.as_ptr(), EVENTS) };
        if wd >= 0 {
            return Ok(Some(wd));
        }
        let error = std::io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ENOTDIR) => Ok(None),
            _ => Err(error),
        }
    }

    /// Removes the watches no rendering used for [`WATCH_IDLE_EXPIRY`] (their cgroups may be
    /// gone; the watch would keep the inode alive).
    fn sweep(&self, state: &mut State, now: Instant) {
        if state
            .last_sweep
            .is_some_and(|t| now.duration_since(t) < WATCH_IDLE_EXPIRY)
        {
            return;
        }
        state.last_sweep = Some(now);
        let expired: Vec<PathBuf> = state
            .by_path
            .iter()
            .filter(|(_, w)| now.duration_since(w.last_used) >= WATCH_IDLE_EXPIRY)
            .map(|(p, _)| p.clone())
            .collect();
        for path in expired {
            let Some(watched) = state.by_path.remove(&path) else {
                continue;
            };
            // Two paths may name one inode (one watch): keep it while another uses it.
            if state.by_path.values().all(|w| w.wd != watched.wd) {
                // SAFETY: plain syscall on our descriptor.
                unsafe { libc::inotify_rm_watch(self.fd.as_raw_fd(), watched.wd) };
            }
        }
    }

    /// Reads every queued event; any event at all starts a new generation.
    fn drain(&self, state: &mut State) {
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: `buf` is writable for its length.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                // EAGAIN: the queue is empty. Another error cannot tell us what changed, so
                // count it as a change.
                if n < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EAGAIN) {
                    state.generation += 1;
                }
                return;
            }
            state.generation += 1;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_starts_a_new_generation_before_it_returns() {
        let dir = tempfile::tempdir().unwrap();
        let limit = dir.path().join("memory.limit_in_bytes");
        std::fs::write(&limit, "268435456\n").unwrap();
        let watch = LimitWatch::new().unwrap();
        let missing = dir.path().join("memory.memsw.limit_in_bytes");
        let g0 = watch.watch(&[limit.clone(), missing], (1, 1)).unwrap();
        assert_eq!(watch.len(), 1, "absent files are not watched");
        assert_eq!(watch.generation(), g0);
        std::fs::write(&limit, "536870912\n").unwrap();
        let g1 = watch.generation();
        assert_ne!(g1, g0);
        assert_eq!(watch.generation(), g1);
    }

    #[test]
    fn removing_a_watched_file_starts_a_new_generation() {
        let dir = tempfile::tempdir().unwrap();
        let limit = dir.path().join("cpu.max");
        std::fs::write(&limit, "max 100000\n").unwrap();
        let watch = LimitWatch::new().unwrap();
        let g0 = watch.watch(std::slice::from_ref(&limit), (1, 1)).unwrap();
        std::fs::remove_file(&limit).unwrap();
        assert_ne!(watch.generation(), g0);
    }

    #[test]
    fn a_file_that_cannot_be_watched_gives_no_generation() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "1").unwrap();
        let watch = LimitWatch::new().unwrap();
        // A path with a NUL byte cannot be watched.
        let bad = PathBuf::from(std::ffi::OsStr::from_bytes(b"/tmp/a\0b"));
        assert_eq!(watch.watch(&[file, bad], (1, 1)), None);
    }

    #[test]
    fn another_container_re_adds_the_watch_of_a_re_created_file() {
        let dir = tempfile::tempdir().unwrap();
        let limit = dir.path().join("memory.max");
        std::fs::write(&limit, "max\n").unwrap();
        let watch = LimitWatch::new().unwrap();
        watch.watch(std::slice::from_ref(&limit), (1, 1)).unwrap();
        // The file is replaced by a new inode (a cgroup removed and created again).
        std::fs::remove_file(&limit).unwrap();
        std::fs::write(&limit, "max\n").unwrap();
        let g1 = watch.watch(std::slice::from_ref(&limit), (2, 1)).unwrap();
        std::fs::write(&limit, "268435456\n").unwrap();
        assert_ne!(watch.generation(), g1, "the new inode is watched");
    }
}

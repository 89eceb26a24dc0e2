//! Keeping the kernel's cgroup migration lock fast while a container boots.
//!
//! Moving a whole process (a write to `cgroup.procs`) takes the kernel's global
//! `cgroup_threadgroup_rwsem` for writing, under `cgroup_mutex`. The first writer after a
//! quiet spell waits one RCU grace period (7.7 ms on the 2-CPU test machine); a writer that
//! comes within about a grace period of the last one does not wait. systemd, as a
//! container's PID 1, moves itself and its first units' processes during boot, seconds
//! apart from any other writer, and so waited about 30 ms of each boot in grace periods
//! (docs/performance/boot-and-density.md, round seven).
//!
//! [`hold_fast`] writes the calling process into the cgroup it is already in, more often
//! than a grace period: a move that moves nothing, but keeps the lock in the state where
//! no writer waits. It is what the `favordynmods` mount option does for good, for the
//! length of a boot, without touching the host's mounts. The price is the one the kernel
//! documents for that option: forks and exits take the lock's slower read path meanwhile.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{CgroupError, Result};
use crate::layout::{CgroupLayout, ProcessCgroups};

/// The longest pause between two writes: below one grace period on every kernel
/// configuration measured here (7.7 ms with HZ=250).
pub const LONGEST_INTERVAL: Duration = Duration::from_millis(4);
/// The shortest: a kernel whose grace periods are shorter than this is not worth chasing.
pub const SHORTEST_INTERVAL: Duration = Duration::from_millis(1);
/// A write that took longer than this waited for a grace period.
const WAITED: Duration = Duration::from_micros(500);

/// The `cgroup.procs` file of the calling process's own cgroup: in the unified hierarchy
/// where there is one, else in the first v1 hierarchy (the lock is the same for all).
pub fn own_procs_file() -> Result<PathBuf> {
    let layout = CgroupLayout::from_system()?;
    let own = ProcessCgroups::parse(&crate::read::read_string(Path::new("/proc/self/cgroup"))?)?;
    let dir = layout.v2_dir(&own).or_else(|| {
        let mut controllers: Vec<_> = layout.v1.keys().copied().collect();
        controllers.sort_by_key(|c| c.name());
        controllers.into_iter().find_map(|c| layout.v1_dir(c, &own))
    });
    dir.map(|d| d.file("cgroup.procs"))
        .ok_or_else(|| CgroupError::Own("no mounted hierarchy holds it".to_string()))
}

/// How long to pause before the next write, given the longest write so far: half a grace
/// period where one was seen, within [`SHORTEST_INTERVAL`] and [`LONGEST_INTERVAL`].
pub fn next_interval(longest_write: Duration) -> Duration {
    if longest_write < WAITED {
        return LONGEST_INTERVAL;
    }
    (longest_write / 2).clamp(SHORTEST_INTERVAL, LONGEST_INTERVAL)
}

/// Write the calling process into its own cgroup through `procs` (its [`own_procs_file`])
/// until `until`.
///
/// The process must be one made for this: if someone moved it meanwhile, a write puts it
/// back where it was.
pub fn hold_fast(procs: &Path, until: Instant) -> Result<()> {
    let io = |op: &'static str| {
        let path = procs.to_path_buf();
        move |source| CgroupError::Io { op, path, source }
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(procs)
        .map_err(io("open"))?;
    let mut longest = Duration::ZERO;
    while Instant::now() < until {
        let started = Instant::now();
        // The kernel takes the lock before it checks the move, so even a refused move
        // keeps it fast. Only a cgroup that is gone makes the writes pointless.
        if let Err(e) = file.write_all(b"0") {
            if e.raw_os_error() == Some(libc::ENODEV) {
                return Err(io("write")(e));
            }
        }
        longest = longest.max(started.elapsed());
        std::thread::sleep(next_interval(longest));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_is_half_a_grace_period_within_bounds() {
        // No write has waited yet: the longest pause.
        assert_eq!(next_interval(Duration::ZERO), LONGEST_INTERVAL);
        assert_eq!(next_interval(Duration::from_micros(120)), LONGEST_INTERVAL);
        // 7.7 ms grace periods (this machine): half.
        assert_eq!(
            next_interval(Duration::from_micros(7700)),
            Duration::from_micros(3850)
        );
        // A write that also waited for the mutex behind another: capped.
        assert_eq!(next_interval(Duration::from_millis(20)), LONGEST_INTERVAL);
        // 3 ms grace periods (HZ=1000): half.
        assert_eq!(
            next_interval(Duration::from_millis(3)),
            Duration::from_micros(1500)
        );
        // Shorter than that: not chased below the floor.
        assert_eq!(next_interval(Duration::from_micros(900)), SHORTEST_INTERVAL);
    }
}

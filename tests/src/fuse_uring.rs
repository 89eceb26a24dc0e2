//! The fuse module's host-wide switch for FUSE over io_uring
//! (`/sys/module/fuse/parameters/enable_uring`, off by default). The kernel reads it at a
//! connection's FUSE_INIT only: a daemon mounted while it is on keeps its io_uring queues after
//! it is turned off again. So tests and the benchmark turn it on around one daemon's mount and
//! put the old value back at once, leaving the host as they found it.

use std::io;
use std::path::Path;
use std::sync::Mutex;

pub const ENABLE_URING: &str = "/sys/module/fuse/parameters/enable_uring";

/// Holders of the switch take turns, so that one restoring the old value cannot turn it off
/// under another's mount.
static TURNS: Mutex<()> = Mutex::new(());

/// Runs `mount` (which starts a daemon and waits until it is mounted) with the switch on,
/// then restores the switch. `Ok(None)` if this kernel has no FUSE over io_uring at all.
pub fn with_uring_enabled<T>(mount: impl FnOnce() -> T) -> io::Result<Option<T>> {
    with_uring_switch(true, mount)
}

/// Runs `f` with the switch set to `on`, then restores it.
pub fn with_uring_switch<T>(on: bool, f: impl FnOnce() -> T) -> io::Result<Option<T>> {
    if !Path::new(ENABLE_URING).exists() {
        return Ok(None);
    }
    let _turn = TURNS.lock().unwrap_or_else(|e| e.into_inner());
    let before = std::fs::read_to_string(ENABLE_URING)?;
    std::fs::write(ENABLE_URING, if on { "Y" } else { "N" })?;
    let restore = Restore(before.trim().to_string());
    let done = f();
    drop(restore);
    Ok(Some(done))
}

struct Restore(String);

impl Drop for Restore {
    fn drop(&mut self) {
        if let Err(e) = std::fs::write(ENABLE_URING, &self.0) {
            eprintln!("cannot restore {ENABLE_URING} to {}: {e}", self.0);
        }
    }
}

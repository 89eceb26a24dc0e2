//! How a process tells that it runs from a protected view of its binary (CVE-2019-5736; the
//! views are made by `syscontainer::sealed_exe`): a private overlayfs announced by
//! [`MARKER`] in the environment, or a sealed memfd copy.

use std::os::fd::AsRawFd;

/// Set in the environment of a process started from the overlay view.
pub const MARKER: &str = "_SYSCONTAINER_SEALED_EXE";
/// The seals a memfd copy carries: nothing can change it any more.
pub const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// Whether this process runs from the overlay view or a sealed memfd, never the host file.
pub fn running_protected() -> bool {
    let Ok(exe) = std::fs::File::open("/proc/self/exe") else {
        return false;
    };
    let on_overlay = nix::sys::statfs::fstatfs(&exe)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::OVERLAYFS_SUPER_MAGIC);
    // SAFETY: F_GET_SEALS on our own fd.
    let seals = unsafe { libc::fcntl(exe.as_raw_fd(), libc::F_GET_SEALS) };
    (on_overlay && std::env::var_os(MARKER).is_some()) || (seals >= 0 && seals & SEALS == SEALS)
}

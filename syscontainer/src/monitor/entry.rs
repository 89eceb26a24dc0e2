//! How a monitor process is started: the small `syscontainer-monitor` executable that
//! `start` spawns, its one command line, and the CLI it spawns in turn.
//!
//! The monitor is its own executable, not the CLI's hidden `monitor` command, for its
//! memory: one monitor lives per running container, and every page of the executable the
//! loader relocates (`.data.rel.ro`, `.got`) is a private copy in each. The CLI links
//! clap, every command and every option's table; the monitor executable links only what
//! a monitor runs, so it has a fraction of those pages.

use std::ffi::OsString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::store::{is_id, Store};

/// The monitor executable's file name; it is installed beside the CLI.
pub const EXECUTABLE: &str = "syscontainer-monitor";
/// The CLI's file name, which the monitor runs for a health check's `exec` and `stop`.
pub const CLI_EXECUTABLE: &str = "syscontainer";
/// What `syscontainer-monitor` says when run with any other command line.
pub const USAGE: &str = "usage: syscontainer-monitor --root ROOT --log-level LEVEL monitor ID \
                         (started by `syscontainer start`, not by hand)";

/// The monitor executable that the CLI at `cli` starts: [`EXECUTABLE`] in its directory.
pub fn executable_beside(cli: &Path) -> PathBuf {
    cli.with_file_name(EXECUTABLE)
}

/// The CLI that a monitor running from `monitor` spawns: [`CLI_EXECUTABLE`] in its
/// directory (the same file when the monitor runs as the CLI's hidden `monitor` command).
pub fn cli_beside(monitor: &Path) -> PathBuf {
    monitor.with_file_name(CLI_EXECUTABLE)
}

/// [`cli_beside`] this process's own executable.
pub(crate) fn cli_executable() -> PathBuf {
    let own = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
    cli_beside(&own)
}

/// The arguments `container::start` spawns the monitor with, exactly: `--root ROOT
/// --log-level LEVEL monitor ID`; `None` for any other command line.
pub fn invocation(args: &[OsString]) -> Option<(PathBuf, sclog::LogLevel, &str)> {
    match args {
        [root_flag, root, level_flag, level, monitor, id]
            if root_flag == "--root" && level_flag == "--log-level" && monitor == "monitor" =>
        {
            let id = id.to_str().filter(|id| is_id(id))?;
            let level = level.to_str()?.parse().ok()?;
            Some((PathBuf::from(root), level, id))
        }
        _ => None,
    }
}

/// Run the monitor of `id` as `start` spawned it (the write end of its readiness pipe as
/// fd 3); returns the exit code.
pub fn run_spawned(root: &Path, log_level: sclog::LogLevel, id: &str) -> u8 {
    if let Err(e) = sclog::init(log_level, None) {
        eprintln!("syscontainer: {}", sclog::Causes(&e));
        return 125;
    }
    let store = match Store::open(root) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("syscontainer: open store {}: {e}", root.display());
            return 125;
        }
    };
    store.sweep();
    run_in(store, id) as u8
}

/// Run the monitor of `id` in `store`, in a process that `start` spawned: the write end
/// of its readiness pipe is fd 3, and fd 4 holds the container's monitor lock, which stays
/// open until this process exits. Call once per process.
pub fn run_in(store: Store, id: &str) -> i32 {
    // SAFETY: `start` passes the write end of its readiness pipe as fd 3.
    let ready = unsafe { OwnedFd::from_raw_fd(3) };
    // Neither is for the container's init or the hooks the monitor runs: a hook's leftover
    // child holding fd 3 would keep `start` waiting for the answer, and one holding fd 4
    // would keep the next `start` from spawning a monitor.
    // SAFETY: F_SETFD on descriptors that `start` passed us.
    unsafe {
        libc::fcntl(3, libc::F_SETFD, libc::FD_CLOEXEC);
        libc::fcntl(4, libc::F_SETFD, libc::FD_CLOEXEC);
    }
    super::run(store, id, ready)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_monitor_command_line_is_taken() {
        let id = "a".repeat(64);
        let args = |v: &[&str]| -> Vec<OsString> { v.iter().map(Into::into).collect() };
        let ok = args(&["--root", "/r", "--log-level", "warn", "monitor", &id]);
        assert_eq!(
            invocation(&ok),
            Some((PathBuf::from("/r"), sclog::LogLevel::Warn, id.as_str()))
        );
        for bad in [
            args(&["--root", "/r", "--log-level", "warn", "monitor", "abc"]),
            args(&["--log-level", "warn", "--root", "/r", "monitor", &id]),
            args(&["--root", "/r", "--log-level", "warn", "exec", &id]),
            args(&["--root", "/r", "monitor", &id]),
            args(&["--root", "/r", "--log-level", "warn", "monitor", &id, "x"]),
            args(&["--root", "/r", "--log-level", "loud", "monitor", &id]),
        ] {
            assert_eq!(invocation(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_monitor_and_the_cli_are_found_beside_each_other() {
        let cli = Path::new("/usr/local/bin/syscontainer");
        let monitor = executable_beside(cli);
        assert_eq!(monitor, Path::new("/usr/local/bin/syscontainer-monitor"));
        assert_eq!(cli_beside(&monitor), cli);
        // The CLI's hidden `monitor` command spawns the CLI it runs from.
        assert_eq!(cli_beside(cli), cli);
    }
}

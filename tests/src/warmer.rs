//! The migration warmer (`sysc-warmer`: syscontainer's `warmer.rs`, `cgroups::migration`)
//! seen from outside: which process it is, what it holds, and whether its moves succeed.

use std::time::Duration;

use crate::{pid_alive, wait_for, Host};

/// The warmer's name (`PR_SET_NAME`).
pub const COMM: &str = "sysc-warmer";

/// The children of `parent` (a monitor, or `stop`) named [`COMM`].
pub fn warmers_of(parent: i32) -> Vec<i32> {
    let children = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
        .unwrap_or_default();
    children
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == COMM)
        })
        .collect()
}

/// Where the descriptors of `pid` above its standard streams lead.
pub fn fd_targets(pid: i32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.flatten()
                .filter(|fd| {
                    fd.file_name()
                        .to_str()
                        .and_then(|n| n.parse::<i32>().ok())
                        .is_some_and(|n| n > 2)
                })
                .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                .map(|t| t.display().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `pid` holds a `flock` (not waiting for one), by `/proc/locks`: a holder's line is
/// `N: FLOCK ADVISORY WRITE PID …`, a waiter's `N: -> FLOCK …`.
pub fn holds_a_flock(pid: i32) -> bool {
    let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    locks.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.get(1) == Some(&"FLOCK")
            && fields.get(3) == Some(&"WRITE")
            && fields.get(4).and_then(|p| p.parse::<i32>().ok()) == Some(pid)
    })
}

/// Until the warmer holds the shared lock: its turn to write, which comes once any other
/// warmer (another container's boot, another `stop`) has ended, and after it has closed what
/// it inherited (and read its cue, if it had one). A warmer runs for at most ten seconds.
pub fn wait_for_its_turn(warmer: i32) {
    wait_for(
        "the warmer to take its turn",
        Duration::from_secs(15),
        || {
            holds_a_flock(warmer)
                && fd_targets(warmer)
                    .iter()
                    .any(|t| t.ends_with("/migration-warmer.lock"))
        },
    );
}

/// Whether every descriptor [`fd_targets`] lists is the warmer's own: its cgroup file or lock.
pub fn holds_only_its_own(held: &[String]) -> bool {
    held.iter()
        .all(|t| t.ends_with("/cgroup.procs") || t.ends_with("/migration-warmer.lock"))
}

/// The bytes `pid` has written so far with writes that succeeded: the kernel adds to
/// `wchar` only what a write returned, so a refused move adds nothing.
pub fn bytes_written(pid: i32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/io: {e}"));
    io.lines()
        .find_map(|l| l.strip_prefix("wchar:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no wchar in /proc/{pid}/io: {io}"))
}

/// Waits until the warmer, which holds its turn, has moved itself into its cgroup again: one
/// write of its `cgroup.procs` that the kernel took. It writes every few milliseconds, so two
/// seconds without one (on an emulated CPU, busy with other tests) mean its moves are refused.
pub fn wait_for_a_move(warmer: i32) {
    let before = bytes_written(warmer);
    wait_for(
        "the warmer's write to its cgroup.procs to succeed",
        Duration::from_secs(2),
        || bytes_written(warmer) > before,
    );
}

/// The monitor's warmer, from the init's exec until the init reports itself booted. It
/// moves only itself, so it must live in the monitor's cgroup, never the container's; it
/// must hold none of the monitor's descriptors (the console, the sockets, the exit FIFO,
/// the monitor lock); its moves must succeed; and it must end with the init. Checked with
/// an init that never sends READY=1 (`sleep`), which is killed at the end.
pub fn check_the_monitors_warmer_until_the_init_ends(host: &mut Host) {
    let rootfs = host.rootfs();
    let id = host.ok([
        "run",
        "-d",
        "--name",
        "unready",
        "--cgroup-parent",
        &host.cgroup_parent,
        "--external-rootfs",
        rootfs.to_str().unwrap(),
        "none",
        "sleep",
        "300",
    ]);
    let monitor: i32 = host
        .inspect("unready", "{{.State.MonitorPid}}")
        .parse()
        .unwrap();
    let warmers = warmers_of(monitor);
    assert_eq!(warmers.len(), 1, "monitor {monitor} has no warmer child");
    let warmer = warmers[0];
    let cgroup = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .unwrap_or_else(|e| panic!("read /proc/{pid}/cgroup: {e}"))
    };
    assert_eq!(cgroup(warmer), cgroup(monitor));
    assert!(!host.cgroup_procs(&id).contains(&warmer));
    wait_for_its_turn(warmer);
    // After a move: right after taking its turn it reads /proc/self/cgroup, briefly open.
    wait_for_a_move(warmer);
    let held = fd_targets(warmer);
    assert!(holds_only_its_own(&held), "the warmer holds {held:?}");
    host.ok(["kill", "-s", "KILL", "unready"]);
    host.wait_status("unready", "exited", Duration::from_secs(10));
    assert!(!pid_alive(warmer), "warmer {warmer} outlived the init");
}

/// Once the booted container `name`'s systemd has sent READY=1, its monitor has no warmer.
pub fn check_no_warmer_once_ready(host: &Host, name: &str) {
    wait_for("systemd's READY=1", Duration::from_secs(60), || {
        host.state(name)["Ready"] == true
    });
    let monitor: i32 = host.inspect(name, "{{.State.MonitorPid}}").parse().unwrap();
    wait_for("the warmer to be reaped", Duration::from_secs(5), || {
        warmers_of(monitor).is_empty()
    });
}

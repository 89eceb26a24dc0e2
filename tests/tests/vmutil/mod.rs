//! Helpers shared by the VM lane's test files (pure cgroup v2, systemd as PID 1): the host
//! check and looking inside a container through `nsenter`, without `syscontainer exec`,
//! whose own test is in cgroup2.rs.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const CGROUP2_ROOT: &str = "/sys/fs/cgroup";

/// Panics unless this machine is pure cgroup v2 under systemd: the VM lane's host.
pub fn assert_v2_under_systemd() {
    let fs = nix::sys::statfs::statfs(CGROUP2_ROOT).expect("statfs /sys/fs/cgroup");
    assert!(
        fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC,
        "{CGROUP2_ROOT} is not cgroup2: these tests belong to the VM lane"
    );
    assert_eq!(
        read_trimmed(Path::new("/proc/1/comm")),
        "systemd",
        "PID 1 is not systemd: these tests belong to the VM lane"
    );
}

pub fn read_trimmed(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// Runs `args` in every namespace of the process `pid` (not in its cgroup); returns
/// (success, stdout, stderr).
pub fn inside(pid: i32, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("nsenter")
        .args([
            "-t",
            &pid.to_string(),
            "-m",
            "-u",
            "-i",
            "-n",
            "-p",
            "-C",
            "--",
        ])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("spawn nsenter");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}

/// `inside` that must succeed; returns stdout.
pub fn inside_ok(pid: i32, args: &[&str]) -> String {
    let (ok, out, err) = inside(pid, args);
    assert!(ok, "{args:?} in the container of {pid} failed: {err}");
    out
}

/// Runs a shell script as a transient service of the container's systemd, so that it runs
/// in the container's cgroup; returns its stdout.
pub fn as_container_service(pid: i32, script: &str) -> String {
    inside_ok(
        pid,
        &[
            "systemd-run",
            "--quiet",
            "--wait",
            "--pipe",
            "--collect",
            "--service-type=exec",
            "sh",
            "-c",
            script,
        ],
    )
}

/// Waits until systemd inside the container of `pid` finishes booting and requires `running`.
pub fn wait_running(pid: i32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(240);
    let state = loop {
        let (_, state, _) = inside(pid, &["systemctl", "is-system-running", "--wait"]);
        if !state.is_empty() && !matches!(state.as_str(), "offline" | "starting" | "initializing") {
            break state;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not boot: last answer {state:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let (_, failed, _) = inside(pid, &["systemctl", "--failed", "--no-legend"]);
    assert_eq!(
        state, "running",
        "{what} booted to {state}; failed: {failed}"
    );
}

/// The value in kB of `key` in a meminfo text.
pub fn meminfo_kb(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in meminfo:\n{text}"))
}

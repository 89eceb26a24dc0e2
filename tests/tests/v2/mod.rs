//! What the VM lane's tests share: the check that the host is pure cgroup v2 under systemd,
//! booting a container and waiting for its systemd, and looking inside without
//! `syscontainer exec` (`nsenter`, or a transient service of the container's systemd when
//! the process must run in the container's cgroup and under its seccomp filter).

// Each test target that includes this module uses only part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use syscontainer_tests::{bin, Host};

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

/// A test host, after checking that this machine is pure cgroup v2 under systemd.
pub fn v2_host() -> Host {
    assert_v2_under_systemd();
    Host::new()
}

pub fn read_trimmed(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// Run `args` in every namespace of the process `pid` (not in its cgroup); returns
/// (success, stdout, stderr).
pub fn inside_pid(pid: i32, args: &[&str]) -> (bool, String, String) {
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

/// [`inside_pid`] that must succeed; returns stdout.
pub fn inside_pid_ok(pid: i32, args: &[&str]) -> String {
    let (ok, out, err) = inside_pid(pid, args);
    assert!(ok, "{args:?} in the container of {pid} failed: {err}");
    out
}

/// Run a shell script as a transient service of the systemd of `pid`'s container, so that
/// it runs in the container's cgroup with the container's capabilities and seccomp filter;
/// returns its stdout.
pub fn service_in(pid: i32, script: &str) -> String {
    inside_pid_ok(
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

/// Wait until systemd inside the container of `pid` finishes booting and require `running`.
pub fn wait_running(pid: i32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(240);
    let state = loop {
        let (_, state, _) = inside_pid(pid, &["systemctl", "is-system-running", "--wait"]);
        if !state.is_empty() && !matches!(state.as_str(), "offline" | "starting" | "initializing") {
            break state;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not boot: last answer {state:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let (_, failed, _) = inside_pid(pid, &["systemctl", "--failed", "--no-legend"]);
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

fn pid_of(host: &Host, name: &str) -> i32 {
    let pid = host.inspect(name, "{{.State.Pid}}");
    pid.parse()
        .unwrap_or_else(|_| panic!("{name} has no PID 1: {pid:?}"))
}

/// Run `args` in the container's namespaces (not its cgroup); returns (success, stdout).
pub fn inside(host: &Host, name: &str, args: &[&str]) -> (bool, String) {
    let (ok, out, _) = inside_pid(pid_of(host, name), args);
    (ok, out)
}

/// [`inside`] that must succeed; returns stdout.
pub fn inside_ok(host: &Host, name: &str, args: &[&str]) -> String {
    inside_pid_ok(pid_of(host, name), args)
}

/// [`service_in`] the container named `name`.
pub fn as_container_service(host: &Host, name: &str, script: &str) -> String {
    service_in(pid_of(host, name), script)
}

/// `systemctl is-system-running --wait` through nsenter until it gives a final answer.
pub fn wait_booted_inside(host: &Host, name: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (_, state) = inside(host, name, &["systemctl", "is-system-running", "--wait"]);
        if !state.is_empty() && !matches!(state.as_str(), "offline" | "starting" | "initializing") {
            return state;
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not boot: last answer {state:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `run` with default options plus `extra`, then wait for systemd inside to reach `running`.
pub fn boot(host: &mut Host, name: &str, extra: &[&str]) -> String {
    let rootfs = host.rootfs();
    let id = host.start_system(name, &rootfs, extra);
    let state = wait_booted_inside(host, name);
    let (_, failed) = inside(host, name, &["systemctl", "--failed", "--no-legend"]);
    assert_eq!(
        state, "running",
        "{name} booted to {state}; failed: {failed}"
    );
    id
}

pub fn container_cgroup(host: &Host, id: &str) -> PathBuf {
    host.cgroup_file(id, "cgroup.procs")
        .unwrap_or_else(|| panic!("no cgroup2 directory for {id}"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `syscontainer-tools --root STORE ARGS...`, which must succeed; returns stdout.
pub fn tools(host: &Host, args: &[&str]) -> String {
    let out: Output = Command::new(bin("syscontainer-tools"))
        .arg("--root")
        .arg(host.store())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("spawn syscontainer-tools");
    assert!(
        out.status.success(),
        "syscontainer-tools {args:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `sh -c CMD` on the host, which must succeed; returns stdout.
pub fn sh_ok(cmd: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .output()
        .expect("spawn sh");
    assert!(
        out.status.success(),
        "{cmd} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

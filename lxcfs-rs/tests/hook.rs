//! Root test of lxcfs-hook: a process in its own mount namespace with a rootfs whose /proc is
//! mounted, before any pivot_root — as at OCI prestart.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{require_root, Daemon};

struct Sleeper(std::process::Child);

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_hook(mountpoint: &std::path::Path, state: &str) -> std::process::Output {
    run_hook_with(mountpoint, state, &[])
}

fn run_hook_with(
    mountpoint: &std::path::Path,
    state: &str,
    extra: &[&std::ffi::OsStr],
) -> std::process::Output {
    let mut hook = Command::new(env!("CARGO_BIN_EXE_lxcfs-hook"))
        .arg("--mountpoint")
        .arg(mountpoint)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    hook.stdin
        .take()
        .unwrap()
        .write_all(state.as_bytes())
        .unwrap();
    hook.wait_with_output().unwrap()
}

#[test]
fn prestart_hook_mounts_views_in_container_namespace() {
    require_root();
    let daemon = Daemon::start_ours(&[]);
    let rootfs = tempfile::tempdir().unwrap();
    std::fs::create_dir(rootfs.path().join("proc")).unwrap();
    let ready = rootfs.path().join("ready");
    let script = format!(
        "mount -t proc proc {root}/proc && touch {ready} && exec sleep 60",
        root = rootfs.path().display(),
        ready = ready.display()
    );
    // `unshare` itself moves into the new mount namespace: its pid is the "container" pid.
    let sleeper = Sleeper(
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !ready.exists() {
        assert!(Instant::now() < deadline, "container process did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = sleeper.0.id();
    let state = format!(
        r#"{{"ociVersion":"1.0.2","id":"hooktest","status":"creating","pid":{pid},"bundle":"/nonexistent","root":"{}","annotations":{{}}}}"#,
        rootfs.path().display()
    );
    let output = run_hook(&daemon.mountpoint, &state);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    let root = rootfs.path().display().to_string();
    for file in ["meminfo", "cpuinfo", "stat", "uptime"] {
        let target = format!("{root}/proc/{file} ");
        assert!(
            mountinfo
                .lines()
                .any(|l| l.contains(&target) && l.contains(" - fuse ")),
            "{target} not mounted:\n{mountinfo}"
        );
    }
    assert!(
        !mountinfo.contains("cpu/online"),
        "absent target must be skipped"
    );
    assert!(!std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(&format!("{root}/proc/meminfo")));

    // Daemon down: warn and succeed, so the container still starts.
    let output = run_hook(std::path::Path::new("/nonexistent-lxcfs"), &state);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("not alive"));
}

/// A "running container" for the hook: a process in its own private mount namespace, so that
/// whatever a faulty hook might attach stays out of the host's.
fn running_state(id: &str) -> (Sleeper, String) {
    let sleeper = Sleeper(
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sleep", "60"])
            .spawn()
            .unwrap(),
    );
    let pid = sleeper.0.id();
    let own_ns = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
        .ok()
        .as_ref()
        == Some(&own_ns)
    {
        assert!(Instant::now() < deadline, "unshare did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    let state = format!(
        r#"{{"ociVersion":"1.0.2","id":"{id}","status":"running","pid":{pid},"bundle":"/nonexistent","annotations":{{}}}}"#
    );
    (sleeper, state)
}

fn check_lxcfs(mountpoint: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lxcfs-toolkit"))
        .arg("--mountpoint")
        .arg(mountpoint)
        .arg("check-lxcfs")
        .output()
        .unwrap()
}

/// Another FUSE file system at the mount point (lxcfs 5.0.3 here) is not our daemon:
/// `check-lxcfs` fails, and the hook leaves the container with the host's views.
#[test]
fn check_lxcfs_refuses_another_fuse_mount() {
    require_root();
    let ours = Daemon::start_ours(&[]);
    let out = check_lxcfs(&ours.mountpoint);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("alive"));

    let lxcfs = Daemon::start_lxcfs();
    let out = check_lxcfs(&lxcfs.mountpoint);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not lxcfs-rs"), "{stderr}");
    let (_container, state) = running_state("other");
    let out = run_hook(&lxcfs.mountpoint, &state);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("keeps host views"), "{stderr}");
}

/// Resumes a stopped daemon even when an assertion fails (the Daemon guard then kills it).
struct Stopped(i32);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0),
            nix::sys::signal::Signal::SIGCONT,
        );
    }
}

/// A daemon that is alive but does not answer (stopped with SIGSTOP): `check-lxcfs` and the
/// hook give up after the probe timeout (2 s) instead of blocking, and the hook lets the
/// container start with the host's views.
#[test]
fn hung_daemon_does_not_block_check_or_hook() {
    require_root();
    let daemon = Daemon::start_ours(&[]);
    let pid = daemon.child.as_ref().unwrap().id() as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .unwrap();
    let _stopped = Stopped(pid);
    // The group stop is asynchronous: wait until every thread is stopped.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let states: Vec<char> = std::fs::read_dir(format!("/proc/{pid}/task"))
            .unwrap()
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("stat")).ok())
            .filter_map(|s| lxcfs_rs::host::parse_pid_state(&s).ok())
            .collect();
        if !states.is_empty() && states.iter().all(|s| *s == 'T') {
            break;
        }
        assert!(Instant::now() < deadline, "daemon did not stop: {states:?}");
        std::thread::sleep(Duration::from_millis(10));
    }

    let started = Instant::now();
    let out = check_lxcfs(&daemon.mountpoint);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("did not answer"), "{stderr}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(6),
        "took {took:?}"
    );

    let (_container, state) = running_state("hung");
    let started = Instant::now();
    let out = run_hook(&daemon.mountpoint, &state);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("keeps host views"), "{stderr}");
    assert!(took < Duration::from_secs(6), "hook took {took:?}");
}

#[test]
fn hook_with_log_writes_its_messages_to_that_file() {
    require_root();
    let (_sleeper, state) = running_state("logged");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("lxcfs-hook.log");
    // The daemon is down: the hook warns (into the file) and lets the container start.
    let output = run_hook_with(
        std::path::Path::new("/nonexistent-lxcfs"),
        &state,
        &["--log".as_ref(), log.as_os_str()],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("not alive"), "{logged}");
    assert!(!stderr.contains("not alive"), "{stderr}");
}

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
    let mut hook = Command::new(env!("CARGO_BIN_EXE_lxcfs-hook"))
        .arg("--mountpoint")
        .arg(mountpoint)
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

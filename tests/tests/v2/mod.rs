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

/// A test host, after checking that this machine is pure cgroup v2 under systemd.
pub fn v2_host() -> Host {
    let fstype = Command::new("stat")
        .args(["-f", "-c", "%T", CGROUP2_ROOT])
        .output()
        .expect("spawn stat");
    assert_eq!(
        String::from_utf8_lossy(&fstype.stdout).trim(),
        "cgroup2fs",
        "{CGROUP2_ROOT} is not cgroup2: these tests belong to the VM lane"
    );
    assert_eq!(
        read_trimmed(Path::new("/proc/1/comm")),
        "systemd",
        "PID 1 is not systemd: these tests belong to the VM lane"
    );
    Host::new()
}

pub fn read_trimmed(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// Run `args` in the container's namespaces (not its cgroup); returns (success, stdout).
pub fn inside(host: &Host, name: &str, args: &[&str]) -> (bool, String) {
    let pid = host.inspect(name, "{{.State.Pid}}");
    let out = Command::new("nsenter")
        .args(["-t", &pid, "-m", "-u", "-i", "-n", "-p", "-C", "--"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("spawn nsenter");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

/// [`inside`] that must succeed; returns stdout.
pub fn inside_ok(host: &Host, name: &str, args: &[&str]) -> String {
    let (ok, out) = inside(host, name, args);
    assert!(ok, "{args:?} in {name} failed: {out}");
    out
}

/// Run a shell script as a transient service of the container's systemd, so that it runs
/// in the container's cgroup with the container's capabilities and seccomp filter; returns
/// its stdout.
pub fn as_container_service(host: &Host, name: &str, script: &str) -> String {
    inside_ok(
        host,
        name,
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

/// syscontainer-hooks installed root-owned 0755 with a hook spec for prestart/poststop.
pub struct Hook {
    dir: tempfile::TempDir,
}

impl Hook {
    pub fn install() -> Hook {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("sct-hook-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let exe = dir.path().join("syscontainer-hooks");
        std::fs::copy(bin("syscontainer-hooks"), &exe).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let entry = |stage: &str| {
            serde_json::json!([{
                "path": exe,
                "args": ["syscontainer-hooks", "--state", stage],
                "timeout": 30
            }])
        };
        let spec = serde_json::json!({
            "prestart": entry("prestart"),
            "poststop": entry("poststop"),
        });
        std::fs::write(dir.path().join("hookspec.json"), spec.to_string()).unwrap();
        Hook { dir }
    }

    pub fn spec(&self) -> String {
        self.dir.path().join("hookspec.json").display().to_string()
    }
}

//! The shipped systemd units under a real systemd (VM lane): installed as `make install`
//! installs them, `lxcfs-rs.service` starts, comes back after `kill -9` of the daemon and
//! gives a running container its views back, and `syscontainer-restore.service` brings the
//! containers whose policy says so back after a reboot of the VM while one a user stopped
//! stays down.
//!
//! These tests use the installed system as a user would: binaries in /usr/local/bin, the
//! default store (/var/lib/syscontainer), /etc/syscontainer/{daemon,hookspec}.json (the
//! lxcfs-hook prestart hook) and the daemon at /var/lib/lxcfs. They share that installation,
//! so they hold [`INSTALLATION`] while they run.
//!
//! The reboot test has two phases: before the reboot it asks the VM runner
//! (scripts/vm/run-tests.sh) for a reboot through `$SCTEST_REBOOT_REQUESTS`; after it the
//! runner runs it again alone with `SCTEST_PHASE=after-reboot`.

mod v2;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use syscontainer_tests::{bin_dir, rootfs_cache, wait_for, Rootfs};
use v2::{assert_v2_under_systemd, inside_pid, meminfo_kb, wait_running};

static INSTALLATION: Mutex<()> = Mutex::new(());

const PREFIX: &str = "/usr/local/bin";
/// The Makefile's BINARIES and HELPER_BINARIES.
const BINARIES: [&str; 8] = [
    "syscontainer",
    "syscontainer-exec-stage",
    "syscontainer-monitor",
    "lxcfs-rs",
    "lxcfs-toolkit",
    "lxcfs-hook",
    "syscontainer-tools",
    "syscontainer-hooks",
];
const UNITS: [&str; 2] = ["lxcfs-rs.service", "syscontainer-restore.service"];
const UNIT_DIR: &str = "/lib/systemd/system";
const ETC: &str = "/etc/syscontainer";
const LXCFS_MOUNT: &str = "/var/lib/lxcfs";
/// Rootfs copies of the reboot test, on the root disk so that they outlive the reboot.
const PERSISTENT_ROOTFS: &str = "/var/lib/sctest/units-rootfs";
const MIB_KB: u64 = 1024;

/// The repository's `systemd/` and `etc/`: copied to the VM's per-run disk by run.sh.
fn repo() -> PathBuf {
    std::env::var_os("SYSCONTAINER_REPO")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
}

/// Runs a command; returns (success, stdout, stderr).
fn run(program: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}

fn ok(program: &str, args: &[&str]) -> String {
    let (success, out, err) = run(program, args);
    assert!(success, "{program} {args:?} failed: {err}\n{out}");
    out
}

fn systemctl(args: &[&str]) -> String {
    ok("systemctl", args)
}

fn unit_property(unit: &str, property: &str) -> String {
    systemctl(&["show", "-p", property, "--value", unit])
}

fn journal(unit: &str) -> String {
    run("journalctl", &["-b", "-u", unit, "--no-pager", "-n", "40"]).1
}

/// The installed `syscontainer` with the default store, as a user runs it.
fn syscontainer(args: &[&str]) -> String {
    ok(&format!("{PREFIX}/syscontainer"), args)
}

fn status(name: &str) -> String {
    syscontainer(&["inspect", "-f", "{{.State.Status}}", name])
}

fn init_pid(name: &str) -> i32 {
    syscontainer(&["inspect", "-f", "{{.State.Pid}}", name])
        .parse()
        .unwrap_or_else(|e| panic!("pid of {name}: {e}"))
}

/// `make install` done by hand: binaries, the default configuration and the units; and the
/// Debian lxcfs's unit, which serves the same mount point, disabled. Drop undoes it.
struct Installation {
    lxcfs_was_enabled: bool,
}

impl Installation {
    fn new() -> Installation {
        for b in BINARIES {
            let from = bin_dir().join(b);
            ok(
                "install",
                &[
                    "-D",
                    "-m",
                    "0755",
                    &from.display().to_string(),
                    &format!("{PREFIX}/{b}"),
                ],
            );
        }
        ok("install", &["-d", ETC, UNIT_DIR]);
        for entry in std::fs::read_dir(repo().join("etc")).expect("read etc/") {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                ok(
                    "install",
                    &[
                        "-m",
                        "0644",
                        &path.display().to_string(),
                        &format!("{ETC}/"),
                    ],
                );
            }
        }
        for unit in UNITS {
            let from = repo().join("systemd").join(unit);
            ok(
                "install",
                &[
                    "-m",
                    "0644",
                    &from.display().to_string(),
                    &format!("{UNIT_DIR}/"),
                ],
            );
        }
        systemctl(&["daemon-reload"]);
        let lxcfs_was_enabled = run("systemctl", &["is-enabled", "lxcfs.service"]).1 == "enabled";
        Installation { lxcfs_was_enabled }
    }

    /// Enables and starts lxcfs-rs.service (while Debian's lxcfs.service still runs: the unit
    /// conflicts with it) and waits until the daemon serves the mount point.
    fn start_lxcfs_rs(&self) {
        systemctl(&["enable", "--now", "lxcfs-rs.service"]);
        systemctl(&["disable", "lxcfs.service"]);
        // Stopped by the conflict; Debian's lxcfs may end `failed` on SIGTERM, which is fine.
        let lxcfs = run("systemctl", &["is-active", "lxcfs.service"]).1;
        assert!(
            matches!(lxcfs.as_str(), "inactive" | "failed"),
            "lxcfs.service is {lxcfs} beside lxcfs-rs.service"
        );
        wait_for_views_daemon();
    }
}

/// Whether the reboot test's first phase has run and left the installation for its second.
fn reboot_pending() -> bool {
    std::env::var("SCTEST_PHASE").as_deref() != Ok("after-reboot")
        && std::env::var_os("SCTEST_REBOOT_REQUESTS")
            .and_then(|path| std::fs::read_to_string(path).ok())
            .is_some_and(|requests| requests.contains(REBOOT_TEST))
}

impl Drop for Installation {
    fn drop(&mut self) {
        if reboot_pending() {
            return;
        }
        quietly("systemctl", &["disable", "--now", UNITS[0], UNITS[1]]);
        for unit in UNITS {
            let _ = std::fs::remove_file(Path::new(UNIT_DIR).join(unit));
        }
        for b in BINARIES {
            let _ = std::fs::remove_file(Path::new(PREFIX).join(b));
        }
        let _ = std::fs::remove_dir_all(ETC);
        quietly("systemctl", &["daemon-reload"]);
        if self.lxcfs_was_enabled {
            quietly("systemctl", &["enable", "--now", "lxcfs.service"]);
        }
    }
}

/// Waits until lxcfs-rs.service is active (its ExecStartPost done) and serves meminfo.
fn wait_for_views_daemon() {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let active = unit_property("lxcfs-rs.service", "ActiveState") == "active";
        let mounted = run("findmnt", &["-n", "-o", "SOURCE", LXCFS_MOUNT]).1 == "lxcfs-rs";
        if active
            && mounted
            && std::fs::read_to_string(Path::new(LXCFS_MOUNT).join("proc/meminfo")).is_ok()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "lxcfs-rs.service is not serving {LXCFS_MOUNT}:\n{}",
            journal("lxcfs-rs.service")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Removes the named containers of the default store, also when a test fails.
struct Containers(Vec<String>);

impl Drop for Containers {
    fn drop(&mut self) {
        for name in &self.0 {
            quietly(&format!("{PREFIX}/syscontainer"), &["rm", "-f", name]);
        }
    }
}

/// Runs a clean-up command, ignoring every failure (Drop must not panic while unwinding).
fn quietly(program: &str, args: &[&str]) {
    let _ = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// `run -tid --name NAME OPTIONS --system-container --external-rootfs ROOTFS none init`.
fn start(name: &str, rootfs: &Path, options: &[&str]) {
    let mut args = vec!["run", "-tid", "--name", name];
    args.extend_from_slice(options);
    let rootfs = rootfs.display().to_string();
    args.extend([
        "--system-container",
        "--external-rootfs",
        &rootfs,
        "none",
        "init",
    ]);
    syscontainer(&args);
}

/// MemTotal of /proc/meminfo as the container sees it, or the error reading it.
fn container_mem_total(pid: i32) -> Result<u64, String> {
    let (success, text, err) = inside_pid(pid, &["cat", "/proc/meminfo"]);
    if !success {
        return Err(err);
    }
    Ok(meminfo_kb(&text, "MemTotal"))
}

/// Whether the container's /proc/meminfo is served by lxcfs-rs, from its mountinfo.
fn meminfo_is_a_view(pid: i32) -> bool {
    inside_pid(pid, &["cat", "/proc/self/mountinfo"])
        .1
        .lines()
        .any(|l| l.contains(" /proc/meminfo ") && l.contains(" - fuse lxcfs-rs "))
}

#[test]
fn lxcfs_rs_service_comes_back_after_kill_9_and_gives_views_back() {
    assert_v2_under_systemd();
    let _lock = INSTALLATION.lock().unwrap_or_else(|e| e.into_inner());
    let installation = Installation::new();
    installation.start_lxcfs_rs();
    let rootfs = Rootfs::new();
    let _containers = Containers(vec!["units-views".into()]);
    start("units-views", &rootfs.path(), &["-m", "256M"]);
    let pid = init_pid("units-views");
    wait_running(pid, "units-views");
    assert!(
        meminfo_is_a_view(pid),
        "the prestart hook did not mount the views"
    );
    assert_eq!(container_mem_total(pid), Ok(256 * MIB_KB));

    let daemon: i32 = unit_property("lxcfs-rs.service", "MainPID")
        .parse()
        .unwrap();
    let restarts: u32 = unit_property("lxcfs-rs.service", "NRestarts")
        .parse()
        .unwrap();
    assert!(daemon > 0, "lxcfs-rs.service has no main process");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill -9 the daemon");
    // The container's views are dead mounts until the daemon is back and remounts them.
    wait_for(
        "systemd to restart lxcfs-rs",
        Duration::from_secs(30),
        || {
            unit_property("lxcfs-rs.service", "NRestarts")
                .parse::<u32>()
                .is_ok_and(|n| n > restarts)
        },
    );
    wait_for_views_daemon();
    let new_daemon: i32 = unit_property("lxcfs-rs.service", "MainPID")
        .parse()
        .unwrap();
    assert_ne!(new_daemon, daemon, "the main process did not change");
    assert_eq!(
        container_mem_total(pid),
        Ok(256 * MIB_KB),
        "the running container did not get its views back:\n{}",
        journal("lxcfs-rs.service")
    );
    assert!(meminfo_is_a_view(pid));
    assert_eq!(status("units-views"), "running");
}

/// The containers of the reboot test: (name, restart policy, stopped by a user, MemTotal kB).
const REBOOTED: [(&str, &str, bool, u64); 3] = [
    ("units-always", "always", false, 192 * MIB_KB),
    ("units-unless", "unless-stopped", false, 160 * MIB_KB),
    ("units-stopped", "unless-stopped", true, 128 * MIB_KB),
];

const REBOOT_TEST: &str = "restore_service_brings_policy_containers_back_after_a_reboot";

#[test]
fn restore_service_brings_policy_containers_back_after_a_reboot() {
    assert_v2_under_systemd();
    let _lock = INSTALLATION.lock().unwrap_or_else(|e| e.into_inner());
    if std::env::var("SCTEST_PHASE").as_deref() == Ok("after-reboot") {
        after_reboot();
    } else {
        before_reboot();
    }
}

fn before_reboot() {
    let requests = std::env::var("SCTEST_REBOOT_REQUESTS")
        .expect("SCTEST_REBOOT_REQUESTS is unset: this test needs the VM runner to reboot");
    let installation = Installation::new();
    installation.start_lxcfs_rs();
    systemctl(&["enable", "--now", "syscontainer-restore.service"]);
    let rootfs_copies = RemoveOnDrop(PathBuf::from(PERSISTENT_ROOTFS));
    let containers = Containers(REBOOTED.iter().map(|c| c.0.to_string()).collect());
    for (name, policy, _, mem_kb) in REBOOTED {
        let rootfs = Path::new(PERSISTENT_ROOTFS).join(name);
        let _ = std::fs::remove_dir_all(&rootfs);
        std::fs::create_dir_all(PERSISTENT_ROOTFS).unwrap();
        ok(
            "cp",
            &[
                "-a",
                &rootfs_cache().display().to_string(),
                &rootfs.display().to_string(),
            ],
        );
        let memory = format!("{}M", mem_kb / MIB_KB);
        start(name, &rootfs, &["--restart", policy, "-m", &memory]);
    }
    for (name, _, user_stop, _) in REBOOTED {
        wait_running(init_pid(name), name);
        if user_stop {
            syscontainer(&["stop", "-t", "60", name]);
            assert_eq!(status(name), "exited");
        }
    }
    let executable = std::env::current_exe().unwrap();
    let executable = executable.file_name().unwrap().to_string_lossy();
    let line = format!("{executable} {REBOOT_TEST}\n");
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&requests)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .unwrap_or_else(|e| panic!("request a reboot in {requests}: {e}"));
    // Everything stays for the phase after the reboot, which cleans up.
    std::mem::forget(containers);
    std::mem::forget(rootfs_copies);
    std::mem::forget(installation);
}

fn after_reboot() {
    // Declared first, dropped last: the containers go before the binaries that remove them.
    let _installation = Installation {
        lxcfs_was_enabled: true,
    };
    let _containers = Containers(REBOOTED.iter().map(|c| c.0.to_string()).collect());
    let _rootfs = RemoveOnDrop(PathBuf::from(PERSISTENT_ROOTFS));
    for unit in UNITS {
        assert_eq!(
            unit_property(unit, "ActiveState"),
            "active",
            "{unit} after the reboot:\n{}",
            journal(unit)
        );
    }
    let restore_log = journal("syscontainer-restore.service");
    for (name, policy, user_stop, mem_kb) in REBOOTED {
        let state = status(name);
        if user_stop {
            assert_eq!(
                state, "exited",
                "{name} ({policy}, stopped by a user) came back"
            );
            continue;
        }
        assert_eq!(
            state, "running",
            "{name} ({policy}) did not come back:\n{restore_log}"
        );
        let pid = init_pid(name);
        wait_running(pid, name);
        // lxcfs-rs.service is ordered before the restore: the prestart hook found it.
        assert!(meminfo_is_a_view(pid), "{name} came back without its views");
        assert_eq!(container_mem_total(pid), Ok(mem_kb), "{name}");
    }
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

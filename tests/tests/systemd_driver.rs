//! The systemd cgroup driver end to end: on a host whose PID 1 is systemd a container booted
//! with default options lives in a delegated transient scope in `machine.slice` and is
//! registered with systemd-machined; `--cgroup-manager cgroupfs` still places it directly.
//! Built only with the `vm` feature and run by the VM lane (scripts/vm/run.sh); each test
//! first checks that it is on a pure cgroup v2 host booted with systemd.
//!
//! The containers here are started without the harness's `--cgroup-parent` (which, being a
//! cgroup path, would select cgroupfs), so each test also stops its scope and machine itself.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use syscontainer_tests::{leftovers, pid_alive, wait_for, Host};

const CGROUP2_ROOT: &str = "/sys/fs/cgroup";

fn systemd_v2_host() -> Host {
    let fstype = run("stat", &["-f", "-c", "%T", CGROUP2_ROOT]).1;
    assert_eq!(
        fstype, "cgroup2fs",
        "{CGROUP2_ROOT} is not cgroup2: these tests belong to the VM lane"
    );
    assert!(
        Path::new("/run/systemd/system").is_dir(),
        "not booted with systemd: these tests belong to the VM lane"
    );
    Host::new()
}

/// Run a host command; returns (success, trimmed stdout and stderr).
fn run(program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
    let mut text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if !out.status.success() && !err.is_empty() {
        text = format!("{text}\n{err}");
    }
    (out.status.success(), text)
}

/// Stops the container's scope and machine when the test ends, passed or not.
struct ScopeGuard {
    unit: String,
    machine: String,
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        let _ = run("machinectl", &["terminate", &self.machine]);
        let _ = run("systemctl", &["stop", &self.unit]);
        let _ = run("systemctl", &["reset-failed", &self.unit]);
    }
}

fn unit_of(id: &str) -> String {
    format!("syscontainer-{}.scope", &id[..12])
}

/// `run -tid --system-container` of a fresh rootfs copy with `options` and nothing else.
fn start(host: &mut Host, name: &str, options: &[&str]) -> (String, PathBuf) {
    let rootfs = host.rootfs();
    let mut args = vec!["run", "-tid", "--name", name];
    args.extend_from_slice(options);
    let rootfs_arg = rootfs.display().to_string();
    args.extend(["--system-container", "--external-rootfs", &rootfs_arg]);
    args.extend(["none", "init"]);
    (host.ok(&args), rootfs)
}

/// Run in the container's namespaces with nsenter; returns (success, stdout).
fn inside(host: &Host, name: &str, args: &[&str]) -> (bool, String) {
    let pid = host.inspect(name, "{{.State.Pid}}");
    let mut all = vec!["-t", &pid, "-m", "-u", "-i", "-n", "-p", "-C", "--"];
    all.extend_from_slice(args);
    run("nsenter", &all)
}

fn wait_booted(host: &Host, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (_, state) = inside(host, name, &["systemctl", "is-system-running", "--wait"]);
        if state == "running" || state == "degraded" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not boot: last answer {state:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn init_cgroup(pid: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn default_cgroup_manager_on_systemd_is_a_delegated_machine_scope() {
    let mut host = systemd_v2_host();
    // The VM's root disk (scripts/vm/run.sh attaches it as virtio).
    let disk = std::fs::read_to_string("/sys/block/vda/dev")
        .expect("the VM lane's root disk /dev/vda")
        .trim()
        .to_string();
    let (id, rootfs) = start(
        &mut host,
        "sdscope",
        &[
            "--pids-limit",
            "400",
            "--cpus",
            "0.5",
            "--device-write-bps",
            "/dev/vda:1mb",
        ],
    );
    let unit = unit_of(&id);
    let _guard = ScopeGuard {
        unit: unit.clone(),
        machine: "sdscope".into(),
    };
    let scope_dir = Path::new(CGROUP2_ROOT).join("machine.slice").join(&unit);
    wait_booted(&host, "sdscope");

    let pid = host.inspect("sdscope", "{{.State.Pid}}");
    let cgroup = init_cgroup(&pid);
    assert!(
        cgroup.starts_with(&format!("0::/machine.slice/{unit}")),
        "PID 1 is in {cgroup:?}, not in machine.slice/{unit}"
    );
    let (_, delegate) = run("systemctl", &["show", "-p", "Delegate", "--value", &unit]);
    assert_eq!(delegate, "yes", "systemctl show {unit}");

    let (_, machines) = run("machinectl", &["list", "--no-legend"]);
    assert!(
        machines
            .lines()
            .any(|l| l.split_whitespace().next() == Some("sdscope")),
        "machinectl list: {machines}"
    );
    let (ok, status) = run("machinectl", &["status", "sdscope", "--no-pager"]);
    assert!(ok, "machinectl status: {status}");
    assert!(status.contains(&unit), "machinectl status: {status}");
    assert!(
        status.contains(&rootfs.display().to_string()),
        "machinectl status shows no root directory: {status}"
    );

    let marker = format!("sdscope-journal-{}", &id[..8]);
    assert!(inside(&host, "sdscope", &["logger", &marker]).0, "logger");
    let mut journal = String::new();
    wait_for(
        "the marker in journalctl -M",
        Duration::from_secs(30),
        || {
            journal = run(
                "journalctl",
                &["-M", "sdscope", "--no-pager", "-q", "-n", "500"],
            )
            .1;
            journal.contains(&marker)
        },
    );

    host.ok(["update", "-m", "256m", "sdscope"]);
    let limits = || {
        ["memory.max", "pids.max", "cpu.max"].map(|file| {
            std::fs::read_to_string(scope_dir.join(file))
                .unwrap()
                .trim()
                .to_string()
        })
    };
    let expected = ["268435456", "400", "50000 100000"];
    assert_eq!(limits(), expected);
    let io_max = || std::fs::read_to_string(scope_dir.join("io.max")).unwrap();
    let throttle = format!("{disk} rbps=max wbps=1048576");
    assert!(io_max().contains(&throttle), "io.max: {:?}", io_max());
    // systemd rewrites a unit's own cgroup attributes from its properties when it
    // reloads: the limits must be the unit's too. The I/O throttles are not made
    // properties (systemd would move one set on a device-mapper device to the disk below
    // it): systemd writes io.max only for the devices its properties name, so the line
    // stays as written.
    assert!(run("systemctl", &["daemon-reload"]).0, "daemon-reload");
    assert_eq!(limits(), expected, "the limits outlive a daemon-reload");
    assert!(
        io_max().contains(&throttle),
        "the write throttle is gone after a daemon-reload: {:?}",
        io_max()
    );
    let (_, memory_max) = run("systemctl", &["show", "-P", "MemoryMax", &unit]);
    assert_eq!(memory_max, "268435456");

    host.ok(["stop", "-t", "60", "sdscope"]);
    assert!(!pid_alive(pid.parse().unwrap()), "PID 1 runs after stop");
    wait_for("the scope to go", Duration::from_secs(30), || {
        !run("systemctl", &["is-active", "--quiet", &unit]).0 && !scope_dir.exists()
    });
    assert!(
        !run("machinectl", &["status", "sdscope", "--no-pager"]).0,
        "the machine outlived stop"
    );
    host.ok(["rm", "sdscope"]);
    assert!(
        leftovers(&host, &id).is_empty(),
        "{:#?}",
        leftovers(&host, &id)
    );
    assert!(!scope_dir.exists());
    let (_, units) = run("systemctl", &["list-units", "--all", "--no-legend", &unit]);
    assert!(!units.contains(&unit), "the unit lingers: {units}");
}

#[test]
fn exec_reaches_a_systemd_cgroup_manager_container() {
    let mut host = systemd_v2_host();
    let (id, _) = start(&mut host, "sdexec", &[]);
    let unit = unit_of(&id);
    let _guard = ScopeGuard {
        unit: unit.clone(),
        machine: "sdexec".into(),
    };
    wait_booted(&host, "sdexec");
    let out = host.run(["exec", "sdexec", "cat", "/proc/self/cgroup"]);
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success(),
        "exec in a systemd-driver container failed ({}): {stdout} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // Seen from inside its cgroup namespace, the exec'd process is within the scope.
    assert!(stdout.starts_with("0::/"), "{stdout}");
    host.ok(["rm", "-f", "sdexec"]);
    wait_for("rm -f to stop the scope", Duration::from_secs(30), || {
        !run("systemctl", &["is-active", "--quiet", &unit]).0
    });
}

#[test]
fn cgroup_manager_cgroupfs_still_works_on_systemd() {
    let mut host = systemd_v2_host();
    let (id, _) = start(&mut host, "sdfs", &["--cgroup-manager", "cgroupfs"]);
    let _guard = ScopeGuard {
        unit: unit_of(&id),
        machine: "sdfs".into(),
    };
    wait_booted(&host, "sdfs");
    let pid = host.inspect("sdfs", "{{.State.Pid}}");
    let cgroup = init_cgroup(&pid);
    assert!(
        cgroup.starts_with(&format!("0::/syscontainer/{id}")),
        "PID 1 is in {cgroup:?}, not in the default cgroupfs parent"
    );
    assert!(
        !run("systemctl", &["is-active", "--quiet", &unit_of(&id)]).0,
        "a cgroupfs container got a scope"
    );
    assert!(
        !run("machinectl", &["status", "sdfs", "--no-pager"]).0,
        "a cgroupfs container was registered with machined"
    );
    host.ok(["stop", "-t", "60", "sdfs"]);
    host.ok(["rm", "sdfs"]);
    assert!(!Path::new(CGROUP2_ROOT)
        .join("syscontainer")
        .join(&id)
        .exists());
}

#[test]
fn cgroup_manager_systemd_refuses_a_path_parent() {
    let mut host = systemd_v2_host();
    let rootfs = host.rootfs();
    let err = host.refused(
        &rootfs,
        &[
            "--cgroup-manager",
            "systemd",
            "--cgroup-parent",
            "/syscontainer",
        ],
    );
    assert!(
        err.contains("--cgroup-parent /syscontainer: is not a systemd slice"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(host.container_ids().is_empty());
}

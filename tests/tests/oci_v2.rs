//! `syscontainer-oci` with `--systemd-cgroup` on a pure cgroup v2 host booted with systemd:
//! how containerd runs it on a Kubernetes node whose kubelet uses the systemd cgroup driver
//! (`SystemdCgroup = true`). cgroupsPath is `slice:prefix:name`; the container lives in the
//! transient scope `prefix-name.scope` of the slice, made with `Delegate=yes`.
//! Built only with the `vm` feature and run by the VM lane (scripts/vm/run.sh).

mod v2;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use serde_json::json;
use syscontainer_tests::oci::{reap, Oci};

const SLICE: &str = "system.slice";
const PREFIX: &str = "sctest-oci";

/// `systemctl ARGS`: (success, trimmed stdout).
fn systemctl(args: &[&str]) -> (bool, String) {
    let out = Command::new("systemctl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("spawn systemctl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

/// A container's scope: its unit name, cgroup directory and cgroupsPath. Stopped (and its
/// failure record reset) when the test ends, passed or not.
struct Scope {
    unit: String,
    dir: PathBuf,
    cgroups_path: String,
}

impl Scope {
    fn new(name: &str) -> Scope {
        let name = format!("{name}-{}", std::process::id());
        let unit = format!("{PREFIX}-{name}.scope");
        Scope {
            dir: Path::new("/sys/fs/cgroup").join(SLICE).join(&unit),
            cgroups_path: format!("{SLICE}:{PREFIX}:{name}"),
            unit,
        }
    }

    fn is_active(&self) -> bool {
        systemctl(&["is-active", "--quiet", &self.unit]).0
    }

    fn read(&self, file: &str) -> String {
        v2::read_trimmed(&self.dir.join(file))
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let _ = systemctl(&["stop", &self.unit]);
        let _ = systemctl(&["reset-failed", &self.unit]);
    }
}

/// The cgroup v2 path of `pid` as the host sees it.
fn cgroup_of(pid: i32) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or_else(|| panic!("no cgroup2 line in {text:?}"))
        .to_string()
}

#[test]
fn an_app_container_lives_in_a_delegated_scope_of_the_slice_and_leaves_nothing() {
    v2::assert_v2_under_systemd();
    let mut oci = Oci::with_systemd_cgroup();
    let scope = Scope::new("app");
    let bundle = oci.busybox_bundle("app", &["sleep", "1000"], |config| {
        config["linux"]["cgroupsPath"] = json!(scope.cgroups_path);
        config["linux"]["resources"]["memory"] = json!({"limit": 64 << 20});
        config["linux"]["resources"]["pids"] = json!({"limit": 64});
    });
    let pid = oci.create_quiet("app", &bundle);

    assert!(scope.is_active(), "{} is not active", scope.unit);
    assert_eq!(systemctl(&["show", "-P", "Delegate", &scope.unit]).1, "yes");
    assert_eq!(cgroup_of(pid), format!("/{SLICE}/{}", scope.unit));
    assert_eq!(scope.read("memory.max"), (64u64 << 20).to_string());
    assert_eq!(scope.read("pids.max"), "64");

    oci.ok(&["start", "app"]);
    assert_eq!(oci.status("app"), "running");
    let exec_cgroup = oci.ok(&["exec", "app", "cat", "/proc/self/cgroup"]);
    assert!(
        exec_cgroup.ends_with(&format!("/{SLICE}/{}", scope.unit)),
        "an exec'd process joins the scope, not {exec_cgroup:?}"
    );

    let resources = oci.root.path().join("resources.json");
    std::fs::write(
        &resources,
        r#"{"memory": {"limit": 134217728}, "pids": {"limit": 50}}"#,
    )
    .unwrap();
    oci.ok(&[
        "update",
        "--resources",
        &resources.display().to_string(),
        "app",
    ]);
    assert_eq!(scope.read("memory.max"), (128u64 << 20).to_string());
    assert_eq!(scope.read("pids.max"), "50");
    // systemd re-applies a unit's own cgroup attributes when it reloads; the limits must
    // be the unit's, not only values in its files.
    assert!(systemctl(&["daemon-reload"]).0, "daemon-reload");
    assert_eq!(
        scope.read("memory.max"),
        (128u64 << 20).to_string(),
        "the memory limit outlives a daemon-reload"
    );
    assert_eq!(
        scope.read("pids.max"),
        "50",
        "the pids limit outlives a daemon-reload"
    );
    oci.ok(&["pause", "app"]);
    assert_eq!(oci.status("app"), "paused");
    assert_eq!(scope.read("cgroup.freeze"), "1");
    assert!(systemctl(&["daemon-reload"]).0, "daemon-reload");
    assert_eq!(oci.status("app"), "paused", "a daemon-reload thaws nothing");
    oci.ok(&["resume", "app"]);
    assert_eq!(oci.status("app"), "running");
    assert_eq!(scope.read("cgroup.freeze"), "0");

    oci.ok(&["kill", "app", "9"]);
    assert_eq!(
        reap(pid, Duration::from_secs(30)),
        Some(WaitStatus::Signaled(
            Pid::from_raw(pid),
            Signal::SIGKILL,
            false
        ))
    );
    oci.ok(&["delete", "app"]);
    assert!(!scope.is_active(), "{} outlived delete", scope.unit);
    assert!(
        !scope.dir.exists(),
        "{} outlived delete",
        scope.dir.display()
    );
    assert_eq!(oci.leftovers("app"), Vec::<String>::new());
}

#[test]
fn a_system_container_boots_in_its_scope_and_powers_off_on_sigterm() {
    v2::assert_v2_under_systemd();
    let mut oci = Oci::with_systemd_cgroup();
    let scope = Scope::new("sys");
    let bundle = oci.system_bundle("sys", &scope.cgroups_path);
    let pid = oci.create_quiet("sys", &bundle);
    oci.ok(&["start", "sys"]);
    // Under TCG a boot takes tens of seconds.
    oci.wait_system_running("sys", Duration::from_secs(240));
    // The guest's systemd manages its own tree inside the delegated scope.
    assert_eq!(
        cgroup_of(pid),
        format!("/{SLICE}/{}/init.scope", scope.unit)
    );
    assert!(
        scope.dir.join("system.slice").is_dir(),
        "the guest's system.slice is below the scope"
    );

    oci.ok(&["kill", "sys", "15"]);
    let status = reap(pid, Duration::from_secs(180)).expect("systemd powers off on SIGTERM");
    assert!(
        matches!(status, WaitStatus::Signaled(_, Signal::SIGINT, _)),
        "a poweroff (SIGRTMIN+4) ends the PID namespace's init with SIGINT, got {status:?}"
    );
    oci.ok(&["delete", "sys"]);
    assert!(!scope.is_active(), "{} outlived delete", scope.unit);
    assert!(
        !scope.dir.exists(),
        "{} outlived delete",
        scope.dir.display()
    );
    assert_eq!(oci.leftovers("sys"), Vec::<String>::new());
}

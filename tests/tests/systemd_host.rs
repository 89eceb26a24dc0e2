//! The systemd host interfaces through syscontainer-systemd-client: a delegated transient
//! scope made with StartTransientUnit, and a machine registered with systemd-machined.
//! Built only with the `vm` feature and run by the VM lane (scripts/vm/run.sh), whose guest
//! has systemd as PID 1, pure cgroup v2 and machined; each test first checks that it is on
//! such a host. A forked `sleep` stands in for a container's init.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use syscontainer_systemd_client::{
    is_systemd_host, slice_cgroup_path, Error, MachineRegistration, ScopeProperty, ScopeSpec,
    SystemdClient,
};
use syscontainer_tests::{pid_alive, wait_for};

const CGROUP2_ROOT: &str = "/sys/fs/cgroup";
/// Unit jobs are slow under TCG on a loaded machine.
const JOB_TIMEOUT: Duration = Duration::from_secs(120);
const GONE_TIMEOUT: Duration = Duration::from_secs(60);

fn client_on_systemd_v2_host() -> SystemdClient {
    let fstype = Command::new("stat")
        .args(["-f", "-c", "%T", CGROUP2_ROOT])
        .output()
        .expect("spawn stat");
    assert_eq!(
        String::from_utf8_lossy(&fstype.stdout).trim(),
        "cgroup2fs",
        "{CGROUP2_ROOT} is not cgroup2: these tests belong to the VM lane"
    );
    assert!(
        is_systemd_host(),
        "not booted with systemd: these tests belong to the VM lane"
    );
    SystemdClient::connect()
        .expect("connect to the system bus")
        .with_job_timeout(JOB_TIMEOUT)
}

fn read_trimmed(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

fn write(path: &Path, value: &str) {
    std::fs::write(path, value)
        .unwrap_or_else(|e| panic!("write {value:?} to {}: {e}", path.display()));
}

/// Run a command; returns (exit code, stdout).
fn run(program: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

/// `systemctl status` exits 4 for a unit systemd does not know (anymore).
fn unit_unknown(unit: &str) -> bool {
    run("systemctl", &["status", "--no-pager", unit]).0 == 4
}

fn unique(kind: &str) -> String {
    format!("vmtest-{kind}-{}", std::process::id())
}

/// A stand-in for a container's init; killed and reaped on drop.
struct Sleeper(Child);

impl Sleeper {
    fn spawn() -> Sleeper {
        let child = Command::new("sleep")
            .arg("600")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn sleep");
        Sleeper(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.0.try_wait().expect("wait for sleep") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "sleep {} did not exit",
                self.pid()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Removes the scope, its unit state and the cgroups a test made in it, even on failure.
struct ScopeCleanup<'a> {
    client: &'a SystemdClient,
    unit: String,
    cgroup: PathBuf,
    machine: Option<String>,
}

impl Drop for ScopeCleanup<'_> {
    fn drop(&mut self) {
        if let Some(machine) = &self.machine {
            let _ = self.client.terminate_machine(machine);
        }
        let _ = self.client.stop_scope(&self.unit);
        let _ = self.client.reset_failed(&self.unit);
        syscontainer_tests::remove_cgroup_tree(&self.cgroup);
    }
}

fn start_scope<'a>(client: &'a SystemdClient, spec: &ScopeSpec) -> (PathBuf, ScopeCleanup<'a>) {
    let cleanup = ScopeCleanup {
        client,
        unit: spec.name.clone(),
        cgroup: Path::new(CGROUP2_ROOT)
            .join(slice_cgroup_path(&spec.slice).expect("slice path"))
            .join(&spec.name),
        machine: None,
    };
    let cgroup = client.start_scope(spec).expect("start the scope");
    (cgroup, cleanup)
}

fn proc_cgroup(pid: u32) -> String {
    read_trimmed(Path::new(&format!("/proc/{pid}/cgroup")))
}

#[test]
fn systemd_scope_is_delegated_and_stops() {
    let client = client_on_systemd_v2_host();
    let mut sleeper = Sleeper::spawn();
    let unit = format!("syscontainer-{}.scope", unique("scope"));
    let mut spec = ScopeSpec::new(&unit, vec![sleeper.pid()]);
    spec.properties = vec![ScopeProperty::TasksMax(64)];
    let (cgroup, cleanup) = start_scope(&client, &spec);

    assert_eq!(cgroup, Path::new("/machine.slice").join(&unit));
    assert_eq!(
        proc_cgroup(sleeper.pid()),
        format!("0::/machine.slice/{unit}")
    );
    let (_, delegate) = run("systemctl", &["show", "-p", "Delegate", "--value", &unit]);
    assert_eq!(delegate.trim(), "yes");
    let scope_dir = cleanup.cgroup.clone();
    assert_eq!(read_trimmed(&scope_dir.join("pids.max")), "64");

    let again = client
        .start_scope(&spec)
        .expect_err("a second scope of the same name");
    assert!(matches!(again, Error::UnitExists { .. }), "{again}");
    assert!(again.to_string().contains(&unit), "{again}");

    // Delegation: the subtree is ours. The scope's process moves to a leaf first, since a
    // cgroup with processes cannot enable controllers for its children.
    let available = read_trimmed(&scope_dir.join("cgroup.controllers"));
    let controller = ["pids", "memory", "cpu", "io"]
        .into_iter()
        .find(|c| available.split_whitespace().any(|a| a == *c))
        .unwrap_or_else(|| panic!("no delegatable controller in the scope: {available:?}"));
    let leaf = scope_dir.join("init");
    std::fs::create_dir(&leaf).expect("create a child cgroup in the delegated scope");
    write(&leaf.join("cgroup.procs"), &sleeper.pid().to_string());
    write(
        &scope_dir.join("cgroup.subtree_control"),
        &format!("+{controller}"),
    );
    let leaf_controllers = read_trimmed(&leaf.join("cgroup.controllers"));
    assert!(
        leaf_controllers.split_whitespace().any(|c| c == controller),
        "{controller} not enabled below the scope: {leaf_controllers:?}"
    );
    assert_eq!(
        proc_cgroup(sleeper.pid()),
        format!("0::/machine.slice/{unit}/init")
    );

    client.stop_scope(&unit).expect("stop the scope");
    let status = sleeper.wait_exit(GONE_TIMEOUT);
    assert!(
        !status.success(),
        "stopping the scope did not kill its process: {status}"
    );
    wait_for("the stopped scope's unit to go", GONE_TIMEOUT, || {
        unit_unknown(&unit)
    });
    wait_for("the stopped scope's cgroup to go", GONE_TIMEOUT, || {
        !scope_dir.exists()
    });
    client
        .stop_scope(&unit)
        .expect("stopping a gone scope is not an error");
    client
        .reset_failed(&unit)
        .expect("resetting a gone scope is not an error");
    drop(cleanup);
}

/// The 16 bytes of a fresh random UUID, as a machine id.
fn random_id() -> [u8; 16] {
    let uuid = read_trimmed(Path::new("/proc/sys/kernel/random/uuid")).replace('-', "");
    let mut id = [0u8; 16];
    for (i, byte) in id.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&uuid[2 * i..2 * i + 2], 16).expect("uuid hex");
    }
    id
}

fn machinectl_property(machine: &str, property: &str) -> String {
    let (code, out) = run("machinectl", &["show", "-p", property, "--value", machine]);
    assert_eq!(code, 0, "machinectl show {machine} failed");
    out.trim().to_string()
}

#[test]
fn systemd_machine_registers_and_terminates() {
    let client = client_on_systemd_v2_host();
    let mut sleeper = Sleeper::spawn();
    let unit = format!("syscontainer-{}.scope", unique("machine"));
    let machine = unique("m");
    let spec = ScopeSpec::new(&unit, vec![sleeper.pid()]);
    let (_cgroup, mut cleanup) = start_scope(&client, &spec);
    cleanup.machine = Some(machine.clone());

    let registration = MachineRegistration::container(&machine, random_id(), sleeper.pid(), "/");
    client
        .register_machine(&registration)
        .expect("register the machine");

    let (code, list) = run("machinectl", &["list", "--no-legend", "--no-pager"]);
    assert_eq!(code, 0);
    let row = list
        .lines()
        .find(|l| l.split_whitespace().next() == Some(machine.as_str()))
        .unwrap_or_else(|| panic!("machinectl list does not show {machine}:\n{list}"));
    assert!(
        row.contains("container") && row.contains("syscontainer"),
        "{row}"
    );
    assert_eq!(machinectl_property(&machine, "Class"), "container");
    assert_eq!(machinectl_property(&machine, "Service"), "syscontainer");
    assert_eq!(
        machinectl_property(&machine, "Leader"),
        sleeper.pid().to_string()
    );
    assert_eq!(machinectl_property(&machine, "Unit"), unit);
    assert_eq!(machinectl_property(&machine, "RootDirectory"), "/");

    let again = client
        .register_machine(&registration)
        .expect_err("a second machine of the same name");
    assert!(matches!(again, Error::MachineExists { .. }), "{again}");

    // machined stops the machine's unit: the scope goes and its process is killed.
    client
        .terminate_machine(&machine)
        .expect("terminate the machine");
    let status = sleeper.wait_exit(GONE_TIMEOUT);
    assert!(
        !status.success(),
        "terminating did not kill the leader: {status}"
    );
    wait_for("the machine to go", GONE_TIMEOUT, || {
        run("machinectl", &["show", &machine]).0 != 0
    });
    wait_for("the machine's scope to go", GONE_TIMEOUT, || {
        unit_unknown(&unit)
    });
    assert!(!pid_alive(sleeper.pid() as i32));
    client
        .terminate_machine(&machine)
        .expect("terminating a gone machine is not an error");
    client
        .stop_scope(&unit)
        .expect("stopping a gone scope is not an error");
    wait_for("the machine's cgroup to go", GONE_TIMEOUT, || {
        !cleanup.cgroup.exists()
    });
    drop(cleanup);
}

#[test]
fn systemd_client_rejects_bad_names_and_ignores_missing_ones() {
    let client = client_on_systemd_v2_host();
    let unit = format!("syscontainer-{}.scope", unique("never"));
    client
        .stop_scope(&unit)
        .expect("stop a scope that never existed");
    client
        .reset_failed(&unit)
        .expect("reset a scope that never existed");
    client
        .terminate_machine(&unique("never"))
        .expect("terminate a machine that never existed");

    let bad = MachineRegistration::container("no/slash", [0; 16], std::process::id(), "/");
    let err = client
        .register_machine(&bad)
        .expect_err("a bad machine name");
    assert!(matches!(err, Error::InvalidMachineName { .. }), "{err}");
    let err = client
        .stop_scope("not-a-scope.service")
        .expect_err("a bad unit name");
    assert!(matches!(err, Error::InvalidUnitName { .. }), "{err}");
    assert!(unit_unknown(&unit));
}

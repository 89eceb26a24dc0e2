//! A harness driving `syscontainer-oci` exactly as containerd's runc shim drives runc
//! (tests/tests/oci.rs on the host, tests/tests/oci_v2.rs in the VM lane): global flags
//! before the subcommand, `--log FILE --log-format json`, `create --bundle --pid-file`, then
//! `start`, `kill`, `exec`, `ps`, `delete`. The test process is a subreaper (as the shim is)
//! and reaps the containers' inits itself. Bundles are built in temp dirs from the host's
//! static busybox, or over the cached bookworm rootfs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use serde_json::{json, Value};

use crate::{bin, own_cgroup_dirs, remove_cgroup_tree, require_root, Rootfs};

pub const BUSYBOX: &str = "/bin/busybox";
pub const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "sleep", "ls", "id", "true", "false", "hostname", "test", "kill", "grep",
    "wc", "env", "stat",
];

pub fn become_subreaper() {
    // SAFETY: plain prctl on ourselves.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(rc, 0, "PR_SET_CHILD_SUBREAPER");
}

/// A runtime root, a bundle dir and a cgroup parent private to one test; everything is
/// deleted (containers force-deleted, inits reaped, cgroups removed) on drop.
pub struct Oci {
    pub root: tempfile::TempDir,
    pub bundles: tempfile::TempDir,
    pub cgroup_parent: String,
    pub ids: Vec<String>,
    pub inits: Vec<i32>,
    pub rootfs: Vec<Rootfs>,
    /// Global flags given before every subcommand (`--systemd-cgroup`).
    pub global: Vec<String>,
}

impl Oci {
    /// Requires root and makes the test process a subreaper: side effects a `Default`
    /// should not have.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Oci {
        require_root();
        become_subreaper();
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Oci {
            root: tempfile::Builder::new()
                .prefix("sctest-oci-root-")
                .tempdir()
                .unwrap(),
            bundles: tempfile::Builder::new()
                .prefix("sctest-oci-bundles-")
                .tempdir()
                .unwrap(),
            cgroup_parent: format!("sctest-oci-{}-{n}", std::process::id()),
            ids: Vec::new(),
            inits: Vec::new(),
            rootfs: Vec::new(),
            global: Vec::new(),
        }
    }

    /// The same, with `--systemd-cgroup`: cgroupsPath is `slice:prefix:name`.
    pub fn with_systemd_cgroup() -> Oci {
        let mut oci = Oci::new();
        oci.global.push("--systemd-cgroup".into());
        oci
    }

    pub fn log(&self) -> PathBuf {
        self.root.path().join("log.json")
    }

    /// `syscontainer-oci --root R --log L --log-format json GLOBAL... ARGS`, stdin from
    /// /dev/null.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin("syscontainer-oci"));
        c.arg("--root")
            .arg(self.root.path())
            .arg("--log")
            .arg(self.log())
            .args(["--log-format", "json"])
            .args(&self.global)
            .args(args)
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("spawn syscontainer-oci")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "syscontainer-oci {args:?} failed ({}):\nstdout: {}\nstderr: {}\nlog: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.log()).unwrap_or_default()
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Run and require exit status 1; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "syscontainer-oci {args:?} should have failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).trim().to_string()
    }

    /// A busybox bundle running `args`; `patch` edits its config.json.
    pub fn busybox_bundle(
        &self,
        id: &str,
        args: &[&str],
        patch: impl FnOnce(&mut Value),
    ) -> PathBuf {
        let bundle = self.bundles.path().join(id);
        let bin_dir = bundle.join("rootfs/bin");
        std::fs::create_dir_all(&bin_dir).unwrap();
        for dir in ["proc", "sys", "dev", "tmp", "etc", "run"] {
            std::fs::create_dir_all(bundle.join("rootfs").join(dir)).unwrap();
        }
        crate::copy_executable(Path::new(BUSYBOX), &bin_dir.join("busybox"));
        for applet in APPLETS {
            std::os::unix::fs::symlink("busybox", bin_dir.join(applet)).unwrap();
        }
        let mut config = containerd_like_config(args, &format!("{}/{id}", self.cgroup_parent));
        config["root"]["path"] = json!("rootfs");
        patch(&mut config);
        write_config(&bundle, &config);
        bundle
    }

    /// A bundle booting `/sbin/init` of a fresh copy of the bookworm rootfs as a system
    /// container (the `system.container` annotation), its cgroup at `cgroups_path`.
    pub fn system_bundle(&mut self, id: &str, cgroups_path: &str) -> PathBuf {
        let rootfs = Rootfs::new();
        let bundle = self.bundles.path().join(id);
        let mut config = containerd_like_config(&["/sbin/init"], cgroups_path);
        config["root"]["path"] = json!(rootfs.path().display().to_string());
        config["annotations"] = json!({"system.container": "true"});
        config["process"]["noNewPrivileges"] = json!(false);
        config["process"]["rlimits"] = json!([]);
        write_config(&bundle, &config);
        self.rootfs.push(rootfs);
        bundle
    }

    /// Waits up to `timeout` for the systemd of `id` to finish booting (`exec systemctl
    /// is-system-running`) and requires `running`, naming the failed units otherwise.
    pub fn wait_system_running(&self, id: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let state = loop {
            let out = self.run(&["exec", id, "systemctl", "is-system-running"]);
            let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if state == "running" || state == "degraded" {
                break state;
            }
            assert!(Instant::now() < deadline, "systemd did not boot: {state:?}");
            std::thread::sleep(Duration::from_millis(200));
        };
        let failed = self.run(&["exec", id, "systemctl", "--failed", "--no-legend"]);
        assert_eq!(
            state,
            "running",
            "failed units: {}",
            String::from_utf8_lossy(&failed.stdout)
        );
    }

    /// `create --bundle B --pid-file F ID` with the given stdio; the init's PID.
    pub fn create(&mut self, id: &str, bundle: &Path, stdio: (Stdio, Stdio, Stdio)) -> i32 {
        self.ids.push(id.to_string());
        let pid_file = self.root.path().join(format!("{id}.pid"));
        let bundle = bundle.display().to_string();
        let pid_arg = pid_file.display().to_string();
        let mut c = self.command(&["create", "--bundle", &bundle, "--pid-file", &pid_arg, id]);
        c.stdin(stdio.0).stdout(stdio.1).stderr(stdio.2);
        let status = c.status().unwrap();
        assert!(
            status.success(),
            "create {id}: {status}; log: {}",
            std::fs::read_to_string(self.log()).unwrap_or_default()
        );
        let text = std::fs::read_to_string(&pid_file).unwrap();
        assert!(
            !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()),
            "pid file holds {text:?}"
        );
        let pid: i32 = text.parse().unwrap();
        self.inits.push(pid);
        pid
    }

    pub fn create_quiet(&mut self, id: &str, bundle: &Path) -> i32 {
        self.create(id, bundle, (Stdio::null(), Stdio::null(), Stdio::null()))
    }

    pub fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).unwrap()
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_string()
    }

    /// The container's cgroup directory in the hierarchy mounted at `/sys/fs/cgroup/NAME`.
    pub fn cgroup_dir(&self, id: &str, hierarchy: &str) -> PathBuf {
        let prefix = Path::new("/sys/fs/cgroup").join(hierarchy);
        own_cgroup_dirs()
            .into_iter()
            .find(|d| d.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {hierarchy} hierarchy"))
            .join(&self.cgroup_parent)
            .join(id)
    }

    /// What a container left behind: its state dir, its cgroups, mounts naming it.
    pub fn leftovers(&self, id: &str) -> Vec<String> {
        let mut found = Vec::new();
        if self.root.path().join(id).exists() {
            found.push(format!("state dir of {id}"));
        }
        for dir in own_cgroup_dirs() {
            let dir = dir.join(&self.cgroup_parent).join(id);
            if dir.exists() {
                found.push(format!("cgroup {}", dir.display()));
            }
        }
        let bundle = self.bundles.path().display().to_string();
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        found.extend(
            mountinfo
                .lines()
                .filter(|l| l.contains(&bundle))
                .map(|l| format!("mount {l}")),
        );
        found
    }
}

impl Drop for Oci {
    fn drop(&mut self) {
        // Kill, reap (detached exec'd processes first: a namespace's init finishes dying
        // only after the rest), then delete.
        for id in &self.ids {
            let _ = self.run(&["kill", "--all", id, "9"]);
        }
        for pid in &self.inits {
            let _ = reap(*pid, Duration::from_secs(10));
        }
        for id in &self.ids {
            let _ = self.run(&["delete", "--force", id]);
        }
        for dir in own_cgroup_dirs() {
            remove_cgroup_tree(&dir.join(&self.cgroup_parent));
        }
        self.rootfs.clear();
    }
}

/// A config.json shaped like the one containerd 1.6 writes for `ctr run`.
pub fn containerd_like_config(args: &[&str], cgroups_path: &str) -> Value {
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL",
                             "CAP_SETGID", "CAP_SETUID", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL",
                              "CAP_SETGID", "CAP_SETUID", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL",
                              "CAP_SETGID", "CAP_SETUID", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs"},
        "hostname": "oci-test",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                         "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/run", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "cgroupsPath": cgroups_path,
            "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"},
                           {"type": "mount"}, {"type": "network"}],
            "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                            "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq",
                              "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

pub fn write_config(bundle: &Path, config: &Value) {
    std::fs::create_dir_all(bundle).unwrap();
    std::fs::write(
        bundle.join("config.json"),
        serde_json::to_vec_pretty(config).unwrap(),
    )
    .unwrap();
}

/// Reap `pid` (our child, as its subreaper); its wait status, or `None` on timeout.
pub fn reap(pid: i32, timeout: Duration) -> Option<WaitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(status) => return Some(status),
            Err(_) => return None,
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn parent_of(pid: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split_whitespace().nth(1).unwrap().parse().unwrap()
}

pub fn last_log_line(oci: &Oci) -> Value {
    let text = std::fs::read_to_string(oci.log()).unwrap_or_default();
    let line = text.lines().last().expect("a line in the --log file");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?} is not JSON: {e}"))
}

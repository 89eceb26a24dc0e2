//! A private containerd for one test: its own root, state, socket and config.toml under a
//! temporary directory, the CRI plugin with a runtime handler whose `BinaryName` is the OCI
//! runtime under test, and a cgroup parent under the test process's own cgroups (or, with
//! the systemd cgroup driver, a slice of its own: [`Containerd::start_with_systemd_cgroup`],
//! the VM lane's tests/tests/containerd_v2.rs). Dropping
//! the [`Containerd`] deletes every task and container it knows, stops the daemon and its
//! shims, unmounts what is left under its directory and removes its cgroups, so a failing
//! test still leaves the machine clean.

use std::ffi::OsStr;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::mount::{umount2, MntFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::oci_image::{self, ImageSpec};
use crate::{own_cgroup_dirs, remove_cgroup_tree, require_root, unique};

/// The CRI runtime handler (RuntimeClass `handler`) the config declares.
pub const RUNTIME_HANDLER: &str = "syscontainer";
/// containerd's namespace for everything the CRI plugin makes.
pub const CRI_NAMESPACE: &str = "k8s.io";
/// The namespace the `ctr` tests use.
pub const CTR_NAMESPACE: &str = "sctest";
/// The annotation that turns on system-container semantics in syscontainer-oci (iSulad's
/// key), and the value the tests give it.
pub const SYSTEM_ANNOTATION: &str = "system.container";
pub const SYSTEM_ANNOTATION_VALUE: &str = "true";

/// ctr's own limit for one command (an image import of the bookworm rootfs included) on a
/// slow, shared machine.
pub const CTR_TIMEOUT: &str = "300s";

pub const BUSYBOX_IMAGE: &str = "localhost/sctest/busybox:1";
pub const PAUSE_IMAGE: &str = "localhost/sctest/pause:1";
pub const SYSTEMD_IMAGE: &str = "localhost/sctest/bookworm-systemd:1";

/// The runc-compatible runtime the tests drive: `$SYSCONTAINER_OCI_RUNTIME` (e.g.
/// `/usr/sbin/runc` to check the harness itself), else the built `syscontainer-oci`.
pub fn oci_runtime() -> PathBuf {
    match std::env::var_os("SYSCONTAINER_OCI_RUNTIME") {
        Some(path) => PathBuf::from(path),
        None => crate::bin("syscontainer-oci"),
    }
}

/// A running private containerd.
pub struct Containerd {
    dir: tempfile::TempDir,
    daemon: Option<Child>,
    runtime: PathBuf,
    /// Relative cgroup parent (under this process's cgroups) every container goes in; with
    /// the systemd driver, the slice (`sctestctrdPIDxN.slice`, below the root slice).
    pub cgroup_parent: String,
    /// The systemd cgroup driver (`SystemdCgroup = true`): containers are scopes of the
    /// slice `cgroup_parent`.
    systemd: bool,
}

fn config_toml(dir: &Path, runtime: &Path, systemd: bool) -> String {
    let d = dir.display();
    format!(
        r#"version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{d}/containerd.sock"

[ttrpc]
  address = "{d}/containerd.sock.ttrpc"

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  systemd_cgroup = false
  # Never ask for an oom_score_adj below containerd's own (the pause container's -998):
  # lowering it needs CAP_SYS_RESOURCE, which a nested test host may not grant.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{d}/cni/bin"
    conf_dir = "{d}/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "{d}/runc-root"
        SystemdCgroup = {systemd}
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{RUNTIME_HANDLER}]
      runtime_type = "io.containerd.runc.v2"
      container_annotations = ["{SYSTEM_ANNOTATION}"]
      pod_annotations = ["{SYSTEM_ANNOTATION}"]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{RUNTIME_HANDLER}.options]
        BinaryName = "{runtime}"
        Root = "{d}/runtime-root"
        SystemdCgroup = {systemd}
"#,
        runtime = runtime.display(),
    )
}

impl Containerd {
    /// Starts containerd with `oci_runtime()` as the `syscontainer` handler's binary and
    /// waits until it answers on its socket.
    pub fn start() -> Containerd {
        Self::start_with(false)
    }

    /// The same with the systemd cgroup driver, as on a node whose kubelet uses it: every
    /// container is a scope in a slice of this containerd's own. Needs systemd as PID 1.
    pub fn start_with_systemd_cgroup() -> Containerd {
        Self::start_with(true)
    }

    fn start_with(systemd: bool) -> Containerd {
        require_root();
        let dir = tempfile::Builder::new()
            .prefix("sctest-ctrd-")
            .tempdir()
            .unwrap();
        let runtime = oci_runtime();
        let config = dir.path().join("config.toml");
        std::fs::write(&config, config_toml(dir.path(), &runtime, systemd)).unwrap();
        for sub in ["cni/bin", "cni/conf", "runtime-root", "runc-root", "images"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let log = File::create(dir.path().join("containerd.log")).unwrap();
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn containerd (install it: scripts/install-deps.sh)");
        let ctrd = Containerd {
            dir,
            daemon: Some(daemon),
            runtime,
            cgroup_parent: if systemd {
                // No dash: a dash would nest the slice in others (`sctest.slice`, …).
                format!("{}.slice", unique("sctestctrd").replace('-', "x"))
            } else {
                unique("sctest-ctrd")
            },
            systemd,
        };
        ctrd.wait_ready();
        ctrd
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.socket().exists() && self.ctr("default", ["version"]).status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "containerd did not answer on {} within 60 s; its log:\n{}",
                self.socket().display(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn socket(&self) -> PathBuf {
        self.dir().join("containerd.sock")
    }

    /// The OCI runtime this containerd's `syscontainer` handler runs.
    pub fn runtime(&self) -> &Path {
        &self.runtime
    }

    /// `--runc-root` for `ctr run`: the runtime's state stays in this containerd's directory.
    pub fn runtime_root(&self) -> PathBuf {
        self.dir().join("runtime-root")
    }

    /// containerd's own log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join("containerd.log")).unwrap_or_default()
    }

    /// The cgroupsPath of container `id`: relative, under this containerd's parent, or
    /// `slice:sctest:id` with the systemd driver.
    pub fn cgroup_path(&self, id: &str) -> String {
        if self.systemd {
            format!("{}:sctest:{id}", self.cgroup_parent)
        } else {
            format!("{}/{id}", self.cgroup_parent)
        }
    }

    /// The directories this containerd's containers' cgroups go below: the parent in each
    /// of this process's hierarchies, or the slice's.
    pub fn parent_dirs(&self) -> Vec<PathBuf> {
        if self.systemd {
            vec![Path::new("/sys/fs/cgroup").join(&self.cgroup_parent)]
        } else {
            own_cgroup_dirs()
                .into_iter()
                .map(|d| d.join(&self.cgroup_parent))
                .collect()
        }
    }

    /// Stop the slice (systemd kills what is left in it and removes its cgroups) and forget
    /// it; nothing for the cgroupfs driver.
    fn stop_slice(&self) {
        if self.systemd {
            for verb in ["stop", "reset-failed"] {
                let _ = Command::new("systemctl")
                    .args([verb, &self.cgroup_parent])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }

    fn ctr_base(&self, namespace: &str) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(self.socket())
            .arg("--namespace")
            .arg(namespace)
            .stdin(Stdio::null());
        c
    }

    /// `ctr --address SOCK --namespace NS ARGS…` with stdin closed, for commands the caller
    /// waits for itself (`ctr run` of a system container lasts as long as the container).
    pub fn ctr_command<I, S>(&self, namespace: &str, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = self.ctr_base(namespace);
        c.args(args);
        c
    }

    /// Runs a ctr command to completion; ctr gives up after [`CTR_TIMEOUT`], so a stuck
    /// runtime fails the test instead of hanging it.
    pub fn ctr<I, S>(&self, namespace: &str, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.ctr_base(namespace)
            .arg("--timeout")
            .arg(CTR_TIMEOUT)
            .args(args)
            .output()
            .expect("spawn ctr")
    }

    /// Runs ctr and requires success; returns stdout.
    pub fn ctr_ok<I, S>(&self, namespace: &str, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args
            .into_iter()
            .map(|a| a.as_ref().to_os_string())
            .collect();
        let out = self.ctr(namespace, &args);
        assert!(
            out.status.success(),
            "ctr {args:?} failed ({}):\nstdout: {}\nstderr: {}\ncontainerd log tail:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log_tail(30)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The last `lines` warnings and errors of containerd's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("level=error") || l.contains("level=warn"))
            .collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The flags every `ctr run` of a test needs: the runtime under test, its root in this
    /// containerd's directory, and the container's cgroup under this containerd's parent.
    pub fn run_flags(&self, id: &str) -> Vec<String> {
        vec![
            "--runc-binary".into(),
            self.runtime.display().to_string(),
            "--runc-root".into(),
            self.runtime_root().display().to_string(),
            "--cgroup".into(),
            self.cgroup_path(id),
        ]
        .into_iter()
        .chain(self.systemd.then(|| "--runc-systemd-cgroup".to_string()))
        .collect()
    }

    /// Builds an OCI layout of `rootfs` and imports it into `namespace` (unpacked).
    pub fn import_image(&self, namespace: &str, rootfs: &Path, spec: &ImageSpec) {
        let tar = self
            .dir()
            .join("images")
            .join(format!("{}.tar", unique("image")));
        oci_image::write_layout(rootfs, spec, &tar)
            .unwrap_or_else(|e| panic!("build OCI layout of {}: {e}", rootfs.display()));
        let imported = self.ctr(
            namespace,
            [OsStr::new("images"), "import".as_ref(), tar.as_os_str()],
        );
        let _ = std::fs::remove_file(&tar);
        assert!(
            imported.status.success(),
            "ctr images import of {} failed: {}",
            spec.name,
            String::from_utf8_lossy(&imported.stderr)
        );
    }

    /// IDs listed by `ctr -n NS KIND ls -q` (`tasks` lists PIDs too: first column only).
    pub fn list(&self, namespace: &str, kind: &str) -> Vec<String> {
        let out = self.ctr(namespace, [kind, "ls", "-q"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect()
    }

    /// The status column of `ctr task ls` for `id` (RUNNING, PAUSED, STOPPED, CREATED).
    pub fn task_status(&self, namespace: &str, id: &str) -> Option<String> {
        let out = self.ctr(namespace, ["tasks", "ls"]);
        String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols.first() == Some(&id)).then(|| cols.get(2).unwrap_or(&"").to_string())
        })
    }

    /// Host PID of task `id` from `ctr task ls`.
    pub fn task_pid(&self, namespace: &str, id: &str) -> Option<i32> {
        let out = self.ctr(namespace, ["tasks", "ls"]);
        String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            if cols.first() == Some(&id) {
                cols.get(1).and_then(|p| p.parse().ok())
            } else {
                None
            }
        })
    }

    /// What a container `id` could still leave behind while containerd runs: its task,
    /// container record, snapshot, runtime state, rootfs mount, cgroup, shim.
    pub fn leftovers(&self, namespace: &str, id: &str) -> Vec<String> {
        let mut found = Vec::new();
        if self.list(namespace, "tasks").iter().any(|t| t == id) {
            found.push(format!("task {id}"));
        }
        if self.list(namespace, "containers").iter().any(|c| c == id) {
            found.push(format!("container {id}"));
        }
        if self.list(namespace, "snapshots").iter().any(|s| s == id) {
            found.push(format!("snapshot {id}"));
        }
        for root in [self.runtime_root(), self.dir().join("runc-root")] {
            let state = root.join(namespace).join(id);
            if state.exists() {
                found.push(format!("runtime state {}", state.display()));
            }
        }
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let component = format!("/{id}");
        for line in mountinfo.lines() {
            let point = line.split_whitespace().nth(4).unwrap_or("");
            if point.contains(&format!("{component}/")) || point.ends_with(&component) {
                found.push(format!("mount {line}"));
            }
        }
        for parent in self.parent_dirs() {
            // cgroupfs: PARENT/ID; systemd: a scope of the slice naming the ID.
            let named = std::fs::read_dir(&parent)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.is_dir()
                        && p.file_name()
                            .is_some_and(|n| n.to_string_lossy().contains(id))
                });
            for cgroup in named {
                found.push(format!("cgroup {}", cgroup.display()));
            }
        }
        for (pid, cmdline) in processes_mentioning(&self.socket().display().to_string()) {
            if cmdline.contains(&format!("-id {id} ")) || cmdline.ends_with(&format!("-id {id}")) {
                found.push(format!("shim pid {pid}: {cmdline}"));
            }
        }
        found
    }

    fn delete_everything(&self) {
        let namespaces = self.list("default", "namespaces");
        for ns in &namespaces {
            for task in self.list(ns, "tasks") {
                let _ = self.ctr(ns, ["tasks", "kill", "--all", "--signal", "SIGKILL", &task]);
                let deadline = Instant::now() + Duration::from_secs(10);
                while self.task_status(ns, &task).as_deref() == Some("RUNNING")
                    && Instant::now() < deadline
                {
                    std::thread::sleep(Duration::from_millis(100));
                }
                let _ = self.ctr(ns, ["tasks", "delete", "--force", &task]);
            }
            for container in self.list(ns, "containers") {
                let _ = self.ctr(ns, ["containers", "delete", &container]);
            }
        }
    }

    fn stop_daemon(&mut self) {
        if let Some(mut daemon) = self.daemon.take() {
            let pid = Pid::from_raw(daemon.id() as i32);
            let _ = kill(pid, Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while daemon.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
    }

    /// Kills what outlived the daemon: shims started for this socket and every process in
    /// this containerd's cgroups.
    fn kill_stragglers(&self) {
        let socket = self.socket().display().to_string();
        for (pid, _) in processes_mentioning(&socket) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        for dir in self.parent_dirs() {
            kill_cgroup_tree(&dir);
        }
        self.stop_slice();
    }

    fn unmount_everything_under_dir(&self) {
        let prefix = self.dir().display().to_string();
        for _ in 0..5 {
            let mut points = mount_points_under(&prefix);
            if points.is_empty() {
                return;
            }
            points.sort_by_key(|p| std::cmp::Reverse(p.len()));
            for point in points {
                let _ = umount2(Path::new(&point), MntFlags::MNT_DETACH);
            }
        }
    }

    /// What stays on the host after this containerd is shut down: mounts, processes,
    /// cgroups, files. Used by tests to prove the harness leaves nothing.
    pub fn shutdown(mut self) -> Vec<String> {
        self.cleanup();
        let dir = self.dir().to_path_buf();
        let socket = self.socket().display().to_string();
        let parents = self.parent_dirs();
        drop(self);
        let mut found = Vec::new();
        if dir.exists() {
            found.push(format!("directory {}", dir.display()));
        }
        for point in mount_points_under(&dir.display().to_string()) {
            found.push(format!("mount {point}"));
        }
        for (pid, cmdline) in processes_mentioning(&socket) {
            found.push(format!("process {pid}: {cmdline}"));
        }
        for parent in parents {
            if parent.exists() {
                found.push(format!("cgroup {}", parent.display()));
            }
        }
        found
    }

    fn cleanup(&mut self) {
        if self.daemon.is_some() {
            self.delete_everything();
        }
        self.stop_daemon();
        self.kill_stragglers();
        std::thread::sleep(Duration::from_millis(200));
        self.unmount_everything_under_dir();
        self.stop_slice();
        for dir in self.parent_dirs() {
            remove_cgroup_tree(&dir);
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// Mount points at or under `prefix`, from this process's mountinfo.
fn mount_points_under(prefix: &str) -> Vec<String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    mountinfo
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4).map(str::to_string))
        .filter(|p| p.starts_with(prefix))
        .collect()
}

/// (pid, cmdline) of every process whose command line contains `needle`.
fn processes_mentioning(needle: &str) -> Vec<(i32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != std::process::id() as i32)
        .filter_map(|pid| {
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
            let cmdline = cmdline.trim_end().to_string();
            cmdline.contains(needle).then_some((pid, cmdline))
        })
        .collect()
}

/// SIGKILLs every process in the cgroup tree at `dir` (thawing a frozen v1 freezer first,
/// so the signal is delivered).
fn kill_cgroup_tree(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let state = dir.join("freezer.state");
    if state.exists() {
        let _ = std::fs::write(&state, "THAWED");
    }
    if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    for e in entries.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            kill_cgroup_tree(&e.path());
        }
    }
}

/// The host's busybox-static binary.
pub fn host_busybox() -> &'static Path {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
        .expect("busybox-static is not installed (scripts/install-deps.sh installs it)")
}

/// A busybox-static rootfs at `dir`: /bin/busybox, a symlink per applet, and the
/// directories and files a container runtime expects.
pub fn busybox_rootfs(dir: &Path) -> PathBuf {
    let busybox = host_busybox();
    for sub in ["bin", "proc", "sys", "dev", "tmp", "etc", "root"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    crate::copy_executable(busybox, &dir.join("bin/busybox"));
    let list = Command::new(busybox).arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let link = dir.join("bin").join(applet);
        if applet != "busybox" && !link.exists() {
            std::os::unix::fs::symlink("busybox", link).unwrap();
        }
    }
    std::fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(dir.join("etc/group"), "root:x:0:\n").unwrap();
    dir.to_path_buf()
}

const BUSYBOX_ENV: &str = "PATH=/bin";

pub fn busybox_image() -> ImageSpec {
    ImageSpec {
        name: BUSYBOX_IMAGE.into(),
        cmd: vec!["/bin/sh".into()],
        env: vec![BUSYBOX_ENV.into()],
    }
}

/// The pod sandbox's pause process: sleeps until SIGTERM or SIGINT, then exits 0.
pub fn pause_image() -> ImageSpec {
    ImageSpec {
        name: PAUSE_IMAGE.into(),
        cmd: vec![
            "/bin/sh".into(),
            "-c".into(),
            "trap 'kill $child; exit 0' TERM INT; sleep 2147483647 & child=$!; wait".into(),
        ],
        env: vec![BUSYBOX_ENV.into()],
    }
}

/// The bookworm systemd rootfs booted by /sbin/init.
pub fn systemd_image() -> ImageSpec {
    ImageSpec {
        name: SYSTEMD_IMAGE.into(),
        cmd: vec!["/sbin/init".into()],
        env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_keeps_containerd_in_its_directory_and_names_the_runtime() {
        let toml = config_toml(Path::new("/t/d"), Path::new("/bin/rt"), false);
        for line in [
            r#"root = "/t/d/root""#,
            r#"state = "/t/d/state""#,
            r#"address = "/t/d/containerd.sock""#,
            r#"address = "/t/d/containerd.sock.ttrpc""#,
            r#"path = "/t/d/opt""#,
            r#"sandbox_image = "localhost/sctest/pause:1""#,
            r#"[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.syscontainer]"#,
            r#"container_annotations = ["system.container"]"#,
            r#"BinaryName = "/bin/rt""#,
            r#"Root = "/t/d/runtime-root""#,
        ] {
            assert!(
                toml.lines().any(|l| l.trim() == line),
                "missing {line} in:\n{toml}"
            );
        }
        assert!(!toml.contains("/var/lib/containerd") && !toml.contains("/run/containerd"));
        assert_eq!(toml.matches("SystemdCgroup = false").count(), 2);
        let systemd = config_toml(Path::new("/t/d"), Path::new("/bin/rt"), true);
        assert_eq!(systemd.matches("SystemdCgroup = true").count(), 2);
        // CRI's own top-level switch is for the v1 runtime shim only.
        assert!(systemd.contains("  systemd_cgroup = false\n"));
    }

    #[test]
    fn pause_command_sleeps_until_sigterm_then_exits_0() {
        let spec = pause_image();
        // The image's /bin/sh is busybox's.
        let mut child = Command::new(host_busybox())
            .arg("sh")
            .args(&spec.cmd[1..])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            child.try_wait().unwrap().is_none(),
            "the pause command keeps running"
        );
        kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "no exit 10 s after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(0));
    }
}

//! System-container options and OCI hooks against booted systemd containers.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use syscontainer_tests::{leftovers, shifted_rootfs, Host, LoopDevice};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Mount options of the mount at `target` as the container sees it, if it is a mount point.
fn mount_options(host: &Host, name: &str, target: &str) -> Option<String> {
    host.exec(name, &["cat", "/proc/self/mountinfo"])
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.get(4) == Some(&target))
        .map(|f| f[5].to_string())
}

#[test]
fn proc_sys_is_read_only_unless_ns_change_opt_says_otherwise() {
    let mut host = Host::new();
    host.boot("plain", &[]);
    assert!(mount_options(&host, "plain", "/proc/sys")
        .unwrap()
        .starts_with("ro"));
    assert_eq!(mount_options(&host, "plain", "/proc/sys/net"), None);
    let out = host.run([
        "exec",
        "plain",
        "sh",
        "-c",
        "echo 1 > /proc/sys/net/ipv4/ip_forward",
    ]);
    assert!(
        !out.status.success(),
        "/proc/sys/net writable without --ns-change-opt"
    );

    host.boot("netrw", &["--ns-change-opt", "net"]);
    assert!(mount_options(&host, "netrw", "/proc/sys")
        .unwrap()
        .starts_with("ro"));
    assert!(mount_options(&host, "netrw", "/proc/sys/net")
        .unwrap()
        .starts_with("rw"));
    host.exec(
        "netrw",
        &["sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"],
    );
    assert_eq!(
        host.exec("netrw", &["cat", "/proc/sys/net/ipv4/ip_forward"]),
        "1"
    );
    let out = host.run([
        "exec",
        "netrw",
        "sh",
        "-c",
        "echo 1234567 > /proc/sys/kernel/shmmax",
    ]);
    assert!(
        !out.status.success(),
        "kernel IPC sysctls writable with only net"
    );

    host.boot("ipcrw", &["--ns-change-opt", "ipc"]);
    host.exec(
        "ipcrw",
        &["sh", "-c", "echo 1234567 > /proc/sys/kernel/shmmax"],
    );
    assert_eq!(
        host.exec("ipcrw", &["cat", "/proc/sys/kernel/shmmax"]),
        "1234567"
    );
    assert!(mount_options(&host, "ipcrw", "/proc/sys/fs/mqueue")
        .unwrap()
        .starts_with("rw"));
    let out = host.run([
        "exec",
        "ipcrw",
        "sh",
        "-c",
        "echo 1 > /proc/sys/kernel/panic",
    ]);
    assert!(
        !out.status.success(),
        "a host-wide kernel sysctl became writable"
    );
    let out = host.run([
        "exec",
        "ipcrw",
        "sh",
        "-c",
        "echo 1 > /proc/sys/net/ipv4/ip_forward",
    ]);
    assert!(!out.status.success());
    // The host's own values are untouched.
    assert_ne!(read(Path::new("/proc/sys/kernel/shmmax")).trim(), "1234567");

    let err = host.fails([
        "run",
        "-d",
        "--ns-change-opt",
        "pid",
        "--system-container",
        "none",
        "init",
    ]);
    assert!(err.contains("\"pid\""), "{err}");
}

#[test]
fn sysctls_are_set_inside_and_non_namespaced_keys_refused() {
    let mut host = Host::new();
    host.boot(
        "tuned",
        &[
            "--sysctl",
            "kernel.shmmax=7654321",
            "--sysctl",
            "net.ipv4.ip_forward=1",
        ],
    );
    assert_eq!(
        host.exec("tuned", &["cat", "/proc/sys/kernel/shmmax"]),
        "7654321"
    );
    assert_eq!(
        host.exec("tuned", &["cat", "/proc/sys/net/ipv4/ip_forward"]),
        "1"
    );
    assert_ne!(read(Path::new("/proc/sys/kernel/shmmax")).trim(), "7654321");

    let rootfs = host.rootfs();
    let rootfs = rootfs.to_str().unwrap();
    for bad in ["vm.swappiness=10", "kernel.hostname=x", "fs.file-max=5"] {
        let err = host.refused(rootfs, &["--sysctl", bad]);
        assert!(err.contains(bad), "{err}");
    }
    let err = host.refused(
        rootfs,
        &["--net", "host", "--sysctl", "net.ipv4.ip_forward=1"],
    );
    assert!(
        err.contains("net.ipv4.ip_forward=1") && err.contains("--net host"),
        "{err}"
    );
    assert_eq!(host.container_ids().len(), 1, "a refused run left a record");
}

/// `kernel.pid_max` is accepted only where it is per PID namespace (Linux ≥ 6.14, which
/// this test requires): set inside, the host's value does not move.
#[test]
fn pid_max_is_set_inside_and_the_hosts_stays() {
    let release = read(Path::new("/proc/sys/kernel/osrelease"));
    let mut numbers = release
        .trim()
        .split(['.', '-'])
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let version = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    let mut host = Host::new();
    if version < (6, 14) {
        // An older kernel: the option must be refused, naming the key and the version.
        let rootfs = host.rootfs();
        let err = host.refused(&rootfs, &["--sysctl", "kernel.pid_max=12345"]);
        assert!(
            err.contains("kernel.pid_max=12345") && err.contains("6.14"),
            "{err}"
        );
        eprintln!("kernel {release} < 6.14: only the refusal was tested");
        return;
    }
    let path = Path::new("/proc/sys/kernel/pid_max");
    let before = read(path).trim().to_string();
    let wanted = if before == "12345" { "12346" } else { "12345" };
    host.boot("pids", &["--sysctl", &format!("kernel.pid_max={wanted}")]);
    assert_eq!(
        host.exec("pids", &["cat", "/proc/sys/kernel/pid_max"]),
        wanted
    );
    assert_eq!(read(path).trim(), before, "the host's pid_max changed");
}

#[test]
fn host_channel_is_a_sized_tmpfs_removed_by_rm() {
    let mut host = Host::new();
    let dir = tempfile::tempdir().unwrap();
    let channel = dir.path().join("channel");
    let spec = format!("{}:/mnt/channel:rw:32M", channel.display());
    let id = host.boot("chan", &["--host-channel", &spec]);
    assert!(channel.is_dir());
    assert_eq!(
        std::fs::metadata(&channel).unwrap().permissions().mode() & 0o7777,
        0o1777
    );

    let out = host.run([
        "exec",
        "chan",
        "dd",
        "if=/dev/zero",
        "of=/mnt/channel/fill",
        "bs=1M",
        "count=40",
    ]);
    assert!(
        !out.status.success(),
        "writing 40M into a 32M channel succeeded"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No space left"),
        "{:?}",
        out
    );
    assert_eq!(
        std::fs::metadata(channel.join("fill")).unwrap().len(),
        32 << 20
    );
    std::fs::remove_file(channel.join("fill")).unwrap();
    std::fs::write(channel.join("from-host"), "hello").unwrap();
    assert_eq!(
        host.exec("chan", &["cat", "/mnt/channel/from-host"]),
        "hello"
    );

    // It outlives a stop/start and goes with rm.
    host.ok(["restart", "chan"]);
    host.wait_booted("chan");
    assert_eq!(
        host.exec("chan", &["cat", "/mnt/channel/from-host"]),
        "hello"
    );
    host.ok(["rm", "-f", "chan"]);
    assert!(!channel.exists(), "rm left the host channel");
    assert!(leftovers(&host, &id).is_empty());

    // HOST must not exist beforehand; bad sizes are refused.
    let rootfs = host.rootfs();
    let existing = format!("{}:/mnt/x", dir.path().display());
    let err = host.refused(rootfs.to_str().unwrap(), &["--host-channel", &existing]);
    assert!(err.contains("already exists"), "{err}");
    let tiny = format!("{}:/mnt/x:rw:1k", channel.display());
    let err = host.refused(rootfs.to_str().unwrap(), &["--host-channel", &tiny]);
    assert!(err.contains("4K"), "{err}");
}

#[test]
fn env_target_file_merges_and_stays_inside_the_rootfs() {
    let mut host = Host::new();
    let rootfs = host.rootfs();
    std::fs::write(
        rootfs.join("etc/default/app-env"),
        "# app\nKEEP=1\nOVERRIDE=old\n",
    )
    .unwrap();
    // The rewrite keeps the file's mode and owner.
    std::fs::set_permissions(
        rootfs.join("etc/default/app-env"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    std::os::unix::fs::chown(rootfs.join("etc/default/app-env"), Some(1000), Some(1001)).unwrap();
    host.start_system(
        "envy",
        &rootfs,
        &[
            "--env-target-file",
            "/etc/default/app-env",
            "-e",
            "OVERRIDE=new",
            "-e",
            "ADDED=yes",
        ],
    );
    host.wait_booted("envy");
    let content = host.exec("envy", &["cat", "/etc/default/app-env"]);
    let lines: Vec<&str> = content.lines().collect();
    for want in [
        "# app",
        "KEEP=1",
        "OVERRIDE=new",
        "ADDED=yes",
        "container=syscontainer",
    ] {
        assert!(lines.contains(&want), "{want} missing from {content}");
    }
    assert!(!lines.contains(&"OVERRIDE=old"));
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(rootfs.join("etc/default/app-env")).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o640);
        assert_eq!((meta.uid(), meta.gid()), (1000, 1001));
    }

    // A symlink planted in the rootfs cannot redirect the write to the host: it resolves
    // inside the rootfs.
    let host_target = PathBuf::from(format!("/tmp/sctest-owned-{}", std::process::id()));
    let other = host.rootfs();
    std::os::unix::fs::symlink(&host_target, other.join("etc/default/escape")).unwrap();
    host.start_system(
        "escape",
        &other,
        &["--env-target-file", "/etc/default/escape"],
    );
    assert!(
        !host_target.exists(),
        "the env file was written on the host through a symlink"
    );
    let inside = other.join(host_target.strip_prefix("/").unwrap());
    assert!(
        read(&inside).contains("container=syscontainer"),
        "written inside the rootfs instead"
    );
    // A link into a directory that exists only on the host is refused, not followed.
    let victim = tempfile::tempdir().unwrap();
    let third = host.rootfs();
    std::os::unix::fs::symlink(
        victim.path().join("owned"),
        third.join("etc/default/escape"),
    )
    .unwrap();
    let err = host.refused(
        third.to_str().unwrap(),
        &[
            "--cgroup-parent",
            &host.cgroup_parent,
            "--env-target-file",
            "/etc/default/escape",
        ],
    );
    assert!(err.contains("/etc/default/escape"), "{err}");
    assert!(!victim.path().join("owned").exists());
}

#[test]
fn process_limits_dns_hosts_groups_and_oom() {
    let mut host = Host::new();
    let id = host.boot(
        "limits",
        &[
            "--files-limit",
            "4096",
            "--ulimit",
            "nproc=2000:3000",
            "--oom-score-adj",
            "300",
            "--dns",
            "192.0.2.53",
            "--dns-search",
            "example.test",
            "--add-host",
            "db.internal:192.0.2.10",
            "--group-add",
            "adm",
            "--security-opt",
            "no-new-privileges",
            "-m",
            "256M",
            "--oom-kill-disable",
            "--shm-size",
            "16m",
            "--dns-option",
            "ndots:2",
        ],
    );
    // --shm-size 16m: the /dev/shm tmpfs has that size.
    let shm = host
        .exec("limits", &["cat", "/proc/self/mountinfo"])
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some("/dev/shm"))
        .expect("/dev/shm is a mount")
        .to_string();
    let super_options = shm.split(" - ").nth(1).unwrap_or("");
    assert!(
        super_options.starts_with("tmpfs ")
            && super_options.split([' ', ',']).any(|o| o == "size=16384k"),
        "{shm}"
    );
    let df = host.exec("limits", &["df", "-B1", "--output=size", "/dev/shm"]);
    assert_eq!(df.lines().last().map(str::trim), Some("16777216"), "{df}");
    let limits = host.exec("limits", &["cat", "/proc/1/limits"]);
    let line = |name: &str| {
        limits
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .split_whitespace()
            .rev()
            .skip(1)
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(line("Max open files"), "4096 4096");
    assert_eq!(line("Max processes"), "3000 2000");
    // exec'd processes get the container's limits too, not the caller's.
    assert_eq!(host.exec("limits", &["sh", "-c", "ulimit -n"]), "4096");
    assert_eq!(host.exec("limits", &["sh", "-c", "ulimit -Hn"]), "4096");
    let exec_limits = host.exec("limits", &["cat", "/proc/self/limits"]);
    let exec_line = |name: &str| {
        exec_limits
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .split_whitespace()
            .rev()
            .skip(1)
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(exec_line("Max open files"), "4096 4096");
    assert_eq!(exec_line("Max processes"), "3000 2000");
    assert_eq!(
        host.exec("limits", &["cat", "/proc/1/oom_score_adj"]),
        "300"
    );
    let resolv = host.exec("limits", &["cat", "/etc/resolv.conf"]);
    assert!(
        resolv.contains("nameserver 192.0.2.53") && resolv.contains("search example.test"),
        "{resolv}"
    );
    assert!(
        resolv.lines().any(|l| l == "options ndots:2"),
        "--dns-option ndots:2 missing: {resolv}"
    );
    assert_eq!(
        host.exec("limits", &["getent", "hosts", "db.internal"])
            .split_whitespace()
            .next(),
        Some("192.0.2.10")
    );
    let status = host.exec("limits", &["cat", "/proc/1/status"]);
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Groups:") && l.split_whitespace().any(|g| g == "4")),
        "{status}"
    );
    assert!(status.lines().any(|l| l == "NoNewPrivs:\t1"), "{status}");
    let oom = host
        .cgroup_file(&id, "memory.oom_control")
        .expect("memory.oom_control");
    assert!(read(&oom).contains("oom_kill_disable 1"));

    let rootfs = host.rootfs();
    for (opt, bad) in [
        ("--ulimit", "nofile=10:5"),
        ("--oom-score-adj", "2000"),
        ("--files-limit", "-7"),
        ("--add-host", "db"),
        ("--dns", "999.1.1.1"),
    ] {
        let err = host.refused(rootfs.to_str().unwrap(), &[opt, bad]);
        assert!(err.contains(bad), "{opt} {bad}: {err}");
    }
    let err = host.refused(
        rootfs.to_str().unwrap(),
        &["--security-opt", "seccomp=/etc/profile.json"],
    );
    assert!(err.contains("seccomp"), "{err}");
}

#[test]
fn devices_are_created_allowed_and_throttled() {
    let mut host = Host::new();
    let lo = LoopDevice::new(64 << 20);
    let dev = lo.dev.clone();
    let id = host.boot(
        "disks",
        &[
            "--device",
            &format!("{dev}:/dev/xvdb:rwm"),
            "--device-write-bps",
            &format!("{dev}:1mb"),
            "--device-read-iops",
            &format!("{dev}:500"),
        ],
    );
    host.exec("disks", &["mkfs.ext4", "-q", "/dev/xvdb"]);
    host.exec(
        "disks",
        &[
            "sh",
            "-c",
            "mkdir -p /mnt/d && mount /dev/xvdb /mnt/d && echo data > /mnt/d/file && umount /mnt/d",
        ],
    );
    let (major, minor) = lo.numbers();
    let numbers = format!("{major}:{minor}");
    let write_bps = host
        .cgroup_file(&id, "blkio.throttle.write_bps_device")
        .expect("blkio throttle file");
    assert!(
        read(&write_bps).contains(&format!("{numbers} 1048576")),
        "{}",
        read(&write_bps)
    );
    let read_iops = host
        .cgroup_file(&id, "blkio.throttle.read_iops_device")
        .unwrap();
    assert!(read(&read_iops).contains(&format!("{numbers} 500")));
    let allowed = read(&host.cgroup_file(&id, "devices.list").unwrap());
    assert!(
        allowed.lines().any(|l| l == format!("b {numbers} rwm")),
        "{allowed}"
    );
    // A device that was not given is refused even if its node is made. The node goes
    // on the rootfs (/root), not /tmp: /tmp is mounted nodev, which would refuse any
    // device whatever the devices cgroup says.
    let mountinfo = host.exec("disks", &["cat", "/proc/self/mountinfo"]);
    let root_mount = mountinfo
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| {
            let point = f[4];
            point == "/" || "/root" == point || "/root".starts_with(&format!("{point}/"))
        })
        .max_by_key(|f| f[4].len())
        .expect("a mount holding /root");
    assert!(
        !root_mount[5].split(',').any(|o| o == "nodev"),
        "/root is on a nodev mount: {root_mount:?}"
    );
    // Control: a node of the given device, made there, opens.
    host.exec(
        "disks",
        &[
            "sh",
            "-c",
            &format!(
                "mknod /root/given b {} && head -c1 /root/given >/dev/null && rm /root/given",
                numbers.replace(':', " ")
            ),
        ],
    );
    let out = host.run([
        "exec",
        "disks",
        "sh",
        "-c",
        "mknod /root/sda b 8 0 && head -c1 /root/sda; rc=$?; rm -f /root/sda; exit $rc",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("Operation not permitted"),
        "a device not given could be opened ({}): {stderr}",
        out.status
    );

    // Weights need a proportional I/O scheduler (BFQ); where the kernel has none, the
    // option is refused with a clear error rather than silently ignored.
    let weight_file = host
        .cgroup_file(&id, "blkio.weight")
        .or_else(|| host.cgroup_file(&id, "io.weight"));
    let rootfs = host.rootfs();
    let out = host.run([
        "run",
        "-d",
        "--name",
        "weighted",
        "--cgroup-parent",
        &host.cgroup_parent,
        "--blkio-weight",
        "300",
        "--system-container",
        "--external-rootfs",
        rootfs.to_str().unwrap(),
        "none",
        "init",
    ]);
    match weight_file {
        Some(_) => {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let weighted = host.inspect("weighted", "{{.Id}}");
            let file = host
                .cgroup_file(&weighted, "blkio.weight")
                .or_else(|| host.cgroup_file(&weighted, "io.weight"))
                .unwrap();
            assert!(read(&file).contains("300"));
        }
        None => {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("--blkio-weight") && err.contains("weight"),
                "{err}"
            );
        }
    }

    let rootfs = host.rootfs();
    let err = host.refused(rootfs.to_str().unwrap(), &["--device", "/dev/nonexistent"]);
    assert!(err.contains("/dev/nonexistent"), "{err}");
    let err = host.refused(
        rootfs.to_str().unwrap(),
        &["--device-write-bps", "/dev/null:1mb"],
    );
    assert!(err.contains("/dev/null") && err.contains("block"), "{err}");
}

/// A directory of root-owned hook scripts that append their name to a log.
struct Hooks {
    dir: tempfile::TempDir,
}

impl Hooks {
    fn new() -> Hooks {
        let dir = tempfile::Builder::new()
            .prefix("sctest-hooks-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Hooks { dir }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    /// A hook that logs `label` and the state it got; exits with `code`.
    fn script(&self, label: &str, code: i32) -> PathBuf {
        let path = self.dir.path().join(label);
        let body = format!(
            "#!/bin/sh\nstate=$(cat)\necho \"{label} $state\" >> {log}\necho \"{label} says hi\" >&2\nexit {code}\n",
            log = self.log().display()
        );
        syscontainer_tests::write_executable(&path, body.as_bytes());
        path
    }

    fn spec(&self, file: &str, stages: &[(&str, &[PathBuf])]) -> PathBuf {
        let mut obj = serde_json::Map::new();
        for (stage, hooks) in stages {
            let list: Vec<serde_json::Value> = hooks
                .iter()
                .map(|p| serde_json::json!({"path": p, "args": [p.file_name().unwrap().to_str().unwrap()], "timeout": 10}))
                .collect();
            obj.insert(stage.to_string(), serde_json::Value::Array(list));
        }
        let path = self.dir.path().join(file);
        std::fs::write(&path, serde_json::Value::Object(obj).to_string()).unwrap();
        path
    }

    fn entries(&self) -> Vec<(String, serde_json::Value)> {
        std::fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let (label, state) = l.split_once(' ').unwrap();
                (label.to_string(), serde_json::from_str(state).unwrap())
            })
            .collect()
    }
}

#[test]
fn hooks_run_in_order_with_the_state_and_on_every_start() {
    let mut host = Host::new();
    let hooks = Hooks::new();
    let daemon_spec = hooks.spec(
        "daemon-hooks.json",
        &[("prestart", &[hooks.script("daemon-pre", 0)])],
    );
    let daemon_config = hooks.dir.path().join("daemon.json");
    std::fs::write(
        &daemon_config,
        serde_json::json!({"hook-spec": daemon_spec}).to_string(),
    )
    .unwrap();
    let spec = hooks.spec(
        "hooks.json",
        &[
            (
                "prestart",
                &[hooks.script("pre1", 0), hooks.script("pre2", 0)],
            ),
            ("poststart", &[hooks.script("post-start", 0)]),
            ("poststop", &[hooks.script("post-stop", 0)]),
        ],
    );
    let rootfs = host.rootfs();
    let out = host
        .command()
        .arg("--daemon-config")
        .arg(&daemon_config)
        .args([
            "run",
            "-tid",
            "--name",
            "hooked",
            "--cgroup-parent",
            &host.cgroup_parent,
            "--hook-spec",
        ])
        .arg(&spec)
        .args(["--system-container", "--external-rootfs"])
        .arg(&rootfs)
        .args(["none", "init"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    host.wait_booted("hooked");
    host.ok(["stop", "hooked"]);
    host.wait_status("hooked", "exited", Duration::from_secs(30));
    syscontainer_tests::wait_for("poststop", Duration::from_secs(10), || {
        hooks.entries().len() >= 5
    });

    let entries = hooks.entries();
    let labels: Vec<&str> = entries.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        labels,
        ["daemon-pre", "pre1", "pre2", "post-start", "post-stop"]
    );
    let (_, state) = &entries[1];
    assert_eq!(state["id"], id.as_str());
    assert_eq!(state["root"], rootfs.to_str().unwrap());
    assert!(state["pid"].as_i64().unwrap() > 0);
    assert_eq!(state["bundle"], host.store().join(&id).to_str().unwrap());
    assert!(state["ociVersion"].is_string());

    // Hooks run again at every start.
    std::fs::remove_file(hooks.log()).unwrap();
    host.command()
        .arg("--daemon-config")
        .arg(&daemon_config)
        .args(["start", "hooked"])
        .output()
        .unwrap();
    host.wait_booted("hooked");
    let labels: Vec<String> = hooks.entries().into_iter().map(|(l, _)| l).collect();
    assert_eq!(&labels[..3], ["daemon-pre", "pre1", "pre2"]);
}

#[test]
fn a_failing_prestart_hook_aborts_the_start_and_leaves_nothing() {
    let mut host = Host::new();
    let hooks = Hooks::new();
    let spec = hooks.spec(
        "hooks.json",
        &[(
            "prestart",
            &[
                hooks.script("ok", 0),
                hooks.script("broken", 3),
                hooks.script("never", 0),
            ],
        )],
    );
    let rootfs = host.rootfs();
    let out = host
        .command()
        .args([
            "run",
            "-tid",
            "--name",
            "doomed",
            "--cgroup-parent",
            &host.cgroup_parent,
            "--hook-spec",
        ])
        .arg(&spec)
        .args(["--system-container", "--external-rootfs"])
        .arg(&rootfs)
        .args(["none", "init"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken"), "{stderr}");
    assert!(
        stderr.contains("broken says hi"),
        "hook stderr should reach the user: {stderr}"
    );
    let labels: Vec<String> = hooks.entries().into_iter().map(|(l, _)| l).collect();
    assert_eq!(labels, ["ok", "broken"]);
    let id = host
        .container_ids()
        .pop()
        .expect("the record stays, like a failed docker start");
    assert_eq!(host.inspect("doomed", "{{.State.Status}}"), "exited");
    let left: Vec<String> = leftovers(&host, &id)
        .into_iter()
        .filter(|l| !l.starts_with("store record"))
        .collect();
    assert!(left.is_empty(), "{left:#?}");
    let cg_procs: Vec<PathBuf> = host
        .cgroup_parent_dirs()
        .into_iter()
        .map(|d| d.join(&id))
        .filter(|d| d.exists())
        .collect();
    assert!(cg_procs.is_empty(), "{cg_procs:?}");
}

#[test]
fn a_prestart_hook_that_never_reads_a_big_state_times_out_and_poststop_runs() {
    let mut host = Host::new();
    let hooks = Hooks::new();
    let sleeper = hooks.dir.path().join("sleeper");
    syscontainer_tests::write_executable(&sleeper, b"#!/bin/sh\nsleep 60\n");
    let post = hooks.script("post-stop", 0);
    let spec = hooks.dir.path().join("hooks.json");
    std::fs::write(
        &spec,
        serde_json::json!({
            "prestart": [{"path": sleeper, "timeout": 2}],
            "poststop": [{"path": post, "args": ["post-stop"], "timeout": 10}],
        })
        .to_string(),
    )
    .unwrap();
    // The state carries the annotations: this one alone is more than a pipe buffer.
    let annotation = format!("org.example/blob={}", "x".repeat(120 << 10));
    let rootfs = host.rootfs();
    let started = std::time::Instant::now();
    let out = host
        .command()
        .args([
            "run",
            "-tid",
            "--name",
            "stuck",
            "--cgroup-parent",
            &host.cgroup_parent,
            "--annotation",
            &annotation,
            "--hook-spec",
        ])
        .arg(&spec)
        .args(["--system-container", "--external-rootfs"])
        .arg(&rootfs)
        .args(["none", "init"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the start took {:?}",
        started.elapsed()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("sleeper") && stderr.contains("timed out"),
        "{stderr}"
    );
    // The OCI lifecycle after a failed prestart: delete, then the poststop hooks.
    let entries = hooks.entries();
    let labels: Vec<&str> = entries.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["post-stop"]);
    assert_eq!(entries[0].1["status"], "stopped");
    assert_eq!(
        entries[0].1["annotations"]["org.example/blob"]
            .as_str()
            .map(str::len),
        Some(120 << 10)
    );
    let id = host.container_ids().pop().expect("the record stays");
    assert_eq!(host.inspect("stuck", "{{.State.Status}}"), "exited");
    let left: Vec<String> = leftovers(&host, &id)
        .into_iter()
        .filter(|l| !l.starts_with("store record"))
        .collect();
    assert!(left.is_empty(), "{left:#?}");
}

/// While the poststop hooks run, PID 1 is gone but the end is not recorded: the container
/// shows `stopping`, and `exited` only with how and when it ended; `wait` returns only then.
#[test]
fn exited_shows_only_once_the_end_is_recorded_and_stopping_before() {
    let mut host = Host::new();
    let hooks = Hooks::new();
    let slow = hooks.dir.path().join("slow-post-stop");
    syscontainer_tests::write_executable(&slow, b"#!/bin/sh\ncat >/dev/null\nsleep 2\n");
    let spec = hooks.spec("hooks.json", &[("poststop", &[slow])]);
    host.boot("ending", &["--hook-spec", spec.to_str().unwrap()]);
    // Ends by itself once the container has: nothing to clean up if the test fails.
    let mut waiter = host
        .command()
        .args(["wait", "ending"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    host.run(["exec", "ending", "systemctl", "poweroff"]);

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen_stopping = false;
    loop {
        let waited = waiter.try_wait().unwrap().is_some();
        let state = host.state("ending");
        assert!(
            !waited || state["Status"] == "exited",
            "wait returned while {state}"
        );
        match state["Status"].as_str() {
            Some("running") => {}
            Some("stopping") => {
                assert_eq!(state["Running"], false, "{state}");
                assert_eq!(state["Pid"], 0, "{state}");
                assert_eq!(state["FinishedAt"], serde_json::Value::Null, "{state}");
                if !seen_stopping {
                    let listed = host.ok(["ps", "--format", "json"]);
                    let rows: serde_json::Value = serde_json::from_str(&listed).unwrap();
                    let row = rows
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|r| r["Name"] == "ending");
                    assert_eq!(
                        row.map(|r| &r["Status"]),
                        Some(&"stopping".into()),
                        "{rows}"
                    );
                }
                seen_stopping = true;
            }
            Some("exited") => {
                assert_eq!(state["ExitCause"], "poweroff", "{state}");
                assert!(state["FinishedAt"].is_string(), "{state}");
                break;
            }
            _ => panic!("unexpected state while powering off: {state}"),
        }
        assert!(Instant::now() < deadline, "still {state}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        seen_stopping,
        "the 2 s poststop hook was never seen as stopping"
    );
    let waited = waiter.wait_with_output().unwrap();
    assert!(waited.status.success());
    let code = host.state("ending")["ExitCode"].to_string();
    assert_eq!(String::from_utf8_lossy(&waited.stdout), format!("{code}\n"));
}

#[test]
fn hook_specs_are_checked() {
    let mut host = Host::new();
    let hooks = Hooks::new();
    let rootfs = host.rootfs();
    let run = |spec: &Path| {
        host.refused(
            rootfs.to_str().unwrap(),
            &["--hook-spec", spec.to_str().unwrap()],
        )
    };
    let err = run(Path::new("relative.json"));
    assert!(err.contains("relative.json"), "{err}");
    let err = run(&hooks.dir.path().join("missing.json"));
    assert!(err.contains("missing.json"), "{err}");
    let not_json = hooks.dir.path().join("bad.json");
    std::fs::write(&not_json, "{not json").unwrap();
    assert!(run(&not_json).contains("bad.json"));
    let writable = hooks.script("writable", 0);
    std::fs::set_permissions(&writable, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = run(&hooks.spec("w.json", &[("prestart", &[writable])]));
    assert!(err.contains("writable"), "{err}");
    let relative = hooks.dir.path().join("rel.json");
    std::fs::write(&relative, r#"{"prestart":[{"path":"bin/true"}]}"#).unwrap();
    assert!(run(&relative).contains("bin/true"));
    let zero = hooks.dir.path().join("zero.json");
    std::fs::write(&zero, r#"{"prestart":[{"path":"/bin/true","timeout":0}]}"#).unwrap();
    assert!(run(&zero).contains("timeout"));
    assert!(host.container_ids().is_empty());
}

/// A loop device holding an ext4 image of the cached rootfs, detached on drop.
fn ext4_rootfs_device() -> LoopDevice {
    let image = tempfile::NamedTempFile::new().unwrap();
    image.as_file().set_len(700 << 20).unwrap();
    let out = Command::new("mkfs.ext4")
        .args(["-q", "-F", "-d"])
        .arg(syscontainer_tests::rootfs_cache())
        .arg(image.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mkfs.ext4: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    LoopDevice::over(image)
}

/// Whether `device` is mounted as a container rootfs.
fn rootfs_device_mounted(device: &str) -> bool {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mountinfo
        .lines()
        .any(|l| l.contains("/run/syscontainer-rootfs/"))
        && mountinfo.lines().any(|l| {
            l.split(" - ")
                .nth(1)
                .is_some_and(|t| t.split_whitespace().nth(1) == Some(device))
        })
}

#[test]
fn a_block_device_rootfs_is_mounted_from_start_to_stop() {
    let host = Host::new();
    // An ext4 image of the cached rootfs on a loop device.
    let lo = ext4_rootfs_device();
    let device = lo.dev.as_str();
    let mounted = || rootfs_device_mounted(device);
    let id = host.ok([
        "run",
        "-tid",
        "--name",
        "disk",
        "--cgroup-parent",
        &host.cgroup_parent,
        "--system-container",
        "--external-rootfs",
        device,
        "none",
        "init",
    ]);
    assert_eq!(host.wait_booted("disk"), "running");
    assert_eq!(host.exec("disk", &["cat", "/proc/1/comm"]), "systemd");
    assert!(
        mounted(),
        "the device is not mounted while the container runs"
    );
    assert_eq!(host.inspect("disk", "{{.RootfsDevice}}"), device);
    host.exec("disk", &["sh", "-c", "echo persisted > /root/on-disk"]);

    host.ok(["stop", "disk"]);
    assert!(!mounted(), "the device stays mounted after stop");
    host.ok(["start", "disk"]);
    host.wait_booted("disk");
    assert_eq!(host.exec("disk", &["cat", "/root/on-disk"]), "persisted");
    host.ok(["rm", "-f", "disk"]);
    assert!(!mounted());
    assert!(leftovers(&host, &id).is_empty());

    // A device without a file system, or without an OS tree, is refused.
    let empty = LoopDevice::new(16 << 20);
    let err = host.refused(empty.dev.as_str(), &[]);
    assert!(err.contains(empty.dev.as_str()), "{err}");
    assert!(host.container_ids().is_empty());
    assert!(!mounted());
}

#[test]
fn stop_after_losing_the_monitor_unmounts_the_rootfs_and_runs_poststop() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let host = Host::new();
    let hooks = Hooks::new();
    let spec = hooks.spec(
        "hooks.json",
        &[("poststop", &[hooks.script("post-stop", 0)])],
    );
    let lo = ext4_rootfs_device();
    let device = lo.dev.as_str();
    let out = host
        .command()
        .args([
            "run",
            "-tid",
            "--name",
            "orphan",
            "--cgroup-parent",
            &host.cgroup_parent,
            "--hook-spec",
        ])
        .arg(&spec)
        .args([
            "--system-container",
            "--external-rootfs",
            device,
            "none",
            "init",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(host.wait_booted("orphan"), "running");
    assert!(rootfs_device_mounted(device));
    let state = host.state("orphan");
    let (monitor, pid) = (
        state["MonitorPid"].as_i64().unwrap() as i32,
        state["Pid"].as_i64().unwrap(),
    );
    kill(Pid::from_raw(monitor), Signal::SIGKILL).unwrap();
    syscontainer_tests::wait_for("the monitor's end", Duration::from_secs(10), || {
        !syscontainer_tests::pid_alive(monitor)
    });
    assert_eq!(host.inspect("orphan", "{{.State.Status}}"), "running");

    host.ok(["stop", "orphan"]);
    assert_eq!(host.inspect("orphan", "{{.State.Status}}"), "exited");
    assert!(
        !rootfs_device_mounted(device),
        "the block-device rootfs stays mounted after stop"
    );
    let entries = hooks.entries();
    let labels: Vec<&str> = entries.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        labels,
        ["post-stop"],
        "poststop hooks after losing the monitor"
    );
    assert_eq!(entries[0].1["id"], id.as_str());
    assert_eq!(entries[0].1["status"], "stopped");
    assert_eq!(entries[0].1["pid"].as_i64(), Some(pid));
    let left: Vec<String> = leftovers(&host, &id)
        .into_iter()
        .filter(|l| !l.starts_with("store record"))
        .collect();
    assert!(left.is_empty(), "{left:#?}");
    // It starts again from the same device.
    host.ok(["start", "orphan"]);
    host.wait_booted("orphan");
    assert!(rootfs_device_mounted(device));
    host.ok(["rm", "-f", "orphan"]);
    assert!(!rootfs_device_mounted(device));
}

#[test]
fn user_remap_boots_systemd_with_shifted_owners() {
    use std::os::unix::fs::MetadataExt;
    let host = Host::new();
    let shifted = shifted_rootfs(200_000);
    let rootfs = shifted.path().join("rootfs");
    let id = host.start_system(
        "remapped",
        &rootfs,
        &[
            "--user-remap",
            "200000:200000:65535",
            "--env-target-file",
            "/etc/default/made-by-runtime",
        ],
    );
    let state = host.wait_booted("remapped");
    assert!(state == "running" || state == "degraded", "{state}");
    assert_eq!(host.exec("remapped", &["cat", "/proc/1/comm"]), "systemd");
    let uid_map = host.exec("remapped", &["cat", "/proc/self/uid_map"]);
    assert_eq!(
        uid_map.split_whitespace().collect::<Vec<_>>(),
        ["0", "200000", "65535"]
    );
    assert_eq!(host.exec("remapped", &["id", "-u"]), "0");
    // PID 1 runs as host uid 200000, not as host root.
    let pid = host.inspect("remapped", "{{.State.Pid}}");
    let status = read(Path::new(&format!("/proc/{pid}/status")));
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("200000")),
        "{status}"
    );

    host.exec(
        "remapped",
        &[
            "sh",
            "-c",
            "echo hi > /root/made-inside && chown 1000:1000 /root/made-inside",
        ],
    );
    let meta = std::fs::metadata(rootfs.join("root/made-inside")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (201_000, 201_000));
    // A new --env-target-file belongs to the container's root, not to host root.
    let meta = std::fs::metadata(rootfs.join("etc/default/made-by-runtime")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (200_000, 200_000));
    assert_eq!(meta.mode() & 0o7777, 0o644);

    host.ok(["stop", "remapped"]);
    assert_eq!(host.state("remapped")["ExitCause"], "poweroff");
    host.ok(["rm", "remapped"]);
    assert!(
        leftovers(&host, &id).is_empty(),
        "{:#?}",
        leftovers(&host, &id)
    );

    let r = rootfs.to_str().unwrap();
    let err = host.refused(r, &["--privileged", "--user-remap", "200000:200000:100"]);
    assert!(err.contains("--privileged"), "{err}");
    let err = host.fails([
        "run",
        "-d",
        "--user-remap",
        "200000:200000:100",
        "--external-rootfs",
        r,
        "none",
        "/bin/sh",
    ]);
    assert!(err.contains("--system-container"), "{err}");
    let err = host.refused(r, &["--user-remap", "200000:200000:70000"]);
    assert!(err.contains("70000"), "{err}");
}

#[test]
fn a_seccomp_profile_filters_pid1_and_exec() {
    let mut host = Host::new();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("no-hostname.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
            "syscalls":[{"names":["sethostname"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    host.boot("filtered", &["--security-opt", &opt]);
    let status = host.exec("filtered", &["cat", "/proc/1/status"]);
    assert!(
        status.lines().any(|l| l == "Seccomp:\t2"),
        "PID 1 has no filter: {status}"
    );
    let out = host.run(["exec", "filtered", "hostname", "renamed"]);
    assert!(!out.status.success(), "sethostname went through the filter");
    assert_ne!(host.exec("filtered", &["hostname"]), "renamed");
    // Without the profile the same call works.
    host.boot("open", &[]);
    host.exec("open", &["hostname", "renamed"]);
    assert_eq!(host.exec("open", &["hostname"]), "renamed");

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"defaultAction":"SCMP_ACT_SOMETIMES"}"#).unwrap();
    let rootfs = host.rootfs();
    let err = host.refused(
        &rootfs,
        &["--security-opt", &format!("seccomp={}", bad.display())],
    );
    assert!(
        err.contains("bad.json") && err.contains("SCMP_ACT_SOMETIMES"),
        "{err}"
    );
}

/// The last line of stderr: the error itself (clap adds a "For more information" line).
fn error_line(err: &str) -> &str {
    err.lines()
        .find(|l| l.starts_with("error") || l.starts_with("syscontainer"))
        .unwrap_or(err)
}

#[test]
fn bad_resource_values_are_refused_before_anything_is_created() {
    let mut host = Host::new();
    let rootfs = host.rootfs();
    let rootfs = rootfs.to_str().unwrap();
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--shm-size", "0"],
            &["--shm-size", "\"0\"", "more than 0"],
        ),
        (&["--cpu-quota", "999"], &["--cpu-quota", "999"]),
        (
            &["-m", "512m", "--memory-reservation", "1g"],
            &[
                "minimum memory limit can not be less than memory reservation limit",
                "536870912",
                "1073741824",
            ],
        ),
        (&["--cpuset-cpus", "0-"], &["--cpuset-cpus", "0-"]),
        (&["--cpuset-cpus", "3-1"], &["--cpuset-cpus", "3-1"]),
        (&["--cpuset-cpus", "a"], &["--cpuset-cpus", "\"a\""]),
        (
            &["--cpuset-cpus", "4095"],
            &["--cpuset-cpus 4095", "not online"],
        ),
        (
            &["--cpuset-mems", "4095"],
            &["--cpuset-mems 4095", "not online"],
        ),
        (
            &["--memory-reservation", "18446744073709551616"],
            &["too large"],
        ),
    ];
    for (options, wanted) in cases {
        let mut all = vec!["--cgroup-parent", &host.cgroup_parent];
        all.extend_from_slice(options);
        let err = host.refused(rootfs, &all);
        let line = error_line(&err);
        for w in *wanted {
            assert!(line.contains(w), "{options:?}: {w:?} not in {err}");
        }
        assert!(host.container_ids().is_empty(), "{options:?} left a record");
    }

    // update: the same quota rule as create, and the reservation is checked against the
    // limit the container already has.
    host.ok([
        "create",
        "--name",
        "limited",
        "--cgroup-parent",
        &host.cgroup_parent,
        "-m",
        "512m",
        "--memory-reservation",
        "256m",
        "--system-container",
        "--external-rootfs",
        rootfs,
        "none",
        "init",
    ]);
    for bad in ["1", "500", "999"] {
        let err = host.fails(["update", "--cpu-quota", bad, "limited"]);
        assert!(error_line(&err).contains(bad), "{err}");
    }
    host.ok(["update", "--cpu-quota", "1000", "limited"]);
    let err = host.fails(["update", "--memory-reservation", "1g", "limited"]);
    assert!(
        err.contains("minimum memory limit can not be less than memory reservation limit")
            && err.contains("536870912")
            && err.contains("1073741824"),
        "{err}"
    );
    let err = host.fails(["update", "-m", "128m", "limited"]);
    assert!(err.contains("268435456"), "{err}");
    let err = host.fails(["update", "--cpuset-cpus", "4095", "limited"]);
    assert!(err.contains("--cpuset-cpus 4095"), "{err}");
    let config = host.inspect("limited", "{{json .HostConfig}}");
    assert!(
        config.contains("\"MemoryReservation\":268435456"),
        "{config}"
    );
}

/// Where the runtime can put a hugetlb limit: a v1 `hugetlb` hierarchy, or a pure cgroup2
/// host whose root enables the controller. (A hybrid host's `unified` cgroup2 is not used
/// for limits.)
fn host_hugetlb_controller() -> Option<&'static str> {
    let mounts = read(Path::new("/proc/self/mounts"));
    let mut v1 = false;
    let mut pure_v2 = false;
    for f in mounts
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
    {
        if f.get(2) == Some(&"cgroup") && f[3].split(',').any(|o| o == "hugetlb") {
            v1 = true;
        }
        if f.get(2) == Some(&"cgroup2") && f[1] == "/sys/fs/cgroup" {
            pure_v2 = true;
        }
    }
    if v1 {
        return Some("v1");
    }
    let controllers =
        std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").unwrap_or_default();
    (pure_v2 && controllers.split_whitespace().any(|c| c == "hugetlb")).then_some("v2")
}

#[test]
fn hugetlb_limit_reaches_the_cgroup_or_is_refused_without_a_controller() {
    let mut host = Host::new();
    match host_hugetlb_controller() {
        Some(kind) => {
            let id = host.boot("huge", &["--hugetlb-limit", "2MB:64m"]);
            let file = if kind == "v1" {
                "hugetlb.2MB.limit_in_bytes"
            } else {
                "hugetlb.2MB.max"
            };
            let path = host
                .cgroup_file(&id, file)
                .unwrap_or_else(|| panic!("no {file} in the container's cgroups"));
            assert_eq!(read(&path).trim(), (64u64 << 20).to_string());
        }
        None => {
            eprintln!(
                "NOTE: this host has no hugetlb controller the runtime can use (no v1 \
                 hugetlb hierarchy, not a pure cgroup2 host with hugetlb): only the refusal \
                 of --hugetlb-limit is tested, not the limit itself"
            );
            let rootfs = host.rootfs();
            let err = host.refused(
                &rootfs,
                &[
                    "--name",
                    "huge",
                    "--cgroup-parent",
                    &host.cgroup_parent,
                    "--hugetlb-limit",
                    "2MB:64m",
                ],
            );
            assert!(
                err.contains("--hugetlb-limit") && err.contains("no hugetlb cgroup controller"),
                "{err}"
            );
            // The failed start undid itself: nothing but the stopped record is left.
            let ids = host.container_ids();
            assert_eq!(ids.len(), 1);
            let mut left = leftovers(&host, &ids[0]);
            left.retain(|l| !l.starts_with("store record"));
            assert!(left.is_empty(), "{left:?}");
        }
    }
}

#[test]
fn an_isulad_daemon_json_is_used_with_its_unknown_keys_named_and_ignored() {
    let mut host = Host::new();
    let dir = tempfile::tempdir().unwrap();
    let daemon_config = dir.path().join("daemon.json");
    let rootfs = host.rootfs();
    let create = |host: &Host, name: &str| {
        host.command()
            .arg("--daemon-config")
            .arg(&daemon_config)
            .args(["create", "-n", name, "--cgroup-parent", &host.cgroup_parent])
            .args(["--system-container", "--external-rootfs"])
            .arg(&rootfs)
            .args(["none", "init"])
            .output()
            .unwrap()
    };
    std::fs::write(
        &daemon_config,
        r#"{"registry-mirrors":["docker.io"],"log-driver":"file","exec-opts":["native.cgroupdriver=cgroupfs"]}"#,
    )
    .unwrap();
    let out = create(&host, "isulad-conf");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("log-driver, registry-mirrors"),
        "the warning names the ignored keys: {stderr}"
    );
    assert_eq!(host.inspect("isulad-conf", "{{.State.Status}}"), "created");

    std::fs::write(
        &daemon_config,
        r#"{"log-driver":"file","exec-opts":["native.cgroupdriver=lxc"]}"#,
    )
    .unwrap();
    let out = create(&host, "bad-conf");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a bad known key is still refused");
    assert!(stderr.contains("native.cgroupdriver=lxc"), "{stderr}");
}

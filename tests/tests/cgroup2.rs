//! What only a pure cgroup v2 host with systemd as PID 1 shows: boot, exec (with and without
//! a tty, while systemd churns units), device rules, controller delegation, v2 values of the
//! run and update options, stats/top, pause, reboot, forced and plain stop, and removal.
//! Built only with the `vm` feature and run by the VM lane (scripts/vm/run.sh), never on the
//! hybrid development host, where these would prove nothing; each test first checks that it
//! is on such a host.
//!
//! Where a test needs to look inside a container without `syscontainer exec` (whose own
//! test is `exec_reaches_a_booted_container`), it enters the container's namespaces with
//! `nsenter` and, when the process must also be in the container's cgroup, asks the
//! container's systemd to run it as a transient service.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use syscontainer_tests::warmer::{
    check_no_warmer_once_ready, check_the_monitors_warmer_until_the_init_ends,
};
use syscontainer_tests::{leftovers, pid_alive, wait_for, Host};
use v2::{
    as_container_service, boot, container_cgroup, inside, read_trimmed, v2_host,
    wait_booted_inside, CGROUP2_ROOT,
};

mod v2;

fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

#[test]
fn boots_to_running_with_default_options() {
    let mut host = v2_host();
    let id = boot(&mut host, "plain", &[]);
    assert_eq!(host.inspect("plain", "{{.State.Status}}"), "running");
    let pid: i32 = host.inspect("plain", "{{.State.Pid}}").parse().unwrap();
    assert_eq!(
        read_trimmed(Path::new(&format!("/proc/{pid}/comm"))),
        "systemd"
    );
    // systemd inside manages its own subtree of the container's cgroup.
    let cgroup = container_cgroup(&host, &id);
    assert!(
        cgroup.join("init.scope").is_dir(),
        "no init.scope below {}",
        cgroup.display()
    );
}

#[test]
fn exec_reaches_a_booted_container() {
    let mut host = v2_host();
    boot(&mut host, "execme", &[]);
    // systemd inside has made child cgroups (init.scope, system.slice, …) by now, and
    // starts another unit while exec joins.
    inside(
        &host,
        "execme",
        &[
            "systemd-run",
            "--quiet",
            "--unit",
            "sctest-sleep",
            "sleep",
            "300",
        ],
    );
    assert_eq!(host.exec("execme", &["cat", "/proc/1/comm"]), "systemd");
    assert_eq!(
        host.exec("execme", &["systemctl", "is-active", "sctest-sleep"]),
        "active"
    );
    assert_eq!(
        host.exec("execme", &["systemctl", "is-system-running"]),
        "running"
    );
    // The exec'd process is inside the container's cgroup namespace.
    let own = host.exec("execme", &["cat", "/proc/self/cgroup"]);
    assert!(own.starts_with("0::/"), "{own}");
    let out = host.run(["exec", "execme", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7));
}

#[test]
fn devices_are_denied_by_default() {
    let mut host = v2_host();
    boot(&mut host, "nodisk", &[]);
    let root = std::fs::metadata("/").expect("stat /").dev();
    let (major, minor) = (libc::major(root), libc::minor(root));
    // A node made beside the disk's shows whether device nodes in that directory can be
    // read at all, so that a refusal means a device rule and not a nodev mount.
    let script = format!(
        "cd /dev; \
         if mknod sctest-zero c 1 5 2>/dev/null; then \
           if head -c 1 sctest-zero >/dev/null 2>&1; then echo control=readable; else echo control=unreadable; fi; \
         else echo control=no-mknod; fi; \
         if mknod sctest-disk b {major} {minor} 2>/dev/null; then \
           if head -c 512 sctest-disk >/dev/null 2>&1; then echo disk=readable; else echo disk=denied; fi; \
         else echo disk=no-mknod; fi; \
         rm -f sctest-zero sctest-disk"
    );
    let out = as_container_service(&host, "nodisk", &script);
    assert!(
        out.contains("control=readable") || out.contains("control=no-mknod"),
        "the control node /dev/zero could not be read, so the check proves nothing: {out}"
    );
    assert!(
        !out.contains("disk=readable"),
        "a container read the host's root disk {major}:{minor} through mknod: {out}"
    );
}

#[test]
fn the_containers_subtree_gets_every_controller_the_host_delegates() {
    let mut host = v2_host();
    let id = boot(&mut host, "delegate", &[]);
    let delegated = words(&read_trimmed(
        &Path::new(CGROUP2_ROOT).join("cgroup.subtree_control"),
    ));
    assert!(!delegated.is_empty(), "systemd delegates no controller");
    let cgroup = container_cgroup(&host, &id);
    let enabled = words(&read_trimmed(&cgroup.join("cgroup.subtree_control")));
    let missing: Vec<&String> = delegated.iter().filter(|c| !enabled.contains(c)).collect();
    assert!(
        missing.is_empty(),
        "{} enables {enabled:?} for its subtree; missing {missing:?} of {delegated:?}",
        cgroup.display()
    );
}

#[test]
fn pause_freezes_the_whole_subtree_and_unpause_thaws_it() {
    let mut host = v2_host();
    let id = boot(&mut host, "icy", &[]);
    let cgroup = container_cgroup(&host, &id);
    host.ok(["pause", "icy"]);
    assert_eq!(host.inspect("icy", "{{.State.Status}}"), "paused");
    wait_for(
        "cgroup.events to say frozen",
        Duration::from_secs(10),
        || {
            read_trimmed(&cgroup.join("cgroup.events"))
                .lines()
                .any(|l| l == "frozen 1")
        },
    );
    let init_scope = cgroup.join("init.scope/cgroup.events");
    assert!(
        read_trimmed(&init_scope).lines().any(|l| l == "frozen 1"),
        "{} is not frozen",
        init_scope.display()
    );
    host.ok(["unpause", "icy"]);
    assert_eq!(host.inspect("icy", "{{.State.Status}}"), "running");
    assert!(read_trimmed(&cgroup.join("cgroup.events"))
        .lines()
        .any(|l| l == "frozen 0"));
    let (_, state) = inside(&host, "icy", &["systemctl", "is-system-running"]);
    assert_eq!(state, "running");
}

#[test]
fn stop_halts_systemd_and_empties_the_cgroup() {
    let mut host = v2_host();
    let id = boot(&mut host, "stopme", &[]);
    let pid: i32 = host.inspect("stopme", "{{.State.Pid}}").parse().unwrap();
    let cgroup = container_cgroup(&host, &id);
    host.ok(["stop", "-t", "60", "stopme"]);
    let state = host.state("stopme");
    assert_eq!(state["Status"], "exited", "{state}");
    assert_eq!(state["ExitCause"], "poweroff", "{state}");
    assert!(!pid_alive(pid), "PID 1 {pid} still runs after stop");
    if cgroup.exists() {
        let events = read_trimmed(&cgroup.join("cgroup.events"));
        assert!(
            events.lines().any(|l| l == "populated 0"),
            "{} still holds processes: {events}",
            cgroup.display()
        );
    }
}

/// The monitor's migration warmer (docs/performance/boot-and-density.md, round seven) on
/// the default platform: systemd's moves during boot are cgroup2 writes here, and the
/// warmer's own moves must be taken in the monitor's cgroup under the host's systemd.
#[test]
fn the_migration_warmer_moves_itself_beside_the_monitor_until_the_boot_ends() {
    let mut host = v2_host();
    check_the_monitors_warmer_until_the_init_ends(&mut host);
    boot(&mut host, "warmed", &[]);
    check_no_warmer_once_ready(&host, "warmed");
}

#[test]
fn rm_after_stop_leaves_nothing_behind_but_the_rootfs() {
    let mut host = v2_host();
    let rootfs = host.rootfs();
    let id = host.start_system("gone", &rootfs, &[]);
    assert_eq!(wait_booted_inside(&host, "gone"), "running");
    host.ok(["stop", "gone"]);
    host.ok(["rm", "gone"]);
    assert!(
        leftovers(&host, &id).is_empty(),
        "{:#?}",
        leftovers(&host, &id)
    );
    assert!(rootfs.join("sbin/init").exists());
}

/// `exec -t` under `script`, which gives the CLI a terminal as a user's shell would.
fn exec_with_terminal(host: &Host, name: &str, command: &str) -> std::process::Output {
    let line = format!(
        "{} --root {} exec -t {name} {command}",
        syscontainer_tests::bin("syscontainer").display(),
        host.store().display()
    );
    Command::new("timeout")
        .args(["60", "script", "-qec", &line, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("spawn script")
}

/// On the default platform the fallback moves the command from the user's cgroup, under
/// the host's systemd, into the container's leaf.
#[test]
fn exec_without_clone3_puts_the_command_in_the_same_cgroups() {
    let mut host = v2_host();
    boot(&mut host, "oldkernel", &[]);
    syscontainer_tests::check_exec_without_clone3(&host, "oldkernel");
}

#[test]
fn exec_with_and_without_a_tty_joins_the_exec_leaf() {
    let mut host = v2_host();
    let id = boot(&mut host, "ttyme", &[]);
    let cgroup = container_cgroup(&host, &id);
    assert_eq!(
        host.exec("ttyme", &["cat", "/proc/self/cgroup"]),
        "0::/.syscontainer/exec"
    );
    let out = exec_with_terminal(&host, "ttyme", "sh -c 'tty; cat /proc/self/cgroup'");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.trim_start().starts_with("/dev/pts/"), "{text}");
    assert!(text.contains("0::/.syscontainer/exec"), "{text}");
    // The leaf is a leaf, and its parent holds every controller of the container's.
    let controllers = words(&read_trimmed(&cgroup.join("cgroup.controllers")));
    let pinned = words(&read_trimmed(
        &cgroup.join(".syscontainer/cgroup.subtree_control"),
    ));
    assert_eq!(pinned, controllers);
    assert!(read_trimmed(&cgroup.join(".syscontainer/exec/cgroup.subtree_control")).is_empty());
}

#[test]
fn exec_works_while_systemd_inside_starts_and_stops_units() {
    let mut host = v2_host();
    let id = boot(&mut host, "churn", &[]);
    let pid = host.inspect("churn", "{{.State.Pid}}");
    // A unit in a slice of its own makes systemd realize (and re-enable controllers in)
    // the container's root cgroup each round.
    let mut churn = Command::new("nsenter")
        .args(["-t", &pid, "-m", "-u", "-i", "-n", "-p", "-C", "--"])
        .args([
            "sh",
            "-c",
            "i=0; while [ $i -lt 40 ]; do i=$((i+1)); \
             systemd-run --quiet --slice sctest-$i --unit sctest-churn-$i sleep 30; \
             systemctl stop sctest-churn-$i sctest-$i.slice; done",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn nsenter");
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut execs = 0;
    while churn.try_wait().expect("wait for churn").is_none() && Instant::now() < deadline {
        let out = host.run(["exec", "churn", "cat", "/proc/self/cgroup"]);
        assert!(
            out.status.success(),
            "exec {execs} failed while units churned: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "0::/.syscontainer/exec"
        );
        execs += 1;
    }
    let status = Reap(churn).0.wait().expect("wait for churn");
    assert!(status.success(), "the unit churn failed: {status}");
    assert!(execs >= 5, "only {execs} execs ran during the churn");
    // systemd re-realized its root each round and disabled what its units did not need:
    // the runtime's directory kept every controller there regardless.
    let cgroup = container_cgroup(&host, &id);
    let available = words(&read_trimmed(&cgroup.join("cgroup.controllers")));
    let enabled = words(&read_trimmed(&cgroup.join("cgroup.subtree_control")));
    let missing: Vec<&String> = available.iter().filter(|c| !enabled.contains(c)).collect();
    assert!(missing.is_empty(), "after the churn {missing:?} are gone");
}

#[test]
fn a_forced_stop_kills_exec_processes_too() {
    let mut host = v2_host();
    let id = boot(&mut host, "forced", &[]);
    let cgroup = container_cgroup(&host, &id);
    host.ok(["exec", "-d", "forced", "sleep", "1000"]);
    let leaf_procs = cgroup.join(".syscontainer/exec/cgroup.procs");
    wait_for(
        "the detached exec in its leaf",
        Duration::from_secs(10),
        || !read_trimmed(&leaf_procs).is_empty(),
    );
    let sleeper: i32 = read_trimmed(&leaf_procs)
        .lines()
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a PID in the exec leaf");
    let init: i32 = host.inspect("forced", "{{.State.Pid}}").parse().unwrap();
    // No grace period: straight to the kill of the whole cgroup.
    host.ok(["stop", "-t", "0", "forced"]);
    assert_eq!(host.inspect("forced", "{{.State.Status}}"), "exited");
    assert!(!pid_alive(init), "PID 1 {init} outlived a forced stop");
    assert!(
        !pid_alive(sleeper),
        "exec'd {sleeper} outlived a forced stop"
    );
    wait_for(
        "the container's cgroup to go",
        Duration::from_secs(15),
        || !cgroup.exists(),
    );
}

#[test]
fn a_reboot_inside_comes_back_and_a_poweroff_stays_down() {
    let mut host = v2_host();
    let rootfs = host.rootfs();
    let id = host.start_system("phoenix", &rootfs, &["--restart", "on-reboot"]);
    assert_eq!(wait_booted_inside(&host, "phoenix"), "running");
    let first: i32 = host.inspect("phoenix", "{{.State.Pid}}").parse().unwrap();
    host.run(["exec", "phoenix", "systemctl", "reboot"]);
    wait_for("a new PID 1", Duration::from_secs(120), || {
        let state = host.state("phoenix");
        state["RestartCount"] == 1 && state["Status"] == "running"
    });
    assert_eq!(wait_booted_inside(&host, "phoenix"), "running");
    assert!(!pid_alive(first), "the first PID 1 {first} still runs");
    // The new boot hands its controllers down again and exec finds its leaf.
    let cgroup = container_cgroup(&host, &id);
    assert_eq!(
        host.exec("phoenix", &["cat", "/proc/self/cgroup"]),
        "0::/.syscontainer/exec"
    );
    assert!(cgroup.join("init.scope").is_dir());
    host.run(["exec", "phoenix", "systemctl", "poweroff"]);
    host.wait_status("phoenix", "exited", Duration::from_secs(120));
    std::thread::sleep(Duration::from_secs(2));
    let state = host.state("phoenix");
    assert_eq!(state["Status"], "exited", "{state}");
    assert_eq!(state["ExitCause"], "poweroff", "{state}");
    assert_eq!(state["RestartCount"], 1, "{state}");
    assert!(
        !cgroup.join(".syscontainer").exists(),
        "the exec leaf outlived the container"
    );
}

#[test]
fn update_writes_every_resource_to_its_v2_file() {
    let mut host = v2_host();
    let id = boot(&mut host, "tune", &[]);
    let cgroup = container_cgroup(&host, &id);
    let file = |name: &str| read_trimmed(&cgroup.join(name));
    host.ok([
        "update",
        "--memory",
        "256m",
        "--memory-swap",
        "768m",
        "--memory-reservation",
        "128m",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "0",
        "--cpuset-mems",
        "0",
        "--pids-limit",
        "300",
        "tune",
    ]);
    assert_eq!(file("memory.max"), (256u64 << 20).to_string());
    assert_eq!(
        file("memory.swap.max"),
        (512u64 << 20).to_string(),
        "swap alone, not memory plus swap"
    );
    assert_eq!(file("memory.low"), (128u64 << 20).to_string());
    assert_eq!(file("cpu.max"), "50000 100000");
    assert_eq!(file("cpu.weight"), "20", "crun's mapping of 512 shares");
    assert_eq!(file("cpuset.cpus"), "0");
    assert_eq!(file("cpuset.mems"), "0");
    assert_eq!(file("pids.max"), "300");

    host.ok([
        "update",
        "--cpu-quota",
        "20000",
        "--cpu-period",
        "50000",
        "tune",
    ]);
    assert_eq!(file("cpu.max"), "20000 50000");
    host.ok([
        "update",
        "--memory-swap",
        "-1",
        "--pids-limit",
        "-1",
        "tune",
    ]);
    assert_eq!(file("memory.swap.max"), "max");
    assert_eq!(file("pids.max"), "max");
    // A lower limit with swap still counted as memory plus swap.
    host.ok([
        "update",
        "--memory",
        "128m",
        "--memory-swap",
        "192m",
        "tune",
    ]);
    assert_eq!(file("memory.max"), (128u64 << 20).to_string());
    assert_eq!(file("memory.swap.max"), (64u64 << 20).to_string());
    let (_, state) = inside(&host, "tune", &["systemctl", "is-system-running"]);
    assert_eq!(state, "running");
}

#[test]
fn run_options_reach_their_v2_files() {
    let mut host = v2_host();
    let rootfs = host.rootfs();
    let root = std::fs::metadata("/").expect("stat /").dev();
    let disk = format!("/dev/block/{}:{}", libc::major(root), libc::minor(root));
    let throttle = format!("{disk}:1mb");
    let id = host.start_system(
        "opts",
        &rootfs,
        &[
            "--cpu-shares",
            "2048",
            "--cpu-quota",
            "150000",
            "--cpu-period",
            "100000",
            "--memory",
            "512m",
            "--memory-swap",
            "1g",
            "--blkio-weight",
            "300",
            "--device-write-bps",
            &throttle,
            "--hugetlb-limit",
            "2MB:4MB",
        ],
    );
    assert_eq!(wait_booted_inside(&host, "opts"), "running");
    let cgroup = container_cgroup(&host, &id);
    let file = |name: &str| read_trimmed(&cgroup.join(name));
    assert_eq!(file("cpu.weight"), "79", "crun's mapping of 2048 shares");
    assert_eq!(file("cpu.max"), "150000 100000");
    assert_eq!(file("memory.max"), (512u64 << 20).to_string());
    assert_eq!(file("memory.swap.max"), (512u64 << 20).to_string());
    if cgroup.join("io.bfq.weight").exists() {
        assert!(
            file("io.bfq.weight").contains("300"),
            "{}",
            file("io.bfq.weight")
        );
    } else {
        assert_eq!(file("io.weight"), "default 2930");
    }
    let (major, minor) = (libc::major(root), libc::minor(root));
    assert!(
        file("io.max").contains(&format!("{major}:{minor} rbps=max wbps=1048576")),
        "{}",
        file("io.max")
    );
    assert_eq!(file("hugetlb.2MB.max"), (4u64 << 20).to_string());
}

#[test]
fn stats_and_top_read_the_v2_files() {
    let mut host = v2_host();
    boot(&mut host, "watched", &[]);
    host.ok(["update", "--memory", "1g", "watched"]);
    let stats = host.ok(["stats", "--no-stream", "watched"]);
    let line = stats
        .lines()
        .find(|l| l.starts_with("watched"))
        .unwrap_or_else(|| panic!("no line for the container: {stats}"));
    assert!(line.contains("/ 1024.0MiB"), "{line}");
    assert!(!line.contains(" 0.0MiB /"), "no memory usage read: {line}");
    let pids: u64 = line
        .split_whitespace()
        .last()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pids count: {line}"));
    assert!(pids > 1, "{line}");
    let top = host.ok(["top", "watched", "-eo", "pid,comm"]);
    assert!(top.lines().any(|l| l.ends_with("systemd")), "{top}");
    assert!(top.lines().any(|l| l.ends_with("systemd-journal")), "{top}");
}

//! The runtime core against a real systemd: boot, exec, stop, reboot, poweroff, pause,
//! update, monitor loss and removal. Each test has its own store, cgroup parent and rootfs
//! overlay; `Host`'s Drop removes them whatever happens.

use std::time::Duration;

use syscontainer_tests::warmer::{
    check_no_warmer_once_ready, check_the_monitors_warmer_until_the_init_ends, fd_targets,
    holds_only_its_own, wait_for_a_move, wait_for_its_turn, warmers_of,
};
use syscontainer_tests::{
    check_exec_without_clone3, has_stop_points, leftovers, pid_alive, wait_for, Host,
};

fn read_trimmed(path: &std::path::Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

#[test]
fn boots_systemd_and_exec_sees_the_container() {
    let mut host = Host::new();
    let id = host.boot(
        "web1",
        &[
            "-h",
            "web1.test",
            "-e",
            "GREETING=hello",
            "-m",
            "256M",
            "--cpus",
            "0.5",
            "--pids-limit",
            "300",
        ],
    );

    assert_eq!(host.exec("web1", &["cat", "/proc/1/comm"]), "systemd");
    assert_eq!(host.exec("web1", &["hostname"]), "web1.test");
    let environ = host.exec("web1", &["sh", "-c", "tr '\\0' '\\n' < /proc/1/environ"]);
    assert!(environ.lines().any(|l| l == "GREETING=hello"), "{environ}");
    assert!(
        environ.lines().any(|l| l == "container=syscontainer"),
        "{environ}"
    );
    assert!(
        environ
            .lines()
            .any(|l| l == format!("container_uuid={}", &id[..32])),
        "{environ}"
    );

    // exec options: env, workdir, user, exit code.
    assert_eq!(
        host.exec("web1", &["-e", "X=42", "sh", "-c", "echo $X"]),
        "42"
    );
    assert_eq!(
        host.exec("web1", &["-w", "/usr/share", "pwd"]),
        "/usr/share"
    );
    assert_eq!(host.exec("web1", &["-u", "nobody", "id", "-u"]), "65534");
    let out = host.run(["exec", "web1", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7));

    // Limits are visible from inside, through the container's own cgroup view.
    let memory = host.exec_out(
        "web1",
        &["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"],
    );
    let memory = if memory.is_empty() {
        host.exec("web1", &["cat", "/sys/fs/cgroup/memory.max"])
    } else {
        memory
    };
    assert_eq!(memory, (256u64 << 20).to_string());
    let quota = host.exec_out("web1", &["cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"]);
    let quota = if quota.is_empty() {
        host.exec("web1", &["cat", "/sys/fs/cgroup/cpu.max"])
    } else {
        quota
    };
    assert!(quota == "50000" || quota == "50000 100000", "{quota}");
    let pids = host.exec_out("web1", &["cat", "/sys/fs/cgroup/pids/pids.max"]);
    let pids = if pids.is_empty() {
        host.exec("web1", &["cat", "/sys/fs/cgroup/pids.max"])
    } else {
        pids
    };
    assert_eq!(pids, "300");

    // inspect and ps agree with the host's view of PID 1.
    let pid: i32 = host.inspect("web1", "{{.State.Pid}}").parse().unwrap();
    assert_eq!(
        read_trimmed(std::path::Path::new(&format!("/proc/{pid}/comm"))),
        "systemd"
    );
    assert_eq!(host.inspect("web1", "{{.State.Status}}"), "running");
    assert_eq!(host.inspect("web1", "{{.Id}}"), id);
    assert_eq!(host.inspect("web1", "{{.Name}}"), "web1");
    assert_eq!(
        host.inspect(&id[..8], "{{.Name}}"),
        "web1",
        "lookup by ID prefix"
    );
    let full: serde_json::Value = serde_json::from_str(&host.ok(["inspect", "web1"])).unwrap();
    assert_eq!(full[0]["Id"], id.as_str());
    assert_eq!(host.ok(["ps", "-q", "--no-trunc"]), id);
    let ps: serde_json::Value = serde_json::from_str(&host.ok(["ps", "--format", "json"])).unwrap();
    assert_eq!(ps[0]["Name"], "web1");
    assert_eq!(ps[0]["Pid"], pid);

    // top lists the container's processes; stats reads its cgroup.
    let top = host.ok(["top", "web1"]);
    assert!(top.contains("systemd-journald"), "{top}");
    let stats = host.ok(["stats", "--no-stream", "web1"]);
    assert!(
        stats.contains("web1") || stats.contains(&id[..12]),
        "{stats}"
    );

    // The console log holds systemd's boot messages.
    let logs = host.ok(["logs", "web1"]);
    assert!(logs.contains("Reached target"), "console log: {logs}");
}

/// The runtime mounts hugetlbfs and fusectl where systemd's own mount units would, so
/// systemd finds them in place and runs no `mount` for them (it did before: both units
/// showed in `systemd-analyze blame`); `--cap-drop SYS_ADMIN` leaves them to nobody, as
/// systemd's `ConditionCapability=CAP_SYS_ADMIN` would.
#[test]
fn systemd_finds_hugetlbfs_and_fusectl_mounted_and_mounts_neither_itself() {
    let expected: Vec<(&str, &str, &str)> = [
        ("/dev/hugepages", "hugetlbfs", "/sys/kernel/mm/hugepages"),
        (
            "/sys/fs/fuse/connections",
            "fusectl",
            "/sys/fs/fuse/connections",
        ),
    ]
    .into_iter()
    .filter(|(_, _, host_path)| std::path::Path::new(host_path).exists())
    .collect();
    if expected.is_empty() {
        eprintln!("skipped: the host has neither hugepages nor the FUSE control file system");
        return;
    }
    let mut host = Host::new();
    host.boot("api1", &[]);
    let blame = host.exec("api1", &["systemd-analyze", "blame"]);
    for (dest, fstype, _) in &expected {
        let found = host.exec("api1", &["findmnt", "-n", "-o", "FSTYPE", dest]);
        assert_eq!(found, *fstype, "{dest}");
        let unit = host.exec("api1", &["systemd-escape", "-p", "--suffix=mount", dest]);
        assert_eq!(
            host.exec("api1", &["systemctl", "is-active", &unit]),
            "active"
        );
        assert!(
            !blame.contains(&unit),
            "systemd mounted {unit} itself:\n{blame}"
        );
    }

    host.boot("api2", &["--cap-drop", "SYS_ADMIN"]);
    for (dest, _, _) in &expected {
        let found = host.exec_out("api2", &["findmnt", "-n", "-o", "FSTYPE", dest]);
        assert_eq!(found, "", "{dest} is mounted without CAP_SYS_ADMIN");
    }
}

#[test]
fn stop_halts_systemd_cleanly_and_start_boots_again() {
    let mut host = Host::new();
    host.boot("stopme", &[]);
    let first_pid = host.inspect("stopme", "{{.State.Pid}}");

    host.ok(["stop", "-t", "60", "stopme"]);
    // A poweroff (SIGRTMIN+4 → systemd's poweroff.target → reboot(RB_POWER_OFF)) ends PID 1
    // with SIGINT; a timeout would have ended it with SIGKILL.
    let state = host.state("stopme");
    assert_eq!(state["Status"], "exited");
    assert_eq!(state["ExitCause"], "poweroff", "{state}");
    assert_eq!(state["ExitSignal"], "SIGINT", "{state}");
    // The default stop signal as the guest saw it: systemd-shutdown says on the console
    // which of its verbs PID 1 chose.
    let console = host.ok(["logs", "stopme"]);
    assert!(console.contains("Powering off."), "{console}");
    assert!(!console.contains("Halting system."), "{console}");

    host.ok(["start", "stopme"]);
    assert_eq!(host.wait_booted("stopme"), "running");
    assert_ne!(host.inspect("stopme", "{{.State.Pid}}"), first_pid);

    let before = host.inspect("stopme", "{{.State.Pid}}");
    host.ok(["restart", "-t", "60", "stopme"]);
    assert_eq!(host.wait_booted("stopme"), "running");
    assert_ne!(host.inspect("stopme", "{{.State.Pid}}"), before);
    assert_eq!(host.state("stopme")["ExitCause"], serde_json::Value::Null);
}

#[test]
fn reboot_inside_ends_the_container_without_a_restart_policy() {
    let mut host = Host::new();
    host.boot("noreboot", &[]);
    host.run(["exec", "noreboot", "systemctl", "reboot"]);
    host.wait_status("noreboot", "exited", Duration::from_secs(60));
    let state = host.state("noreboot");
    assert_eq!(state["ExitCause"], "reboot", "{state}");
    assert_eq!(state["RestartCount"], 0);
}

#[test]
fn reboot_inside_restarts_with_on_reboot_but_poweroff_ends_it() {
    let mut host = Host::new();
    let id = host.boot("phoenix", &["--restart", "on-reboot"]);
    let first_pid: i32 = host.inspect("phoenix", "{{.State.Pid}}").parse().unwrap();
    host.run(["exec", "phoenix", "systemctl", "reboot"]);
    wait_for("a new PID 1", Duration::from_secs(60), || {
        let state = host.state("phoenix");
        state["RestartCount"] == 1 && state["Status"] == "running"
    });
    assert_eq!(host.wait_booted("phoenix"), "running");
    let second_pid: i32 = host.inspect("phoenix", "{{.State.Pid}}").parse().unwrap();
    assert_ne!(first_pid, second_pid);
    assert!(!pid_alive(first_pid));
    assert_eq!(
        host.inspect("phoenix", "{{.Id}}"),
        id,
        "same container after reboot"
    );

    host.run(["exec", "phoenix", "systemctl", "poweroff"]);
    host.wait_status("phoenix", "exited", Duration::from_secs(60));
    let state = host.state("phoenix");
    assert_eq!(state["ExitCause"], "poweroff", "{state}");
    assert_eq!(state["RestartCount"], 1);
}

#[test]
fn restart_always_does_not_undo_a_user_stop() {
    let mut host = Host::new();
    host.boot("stubborn", &["--restart", "always"]);
    host.ok(["stop", "stubborn"]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(host.inspect("stubborn", "{{.State.Status}}"), "exited");
}

#[test]
fn exec_without_clone3_puts_the_command_in_the_same_cgroups() {
    let mut host = Host::new();
    host.boot("oldkernel", &[]);
    check_exec_without_clone3(&host, "oldkernel");
}

#[test]
fn pause_freezes_and_unpause_thaws() {
    let mut host = Host::new();
    let id = host.boot("icy", &[]);
    host.ok(["pause", "icy"]);
    assert_eq!(host.inspect("icy", "{{.State.Status}}"), "paused");
    let state_file = host
        .cgroup_file(&id, "freezer.state")
        .or_else(|| host.cgroup_file(&id, "cgroup.freeze"))
        .expect("a freezer file");
    let frozen = read_trimmed(&state_file);
    assert!(frozen == "FROZEN" || frozen == "1", "{frozen}");
    let err = host.fails(["exec", "icy", "true"]);
    assert!(err.contains("paused"), "{err}");
    host.ok(["unpause", "icy"]);
    assert_eq!(host.inspect("icy", "{{.State.Status}}"), "running");
    assert_eq!(host.exec("icy", &["echo", "thawed"]), "thawed");
    let err = host.fails(["unpause", "icy"]);
    assert!(err.contains("not paused"), "{err}");
}

#[test]
fn update_changes_limits_of_a_running_container() {
    let mut host = Host::new();
    let id = host.boot("elastic", &["-m", "256M"]);
    host.ok([
        "update",
        "--memory",
        "512M",
        "--pids-limit",
        "123",
        "elastic",
    ]);
    let limit = host
        .cgroup_file(&id, "memory.limit_in_bytes")
        .or_else(|| host.cgroup_file(&id, "memory.max"))
        .expect("a memory limit file");
    assert_eq!(read_trimmed(&limit), (512u64 << 20).to_string());
    let pids = host.cgroup_file(&id, "pids.max").expect("pids.max");
    assert_eq!(read_trimmed(&pids), "123");
    let err = host.fails(["update", "--memory", "12XB", "elastic"]);
    assert!(err.contains("12XB"), "{err}");
}

#[test]
fn update_raises_and_lowers_memory_and_memory_swap_together() {
    let mut host = Host::new();
    let id = host.boot("swapper", &["-m", "256M", "--memory-swap", "512M"]);
    let files = || {
        let mem = host.cgroup_file(&id, "memory.limit_in_bytes");
        let memsw = host.cgroup_file(&id, "memory.memsw.limit_in_bytes");
        (mem, memsw)
    };
    let (Some(mem), Some(memsw)) = files() else {
        // cgroup v2 has no memory <= memory+swap rule, so no order to get wrong.
        eprintln!("no cgroup v1 memory+swap accounting here: skipped");
        return;
    };
    let mib = |n: u64| (n << 20).to_string();
    // A raise: memory above the old memory+swap.
    host.ok(["update", "--memory", "1G", "--memory-swap", "2G", "swapper"]);
    assert_eq!(read_trimmed(&mem), mib(1024));
    assert_eq!(read_trimmed(&memsw), mib(2048));
    // A lowering: memory+swap below the old memory.
    host.ok([
        "update",
        "--memory",
        "128M",
        "--memory-swap",
        "192M",
        "swapper",
    ]);
    assert_eq!(read_trimmed(&mem), mib(128));
    assert_eq!(read_trimmed(&memsw), mib(192));
    assert_eq!(host.exec("swapper", &["cat", "/proc/1/comm"]), "systemd");
}

#[test]
fn losing_the_monitor_leaves_a_container_that_rm_force_cleans_up() {
    let mut host = Host::new();
    let id = host.boot("orphan", &[]);
    let state = host.state("orphan");
    let monitor = state["MonitorPid"].as_i64().unwrap() as i32;
    let init = state["Pid"].as_i64().unwrap() as i32;
    assert!(monitor > 0 && pid_alive(monitor));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_for("the monitor to die", Duration::from_secs(10), || {
        !pid_alive(monitor)
    });

    // PID 1 lives on; the CLI still sees and reaches it.
    assert_eq!(host.inspect("orphan", "{{.State.Status}}"), "running");
    assert_eq!(host.exec("orphan", &["cat", "/proc/1/comm"]), "systemd");

    host.ok(["rm", "-f", "orphan"]);
    wait_for("PID 1 to be gone", Duration::from_secs(10), || {
        !pid_alive(init)
    });
    let left = leftovers(&host, &id);
    assert!(left.is_empty(), "left behind: {left:#?}");
    assert!(host.fails(["inspect", "orphan"]).contains("orphan"));
}

#[test]
fn rm_keeps_the_rootfs_and_refuses_a_running_container() {
    let mut host = Host::new();
    let rootfs = host.rootfs();
    let id = host.start_system("keeper", &rootfs, &[]);
    host.wait_booted("keeper");
    host.exec("keeper", &["sh", "-c", "echo kept > /root/marker"]);

    let err = host.fails(["rm", "keeper"]);
    assert!(err.contains("keeper") && err.contains("running"), "{err}");
    host.ok(["stop", "keeper"]);
    host.ok(["rm", "keeper"]);
    assert!(
        leftovers(&host, &id).is_empty(),
        "{:#?}",
        leftovers(&host, &id)
    );
    assert!(rootfs.join("sbin/init").exists());
    assert_eq!(read_trimmed(&rootfs.join("root/marker")), "kept");
}

#[test]
fn create_then_start_and_kill() {
    let mut host = Host::new();
    let rootfs = host.rootfs();
    let id = host.ok([
        "create",
        "--name",
        "split",
        "--cgroup-parent",
        &host.cgroup_parent,
        "--system-container",
        "--external-rootfs",
        rootfs.to_str().unwrap(),
        "none",
        "init",
    ]);
    assert_eq!(id.len(), 64);
    assert_eq!(host.inspect("split", "{{.State.Status}}"), "created");
    let oci = |host: &Host| -> serde_json::Value {
        serde_json::from_str(&host.ok(["state", &id])).unwrap()
    };
    let state = oci(&host);
    assert_eq!(
        (state["status"].as_str(), state["id"].as_str()),
        (Some("created"), Some(id.as_str()))
    );
    assert_eq!(state["bundle"], host.store().join(&id).to_str().unwrap());
    assert_eq!(state["root"], rootfs.to_str().unwrap());
    host.ok(["start", "split"]);
    host.wait_booted("split");
    let state = oci(&host);
    assert_eq!(state["status"], "running");
    assert_eq!(
        state["pid"].to_string(),
        host.inspect("split", "{{.State.Pid}}")
    );
    host.ok(["rename", "split", "joined"]);
    assert_eq!(host.inspect(&id, "{{.Name}}"), "joined");
    host.ok(["kill", "-s", "KILL", "joined"]);
    host.wait_status("joined", "exited", Duration::from_secs(10));
    let state = host.state("joined");
    assert_eq!(state["ExitSignal"], "SIGKILL", "{state}");
    assert_eq!(host.ok(["wait", "joined"]), "137");
    assert_eq!(oci(&host)["status"], "stopped");
}

#[test]
fn run_rm_removes_the_record_when_the_container_ends() {
    let mut host = Host::new();
    let id = host.boot("ephemeral", &["--rm"]);
    host.run(["exec", "ephemeral", "systemctl", "poweroff"]);
    wait_for("the record to go", Duration::from_secs(60), || {
        !host.store().join(&id).exists()
    });
    assert!(
        leftovers(&host, &id).is_empty(),
        "{:#?}",
        leftovers(&host, &id)
    );
}

#[test]
fn bad_invocations_fail_clearly_and_create_nothing() {
    let mut host = Host::new();
    let rootfs = host.rootfs();
    let rootfs = rootfs.to_str().unwrap();
    let err = host.fails(["run", "-d", "--system-container", "none", "init"]);
    assert!(err.contains("--external-rootfs"), "{err}");
    let err = host.refused("srv/web", &[]);
    assert!(err.contains("srv/web"), "{err}");
    let err = host.refused("/usr/share", &[]);
    assert!(err.contains("/sbin/init"), "{err}");
    let err = host.refused(rootfs, &["--memory", "lots"]);
    assert!(err.contains("lots"), "{err}");
    let err = host.refused(rootfs, &["--restart", "sometimes"]);
    assert!(err.contains("sometimes"), "{err}");
    let err = host.fails(["exec", "ghost", "true"]);
    assert!(err.contains("ghost"), "{err}");
    assert!(
        host.container_ids().is_empty(),
        "a failed run left a record"
    );

    host.start_system("dup", std::path::Path::new(rootfs), &[]);
    let other = host.rootfs();
    let err = host.refused(
        other.to_str().unwrap(),
        &["--name", "dup", "--cgroup-parent", &host.cgroup_parent],
    );
    assert!(err.contains("dup"), "{err}");
    assert_eq!(host.container_ids().len(), 1);
}

#[test]
fn attach_reaches_the_console_and_detach_keys_leave_it_running() {
    use std::io::{Read, Write};
    let mut host = Host::new();
    let id = host.boot("tty", &[]);
    let mut attach = host
        .command()
        .args(["attach", "tty"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = attach.stdin.take().unwrap();
    let mut stdout = attach.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0
                || tx
                    .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                    .is_err()
            {
                break;
            }
        }
    });
    // Press Enter until agetty answers with its prompt.
    let prompt = format!("{} login:", &id[..12]);
    let mut output = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !output.contains(&prompt) && std::time::Instant::now() < deadline {
        stdin.write_all(b"\n").unwrap();
        while let Ok(chunk) = rx.recv_timeout(Duration::from_millis(300)) {
            output.push_str(&chunk);
        }
    }
    assert!(
        output.contains(&prompt),
        "no getty prompt on the console: {output:?}"
    );
    // ctrl-p ctrl-q: the default detach keys.
    stdin.write_all(b"\x10\x11").unwrap();
    let status = attach.wait().unwrap();
    assert!(status.success(), "attach ended with {status}");
    assert_eq!(host.inspect("tty", "{{.State.Status}}"), "running");
}

#[test]
fn logs_follow_shows_new_console_output() {
    use std::io::{BufRead, BufReader};
    let mut host = Host::new();
    host.boot("chatty", &[]);
    let mut follow = host
        .command()
        .args(["logs", "-f", "--tail", "0", "chatty"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follow.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    host.exec(
        "chatty",
        &["sh", "-c", "echo marker-from-console > /dev/console"],
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut seen = false;
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("marker-from-console") => {
                seen = true;
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(seen, "logs -f did not show the new console line");
    assert!(host
        .ok(["logs", "--tail", "1", "chatty"])
        .contains("marker-from-console"));
}

#[test]
fn killing_the_cli_at_any_point_leaves_a_state_rm_force_cleans_up() {
    let mut host = Host::new();
    for delay_ms in [0u64, 2, 5, 10, 20, 40, 80, 160] {
        let rootfs = host.rootfs();
        let name = format!("interrupted{delay_ms}");
        let mut cli = host
            .command()
            .args([
                "run",
                "-tid",
                "--name",
                &name,
                "--cgroup-parent",
                &host.cgroup_parent,
                "--system-container",
                "--external-rootfs",
            ])
            .arg(&rootfs)
            .args(["none", "init"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = cli.kill();
        let _ = cli.wait();
        // Whatever state the kill left, listing works and force-removal ends it all.
        let ps: serde_json::Value =
            serde_json::from_str(&host.ok(["ps", "-a", "--format", "json"])).unwrap();
        assert!(ps.as_array().unwrap().len() <= 1);
        for id in host.container_ids() {
            let pid = host
                .inspect(&id, "{{.State.Pid}}")
                .parse::<i32>()
                .unwrap_or(0);
            host.ok(["rm", "-f", &id]);
            let left = leftovers(&host, &id);
            assert!(left.is_empty(), "after a kill at {delay_ms} ms: {left:#?}");
            if pid > 0 {
                wait_for("PID 1 to go", Duration::from_secs(10), || !pid_alive(pid));
            }
        }
        // No process of that rootfs survives (a late monitor could still start one).
        std::thread::sleep(Duration::from_millis(200));
        let rootfs_text = rootfs.display().to_string();
        let survivors: Vec<String> = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            })
            .filter(|e| {
                std::fs::read_link(e.path().join("root"))
                    .is_ok_and(|r| r.display().to_string() == rootfs_text)
            })
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            survivors.is_empty(),
            "processes left in {rootfs_text}: {survivors:?}"
        );
        assert!(host.container_ids().is_empty());
    }
}

#[test]
fn restore_brings_back_always_and_unless_stopped_containers_after_a_host_crash() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let mut host = Host::new();
    host.boot("always", &["--restart", "always"]);
    host.boot("unless", &["--restart", "unless-stopped"]);
    host.boot("stopped", &["--restart", "unless-stopped"]);
    host.boot("plain", &[]);
    host.ok(["stop", "stopped"]);
    // A host crash: monitors and PID 1s vanish without any clean-up.
    for name in ["always", "unless", "plain"] {
        let state = host.state(name);
        for key in ["MonitorPid", "Pid"] {
            let pid = state[key].as_i64().unwrap() as i32;
            kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
            wait_for("the kill", Duration::from_secs(10), || !pid_alive(pid));
        }
    }
    for name in ["always", "unless", "plain", "stopped"] {
        assert_eq!(host.inspect(name, "{{.State.Status}}"), "exited", "{name}");
    }
    let started = host.ok(["restore"]);
    assert_eq!(started.lines().count(), 2, "{started}");
    for name in ["always", "unless"] {
        assert_eq!(host.wait_booted(name), "running", "{name}");
    }
    for name in ["plain", "stopped"] {
        assert_eq!(host.inspect(name, "{{.State.Status}}"), "exited", "{name}");
    }
}

#[test]
fn restore_brings_back_always_and_unless_stopped_containers_after_a_host_shutdown() {
    let mut host = Host::new();
    let always = host.boot("always", &["--restart", "always"]);
    let unless = host.boot("unless", &["--restart", "unless-stopped"]);
    host.boot("stopped", &["--restart", "unless-stopped"]);
    host.boot("stopped-always", &["--restart", "always"]);
    let plain = host.boot("plain", &[]);
    host.ok(["stop", "stopped"]);
    host.ok(["stop", "stopped-always"]);
    // What the unit's ExecStop does at host shutdown.
    let halted = host.ok(["restore", "--shutdown", "-t", "30"]);
    let mut halted: Vec<&str> = halted.lines().collect();
    halted.sort();
    let mut want = vec![always.as_str(), unless.as_str(), plain.as_str()];
    want.sort();
    assert_eq!(halted, want);
    // Halted for good: no restart policy brings them back before the host goes down.
    std::thread::sleep(Duration::from_secs(1));
    for name in ["always", "unless", "plain", "stopped", "stopped-always"] {
        assert_eq!(host.inspect(name, "{{.State.Status}}"), "exited", "{name}");
    }
    // The next host boot.
    let started = host.ok(["restore"]);
    let mut started: Vec<&str> = started.lines().collect();
    started.sort();
    let mut want = vec![always.as_str(), unless.as_str()];
    want.sort();
    assert_eq!(started, want);
    for name in ["always", "unless"] {
        assert_eq!(host.wait_booted(name), "running", "{name}");
    }
    for name in ["plain", "stopped", "stopped-always"] {
        assert_eq!(host.inspect(name, "{{.State.Status}}"), "exited", "{name}");
    }
    // A user's stop after a restore is a user's stop again.
    host.ok(["stop", "unless"]);
    host.ok(["restore", "--shutdown"]);
    assert_eq!(host.ok(["restore"]), always);
    assert_eq!(host.wait_booted("always"), "running");
    assert_eq!(host.inspect("unless", "{{.State.Status}}"), "exited");
}

#[test]
fn run_options_reach_the_container() {
    let mut host = Host::new();
    let vol = tempfile::tempdir().unwrap();
    std::fs::write(vol.path().join("shared"), "from-host").unwrap();
    let ro = tempfile::tempdir().unwrap();
    let cidfile = vol.path().join("cid");
    let id = host.boot(
        "opts",
        &[
            "-v",
            &format!("{}:/mnt/vol", vol.path().display()),
            "--mount",
            &format!(
                "type=bind,source={},target=/mnt/ro,readonly",
                ro.path().display()
            ),
            "--tmpfs",
            "/mnt/scratch:size=8m",
            "--cap-drop",
            "NET_RAW",
            "--cap-add",
            "SYS_TIME",
            "--cpuset-cpus",
            "0",
            "--memory",
            "128m",
            "--memory-swap",
            "256m",
            "-l",
            "tier=web",
            "--annotation",
            "org.example/owner=ops",
            "--stop-timeout",
            "20",
            "--cidfile",
            cidfile.to_str().unwrap(),
        ],
    );
    assert_eq!(read_trimmed(&cidfile), id);
    assert_eq!(host.exec("opts", &["cat", "/mnt/vol/shared"]), "from-host");
    host.exec("opts", &["sh", "-c", "echo from-container > /mnt/vol/back"]);
    assert_eq!(read_trimmed(&vol.path().join("back")), "from-container");
    assert!(
        !host
            .run(["exec", "opts", "touch", "/mnt/ro/x"])
            .status
            .success(),
        "read-only mount is writable"
    );
    let df = host.exec("opts", &["df", "-k", "/mnt/scratch"]);
    assert!(
        df.lines()
            .nth(1)
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("8192")),
        "{df}"
    );

    // Capabilities of PID 1: NET_RAW (13) dropped, SYS_TIME (25) added, SYS_MODULE (16) never.
    let status = host.exec("opts", &["cat", "/proc/1/status"]);
    let bnd = status.lines().find(|l| l.starts_with("CapBnd:")).unwrap();
    let bits = u64::from_str_radix(bnd.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_eq!(bits & (1 << 13), 0, "NET_RAW kept");
    assert_eq!(bits & (1 << 16), 0, "SYS_MODULE given");
    let host_has_sys_time = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("CapBnd:"))
        .map(|l| {
            u64::from_str_radix(l.split_whitespace().nth(1).unwrap(), 16).unwrap() & (1 << 25) != 0
        })
        .unwrap();
    assert_eq!(
        bits & (1 << 25) != 0,
        host_has_sys_time,
        "SYS_TIME not added"
    );

    let cpus = host.exec_out("opts", &["cat", "/sys/fs/cgroup/cpuset/cpuset.cpus"]);
    let cpus = if cpus.is_empty() {
        host.exec("opts", &["cat", "/sys/fs/cgroup/cpuset.cpus"])
    } else {
        cpus
    };
    assert_eq!(cpus, "0");
    // memory + swap on v1 (memsw); swap alone on v2.
    match host.cgroup_file(&id, "memory.memsw.limit_in_bytes") {
        Some(memsw) => assert_eq!(read_trimmed(&memsw), (256u64 << 20).to_string()),
        None => {
            let swap = host
                .cgroup_file(&id, "memory.swap.max")
                .expect("a swap limit file");
            assert_eq!(read_trimmed(&swap), (128u64 << 20).to_string());
        }
    }
    let full: serde_json::Value = serde_json::from_str(&host.ok(["inspect", "opts"])).unwrap();
    assert_eq!(full[0]["Config"]["Labels"]["tier"], "web", "{full}");

    // The network is a private namespace with only lo.
    let links = host.exec("opts", &["ip", "-o", "link"]);
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.contains("lo"));

    // --net host shares the host's interfaces.
    host.boot("hostnet", &["--net", "host"]);
    let inside = host.exec("hostnet", &["ip", "-o", "link"]).lines().count();
    let outside = String::from_utf8_lossy(
        &std::process::Command::new("ip")
            .args(["-o", "link"])
            .output()
            .unwrap()
            .stdout,
    )
    .lines()
    .count();
    assert_eq!(inside, outside);

    // exec -d returns at once and leaves the command running; exec -i passes stdin.
    host.exec(
        "opts",
        &["-d", "sh", "-c", "sleep 1; echo done > /tmp/detached"],
    );
    wait_for("the detached exec", Duration::from_secs(10), || {
        host.exec_out("opts", &["cat", "/tmp/detached"]) == "done"
    });
    let out = host
        .command()
        .args(["exec", "-i", "opts", "tr", "a-z", "A-Z"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"shout\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "SHOUT");
}

#[test]
fn exec_tty_uses_the_containers_devpts_and_ignores_planted_links() {
    let mut host = Host::new();
    host.boot("term", &[]);
    // `script` gives the CLI a terminal, as a user's shell would.
    let with_terminal = |cmd: &str| {
        let line = format!(
            "{} --root {} exec -t term {cmd}",
            syscontainer_tests::bin("syscontainer").display(),
            host.store().display()
        );
        std::process::Command::new("timeout")
            .args(["10", "script", "-qec", &line, "/dev/null"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let out = with_terminal("tty");
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .starts_with("/dev/pts/"),
        "{out:?}"
    );

    // The container replaces its devpts with a link to a host FIFO: opening it would
    // block on the host. exec -t must refuse instead.
    let fifo = std::path::PathBuf::from(format!("/tmp/sctest-fifo-{}", std::process::id()));
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    struct Remove(std::path::PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _fifo = Remove(fifo.clone());
    host.exec(
        "term",
        &[
            "sh",
            "-c",
            &format!(
                "umount -l /dev/pts && mkdir -p /dev/pts && ln -s {} /dev/pts/ptmx",
                fifo.display()
            ),
        ],
    );
    let out = with_terminal("tty");
    assert!(
        !out.status.success(),
        "exec -t went through a planted link: {out:?}"
    );
    assert_ne!(
        out.status.code(),
        Some(124),
        "exec -t blocked on the host FIFO"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ptmx"),
        "{out:?}"
    );
}

#[test]
fn concurrent_runs_into_one_store_all_land_and_names_stay_unique() {
    let mut host = Host::new();
    let rootfs: Vec<std::path::PathBuf> = (0..6).map(|_| host.rootfs()).collect();
    let spawn = |name: &str, rootfs: &std::path::Path| {
        host.command()
            .args([
                "run",
                "-tid",
                "--name",
                name,
                "--cgroup-parent",
                &host.cgroup_parent,
                "--system-container",
                "--external-rootfs",
            ])
            .arg(rootfs)
            .args(["none", "init"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children: Vec<_> = (0..3)
        .map(|i| spawn(&format!("parallel{i}"), &rootfs[i]))
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(host.ok(["ps", "-q"]).lines().count(), 3);

    // The same name three times at once: exactly one wins, the others say why.
    let children: Vec<_> = (3..6).map(|i| spawn("contested", &rootfs[i])).collect();
    let outs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    assert_eq!(outs.iter().filter(|o| o.status.success()).count(), 1);
    for o in outs.iter().filter(|o| !o.status.success()) {
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("contested"),
            "{o:?}"
        );
    }
    assert_eq!(host.container_ids().len(), 4);
}

/// The value of a cgroup file of the container: the v1 name if the host has it, else the v2.
fn cgroup_value(host: &Host, id: &str, v1: &str, v2: &str) -> String {
    let path = host
        .cgroup_file(id, v1)
        .or_else(|| host.cgroup_file(id, v2))
        .unwrap_or_else(|| panic!("neither {v1} nor {v2} in the container's cgroups"));
    read_trimmed(&path)
}

/// Whether this (test) process has a capability in its bounding set.
fn host_has_cap(bit: u32) -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("CapBnd:"))
        .map(|l| u64::from_str_radix(l.split_whitespace().nth(1).unwrap(), 16).unwrap())
        .unwrap()
        & (1 << bit)
        != 0
}

#[test]
fn annotations_stop_signal_and_stop_timeout_are_recorded_and_used() {
    let mut host = Host::new();
    host.boot(
        "sig",
        &[
            "--annotation",
            "org.example/owner=ops",
            "--annotation",
            "second=two=parts",
            // systemd only dumps its state on SIGUSR2: stop must wait the timeout, then kill.
            "--stop-signal",
            "SIGUSR2",
            "--stop-timeout",
            "3",
        ],
    );
    let config: serde_json::Value =
        serde_json::from_str(&host.inspect("sig", "{{json .Config}}")).unwrap();
    assert_eq!(
        config["Annotations"]["org.example/owner"], "ops",
        "{config}"
    );
    assert_eq!(config["Annotations"]["second"], "two=parts", "{config}");
    assert_eq!(config["StopTimeout"], 3, "{config}");
    assert_eq!(config["StopSignal"], "SIGUSR2", "{config}");
    let state: serde_json::Value = serde_json::from_str(&host.ok(["state", "sig"])).unwrap();
    assert_eq!(state["status"], "running", "{state}");
    assert_eq!(
        state["annotations"]["org.example/owner"], "ops",
        "OCI state: {state}"
    );
    assert_eq!(state["annotations"]["second"], "two=parts", "{state}");
    assert_eq!(
        state["annotations"]["org.opencontainers.image.stopSignal"], "SIGUSR2",
        "{state}"
    );

    let started = std::time::Instant::now();
    host.ok(["stop", "sig"]);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(9),
        "stop took {took:?}, the stop timeout is 3 s (default 10 s)"
    );
    let state = host.state("sig");
    assert_eq!(state["Status"], "exited", "{state}");
    assert_eq!(state["ExitCause"], "signaled", "{state}");
}

#[test]
fn env_file_cpu_memory_tmpfs_options_update_cpus_ps_info_version_and_poweroff_signal() {
    let mut host = Host::new();
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("env");
    std::fs::write(&env_file, "# comment\nFROM_FILE=1\nSPACED=two words\n").unwrap();
    let id = host.boot(
        "many",
        &[
            "--env-file",
            env_file.to_str().unwrap(),
            "-m",
            "256m",
            "--memory-reservation",
            "64m",
            "--cpu-shares",
            "512",
            "--cpu-quota",
            "50000",
            "--cpu-period",
            "200000",
            "--cpuset-mems",
            "0",
            "--mount",
            "type=tmpfs,target=/mnt/t,tmpfs-size=4m",
            // SIGRTMIN+3 is halt for systemd (the default is poweroff, SIGRTMIN+4).
            "--stop-signal",
            "SIGRTMIN+3",
        ],
    );
    let environ = host.exec("many", &["sh", "-c", "tr '\\0' '\\n' < /proc/1/environ"]);
    assert!(environ.lines().any(|l| l == "FROM_FILE=1"), "{environ}");
    assert!(
        environ.lines().any(|l| l == "SPACED=two words"),
        "{environ}"
    );

    assert_eq!(
        cgroup_value(&host, &id, "memory.soft_limit_in_bytes", "memory.low"),
        (64u64 << 20).to_string()
    );
    match host.cgroup_file(&id, "cpu.shares") {
        Some(shares) => {
            assert_eq!(read_trimmed(&shares), "512");
            assert_eq!(
                cgroup_value(&host, &id, "cpu.cfs_quota_us", "cpu.max"),
                "50000"
            );
            assert_eq!(
                cgroup_value(&host, &id, "cpu.cfs_period_us", "cpu.max"),
                "200000"
            );
        }
        None => {
            assert_eq!(
                cgroup_value(&host, &id, "cpu.max", "cpu.max"),
                "50000 200000"
            );
        }
    }
    assert_eq!(cgroup_value(&host, &id, "cpuset.mems", "cpuset.mems"), "0");
    let df = host.exec("many", &["df", "-k", "--output=fstype,size", "/mnt/t"]);
    assert_eq!(
        df.lines()
            .last()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["tmpfs", "4096"]),
        "{df}"
    );

    host.ok(["update", "--cpus", "1.5", "many"]);
    match host.cgroup_file(&id, "cpu.cfs_quota_us") {
        Some(quota) => {
            assert_eq!(read_trimmed(&quota), "150000");
            assert_eq!(
                cgroup_value(&host, &id, "cpu.cfs_period_us", "cpu.max"),
                "100000"
            );
        }
        None => assert_eq!(
            cgroup_value(&host, &id, "cpu.max", "cpu.max"),
            "150000 100000"
        ),
    }

    // ps: the table has its header and a row for the running container.
    let ps = host.ok(["ps"]);
    let mut lines = ps.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["CONTAINER", "ID", "COMMAND", "CREATED", "STATUS", "NAMES"],
        "{ps}"
    );
    let row = lines.next().unwrap_or_else(|| panic!("no row: {ps}"));
    assert!(
        row.starts_with(&id[..12]) && row.ends_with(" many") && row.contains(" Up "),
        "{ps}"
    );
    assert_eq!(lines.next(), None, "{ps}");

    let version = env!("CARGO_PKG_VERSION");
    let info = host.ok(["info"]);
    for want in [
        "Containers: 1".to_string(),
        " Running: 1".to_string(),
        " Stopped: 0".to_string(),
        format!("Server Version: {version}"),
        format!("Root Dir: {}", host.store().display()),
    ] {
        assert!(info.lines().any(|l| l == want), "{want:?} not in {info}");
    }
    let release = read_trimmed(std::path::Path::new("/proc/sys/kernel/osrelease"));
    assert!(
        info.lines()
            .any(|l| l == format!("Kernel Version: {release}")),
        "{info}"
    );
    let v = host.ok(["version"]);
    assert!(
        v.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Version:", version]),
        "{v}"
    );

    // stop sends the stop signal: systemd halts, well before the timeout.
    let started = std::time::Instant::now();
    host.ok(["stop", "many"]);
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "stop waited for the kill"
    );
    let state = host.state("many");
    // reboot(2) in a PID namespace ends its init with SIGINT for a halt as for a poweroff.
    assert_eq!(state["ExitCause"], "poweroff", "{state}");
    let console = host.ok(["logs", "many"]);
    assert!(console.contains("Halting system."), "{console}");
}

#[test]
fn privileged_read_only_container_has_all_capabilities_and_an_ro_root() {
    let mut host = Host::new();
    host.boot("priv", &["--privileged", "--read-only"]);
    let status = host.exec("priv", &["cat", "/proc/1/status"]);
    let eff = status.lines().find(|l| l.starts_with("CapEff:")).unwrap();
    let bits = u64::from_str_radix(eff.split_whitespace().nth(1).unwrap(), 16).unwrap();
    // SYS_MODULE (16), SYS_RAWIO (17), SYS_TIME (25), MAC_ADMIN (33): denied to system
    // containers unless --privileged; the runtime can give only what it holds itself.
    for (name, bit) in [
        ("SYS_MODULE", 16),
        ("SYS_RAWIO", 17),
        ("SYS_TIME", 25),
        ("MAC_ADMIN", 33),
    ] {
        assert_eq!(
            bits & (1 << bit) != 0,
            host_has_cap(bit),
            "CAP_{name} in CapEff {eff}"
        );
    }
    assert!(
        host_has_cap(16),
        "the test host holds no CAP_SYS_MODULE to give"
    );
    let root = host
        .exec("priv", &["cat", "/proc/self/mountinfo"])
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some("/"))
        .unwrap()
        .to_string();
    assert!(
        root.split_whitespace().nth(5).unwrap().starts_with("ro"),
        "{root}"
    );
    let out = host.run(["exec", "priv", "touch", "/written"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Read-only file system"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // /run and /tmp stay writable tmpfs.
    host.exec("priv", &["touch", "/run/ok", "/tmp/ok"]);
}

#[test]
fn app_containers_user_workdir_restart_on_failure_and_log_file() {
    let mut host = Host::new();
    let run = |host: &Host, rootfs: &std::path::Path, name: &str, extra: &[&str], cmd: &[&str]| {
        let mut args: Vec<String> = vec!["run".into(), "-d".into(), "--name".into(), name.into()];
        args.extend(["--cgroup-parent".into(), host.cgroup_parent.clone()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend([
            "--external-rootfs".into(),
            rootfs.display().to_string(),
            "none".into(),
        ]);
        args.extend(cmd.iter().map(|s| s.to_string()));
        host.ok(&args)
    };

    // -u and -w set PID 1's identity and directory.
    let rootfs = host.rootfs();
    run(
        &host,
        &rootfs,
        "who",
        &["-u", "65534:65534", "-w", "/var/tmp"],
        &["sleep", "300"],
    );
    let status = host.exec("who", &["cat", "/proc/1/status"]);
    assert!(
        status
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["Uid:", "65534", "65534", "65534", "65534"]),
        "{status}"
    );
    assert!(
        status
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["Gid:", "65534", "65534", "65534", "65534"]),
        "{status}"
    );
    assert_eq!(host.exec("who", &["readlink", "/proc/1/cwd"]), "/var/tmp");
    assert_eq!(host.exec("who", &["pwd"]), "/var/tmp");

    // on-failure:2 restarts a failing command twice, then leaves it exited.
    let rootfs = host.rootfs();
    run(
        &host,
        &rootfs,
        "failing",
        &["--restart", "on-failure:2"],
        &["sh", "-c", "exit 3"],
    );
    wait_for("two restarts", Duration::from_secs(60), || {
        let s = host.state("failing");
        s["Status"] == "exited" && s["RestartCount"] == 2
    });
    std::thread::sleep(Duration::from_secs(1));
    let state = host.state("failing");
    assert_eq!(state["RestartCount"], 2, "{state}");
    assert_eq!(state["Status"], "exited", "{state}");
    assert_eq!(state["ExitCode"], 3, "{state}");

    // --log-file: the CLI's log goes to the file, not to stderr.
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["no_such_syscall_here"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let log = dir.path().join("cli.log");
    let rootfs = host.rootfs();
    let out = std::process::Command::new(syscontainer_tests::bin("syscontainer"))
        .arg("--root")
        .arg(host.store())
        .args(["--log-level", "debug", "--log-file"])
        .arg(&log)
        .args([
            "create",
            "--name",
            "logged",
            "--cgroup-parent",
            &host.cgroup_parent,
        ])
        .arg("--security-opt")
        .arg(format!("seccomp={}", profile.display()))
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
    let logged = read_trimmed(&log);
    assert!(
        logged.contains("DEBUG") && logged.contains("no_such_syscall_here"),
        "{logged:?}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("no_such_syscall_here"),
        "the log went to stderr too"
    );
}

#[test]
fn exec_joins_the_exec_leaf_of_the_unified_cgroup_and_rm_removes_it() {
    let mut host = Host::new();
    let id = host.boot("leafy", &[]);
    let cgroups = host.exec("leafy", &["cat", "/proc/self/cgroup"]);
    let lines: Vec<&str> = cgroups.lines().collect();
    if std::path::Path::new("/sys/fs/cgroup/unified").is_dir() {
        assert!(lines.contains(&"0::/.syscontainer/exec"), "{cgroups}");
    }
    // The v1 hierarchies keep exec'd processes in the container's own cgroup.
    for line in lines.iter().filter(|l| !l.starts_with("0::")) {
        assert!(line.ends_with(":/"), "{line} in {cgroups}");
    }
    host.ok(["rm", "-f", "leafy"]);
    assert!(
        leftovers(&host, &id).is_empty(),
        "{:#?}",
        leftovers(&host, &id)
    );
}

#[test]
fn the_openeuler_guide_spellings_boot_a_system_container() {
    let mut host = Host::new();
    let rootfs = host.rootfs();
    let rootfs_text = rootfs.display().to_string();
    host.ok([
        "run",
        "-tid",
        "-n",
        "guide",
        "--cgroup-parent",
        &host.cgroup_parent,
        "--system-container=true",
        "--privileged=false",
        "--dns-opt",
        "ndots:3",
        "--external-rootfs",
        &rootfs_text,
        "none",
        "init",
    ]);
    let state = host.wait_booted("guide");
    assert!(
        state == "running" || state == "degraded",
        "booted to {state}"
    );
    let resolv = host.exec("guide", &["cat", "/etc/resolv.conf"]);
    assert!(
        resolv.lines().any(|l| l == "options ndots:3"),
        "--dns-opt ndots:3 missing: {resolv}"
    );
    // --privileged=false: the bounding set is the default one, without CAP_SYS_MODULE.
    let status = host.exec("guide", &["cat", "/proc/1/status"]);
    let bounding = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap();
    assert_eq!(bounding & (1 << 16), 0, "{status}");
}

/// `stop` returns once the exit is durably recorded, while the monitor may still be removing
/// the cgroups: a `start`, `restart` or `rm` right after it waits for that clean-up instead
/// of racing it, the record is already final when `stop` returns, and nothing is left.
#[test]
fn start_restart_and_rm_right_after_stop_wait_for_the_clean_up() {
    let mut host = Host::new();
    let rootfs = host.rootfs();
    let rootfs = rootfs.display().to_string();
    let run = |host: &Host, name: &str| {
        host.ok([
            "run",
            "-d",
            "--name",
            name,
            "--cgroup-parent",
            host.cgroup_parent.as_str(),
            "--external-rootfs",
            rootfs.as_str(),
            "none",
            "sleep",
            "100000",
        ])
    };
    let id = run(&host, "quick");
    for round in 0..3 {
        let pid = host.inspect("quick", "{{.State.Pid}}");
        host.ok(["stop", "-t", "0", "quick"]);
        let state = host.state("quick");
        assert_eq!(state["Status"], "exited", "round {round}: {state}");
        assert_eq!(state["ExitCause"], "signaled", "round {round}: {state}");
        assert!(!pid_alive(pid.parse().unwrap()), "round {round}: {pid}");
        host.ok(["start", "quick"]);
        assert_eq!(host.inspect("quick", "{{.State.Status}}"), "running");
        assert_eq!(host.cgroup_procs(&id).len(), 1, "round {round}");
        let before = host.inspect("quick", "{{.State.Pid}}");
        host.ok(["restart", "-t", "0", "quick"]);
        assert_eq!(host.inspect("quick", "{{.State.Status}}"), "running");
        assert_ne!(host.inspect("quick", "{{.State.Pid}}"), before);
    }
    host.ok(["stop", "-t", "0", "quick"]);
    host.ok(["rm", "quick"]);
    assert!(
        leftovers(&host, &id).is_empty(),
        "{:#?}",
        leftovers(&host, &id)
    );

    let forced = run(&host, "forced");
    host.ok(["rm", "-f", "forced"]);
    assert!(
        leftovers(&host, &forced).is_empty(),
        "{:#?}",
        leftovers(&host, &forced)
    );

    // A booted systemd: the halt, then the monitor's clean-up after `stop` returned.
    let booted = host.boot("booted", &[]);
    host.ok(["stop", "booted"]);
    assert_eq!(host.state("booted")["ExitCause"], "poweroff");
    wait_for("the monitor to finish", Duration::from_secs(30), || {
        host.inspect("booted", "{{.State.MonitorPid}}") == "0"
    });
    assert!(
        host.cgroup_procs(&booted).is_empty(),
        "{:?}",
        host.cgroup_procs(&booted)
    );
    host.ok(["rm", "booted"]);
    assert!(
        leftovers(&host, &booted).is_empty(),
        "{:#?}",
        leftovers(&host, &booted)
    );
}

/// An exclusive `flock` on `path`, held while the returned file is open; `None` if somebody
/// else holds it.
fn try_flock(path: &std::path::Path) -> Option<std::fs::File> {
    use std::os::fd::AsRawFd;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    // SAFETY: flock on a descriptor we own.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    (rc == 0).then_some(file)
}

/// A child process killed and reaped when dropped, unless taken out first.
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn start_spawns_no_monitor_while_another_holds_the_monitor_lock() {
    let mut host = Host::new();
    let rootfs = host.rootfs().display().to_string();
    let id = host.ok([
        "create",
        "--name",
        "lockstep",
        "--cgroup-parent",
        host.cgroup_parent.as_str(),
        "--external-rootfs",
        rootfs.as_str(),
        "none",
        "sleep",
        "100000",
    ]);
    let lock_path = host.store().join(&id).join("monitor.lock");
    std::fs::File::create(&lock_path).unwrap();

    // What a monitor that has not recorded itself yet looks like from outside: the record
    // names no monitor, but the lock is held. `start` must wait, not spawn a second one.
    let held = try_flock(&lock_path).expect("nobody holds the lock before any start");
    // Killed if an assertion below fails, before the lock is given back (locals drop in
    // reverse order), so that no `start` outlives the test.
    let mut start = KillOnDrop(Some(
        host.command()
            .args(["start", "lockstep"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        start.0.as_mut().unwrap().try_wait().unwrap().is_none(),
        "start went on while the monitor lock was held"
    );
    assert_eq!(host.inspect("lockstep", "{{.State.Status}}"), "created");
    assert!(host.cgroup_procs(&id).is_empty(), "a process was started");
    drop(held);
    let out = start.0.take().unwrap().wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "start: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(host.inspect("lockstep", "{{.State.Status}}"), "running");

    // The monitor holds the lock for its life; the container's init does not have it.
    assert!(
        try_flock(&lock_path).is_none(),
        "the running monitor does not hold the monitor lock"
    );
    let init = host.inspect("lockstep", "{{.State.Pid}}");
    let leaked: Vec<_> = std::fs::read_dir(format!("/proc/{init}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter(|target| target.ends_with("monitor.lock"))
        .collect();
    assert!(leaked.is_empty(), "the init holds {leaked:?}");

    host.ok(["stop", "-t", "0", "lockstep"]);
    wait_for(
        "the monitor to give the lock back",
        Duration::from_secs(30),
        || try_flock(&lock_path).is_some(),
    );
    host.ok(["start", "lockstep"]);
    assert_eq!(host.inspect("lockstep", "{{.State.Status}}"), "running");
    host.ok(["rm", "-f", "lockstep"]);
    assert!(
        leftovers(&host, &id).is_empty(),
        "{:#?}",
        leftovers(&host, &id)
    );
}

/// From the init's exec until it reports itself booted, a child of the monitor keeps the
/// kernel's cgroup migration lock fast (docs/performance/boot-and-density.md, round seven);
/// `warmer::check_the_monitors_warmer_until_the_init_ends` says what it must be. The VM
/// lane checks the same on pure cgroup v2 (cgroup2.rs).
#[test]
fn the_migration_warmer_holds_nothing_of_the_monitor_and_ends_with_the_boot() {
    let mut host = Host::new();
    check_the_monitors_warmer_until_the_init_ends(&mut host);
    host.boot("booted", &[]);
    check_no_warmer_once_ready(&host, "booted");
}

/// `stop` runs a warmer too, from its signal until the exit is recorded (systemd's shutdown
/// moves processes as well): the CLI's child, in the CLI's cgroup, holding no descriptor of
/// the CLI's (the container's lock) nor its cue once set going, and gone when `stop`
/// returns. The CLI is held right
/// after its signal by a debug build's stop point.
#[test]
fn stop_runs_a_migration_warmer_that_ends_when_stop_returns() {
    if !has_stop_points("syscontainer") {
        eprintln!("skipped: a release build has no stop points");
        return;
    }
    let mut host = Host::new();
    host.boot("halting", &[]);
    // Killed (stopped or not) if an assertion below fails, before the host is cleaned up.
    let mut stop = KillOnDrop(Some(
        host.command()
            .args(["stop", "-t", "60", "halting"])
            .env(sclog::STOP_POINT_ENV, "stop:after-signal")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    ));
    let cli = stop.0.as_ref().unwrap().id() as i32;
    let stopped = || {
        std::fs::read_to_string(format!("/proc/{cli}/stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('T')
        })
    };
    wait_for(
        "stop to reach its stop point",
        Duration::from_secs(30),
        stopped,
    );
    let warmers = warmers_of(cli);
    if let Some(&w) = warmers.first() {
        wait_for_its_turn(w);
        wait_for_a_move(w);
    }
    let cgroup = |pid: i32| read_trimmed(std::path::Path::new(&format!("/proc/{pid}/cgroup")));
    let held: Vec<String> = warmers.iter().flat_map(|&w| fd_targets(w)).collect();
    let same_cgroup = warmers.iter().all(|&w| cgroup(w) == cgroup(cli));
    // SAFETY: plain kill(2) of our own child.
    unsafe { libc::kill(cli, libc::SIGCONT) };
    let status = stop.0.take().unwrap().wait().unwrap();
    assert!(status.success(), "stop failed: {status}");
    assert_eq!(warmers.len(), 1, "stop {cli} has no warmer child");
    assert!(same_cgroup, "the warmer is not in the cgroup of stop");
    assert!(holds_only_its_own(&held), "the warmer holds {held:?}");
    assert!(
        !pid_alive(warmers[0]),
        "warmer {} outlived stop",
        warmers[0]
    );
    assert_eq!(host.state("halting")["Status"], "exited");
}

//! The runtime core against a real systemd: boot, exec, stop, reboot, poweroff, pause,
//! update, monitor loss and removal. Each test has its own store, cgroup parent and rootfs
//! overlay; `Host`'s Drop removes them whatever happens.

use std::time::Duration;

use syscontainer_tests::{leftovers, pid_alive, wait_for, Host};

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

#[test]
fn stop_halts_systemd_cleanly_and_start_boots_again() {
    let mut host = Host::new();
    host.boot("stopme", &[]);
    let first_pid = host.inspect("stopme", "{{.State.Pid}}");

    host.ok(["stop", "-t", "60", "stopme"]);
    // A halt (SIGRTMIN+3 → systemd → reboot(RB_HALT_SYSTEM)) ends PID 1 with SIGINT; a
    // timeout would have ended it with SIGKILL.
    let state = host.state("stopme");
    assert_eq!(state["Status"], "exited");
    assert_eq!(state["ExitCause"], "poweroff", "{state}");
    assert_eq!(state["ExitSignal"], "SIGINT", "{state}");

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
    host.ok(["start", "split"]);
    host.wait_booted("split");
    host.ok(["rename", "split", "joined"]);
    assert_eq!(host.inspect(&id, "{{.Name}}"), "joined");
    host.ok(["kill", "-s", "KILL", "joined"]);
    host.wait_status("joined", "exited", Duration::from_secs(10));
    let state = host.state("joined");
    assert_eq!(state["ExitSignal"], "SIGKILL", "{state}");
    assert_eq!(host.ok(["wait", "joined"]), "137");
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
    let err = host.fails([
        "run",
        "-d",
        "--system-container",
        "--external-rootfs",
        "srv/web",
        "none",
        "init",
    ]);
    assert!(err.contains("srv/web"), "{err}");
    let err = host.fails([
        "run",
        "-d",
        "--system-container",
        "--external-rootfs",
        "/usr/share",
        "none",
        "init",
    ]);
    assert!(err.contains("/sbin/init"), "{err}");
    let err = host.fails([
        "run",
        "-d",
        "--memory",
        "lots",
        "--system-container",
        "--external-rootfs",
        rootfs,
        "none",
        "init",
    ]);
    assert!(err.contains("lots"), "{err}");
    let err = host.fails([
        "run",
        "-d",
        "--restart",
        "sometimes",
        "--system-container",
        "--external-rootfs",
        rootfs,
        "none",
        "init",
    ]);
    assert!(err.contains("sometimes"), "{err}");
    let err = host.fails(["exec", "ghost", "true"]);
    assert!(err.contains("ghost"), "{err}");
    assert!(
        host.container_ids().is_empty(),
        "a failed run left a record"
    );

    host.start_system("dup", std::path::Path::new(rootfs), &[]);
    let other = host.rootfs();
    let err = host.fails([
        "run",
        "-d",
        "--name",
        "dup",
        "--cgroup-parent",
        &host.cgroup_parent,
        "--system-container",
        "--external-rootfs",
        other.to_str().unwrap(),
        "none",
        "init",
    ]);
    assert!(err.contains("dup"), "{err}");
    assert_eq!(host.container_ids().len(), 1);
}

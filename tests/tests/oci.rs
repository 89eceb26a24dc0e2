//! `syscontainer-oci` driven exactly as containerd's runc shim drives runc, with the cgroupfs
//! driver (the harness: `syscontainer_tests::oci`). Bundles are built in temp dirs from the
//! host's static busybox; the system-container test uses the cached bookworm rootfs.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use serde_json::{json, Value};
use syscontainer_tests::oci::{
    containerd_like_config, last_log_line, parent_of, reap, write_config, Oci,
};
use syscontainer_tests::{bin, has_stop_points};

#[test]
fn created_running_stopped_with_the_pid_file_and_the_exit_code() {
    let mut oci = Oci::new();
    let bundle = oci.busybox_bundle(
        "life",
        &["sh", "-c", "echo out-$(hostname); exit 3"],
        |_| {},
    );
    let out = oci.root.path().join("life.out");
    let stdout = std::fs::File::create(&out).unwrap();
    let pid = oci.create(
        "life",
        &bundle,
        (Stdio::null(), Stdio::from(stdout), Stdio::null()),
    );
    assert_eq!(
        parent_of(pid),
        std::process::id() as i32,
        "the init is a child of the caller (its subreaper)"
    );
    let state = oci.state("life");
    assert_eq!(state["status"], "created");
    assert_eq!(state["pid"], pid);
    assert_eq!(state["id"], "life");
    assert_eq!(
        state["bundle"].as_str().unwrap(),
        bundle.canonicalize().unwrap().display().to_string()
    );
    assert!(state["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "",
        "nothing runs before start"
    );

    oci.ok(&["start", "life"]);
    let status = reap(pid, Duration::from_secs(30)).expect("the init exits");
    assert_eq!(status, WaitStatus::Exited(Pid::from_raw(pid), 3));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "out-oci-test\n");
    assert_eq!(oci.status("life"), "stopped");
    assert!(oci
        .fails(&["start", "life"])
        .contains("container not running"));
    oci.ok(&["delete", "life"]);
    assert_eq!(oci.leftovers("life"), Vec::<String>::new());
}

#[test]
fn stdin_and_stderr_are_the_callers() {
    let mut oci = Oci::new();
    let bundle = oci.busybox_bundle("stdio", &["sh", "-c", "cat; echo err >&2"], |_| {});
    let input = oci.root.path().join("in");
    std::fs::write(&input, "from-stdin\n").unwrap();
    let out = oci.root.path().join("out");
    let err = oci.root.path().join("err");
    let pid = oci.create(
        "stdio",
        &bundle,
        (
            Stdio::from(std::fs::File::open(&input).unwrap()),
            Stdio::from(std::fs::File::create(&out).unwrap()),
            Stdio::from(std::fs::File::create(&err).unwrap()),
        ),
    );
    oci.ok(&["start", "stdio"]);
    assert_eq!(
        reap(pid, Duration::from_secs(30)),
        Some(WaitStatus::Exited(Pid::from_raw(pid), 0))
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "from-stdin\n");
    assert_eq!(std::fs::read_to_string(&err).unwrap(), "err\n");
    oci.ok(&["delete", "stdio"]);
}

fn receive_fd(listener: &UnixListener) -> OwnedFd {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let (conn, _) = listener.accept().unwrap();
    let mut buf = [0u8; 256];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([i32; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .unwrap();
    let fds: Vec<i32> = msg
        .cmsgs()
        .unwrap()
        .filter_map(|c| match c {
            ControlMessageOwned::ScmRights(fds) => Some(fds),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(fds.len(), 1, "one descriptor in one SCM_RIGHTS message");
    // SAFETY: the descriptor just received is ours.
    unsafe { OwnedFd::from_raw_fd(fds[0]) }
}

/// Read a pty master until `want` shows up (or EIO once the slave side is gone).
fn read_until(master: OwnedFd, want: &str) -> String {
    let mut file = std::fs::File::from(master);
    let mut seen = String::new();
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + Duration::from_secs(30);
    while !seen.contains(want) && Instant::now() < deadline {
        match file.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    seen
}

#[test]
fn a_terminal_is_a_pty_master_sent_over_the_console_socket() {
    let mut oci = Oci::new();
    let bundle = oci.busybox_bundle(
        "tty",
        &[
            "sh",
            "-c",
            "test -t 0 && test -t 1 && echo is-a-tty; sleep 1",
        ],
        |c| c["process"]["terminal"] = json!(true),
    );
    let socket = oci.root.path().join("console.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let receiver = std::thread::spawn(move || receive_fd(&listener));
    let pid_file = oci.root.path().join("tty.pid");
    oci.ids.push("tty".into());
    let out = oci
        .command(&[
            "create",
            "--bundle",
            &bundle.display().to_string(),
            "--pid-file",
            &pid_file.display().to_string(),
            "--console-socket",
            &socket.display().to_string(),
            "tty",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let master = receiver.join().unwrap();
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    oci.inits.push(pid);
    oci.ok(&["start", "tty"]);
    let seen = read_until(master, "is-a-tty");
    assert!(seen.contains("is-a-tty"), "the pty showed {seen:?}");
    assert_eq!(
        reap(pid, Duration::from_secs(30)),
        Some(WaitStatus::Exited(Pid::from_raw(pid), 0))
    );
    oci.ok(&["delete", "tty"]);
}

/// A started container whose PID 1 sleeps; its init's PID.
fn sleeper(oci: &mut Oci, id: &str) -> i32 {
    let bundle = oci.busybox_bundle(id, &["sleep", "1000"], |_| {});
    let pid = oci.create_quiet(id, &bundle);
    oci.ok(&["start", id]);
    assert_eq!(oci.status(id), "running");
    pid
}

#[test]
fn exec_detached_and_inline_ps_and_kill_all() {
    let mut oci = Oci::new();
    let init = sleeper(&mut oci, "ex");
    let process = oci.root.path().join("process.json");
    std::fs::write(
        &process,
        serde_json::to_vec(&json!({
            "terminal": false, "user": {"uid": 0, "gid": 0}, "cwd": "/tmp",
            "args": ["sh", "-c", "echo exec-out > marker; exec sleep 1000"],
            "env": ["PATH=/bin"]
        }))
        .unwrap(),
    )
    .unwrap();
    let exec_pid_file = oci.root.path().join("exec.pid");
    // The detached process keeps the stdio it was given (as the shim's fifos): not pipes
    // this test would wait on.
    let status = oci
        .command(&[
            "exec",
            "--process",
            &process.display().to_string(),
            "--detach",
            "--pid-file",
            &exec_pid_file.display().to_string(),
            "ex",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "exec --detach: {status}");
    let exec_pid: i32 = std::fs::read_to_string(&exec_pid_file)
        .unwrap()
        .parse()
        .unwrap();
    oci.inits.insert(0, exec_pid);
    assert_eq!(
        parent_of(exec_pid),
        std::process::id() as i32,
        "a detached exec is reparented to the subreaper"
    );
    let pids: Vec<i32> = serde_json::from_str(&oci.ok(&["ps", "--format", "json", "ex"])).unwrap();
    assert!(pids.contains(&init) && pids.contains(&exec_pid), "{pids:?}");

    syscontainer_tests::wait_for("the exec'd marker", Duration::from_secs(10), || {
        oci.run(&["exec", "ex", "cat", "/tmp/marker"])
            .status
            .success()
    });
    assert_eq!(oci.ok(&["exec", "ex", "cat", "/tmp/marker"]), "exec-out");
    let code = oci.run(&["exec", "ex", "sh", "-c", "exit 7"]).status.code();
    assert_eq!(code, Some(7), "exec passes the exit code on");
    assert_eq!(oci.ok(&["exec", "ex", "hostname"]), "oci-test");

    oci.ok(&["kill", "--all", "ex", "9"]);
    // The namespace's init finishes dying only once every other process of the
    // namespace is reaped, and the detached one is ours (as the shim's) to reap.
    assert!(reap(exec_pid, Duration::from_secs(30)).is_some());
    assert!(reap(init, Duration::from_secs(30)).is_some());
    assert_eq!(oci.status("ex"), "stopped");
    assert!(oci
        .fails(&["kill", "ex", "15"])
        .contains("container not running"));
    oci.ok(&["kill", "--all", "ex", "9"]);
    oci.ok(&["delete", "ex"]);
    assert_eq!(oci.leftovers("ex"), Vec::<String>::new());
}

/// An exec that fails before its command runs (here: no such command) is an error naming
/// the command, writes no pid file and leaves no process behind, detached or not: the
/// runtime's middle process learns of the failure and reaps the process before it would
/// report a PID.
#[test]
fn a_failed_exec_is_an_error_and_leaves_no_process() {
    let mut oci = Oci::new();
    let init = sleeper(&mut oci, "fx");
    let pid_file = oci.root.path().join("failed-exec.pid");
    let pid_file_arg = pid_file.display().to_string();
    for detach in [true, false] {
        let mut args = vec!["exec"];
        if detach {
            args.push("--detach");
        }
        args.extend(["--pid-file", &pid_file_arg, "fx", "no-such-command"]);
        oci.fails(&args);
        // With --log, errors are JSON lines there (as runc's, for containerd to show).
        let log = std::fs::read_to_string(oci.log()).unwrap();
        let last = log.lines().last().unwrap_or_default();
        assert!(
            last.contains("no-such-command") && last.contains("not found"),
            "detach {detach}: {last}"
        );
        assert!(
            !pid_file.exists(),
            "detach {detach}: a pid file was written"
        );
    }
    let pids: Vec<i32> = serde_json::from_str(&oci.ok(&["ps", "--format", "json", "fx"])).unwrap();
    assert_eq!(pids, vec![init], "only the init is left");
    oci.ok(&["kill", "fx", "KILL"]);
    assert!(reap(init, Duration::from_secs(30)).is_some());
    oci.ok(&["delete", "fx"]);
}

/// `syscontainer-oci exec` never shows the container a process of ours that is still in the
/// host's mount namespace, whose `/proc/PID/root` would lead out (CVE-2016-9962): the process
/// stops itself at its very first step after the fork (a debug build's stop point), and then
/// every process in the container's PID namespace must be in its mount namespace too.
#[test]
fn an_oci_exec_process_is_born_inside_the_containers_mount_namespace() {
    if !has_stop_points("syscontainer-oci") {
        eprintln!("skipped: a release build has no stop points");
        return;
    }
    let mut oci = Oci::new();
    let init = sleeper(&mut oci, "born");
    let ns = |pid: i32, name: &str| std::fs::read_link(format!("/proc/{pid}/ns/{name}")).ok();
    let (pid_ns, mnt_ns) = (ns(init, "pid").unwrap(), ns(init, "mnt").unwrap());
    let mut exec = oci
        .command(&["exec", "born", "true"])
        .env(sclog::STOP_POINT_ENV, "oci-exec:process-forked")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let in_container = || -> Vec<i32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .filter(|&pid| ns(pid, "pid").as_ref() == Some(&pid_ns))
            .collect()
    };
    let stopped = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| Some(s.rsplit_once(')')?.1.split_whitespace().next()? == "T"))
            .unwrap_or(false)
    };
    let mut held = None;
    syscontainer_tests::wait_for(
        "the exec'd process at its stop point",
        Duration::from_secs(10),
        || {
            held = in_container().into_iter().find(|&pid| stopped(pid));
            held.is_some()
        },
    );
    for pid in in_container() {
        assert_eq!(
            ns(pid, "mnt").as_ref(),
            Some(&mnt_ns),
            "process {pid} is in the container's PID namespace but not its mount namespace"
        );
    }
    nix::sys::signal::kill(
        Pid::from_raw(held.unwrap()),
        nix::sys::signal::Signal::SIGCONT,
    )
    .unwrap();
    assert!(exec.wait().unwrap().success());
    oci.ok(&["kill", "born", "KILL"]);
    assert!(reap(init, Duration::from_secs(30)).is_some());
    oci.ok(&["delete", "born"]);
}

#[test]
fn kill_signals_the_init() {
    let mut oci = Oci::new();
    let init = sleeper(&mut oci, "k");
    oci.ok(&["kill", "k", "KILL"]);
    assert_eq!(
        reap(init, Duration::from_secs(30)),
        Some(WaitStatus::Signaled(
            Pid::from_raw(init),
            nix::sys::signal::Signal::SIGKILL,
            false
        ))
    );
    oci.ok(&["delete", "k"]);
}

#[test]
fn pause_resume_and_update() {
    let mut oci = Oci::new();
    let init = sleeper(&mut oci, "pu");
    oci.ok(&["pause", "pu"]);
    assert_eq!(oci.status("pu"), "paused");
    let freezer = oci.cgroup_dir("pu", "freezer").join("freezer.state");
    assert_eq!(std::fs::read_to_string(&freezer).unwrap().trim(), "FROZEN");
    assert!(oci.fails(&["pause", "pu"]).contains("paused"));
    oci.ok(&["resume", "pu"]);
    assert_eq!(oci.status("pu"), "running");
    assert_eq!(std::fs::read_to_string(&freezer).unwrap().trim(), "THAWED");

    let mut update = oci.command(&["update", "--resources", "-", "pu"]);
    update
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = update.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(br#"{"memory": {"limit": 67108864}, "pids": {"limit": 50}}"#)
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let memory = oci.cgroup_dir("pu", "memory").join("memory.limit_in_bytes");
    assert_eq!(std::fs::read_to_string(memory).unwrap().trim(), "67108864");
    let pids = oci.cgroup_dir("pu", "pids").join("pids.max");
    assert_eq!(std::fs::read_to_string(pids).unwrap().trim(), "50");

    assert!(oci.fails(&["delete", "pu"]).contains("not stopped"));
    oci.ok(&["delete", "--force", "pu"]);
    assert!(reap(init, Duration::from_secs(30)).is_some());
    assert_eq!(oci.leftovers("pu"), Vec::<String>::new());
}

#[test]
fn a_created_container_that_never_started_deletes() {
    let mut oci = Oci::new();
    let bundle = oci.busybox_bundle("never", &["sh", "-c", "echo never-ran"], |_| {});
    let pid = oci.create_quiet("never", &bundle);
    oci.ok(&["delete", "never"]);
    assert!(matches!(
        reap(pid, Duration::from_secs(30)),
        Some(WaitStatus::Signaled(..))
    ));
    assert_eq!(oci.leftovers("never"), Vec::<String>::new());
}

#[test]
fn errors_are_json_lines_in_the_log_and_unknown_ids_do_not_exist() {
    let mut oci = Oci::new();
    let err = oci.fails(&["state", "nope"]);
    assert!(err.contains("does not exist"), "{err}");
    let line = last_log_line(&oci);
    assert_eq!(line["level"], "error");
    assert!(
        line["msg"].as_str().unwrap().contains("does not exist"),
        "{line}"
    );
    assert!(line["time"].as_str().unwrap().ends_with('Z'), "{line}");
    assert!(oci.fails(&["kill", "nope", "9"]).contains("does not exist"));
    assert!(oci.fails(&["delete", "nope"]).contains("does not exist"));
    oci.ok(&["delete", "--force", "nope"]);

    // create's stdio is the container's: the error goes to the log only.
    let bundle = oci.bundles.path().join("broken");
    write_config(&bundle, &containerd_like_config(&["true"], "x"));
    oci.ids.push("broken".into());
    let out = oci.run(&[
        "create",
        "--bundle",
        &bundle.display().to_string(),
        "broken",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    let line = last_log_line(&oci);
    assert!(line["msg"].as_str().unwrap().contains("rootfs"), "{line}");
    assert_eq!(oci.leftovers("broken"), Vec::<String>::new());

    let bundle = oci.busybox_bundle("twice", &["true"], |_| {});
    oci.create_quiet("twice", &bundle);
    let again = oci.run(&["create", "--bundle", &bundle.display().to_string(), "twice"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(last_log_line(&oci)["msg"]
        .as_str()
        .unwrap()
        .contains("already exists"));
    oci.ok(&["delete", "twice"]);
}

#[test]
fn a_system_container_boots_systemd_and_powers_off_on_sigterm() {
    let mut oci = Oci::new();
    let bundle = oci.system_bundle("sys", &format!("{}/sys", oci.cgroup_parent));
    let pid = oci.create_quiet("sys", &bundle);
    oci.ok(&["start", "sys"]);
    oci.wait_system_running("sys", Duration::from_secs(120));
    assert_eq!(
        oci.ok(&["exec", "sys", "sh", "-c", "echo $container"]),
        "syscontainer"
    );

    oci.ok(&["kill", "sys", "15"]);
    let status = reap(pid, Duration::from_secs(90)).expect("systemd powers off on SIGTERM");
    assert!(
        matches!(
            status,
            WaitStatus::Signaled(_, nix::sys::signal::Signal::SIGINT, _)
        ),
        "a poweroff (SIGRTMIN+4) ends the PID namespace's init with SIGINT, got {status:?}"
    );
    oci.ok(&["delete", "sys"]);
    assert_eq!(oci.leftovers("sys"), Vec::<String>::new());
}

#[test]
fn hooks_of_every_stage_run_with_the_state_on_stdin() {
    let mut oci = Oci::new();
    let out = oci.root.path().join("hooks");
    std::fs::create_dir(&out).unwrap();
    let host_hook = |stage: &str| {
        json!({"path": "/bin/sh",
               "args": ["sh", "-c", format!("cat > {}/{stage}.json", out.display())]})
    };
    // startContainer runs inside the container: its path and output are the container's.
    let inside_hook = json!({"path": "/bin/sh", "args": ["sh", "-c", "cat > /tmp/start.json"]});
    let bundle = oci.busybox_bundle("hk", &["sleep", "1000"], |c| {
        c["hooks"] = json!({
            "createRuntime": [host_hook("createRuntime")],
            "prestart": [host_hook("prestart")],
            "createContainer": [host_hook("createContainer")],
            "startContainer": [inside_hook],
            "poststart": [host_hook("poststart")],
            "poststop": [host_hook("poststop")]
        });
        c["annotations"] = json!({"test.key": "value"});
    });
    let pid = oci.create_quiet("hk", &bundle);
    for stage in ["createRuntime", "prestart", "createContainer"] {
        let state: Value =
            serde_json::from_slice(&std::fs::read(out.join(format!("{stage}.json"))).unwrap())
                .unwrap_or_else(|e| panic!("{stage}: {e}"));
        assert_eq!(state["id"], "hk", "{stage}");
        assert_eq!(state["annotations"]["test.key"], "value", "{stage}");
    }
    assert!(!out.join("poststart.json").exists());
    oci.ok(&["start", "hk"]);
    let poststart: Value =
        serde_json::from_slice(&std::fs::read(out.join("poststart.json")).unwrap()).unwrap();
    assert_eq!(poststart["status"], "running");
    assert_eq!(poststart["pid"], pid);
    let start = bundle.join("rootfs/tmp/start.json");
    assert!(start.exists(), "startContainer ran inside the container");
    oci.ok(&["kill", "hk", "KILL"]);
    assert!(reap(pid, Duration::from_secs(30)).is_some());
    oci.ok(&["delete", "hk"]);
    let poststop: Value =
        serde_json::from_slice(&std::fs::read(out.join("poststop.json")).unwrap()).unwrap();
    assert_eq!(poststop["status"], "stopped");
}

#[test]
fn namespaces_given_by_path_are_joined() {
    let mut oci = Oci::new();
    let sandbox = sleeper(&mut oci, "sandbox");
    let bundle = oci.busybox_bundle("member", &["hostname"], |c| {
        c["hostname"] = Value::Null;
        c["linux"]["namespaces"] = json!([
            {"type": "pid"}, {"type": "mount"},
            {"type": "ipc", "path": format!("/proc/{sandbox}/ns/ipc")},
            {"type": "uts", "path": format!("/proc/{sandbox}/ns/uts")},
            {"type": "network", "path": format!("/proc/{sandbox}/ns/net")}
        ]);
    });
    let out = oci.root.path().join("member.out");
    let pid = oci.create(
        "member",
        &bundle,
        (
            Stdio::null(),
            Stdio::from(std::fs::File::create(&out).unwrap()),
            Stdio::null(),
        ),
    );
    for ns in ["ipc", "uts", "net"] {
        assert_eq!(
            std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap(),
            std::fs::read_link(format!("/proc/{sandbox}/ns/{ns}")).unwrap(),
            "{ns}"
        );
    }
    assert_ne!(
        std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap(),
        std::fs::read_link(format!("/proc/{sandbox}/ns/mnt")).unwrap()
    );
    oci.ok(&["start", "member"]);
    assert_eq!(
        reap(pid, Duration::from_secs(30)),
        Some(WaitStatus::Exited(Pid::from_raw(pid), 0))
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "oci-test\n");
    oci.ok(&["delete", "member"]);
    oci.ok(&["delete", "--force", "sandbox"]);
    assert!(reap(sandbox, Duration::from_secs(30)).is_some());
    assert_eq!(oci.leftovers("member"), Vec::<String>::new());
    assert_eq!(oci.leftovers("sandbox"), Vec::<String>::new());
}

/// A container that joins another's PID namespace (a pod sharing one) shows its init there
/// from `create` on: until `start` that process runs `syscontainer-oci` itself, and it must
/// run it from the protected view, not the host's binary a container root could reopen
/// through `/proc/PID/exe` and rewrite (CVE-2019-5736).
#[test]
fn an_init_joining_a_pid_namespace_waits_for_start_in_a_protected_binary() {
    use std::os::unix::fs::MetadataExt;
    let mut oci = Oci::new();
    let sandbox = sleeper(&mut oci, "pidsandbox");
    let bundle = oci.busybox_bundle("pidmember", &["true"], |c| {
        c["linux"]["namespaces"] = json!([
            {"type": "pid", "path": format!("/proc/{sandbox}/ns/pid")}, {"type": "mount"}
        ]);
    });
    let pid = oci.create_quiet("pidmember", &bundle);
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap(),
        std::fs::read_link(format!("/proc/{sandbox}/ns/pid")).unwrap()
    );
    let waiting = std::fs::metadata(format!("/proc/{pid}/exe")).unwrap();
    let host = std::fs::metadata(bin("syscontainer-oci")).unwrap();
    assert_ne!(
        (waiting.dev(), waiting.ino()),
        (host.dev(), host.ino()),
        "the created init runs the host's syscontainer-oci"
    );
    oci.ok(&["start", "pidmember"]);
    assert_eq!(
        reap(pid, Duration::from_secs(30)),
        Some(WaitStatus::Exited(Pid::from_raw(pid), 0))
    );
    oci.ok(&["delete", "pidmember"]);
    oci.ok(&["delete", "--force", "pidsandbox"]);
    assert!(reap(sandbox, Duration::from_secs(30)).is_some());
    assert_eq!(oci.leftovers("pidmember"), Vec::<String>::new());
}

#[test]
fn exec_with_a_terminal_sends_a_pty_of_the_containers_devpts() {
    let mut oci = Oci::new();
    let init = sleeper(&mut oci, "et");
    let process = oci.root.path().join("tty-process.json");
    std::fs::write(
        &process,
        serde_json::to_vec(&json!({
            "terminal": true, "user": {"uid": 0, "gid": 0}, "cwd": "/",
            "args": ["sh", "-c", "test -t 0 && echo exec-tty-$(hostname); sleep 1"],
            "env": ["PATH=/bin"]
        }))
        .unwrap(),
    )
    .unwrap();
    let socket = oci.root.path().join("exec-console.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let receiver = std::thread::spawn(move || receive_fd(&listener));
    let pid_file = oci.root.path().join("exec-tty.pid");
    let status = oci
        .command(&[
            "exec",
            "--process",
            &process.display().to_string(),
            "--detach",
            "--pid-file",
            &pid_file.display().to_string(),
            "--console-socket",
            &socket.display().to_string(),
            "et",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "exec --detach --console-socket: {status}");
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    oci.inits.insert(0, pid);
    let master = receiver.join().unwrap();
    // Held until the process is reaped: closing the master hangs its session up.
    let _keep = master.try_clone().unwrap();
    let seen = read_until(master, "exec-tty-oci-test");
    assert!(
        seen.contains("exec-tty-oci-test"),
        "the pty showed {seen:?}"
    );
    assert_eq!(
        reap(pid, Duration::from_secs(30)),
        Some(WaitStatus::Exited(Pid::from_raw(pid), 0))
    );
    oci.ok(&["delete", "--force", "et"]);
    assert!(reap(init, Duration::from_secs(30)).is_some());
}

#[test]
fn a_user_namespace_maps_the_containers_root() {
    use std::os::unix::fs::PermissionsExt;
    let mut oci = Oci::new();
    // The remapped root must reach the rootfs: the bundles dir is readable by all.
    std::fs::set_permissions(oci.bundles.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bundle = oci.busybox_bundle(
        "userns",
        &["sh", "-c", "cat /proc/self/uid_map; id -u"],
        |c| {
            let namespaces = c["linux"]["namespaces"].as_array_mut().unwrap();
            namespaces.push(json!({"type": "user"}));
            c["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
            c["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        },
    );
    let out = oci.root.path().join("userns.out");
    let pid = oci.create(
        "userns",
        &bundle,
        (
            Stdio::null(),
            Stdio::from(std::fs::File::create(&out).unwrap()),
            Stdio::null(),
        ),
    );
    oci.ok(&["start", "userns"]);
    assert_eq!(
        reap(pid, Duration::from_secs(30)),
        Some(WaitStatus::Exited(Pid::from_raw(pid), 0))
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let words: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(words, ["0", "200000", "65536", "0"], "{text}");
    oci.ok(&["delete", "userns"]);
    assert_eq!(oci.leftovers("userns"), Vec::<String>::new());
}

#[test]
fn sysctls_oom_score_rlimits_capabilities_and_seccomp_of_the_spec_apply() {
    let mut oci = Oci::new();
    let script = "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax \
                  /proc/self/oom_score_adj; ulimit -n; \
                  grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; \
                  mkdir /tmp/d 2>/dev/null && echo mkdir-ok || echo mkdir-refused";
    let bundle = oci.busybox_bundle("knobs", &["sh", "-c", script], |c| {
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.msgmax": "12345"});
        c["process"]["oomScoreAdj"] = json!(321);
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 600, "soft": 512}]);
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]
        });
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                          "errnoRet": 1}]
        });
    });
    let out = oci.root.path().join("knobs.out");
    let pid = oci.create(
        "knobs",
        &bundle,
        (
            Stdio::null(),
            Stdio::from(std::fs::File::create(&out).unwrap()),
            Stdio::null(),
        ),
    );
    oci.ok(&["start", "knobs"]);
    assert_eq!(
        reap(pid, Duration::from_secs(30)),
        Some(WaitStatus::Exited(Pid::from_raw(pid), 0))
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    // CAP_KILL is bit 5.
    let expected = [
        "1",
        "12345",
        "321",
        "512",
        "CapEff:\t0000000000000020",
        "NoNewPrivs:\t1",
        "mkdir-refused",
    ];
    assert_eq!(lines, expected, "{text}");
    oci.ok(&["delete", "knobs"]);
}

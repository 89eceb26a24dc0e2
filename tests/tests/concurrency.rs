//! Concurrency (docs/reliability.md): 32 `syscontainer-tools` operations at once on one
//! container, 32 lifecycle operations at once across containers, and 32 at once on one
//! name. Every command ends within a bound (no deadlock), each one that cannot proceed
//! says why in one line, and afterwards every record is complete and agrees with the
//! kernel; removal leaves nothing behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use syscontainer_tests::{bin, leftovers, pid_alive, Host, LoopDevice};

/// Longest any one command may take, even queued behind 31 others on two busy cores.
const COMMAND_BOUND: Duration = Duration::from_secs(300);
const N: usize = 32;

struct Ran {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Run to the end, or panic naming the command if it outlives [`COMMAND_BOUND`].
fn bounded(mut cmd: Command) -> Ran {
    let what = format!("{cmd:?}");
    let out = tempfile::NamedTempFile::new().unwrap();
    let err = tempfile::NamedTempFile::new().unwrap();
    cmd.stdin(Stdio::null())
        .stdout(out.reopen().unwrap())
        .stderr(err.reopen().unwrap());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + COMMAND_BOUND;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("deadlock? {what} did not finish in {COMMAND_BOUND:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ran {
        ok: status.success(),
        stdout: std::fs::read_to_string(out.path()).unwrap_or_default(),
        stderr: std::fs::read_to_string(err.path()).unwrap_or_default(),
    }
}

fn sc(host: &Host, args: &[String]) -> Ran {
    let mut cmd = host.command();
    cmd.args(args);
    bounded(cmd)
}

fn tools(host: &Host, args: &[String]) -> Ran {
    let mut cmd = Command::new(bin("syscontainer-tools"));
    cmd.arg("--root").arg(host.store()).args(args);
    bounded(cmd)
}

/// Run `jobs` all at once, one thread each; their results in order.
fn all_at_once(host: &Host, jobs: Vec<(bool, Vec<String>)>) -> Vec<(Vec<String>, Ran)> {
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|(is_tools, args)| {
                s.spawn(move || {
                    let ran = if is_tools {
                        tools(host, &args)
                    } else {
                        sc(host, &args)
                    };
                    (args, ran)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// A refusal must be one line that says what went wrong.
fn assert_clear_error(args: &[String], ran: &Ran, wanted: &[&str]) {
    let err = ran.stderr.trim();
    assert!(
        err.lines().count() == 1 && wanted.iter().any(|w| err.contains(w)),
        "{args:?} failed without a clear error (wanted one of {wanted:?}): {err}"
    );
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|a| a.to_string()).collect()
}

fn create_args(host: &Host, name: &str, rootfs: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = s(&[
        "create",
        "--name",
        name,
        "--cgroup-parent",
        &host.cgroup_parent,
    ]);
    args.extend(s(extra));
    args.extend(s(&["--external-rootfs", &rootfs.display().to_string()]));
    args.extend(s(&["none", "sleep", "100000"]));
    args
}

/// Live monitors of the container (`syscontainer … monitor ID`), by PID. A monitor's
/// migration warmer is a fork of it, with its command line but named `sysc-warmer`: not a
/// monitor.
fn monitors(id: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            args.windows(2)
                .any(|w| w[0] == b"monitor" && w[1] == id.as_bytes())
                && pid_alive(*pid)
                && std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|c| c.trim() != syscontainer_tests::warmer::COMM)
        })
        .collect()
}

fn monitors_of(id: &str) -> usize {
    monitors(id).len()
}

/// `inspect` agrees with the kernel: running means a live PID 1 in the cgroup and one
/// monitor; anything else means an empty cgroup and no monitor. Returns the status.
fn assert_agrees(host: &Host, name: &str) -> String {
    let shown = host.inspect(name, "{{.Id}} {{.State.Status}} {{.State.Pid}}");
    let parts: Vec<&str> = shown.split_whitespace().collect();
    let (id, status, pid) = (parts[0], parts[1], parts[2].parse::<i32>().unwrap_or(0));
    let procs = host.cgroup_procs(id);
    match status {
        "running" | "paused" => {
            assert!(
                pid > 0 && pid_alive(pid) && procs.contains(&pid),
                "{name} shows {status} with PID {pid}; its cgroup holds {procs:?}"
            );
            let found = monitors(id);
            let described: Vec<String> = found
                .iter()
                .map(|p| {
                    let stat =
                        std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
                    let cgroup =
                        std::fs::read_to_string(format!("/proc/{p}/cgroup")).unwrap_or_default();
                    format!("{stat} {}", cgroup.lines().next().unwrap_or(""))
                })
                .collect();
            assert_eq!(
                found.len(),
                1,
                "{name} has not exactly one monitor: {described:#?}"
            );
        }
        _ => {
            let deadline = Instant::now() + Duration::from_secs(20);
            while !(host.cgroup_procs(id).is_empty() && monitors_of(id) == 0) {
                assert!(
                    Instant::now() < deadline,
                    "{name} shows {status}, but cgroup {:?} and {} monitors",
                    host.cgroup_procs(id),
                    monitors_of(id)
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    status.to_string()
}

fn assert_gone(host: &Host, id: &str) {
    let left = leftovers(host, id);
    assert!(left.is_empty(), "{} left {left:#?}", &id[..12]);
    assert_eq!(monitors_of(id), 0, "a monitor of {} lives on", &id[..12]);
}

#[test]
fn thirty_two_tools_operations_on_one_container_at_once() {
    let mut host = Host::new();
    let rootfs = host.rootfs();
    let hook = syscontainer_tests::Hook::install();
    let name = "conc-tools";
    assert!(
        sc(
            &host,
            &create_args(&host, name, &rootfs, &["--hook-spec", &hook.spec()])
        )
        .ok
    );
    let disk = LoopDevice::new(1 << 20);
    let dir = tempfile::Builder::new()
        .prefix("sct-conc-")
        .tempdir()
        .unwrap();
    let tag = std::process::id() % 10000;
    let base = format!("scc{tag}b:eth99");
    let added = tools(
        &host,
        &s(&[
            "add-nic",
            "--type",
            "veth",
            "--name",
            &base,
            "--ip",
            "10.236.0.2/24",
            name,
        ]),
    );
    assert!(added.ok, "{}", added.stderr);
    assert!(sc(&host, &s(&["start", name])).ok);
    let pid: i32 = host.inspect(name, "{{.State.Pid}}").parse().unwrap();

    // 8 paths, 8 routes, 8 veths (distinct: all must succeed) and 8 adds of one
    // device under 8 names (the same device: exactly one may succeed).
    let mut jobs = Vec::new();
    for i in 0..N / 4 {
        let d = dir.path().display();
        jobs.push((true, s(&["add-path", name, &format!("{d}:/mnt/c{i}")])));
        let route = format!(r#"[{{"dest":"10.237.{i}.0/24","dev":"eth99"}}]"#);
        jobs.push((true, s(&["add-route", name, &route])));
        let nic = format!("scc{tag}n{i}:eth{i}");
        jobs.push((
            true,
            s(&["add-nic", "--type", "veth", "--name", &nic, name]),
        ));
        jobs.push((
            true,
            s(&["add-device", name, &format!("{}:/dev/cdisk{i}", disk.dev)]),
        ));
    }
    let results = all_at_once(&host, jobs);
    let mut device_winners = 0;
    for (args, ran) in &results {
        if args[0] == "add-device" {
            if ran.ok {
                device_winners += 1;
            } else {
                assert_clear_error(args, ran, &["already added", "already available"]);
            }
        } else {
            assert!(ran.ok, "{args:?} failed: {}", ran.stderr.trim());
        }
    }
    assert_eq!(device_winners, 1, "one add of the device must win");

    // Record and kernel agree, item by item.
    let list = |what: &str| -> serde_json::Value {
        let ran = tools(&host, &s(&[what, name]));
        assert!(ran.ok, "{what}: {}", ran.stderr);
        serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("{what} JSON: {e}"))
    };
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    let routes = inside(pid, &["ip", "route"]);
    let links = inside(pid, &["ip", "-o", "link"]);
    let paths = list("list-path");
    let recorded_routes = list("list-route").to_string();
    let nics = list("list-nic").to_string();
    assert_eq!(paths.as_array().map(Vec::len), Some(N / 4), "{paths}");
    for i in 0..N / 4 {
        assert!(
            mountinfo.contains(&format!(" /mnt/c{i} ")),
            "/mnt/c{i} not mounted"
        );
        assert!(
            paths.to_string().contains(&format!("/mnt/c{i}\"")),
            "{paths}"
        );
        assert!(routes.contains(&format!("10.237.{i}.0/24")), "{routes}");
        assert!(
            recorded_routes.contains(&format!("10.237.{i}.0/24")),
            "{recorded_routes}"
        );
        assert!(links.contains(&format!(" eth{i}@")), "{links}");
        assert!(nics.contains(&format!("\"eth{i}\"")), "{nics}");
    }
    let devices = list("list-device");
    let winner = devices[0]["Path"].as_str().unwrap_or_default().to_string();
    assert_eq!(devices.as_array().map(Vec::len), Some(1), "{devices}");
    assert!(
        Path::new(&format!("/proc/{pid}/root{winner}")).exists(),
        "{winner} is recorded but not in the container"
    );

    // 32 removals at once: everything goes, from the record and the kernel.
    let mut jobs = Vec::new();
    for i in 0..N / 4 {
        let d = dir.path().display();
        jobs.push((true, s(&["remove-path", name, &format!("{d}:/mnt/c{i}")])));
        let route = format!(r#"[{{"dest":"10.237.{i}.0/24","dev":"eth99"}}]"#);
        jobs.push((true, s(&["remove-route", name, &route])));
        jobs.push((true, s(&["remove-nic", "--name", &format!("eth{i}"), name])));
        // Seven of these name a path that was never added: a clear error each.
        jobs.push((
            true,
            s(&[
                "remove-device",
                name,
                &format!("{}:/dev/cdisk{i}", disk.dev),
            ]),
        ));
    }
    for (args, ran) in all_at_once(&host, jobs) {
        if args[0] == "remove-device" && !args[2].ends_with(&winner) {
            assert!(!ran.ok, "{args:?} removed a device it never added");
            assert_clear_error(&args, &ran, &["is not added"]);
        } else {
            assert!(ran.ok, "{args:?} failed: {}", ran.stderr.trim());
        }
    }
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    assert!(!mountinfo.contains(" /mnt/c"), "{mountinfo}");
    assert!(!inside(pid, &["ip", "route"]).contains("10.237."));
    assert!(!inside(pid, &["ip", "-o", "link"]).contains(" eth0@"));
    assert_eq!(list("list-path"), serde_json::json!([]));
    assert_eq!(list("list-device"), serde_json::json!([]));
    assert_eq!(list("list-route"), serde_json::json!([]));
    assert_agrees(&host, name);
    let id = host.inspect(name, "{{.Id}}");
    assert!(sc(&host, &s(&["rm", "-f", name])).ok);
    assert_gone(&host, &id);
    let stray: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("scc{tag}")))
        .collect();
    assert!(stray.is_empty(), "veths left: {stray:?}");
}

fn inside(pid: i32, args: &[&str]) -> String {
    let out = Command::new("nsenter")
        .arg("-t")
        .arg(pid.to_string())
        .arg("-n")
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn thirty_two_lifecycle_operations_across_containers_at_once() {
    let mut host = Host::new();
    let rootfs: Vec<PathBuf> = (0..N).map(|_| host.rootfs()).collect();
    let names: Vec<String> = (0..N).map(|i| format!("conc{i}")).collect();
    let step = |host: &Host, verb: &[&str]| {
        let jobs = names
            .iter()
            .map(|n| {
                let mut args = s(verb);
                args.push(n.clone());
                (false, args)
            })
            .collect();
        for (args, ran) in all_at_once(host, jobs) {
            assert!(ran.ok, "{args:?} failed: {}", ran.stderr.trim());
        }
    };
    let jobs = names
        .iter()
        .zip(&rootfs)
        .map(|(n, r)| (false, create_args(&host, n, r, &[])))
        .collect();
    for (args, ran) in all_at_once(&host, jobs) {
        assert!(ran.ok, "{args:?} failed: {}", ran.stderr.trim());
    }
    let ids: Vec<String> = names.iter().map(|n| host.inspect(n, "{{.Id}}")).collect();
    step(&host, &["start"]);
    for n in &names {
        assert_eq!(assert_agrees(&host, n), "running");
    }
    step(&host, &["pause"]);
    for n in &names {
        assert_eq!(assert_agrees(&host, n), "paused");
    }
    step(&host, &["unpause"]);
    step(&host, &["restart", "-t", "0"]);
    for n in &names {
        assert_eq!(assert_agrees(&host, n), "running");
    }
    step(&host, &["stop", "-t", "0"]);
    for n in &names {
        assert_eq!(assert_agrees(&host, n), "exited");
    }
    step(&host, &["rm", "-f"]);
    let listed = sc(&host, &s(&["ps", "-a", "-q"]));
    assert!(
        listed.ok && listed.stdout.trim().is_empty(),
        "{}",
        listed.stdout
    );
    for id in &ids {
        assert_gone(&host, id);
    }
}

#[test]
fn thirty_two_lifecycle_operations_on_one_name_at_once() {
    let mut host = Host::new();
    let rootfs = host.rootfs();
    let name = "conc-one";

    // 32 creates of one name: one wins, 31 are told the name is taken.
    let jobs = (0..N)
        .map(|_| (false, create_args(&host, name, &rootfs, &[])))
        .collect();
    let results = all_at_once(&host, jobs);
    let winners = results.iter().filter(|(_, r)| r.ok).count();
    assert_eq!(winners, 1, "creates of one name that succeeded");
    for (args, ran) in results.iter().filter(|(_, r)| !r.ok) {
        assert_clear_error(args, ran, &["already in use", "in use"]);
    }
    let listed = sc(&host, &s(&["ps", "-a", "-q"]));
    assert_eq!(listed.stdout.trim().lines().count(), 1, "{}", listed.stdout);
    let id = host.inspect(name, "{{.Id}}");

    // 32 starts at once: one boots it, the others find it running (or starting).
    let jobs = (0..N).map(|_| (false, s(&["start", name]))).collect();
    for (args, ran) in all_at_once(&host, jobs) {
        if !ran.ok {
            assert_clear_error(&args, &ran, &["already running", "is running"]);
        }
    }
    assert_eq!(assert_agrees(&host, name), "running");

    // 16 stops and 16 starts at once, then 32 mixed pause/unpause/restart/stop: whatever
    // order they ran in, the record and the kernel agree at the end.
    let mut jobs = Vec::new();
    for i in 0..N {
        let verb = if i % 2 == 0 { "stop" } else { "start" };
        let mut args = s(&[verb]);
        if verb == "stop" {
            args.extend(s(&["-t", "0"]));
        }
        args.push(name.into());
        jobs.push((false, args));
    }
    for (args, ran) in all_at_once(&host, jobs) {
        if !ran.ok {
            assert_clear_error(
                &args,
                &ran,
                &["already running", "is running", "not running"],
            );
        }
    }
    assert_agrees(&host, name);
    let verbs: [&[&str]; 4] = [
        &["pause"],
        &["unpause"],
        &["restart", "-t", "0"],
        &["stop", "-t", "0"],
    ];
    let jobs = (0..N)
        .map(|i| {
            let mut args = s(verbs[i % 4]);
            args.push(name.into());
            (false, args)
        })
        .collect();
    for (args, ran) in all_at_once(&host, jobs) {
        if !ran.ok {
            assert_clear_error(
                &args,
                &ran,
                &[
                    "not running",
                    "not paused",
                    "is paused",
                    "already running",
                    "is running",
                ],
            );
        }
    }
    assert_agrees(&host, name);

    // 32 force-removals at once: one removes it, the others find it gone or removed.
    let jobs = (0..N).map(|_| (false, s(&["rm", "-f", name]))).collect();
    for (args, ran) in all_at_once(&host, jobs) {
        if !ran.ok {
            assert_clear_error(&args, &ran, &["no such container", "not found"]);
        }
    }
    let listed = sc(&host, &s(&["ps", "-a", "-q"]));
    assert!(listed.stdout.trim().is_empty(), "{}", listed.stdout);
    assert_gone(&host, &id);
}

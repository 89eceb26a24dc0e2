//! The crash matrix (docs/reliability.md): every named crash point of the runtime, the
//! tools, the hook and lxcfs-rs (`sclog::crash_point`, compiled into debug builds only) is
//! hit once with the operation that passes it, the process dies there by SIGKILL, and
//! then: `ps`, `inspect` and the `list-*` commands answer and agree with the kernel; the
//! operation is done, undone, or repaired by the next `start`/`rm -f`; and after the
//! clean-up nothing is left (mounts, cgroups, processes, veths, loop devices, netns pins,
//! run and lock files). The points are read from the sources, so a new one cannot be
//! missed: a point with no scenario fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use syscontainer_tests::{
    bin, copy_executable, leftovers, pid_alive, wait_for, Host, LoopDevice, MountDir,
};

const POINT_ENV: &str = "SYSCONTAINER_CRASH_POINT";
const MARK_ENV: &str = "SYSCONTAINER_CRASH_MARK";
/// Longest any one command may take before it counts as a deadlock.
const COMMAND_BOUND: Duration = Duration::from_secs(180);

/// Every `crash_point("NAME")` in the crates that have them.
fn crash_points() -> Vec<String> {
    fn scan(dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                scan(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (_, rest) in text.match_indices("crash_point(\"").map(|(i, _)| {
                    let rest = &text[i + "crash_point(\"".len()..];
                    (i, rest)
                }) {
                    if let Some(end) = rest.find('"') {
                        out.push(rest[..end].to_string());
                    }
                }
            }
        }
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut points = Vec::new();
    for krate in ["syscontainer", "tools", "hooks", "lxcfs-rs"] {
        scan(&workspace.join(krate).join("src"), &mut points);
    }
    points.sort();
    points.dedup();
    points
}

/// What a finished command did.
struct Ran {
    ok: bool,
    stderr: String,
    stdout: String,
}

/// Run a command to its end or kill it after [`COMMAND_BOUND`] (a deadlock is an error).
fn bounded(mut cmd: Command, what: &str) -> Result<Ran, String> {
    let out = tempfile::NamedTempFile::new().unwrap();
    let err = tempfile::NamedTempFile::new().unwrap();
    cmd.stdin(Stdio::null())
        .stdout(out.reopen().unwrap())
        .stderr(err.reopen().unwrap());
    let mut child = cmd.spawn().map_err(|e| format!("spawn {what}: {e}"))?;
    let deadline = Instant::now() + COMMAND_BOUND;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{what} did not finish in {COMMAND_BOUND:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Ran {
        ok: status.success(),
        stdout: std::fs::read_to_string(out.path()).unwrap_or_default(),
        stderr: std::fs::read_to_string(err.path()).unwrap_or_default(),
    })
}

/// One point's run: its host, the mark file the crash helper writes, the problems found.
struct Case<'a> {
    point: &'a str,
    host: &'a Host,
    mark: PathBuf,
    problems: Vec<String>,
}

impl Case<'_> {
    fn new<'a>(point: &'a str, host: &'a Host, dir: &Path) -> Case<'a> {
        Case {
            point,
            host,
            mark: dir.join(point.replace(':', "_")),
            problems: Vec::new(),
        }
    }

    fn with_env(&self, mut cmd: Command) -> Command {
        cmd.env(POINT_ENV, self.point).env(MARK_ENV, &self.mark);
        cmd
    }

    fn syscontainer(&self, crash: bool, args: &[&str]) -> Command {
        let mut cmd = self.host.command();
        cmd.args(args);
        if crash {
            cmd = self.with_env(cmd);
        }
        cmd
    }

    fn tools_cmd(&self, crash: bool, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin("syscontainer-tools"));
        cmd.arg("--root").arg(self.host.store()).args(args);
        if crash {
            cmd = self.with_env(cmd);
        }
        cmd
    }

    /// Run, recording a deadlock as a problem; `None` then.
    fn run(&mut self, cmd: Command, what: &str) -> Option<Ran> {
        match bounded(cmd, what) {
            Ok(r) => Some(r),
            Err(e) => {
                self.problems.push(e);
                None
            }
        }
    }

    /// Run a step that must succeed.
    fn must(&mut self, cmd: Command, what: &str) -> String {
        match self.run(cmd, what) {
            Some(r) if r.ok => r.stdout.trim().to_string(),
            Some(r) => {
                self.problems
                    .push(format!("{what} failed: {}", r.stderr.trim()));
                String::new()
            }
            None => String::new(),
        }
    }

    fn sc(&mut self, args: &[&str]) -> String {
        let cmd = self.syscontainer(false, args);
        self.must(cmd, &format!("syscontainer {}", args.join(" ")))
    }

    fn tools(&mut self, args: &[&str]) -> String {
        let cmd = self.tools_cmd(false, args);
        self.must(cmd, &format!("syscontainer-tools {}", args.join(" ")))
    }

    /// Run the crashing command; the point must have been reached.
    fn crash(&mut self, cmd: Command) -> Option<Ran> {
        let ran = self.run(cmd, self.point)?;
        // The monitor's last clean-up steps run after `stop` has returned (it returns once
        // the exit is recorded): give them time to reach their point.
        let marked = || {
            std::fs::read_to_string(&self.mark)
                .unwrap_or_default()
                .lines()
                .any(|l| l == self.point)
        };
        let reached = ran
            .stderr
            .contains(&format!("crash point {}: SIGKILL", self.point))
            || wait_until(Duration::from_secs(15), marked);
        if !reached {
            self.problems.push(format!(
                "the scenario never reached the point (exit ok={}, stderr: {})",
                ran.ok,
                ran.stderr.trim()
            ));
        }
        Some(ran)
    }

    /// `ps`, `inspect` answer and agree with each other and with the kernel. Returns the
    /// status, or `None` when the container is gone.
    fn agrees(&mut self, name: &str) -> Option<String> {
        let listed = self.sc(&["ps", "-a", "--format", "json"]);
        let rows: serde_json::Value = serde_json::from_str(&listed).unwrap_or_default();
        let row = rows
            .as_array()
            .and_then(|r| r.iter().find(|c| c["Name"] == name).cloned());
        let Some(row) = row else {
            let cmd = self.syscontainer(false, &["inspect", name]);
            if let Some(r) = self.run(cmd, "inspect") {
                if r.ok {
                    self.problems
                        .push(format!("ps lacks {name} that inspect shows"));
                }
            }
            return None;
        };
        let id = row["Id"].as_str().unwrap_or_default().to_string();
        // A monitor still finishing its start or its clean-up is given time.
        let deadline = Instant::now() + Duration::from_secs(60);
        let (status, pid) = loop {
            let shown = self.sc(&["inspect", "-f", "{{.State.Status}} {{.State.Pid}}", name]);
            let mut parts = shown.split_whitespace();
            let status = parts.next().unwrap_or("").to_string();
            let pid: i32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
            if !matches!(status.as_str(), "starting" | "stopping") || Instant::now() > deadline {
                break (status, pid);
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        // ps again, now that nothing is moving.
        let listed = self.sc(&["ps", "-a", "--format", "json"]);
        let rows: serde_json::Value = serde_json::from_str(&listed).unwrap_or_default();
        let row = rows
            .as_array()
            .and_then(|r| r.iter().find(|c| c["Name"] == name).cloned())
            .unwrap_or_default();
        let procs = self.host.cgroup_procs(&id);
        match status.as_str() {
            "running" | "paused" => {
                if !(pid > 0 && pid_alive(pid) && procs.contains(&pid)) {
                    self.problems.push(format!(
                        "{name} shows {status} with PID {pid}, but the cgroup holds {procs:?}"
                    ));
                }
                let frozen = frozen(self.host, &id);
                if frozen != (status == "paused") {
                    self.problems.push(format!(
                        "{name} shows {status} but its freezer says frozen={frozen}"
                    ));
                }
            }
            "created" | "exited" => {
                let settled = wait_until(Duration::from_secs(15), || {
                    self.host.cgroup_procs(&id).is_empty()
                });
                if !settled {
                    self.problems.push(format!(
                        "{name} shows {status} but its cgroup holds {:?}",
                        self.host.cgroup_procs(&id)
                    ));
                }
            }
            other => self.problems.push(format!("{name} shows status {other:?}")),
        }
        if row["Status"] != status.as_str() {
            self.problems.push(format!(
                "ps says {} but inspect says {status}",
                row["Status"]
            ));
        }
        Some(status)
    }

    /// The container's ID, if the store has it (asking does not count as a problem).
    fn id_of(&mut self, name: &str) -> Option<String> {
        let cmd = self.syscontainer(false, &["inspect", "-f", "{{.Id}}", name]);
        let ran = self.run(cmd, "inspect")?;
        let id = ran.stdout.trim().to_string();
        (ran.ok && id.len() == 64).then_some(id)
    }

    /// Force-remove the container (if it is there) and list what it, or the container
    /// `known` was, left behind.
    fn remove_and_check(&mut self, name: &str, known: Option<String>) {
        let id = self.id_of(name);
        if id.is_some() {
            self.sc(&["rm", "-f", name]);
        }
        if let Some(id) = id.or(known) {
            self.no_leaks(&id);
        }
        self.no_store_debris();
    }

    /// Half-made or half-removed store directories, once a command has swept them.
    fn no_store_debris(&mut self) {
        self.sc(&["ps", "-a"]);
        for e in std::fs::read_dir(self.host.store()).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(".new-") || n.starts_with(".rm-") {
                self.problems.push(format!("leak: store debris {n}"));
            }
        }
    }

    fn no_leaks(&mut self, id: &str) {
        let mut left = leftovers(self.host, id);
        left.extend(
            processes_of(id)
                .into_iter()
                .map(|p| format!("process {p} in a cgroup of {}", &id[..12])),
        );
        let pin = Path::new("/run/syscontainer-tools").join(id);
        if pin.exists() {
            left.push(format!("netns pin {}", pin.display()));
        }
        let host_veths = veths_of(id);
        left.extend(host_veths.into_iter().map(|v| format!("veth {v}")));
        for l in left {
            self.problems.push(format!("leak: {l}"));
        }
    }
}

fn wait_until(timeout: Duration, mut pred: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if pred() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether the container's freezer (v1 `freezer.state` or v2 `cgroup.freeze`) is frozen.
fn frozen(host: &Host, id: &str) -> bool {
    host.cgroup_parent_dirs().into_iter().any(|d| {
        let dir = d.join(id);
        std::fs::read_to_string(dir.join("freezer.state")).is_ok_and(|s| s.trim() != "THAWED")
            || std::fs::read_to_string(dir.join("cgroup.freeze")).is_ok_and(|s| s.trim() == "1")
    })
}

/// Processes anywhere on the host whose cgroup path names the container.
fn processes_of(id: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if std::fs::read_to_string(e.path().join("cgroup")).is_ok_and(|c| c.contains(id))
            && pid_alive(pid)
        {
            found.push(pid);
        }
    }
    found
}

/// Host veth ends that syscontainer-tools named after the container (`sc<id[..6]>…`).
fn veths_of(id: &str) -> Vec<String> {
    let prefix = format!("sc{}", &id[..6]);
    std::fs::read_dir("/sys/class/net")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// `nsenter` into the container's PID 1 namespaces and run a command; its stdout.
fn inside(pid: i32, ns: &str, args: &[&str]) -> String {
    let out = Command::new("nsenter")
        .arg("-t")
        .arg(pid.to_string())
        .arg(ns)
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The app container every lifecycle scenario uses: `sleep` as PID 1 in a fresh rootfs
/// copy (a booted systemd adds nothing to what these steps do, and costs a minute on
/// two shared cores).
struct Lab {
    host: Host,
    rootfs: PathBuf,
    marks: tempfile::TempDir,
    hook_dir: tempfile::TempDir,
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        use std::os::unix::fs::PermissionsExt;
        let mut host = Host::new();
        let rootfs = host.rootfs();
        let hook_dir = tempfile::Builder::new()
            .prefix("sct-crash-hook-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(hook_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let exe = hook_dir.path().join("syscontainer-hooks");
        copy_executable(&bin("syscontainer-hooks"), &exe);
        let dir = tempfile::Builder::new()
            .prefix("sct-crash-path-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Lab {
            host,
            rootfs,
            marks: tempfile::tempdir().unwrap(),
            hook_dir,
            dir,
        }
    }

    /// A hook spec (prestart and poststop) whose hook runs with `env` (a crash point).
    fn hook_spec(&self, tag: &str, env: &[String]) -> String {
        let exe = self.hook_dir.path().join("syscontainer-hooks");
        let log = self.hook_dir.path().join(format!("{tag}.log"));
        let entry = |stage: &str| {
            serde_json::json!([{
                "path": exe,
                "args": ["syscontainer-hooks", "--state", stage, "--log", log],
                "env": env,
                "timeout": 60
            }])
        };
        let spec =
            serde_json::json!({"prestart": entry("prestart"), "poststop": entry("poststop")});
        let path = self.hook_dir.path().join(format!("{tag}.json"));
        std::fs::write(&path, spec.to_string()).unwrap();
        path.display().to_string()
    }

    fn create_args(&self, name: &str, hook_spec: Option<&str>) -> Vec<String> {
        let mut args: Vec<String> = vec!["create".into(), "--name".into(), name.into()];
        args.extend(["--cgroup-parent".into(), self.host.cgroup_parent.clone()]);
        if let Some(spec) = hook_spec {
            args.extend(["--hook-spec".into(), spec.into()]);
        }
        args.extend([
            "--external-rootfs".into(),
            self.rootfs.display().to_string(),
            "none".into(),
            "sleep".into(),
            "100000".into(),
        ]);
        args
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The lifecycle scenarios: one fresh container per point. Returns the outcome text.
fn lifecycle(lab: &Lab, c: &mut Case, name: &str) -> Option<String> {
    let create = lab.create_args(name, None);
    let op = c.point.split(':').next().unwrap_or("");
    let finish = c.point.starts_with("monitor:finish");
    let boot = op == "start" || (op == "monitor" && !finish);
    // Set-up: nothing for create, a created container for start, else a running one.
    if op != "create" {
        c.sc(&strs(&create));
    }
    let known = c.id_of(name);
    if !boot && op != "create" {
        // For the monitor's clean-up points, the monitor inherits the point from start.
        let cmd = c.syscontainer(finish, &["start", name]);
        c.must(cmd, "start");
    }
    if op == "unpause" {
        c.sc(&["pause", name]);
    }
    if c.point == "stop:before-cleanup" {
        // The clean-up a command does for a dead monitor: kill -9 the monitor first.
        let monitor: i32 = c
            .sc(&["inspect", "-f", "{{.State.MonitorPid}}", name])
            .parse()
            .unwrap_or(0);
        if monitor > 0 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(monitor),
                nix::sys::signal::Signal::SIGKILL,
            );
            wait_until(Duration::from_secs(10), || !pid_alive(monitor));
        }
        c.agrees(name);
    }
    let crash_args: Vec<String> = match op {
        "create" => create.clone(),
        "start" | "monitor" if boot => vec!["start".into(), name.into()],
        "monitor" => vec!["stop".into(), "-t".into(), "0".into(), name.into()],
        "stop" => vec!["stop".into(), "-t".into(), "1".into(), name.into()],
        "restart" => vec!["restart".into(), "-t".into(), "0".into(), name.into()],
        "rm" => vec!["rm".into(), "-f".into(), name.into()],
        "exec" => vec!["exec".into(), name.into(), "true".into()],
        "pause" => vec!["pause".into(), name.into()],
        "unpause" => vec!["unpause".into(), name.into()],
        "update" => vec![
            "update".into(),
            "--memory".into(),
            "300M".into(),
            name.into(),
        ],
        _ => return None,
    };
    // The monitor's clean-up points were armed by `start`; the stop itself runs clean.
    let cmd = c.syscontainer(!finish, &strs(&crash_args));
    c.crash(cmd)?;
    let status = c.agrees(name);
    let outcome = repair(c, name, op, status.as_deref());
    c.remove_and_check(name, known);
    Some(outcome)
}

/// Bring the container to a known good state the way a user would, and say how.
fn repair(c: &mut Case, name: &str, op: &str, status: Option<&str>) -> String {
    let Some(status) = status else {
        return if op == "rm" {
            "done: removed"
        } else {
            "undone: no container"
        }
        .into();
    };
    match (op, status) {
        ("rm", _) => format!("left {status}; rm -f again removes it"),
        ("create", "created") => {
            c.sc(&["start", name]);
            expect_status(c, name, "running");
            "done: a complete record that starts".into()
        }
        ("pause", "paused") | ("unpause", "running") => {
            format!("done: {status} (the freezer decides what shows)")
        }
        ("unpause", "paused") | ("pause", "running") => {
            // Re-running the command finishes it.
            c.sc(&[op, name]);
            expect_status(c, name, if op == "pause" { "paused" } else { "running" });
            format!("left {status}; repaired by re-running {op}")
        }
        ("update", "running") => {
            let before = memory_limits(c, name);
            c.sc(&["update", "--memory", "300M", name]);
            let after = memory_limits(c, name);
            if after.0 != after.1 {
                c.problems.push(format!(
                    "after re-running update: record and cgroup {after:?}"
                ));
            }
            format!(
                "cgroup changed, record not (record {}, cgroup {}); repaired by re-running update",
                before.0, before.1
            )
        }
        (_, "running") | (_, "paused") => {
            c.sc(&["exec", name, "true"]);
            if op == "rm" {
                "running: rm -f again removes it".into()
            } else {
                format!(
                    "{}: running",
                    if op == "start" || op == "monitor" {
                        "done"
                    } else {
                        "undone"
                    }
                )
            }
        }
        (_, "exited") | (_, "created") => {
            c.sc(&["start", name]);
            expect_status(c, name, "running");
            format!("{status}: repaired by start")
        }
        (_, other) => format!("left {other}"),
    }
}

fn expect_status(c: &mut Case, name: &str, want: &str) {
    if c.agrees(name).as_deref() != Some(want) {
        c.problems
            .push(format!("{name} is not {want} after the repair"));
    }
}

/// (memory limit in the record, memory limit in the cgroup).
fn memory_limits(c: &mut Case, name: &str) -> (u64, u64) {
    let id = c.sc(&["inspect", "-f", "{{.Id}}", name]);
    let record: u64 = c
        .sc(&["inspect", "-f", "{{.HostConfig.Memory}}", name])
        .parse()
        .unwrap_or(0);
    let kernel = ["memory.limit_in_bytes", "memory.max"]
        .iter()
        .find_map(|f| c.host.cgroup_file(&id, f))
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    (record, kernel)
}

/// The tools scenarios share one running container (with the hook, so that a start
/// re-applies the record). For each: the crashing add or remove, then `list-*` must
/// answer, then a restart must leave record and kernel in agreement.
fn tools_case(lab: &Lab, c: &mut Case, name: &str, n: usize, disk: &LoopDevice) -> Option<String> {
    let (verb, kind) = c.point.split(':').next()?.split_once('-')?;
    let spec = lab.hook_spec("tools", &[]);
    if c.id_of(name).is_none() {
        c.sc(&strs(&lab.create_args(name, Some(&spec))));
        // The routes go through this NIC (an app container's lo is down).
        c.tools(&[
            "add-nic",
            "--type",
            "veth",
            "--name",
            "sccrashbase:eth99",
            "--ip",
            "10.235.0.2/24",
            name,
        ]);
    }
    if c.sc(&["inspect", "-f", "{{.State.Status}}", name]) != "running" {
        c.sc(&["start", name]);
    }
    let route = format!(r#"[{{"dest":"10.233.{n}.0/24","dev":"eth99"}}]"#);
    let path = format!("{}:/mnt/crash{n}", lab.dir.path().display());
    let nic = format!("sccrash{n}:eth{n}");
    let device = format!("{}:/dev/crashdisk{n}", disk.dev);
    let arg: Vec<&str> = match kind {
        "route" => vec![name, &route],
        "path" => vec![name, &path],
        "nic" => vec!["--type", "veth", "--name", &nic, name],
        "device" => vec![name, &device],
        _ => return None,
    };
    let add_verb = format!("add-{kind}");
    let add = [&[add_verb.as_str()][..], &arg].concat();
    if verb == "remove" {
        c.tools(&add);
    }
    let remove: Vec<String> = match kind {
        "nic" => vec![
            "remove-nic".into(),
            "--name".into(),
            format!("eth{n}"),
            name.into(),
        ],
        _ => [&[format!("remove-{kind}").as_str()][..], &arg]
            .concat()
            .into_iter()
            .map(String::from)
            .collect(),
    };
    let crash_args = if verb == "remove" {
        remove.clone()
    } else {
        add.iter().map(|s| s.to_string()).collect()
    };
    let cmd = c.tools_cmd(true, &strs(&crash_args));
    c.crash(cmd)?;
    let recorded_after_crash = c
        .tools(&[&format!("list-{kind}"), name])
        .contains(&needle(kind, n));
    let pid: i32 = c
        .sc(&["inspect", "-f", "{{.State.Pid}}", name])
        .parse()
        .unwrap_or(0);
    let live_after_crash = live_has(pid, kind, n);
    c.sc(&["restart", "-t", "0", name]);
    c.agrees(name);
    let pid: i32 = c
        .sc(&["inspect", "-f", "{{.State.Pid}}", name])
        .parse()
        .unwrap_or(0);
    let recorded = c
        .tools(&[&format!("list-{kind}"), name])
        .contains(&needle(kind, n));
    let live = live_has(pid, kind, n);
    if recorded != live {
        c.problems.push(format!(
            "after the restart list-{kind} says recorded={recorded}, the kernel has it={live}"
        ));
    }
    // Take it away for the next point.
    if recorded {
        c.tools(&strs(&remove));
    }
    let seen = |r: bool| if r { "has it" } else { "has not" };
    Some(format!(
        "after the crash the record {} and the kernel {}; after restart both {}",
        seen(recorded_after_crash),
        seen(live_after_crash),
        seen(recorded)
    ))
}

/// How `list-KIND` shows the scenario's resource number `n`.
fn needle(kind: &str, n: usize) -> String {
    match kind {
        "route" => format!("10.233.{n}.0/24"),
        "path" => format!("/mnt/crash{n}\""),
        "nic" => format!("\"eth{n}\""),
        _ => format!("/dev/crashdisk{n}\""),
    }
}

/// Whether the container's kernel view holds the scenario's resource number `n`.
fn live_has(pid: i32, kind: &str, n: usize) -> bool {
    if pid <= 0 {
        return false;
    }
    match kind {
        "route" => inside(pid, "-n", &["ip", "route"]).contains(&format!("10.233.{n}.0/24")),
        "nic" => {
            let links = inside(pid, "-n", &["ip", "-o", "link"]);
            links.contains(&format!(" eth{n}@")) || links.contains(&format!(" eth{n}:"))
        }
        "path" => std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
            .is_ok_and(|m| m.contains(&format!(" /mnt/crash{n} "))),
        "device" => Path::new(&format!("/proc/{pid}/root/dev/crashdisk{n}")).exists(),
        _ => false,
    }
}

/// A hook killed in the middle: at prestart (while re-applying the record) and at
/// poststop (after giving back, before releasing the netns pin).
fn hook_case(lab: &Lab, c: &mut Case, name: &str) -> Option<String> {
    let env = [
        format!("{POINT_ENV}={}", c.point),
        format!("{MARK_ENV}={}", c.mark.display()),
    ];
    let spec = lab.hook_spec(name, &env);
    c.sc(&strs(&lab.create_args(name, Some(&spec))));
    let path = format!("{}:/mnt/hook", lab.dir.path().display());
    c.tools(&["add-path", name, &path]);
    let stop = c.point.contains("poststop");
    if stop {
        c.sc(&["start", name]);
    }
    let args: &[&str] = if stop {
        &["stop", "-t", "0", name]
    } else {
        &["start", name]
    };
    let cmd = c.syscontainer(false, args);
    let ran = c.crash(cmd)?;
    let status = c.agrees(name);
    let outcome = format!(
        "{} {} (exit ok={}); {}",
        args[0],
        if ran.ok { "succeeded" } else { "failed" },
        ran.ok,
        repair(c, name, "hook", status.as_deref())
    );
    let pid: i32 = c
        .sc(&["inspect", "-f", "{{.State.Pid}}", name])
        .parse()
        .unwrap_or(0);
    let mounted = std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .is_ok_and(|m| m.contains(" /mnt/hook "));
    if !mounted {
        c.problems
            .push("the recorded path is not in the restarted container".into());
    }
    let known = c.id_of(name);
    c.remove_and_check(name, known);
    Some(outcome)
}

#[test]
fn every_crash_point_is_survived_without_leaks() {
    let points = crash_points();
    assert!(
        points.len() >= 30,
        "only {} crash points found",
        points.len()
    );
    let lab = Lab::new();
    let disk = LoopDevice::new(1 << 20);
    let loops_before = loop_devices();
    let mut table = Vec::new();
    let mut failures = Vec::new();
    let tools_name = "crash-tools";
    for (n, point) in points.iter().enumerate() {
        let mut c = Case::new(point, &lab.host, lab.marks.path());
        let name = format!("crash{n}");
        let outcome = match point.split(':').next().unwrap_or("") {
            "hook" => hook_case(&lab, &mut c, &name),
            "lxcfs" => lxcfs_case(&lab, &mut c, &name),
            op if op.starts_with("add-") || op.starts_with("remove-") => {
                tools_case(&lab, &mut c, tools_name, n, &disk)
            }
            _ => lifecycle(&lab, &mut c, &name),
        };
        let outcome = outcome.unwrap_or_else(|| {
            c.problems.push("no scenario passes this point".into());
            String::new()
        });
        eprintln!("{point}: {outcome} {:?}", c.problems);
        if !c.problems.is_empty() {
            failures.push(format!("{point}: {:#?}", c.problems));
        }
        table.push(format!("| `{point}` | {outcome} |"));
    }
    // The shared tools container goes last.
    let mut c = Case::new("end", &lab.host, lab.marks.path());
    let known = c.id_of(tools_name);
    c.remove_and_check(tools_name, known);
    failures.extend(c.problems.iter().map(|p| format!("clean-up: {p}")));
    let loops_after = loop_devices();
    // Only new ones backed by this test's files count: other tests on the host attach
    // and detach theirs meanwhile.
    let ours = [
        lab.host.store().display().to_string(),
        lab.dir.path().display().to_string(),
        lab.rootfs.display().to_string(),
    ];
    let new_loops: Vec<&String> = loops_after
        .iter()
        .filter(|l| !loops_before.contains(l) && ours.iter().any(|o| l.contains(o)))
        .collect();
    if !new_loops.is_empty() {
        failures.push(format!("loop devices attached meanwhile: {new_loops:?}"));
    }
    let stray: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("sccrash"))
        .collect();
    failures.extend(stray.into_iter().map(|v| format!("leaked veth {v}")));
    let mounts = leaked_mounts(&lab);
    failures.extend(mounts.into_iter().map(|m| format!("leaked mount: {m}")));
    println!("{}", table.join("\n"));
    // Inconsistencies count as leaks: each is named in the failure below.
    println!("{} crash points, {} leaks", points.len(), failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn loop_devices() -> Vec<String> {
    let out = Command::new("losetup").arg("-a").output().unwrap();
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    v.sort();
    v
}

/// Mounts on the host that mention the test's store (netns pins are checked per container).
fn leaked_mounts(lab: &Lab) -> Vec<String> {
    let store = lab.host.store().display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&store))
        .map(String::from)
        .collect()
}

/// The FUSE mounts of lxcfs-rs inside the container's mount namespace, by target.
fn lxcfs_mounts(pid: i32) -> Vec<String> {
    let mut targets: Vec<String> = std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let mut post = post.split_whitespace();
            let (fstype, source) = (post.next()?, post.next()?);
            (fstype == "fuse" && source == "lxcfs-rs")
                .then(|| pre.split_whitespace().nth(4).map(str::to_string))?
        })
        .collect();
    targets.sort();
    targets
}

/// A daemon killed (-9) and reaped on drop.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `lxcfs-rs MOUNTPOINT` until it serves `proc/meminfo`.
fn lxcfs_daemon(mount: &MountDir) -> Daemon {
    let child = Command::new(bin("lxcfs-rs"))
        .args(["--log-level", "warn"])
        .arg(mount.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Daemon)
        .unwrap();
    let served = wait_until(Duration::from_secs(20), || {
        std::fs::read_to_string(mount.path().join("proc/meminfo"))
            .is_ok_and(|m| m.contains("MemTotal"))
    });
    assert!(served, "lxcfs-rs did not serve {}", mount.path().display());
    child
}

/// The daemon killed with -9 under a running container and started again, then
/// `lxcfs-toolkit remount` killed after re-attaching its first view: the container runs
/// on, a second remount completes the set with one live mount per view, and `rm -f`
/// leaves nothing.
fn lxcfs_case(lab: &Lab, c: &mut Case, name: &str) -> Option<String> {
    let mount = MountDir::new();
    let daemon = lxcfs_daemon(&mount);
    let hook = lab.hook_dir.path().join("lxcfs-hook");
    copy_executable(&bin("lxcfs-hook"), &hook);
    let spec_path = lab.hook_dir.path().join("lxcfs.json");
    let spec = serde_json::json!({"prestart": [{
        "path": hook,
        "args": ["lxcfs-hook", "--mountpoint", mount.path()],
        "timeout": 30,
    }]});
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let spec_path = spec_path.display().to_string();
    c.sc(&strs(&lab.create_args(name, Some(&spec_path))));
    c.sc(&["start", name]);
    let pid: i32 = c
        .sc(&["inspect", "-f", "{{.State.Pid}}", name])
        .parse()
        .unwrap_or(0);
    let views = lxcfs_mounts(pid);
    if views.is_empty() {
        c.problems.push("the hook attached no lxcfs view".into());
    }
    drop(daemon);
    let _daemon = lxcfs_daemon(&mount);
    let remount = |c: &Case, crash: bool| {
        let mut cmd = Command::new(bin("lxcfs-toolkit"));
        cmd.arg("--root")
            .arg(lab.host.store())
            .arg("--mountpoint")
            .arg(mount.path())
            .args(["remount", name]);
        if crash {
            cmd = c.with_env(cmd);
        }
        cmd
    };
    let cmd = remount(c, true);
    c.crash(cmd)?;
    c.agrees(name);
    let cmd = remount(c, false);
    c.must(cmd, "lxcfs-toolkit remount");
    let after = lxcfs_mounts(pid);
    if after != views {
        c.problems.push(format!(
            "views after the second remount {after:?}, at start {views:?}"
        ));
    }
    let meminfo = c.sc(&["exec", name, "cat", "/proc/meminfo"]);
    if !meminfo.contains("MemTotal") {
        c.problems
            .push("/proc/meminfo does not answer after the remount".into());
    }
    let known = c.id_of(name);
    c.remove_and_check(name, known);
    Some(format!(
        "daemon kill -9 and restart, remount killed after one view: the container runs on; \
         a second remount restores all {} views",
        views.len()
    ))
}

/// `rm -f`, and `stop`, right after a `start` died between spawning its monitor and
/// recording it. The monitor goes on and records itself moments later, so both must wait
/// for that and stop it, not clean up or remove the record under it and leave its cgroups
/// and PID 1 behind (found by the release lane's kill-at-any-point test in `runtime.rs`).
#[test]
fn stop_or_rm_force_after_a_start_died_before_recording_its_monitor_leaves_nothing() {
    let mut host = Host::new();
    for follow_up in [&["rm", "-f"][..], &["stop", "-t", "0"][..]] {
        let rootfs = host.rootfs();
        let name = format!("unrecorded-{}", follow_up[0]);
        let id = host.ok([
            "create",
            "--name",
            &name,
            "--cgroup-parent",
            &host.cgroup_parent,
            "--system-container",
            "--external-rootfs",
            &rootfs.display().to_string(),
            "none",
            "init",
        ]);
        let mark = tempfile::NamedTempFile::new().unwrap();
        let started = host
            .command()
            .env(POINT_ENV, "start:after-spawn")
            .env(MARK_ENV, mark.path())
            .args(["start", &name])
            .output()
            .unwrap();
        assert!(!started.status.success(), "start survived its crash point");
        assert_eq!(
            std::fs::read_to_string(mark.path()).unwrap().trim(),
            "start:after-spawn"
        );
        host.ok(follow_up.iter().copied().chain([name.as_str()]));
        if follow_up[0] == "stop" {
            assert_eq!(host.inspect(&name, "{{.State.Status}}"), "exited");
            host.ok(["rm", &name]);
        }
        let left = leftovers(&host, &id);
        assert!(left.is_empty(), "after {follow_up:?}: {left:#?}");
        let rootfs_text = rootfs.display().to_string();
        wait_for(
            "the rootfs's processes to go",
            Duration::from_secs(10),
            || {
                !std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
                    std::fs::read_link(e.path().join("root"))
                        .is_ok_and(|r| r.display().to_string() == rootfs_text)
                })
            },
        );
    }
}

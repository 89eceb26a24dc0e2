//! What users of isula and docker reach for: --entrypoint, --label-file, console log
//! rotation, health checks, `events`, man pages and completions. Each test has its own
//! store, cgroup parent and rootfs overlay; `Host`'s Drop removes them whatever happens.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use syscontainer_tests::{bin, wait_for, Host};

/// `run -d --name NAME --cgroup-parent … EXTRA --external-rootfs ROOTFS none CMD…`: an
/// application container (PID 1 is CMD, not systemd), quick to start.
fn run_app(host: &mut Host, name: &str, extra: &[&str], cmd: &[&str]) -> String {
    let rootfs = host.rootfs();
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
}

fn inspect_json(host: &Host, name: &str) -> serde_json::Value {
    let text = host.ok(["inspect", name]);
    let v: serde_json::Value = serde_json::from_str(&text).expect("inspect prints JSON");
    match v {
        serde_json::Value::Array(mut items) => items.remove(0),
        other => other,
    }
}

fn now_rfc3339() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%S.%NZ"])
        .output()
        .expect("date");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The events of one container since `since` (RFC 3339), until now, as JSON values.
fn events_of(host: &Host, since: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let until = now_rfc3339();
    let mut args = vec![
        "events", "--since", since, "--until", &until, "--format", "json",
    ];
    args.extend_from_slice(extra);
    host.ok(&args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

fn actions(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["Action"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn entrypoint_replaces_the_program_and_takes_the_words_as_arguments() {
    let mut host = Host::new();
    run_app(
        &mut host,
        "ep",
        &["--entrypoint", "/bin/sh"],
        // `--`: a word after the image that looks like an option (here -c, which is
        // --cpu-shares) needs it, as with any command.
        &["--", "-c", "echo from-entrypoint $0; exec sleep 300"],
    );
    wait_for("the entrypoint's output", Duration::from_secs(60), || {
        host.ok(["logs", "ep"]).contains("from-entrypoint")
    });
    assert_eq!(host.exec("ep", &["cat", "/proc/1/comm"]), "sleep");
    let c = inspect_json(&host, "ep");
    assert_eq!(c["Config"]["Entrypoint"], "/bin/sh", "{c}");
    assert_eq!(c["Path"], "/bin/sh", "{c}");
    assert_eq!(c["Args"][0], "-c", "{c}");

    // A missing entrypoint is refused at create, naming it.
    let rootfs = host.rootfs();
    let err = host.fails([
        "create",
        "--entrypoint",
        "/no/such/program",
        "--external-rootfs",
        &rootfs.display().to_string(),
        "none",
    ]);
    assert!(err.contains("/no/such/program"), "{err}");
}

#[test]
fn label_file_adds_labels_and_names_a_bad_line() {
    let mut host = Host::new();
    let rootfs = host.rootfs().display().to_string();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("labels");
    std::fs::write(
        &good,
        "# team labels\n\ntier=web\n   owner=ops team\nflag\ntier=overridden-by-l-below\n",
    )
    .unwrap();
    let good_str = good.display().to_string();
    host.ok([
        "create",
        "--name",
        "labelled",
        "--label-file",
        &good_str,
        "-l",
        "tier=db",
        "--external-rootfs",
        &rootfs,
        "none",
        "/bin/true",
    ]);
    let labels = &inspect_json(&host, "labelled")["Config"]["Labels"];
    assert_eq!(labels["tier"], "db", "{labels}");
    assert_eq!(labels["owner"], "ops team", "{labels}");
    assert_eq!(labels["flag"], "", "{labels}");

    let bad = dir.path().join("bad-labels");
    std::fs::write(&bad, "a=1\nnot a label\n").unwrap();
    let bad_str = bad.display().to_string();
    let err = host.fails([
        "create",
        "--label-file",
        &bad_str,
        "--external-rootfs",
        &rootfs,
        "none",
        "/bin/true",
    ]);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&bad_str) && err.contains("line 2"), "{err}");
    let missing = dir.path().join("missing").display().to_string();
    let err = host.fails([
        "create",
        "--label-file",
        &missing,
        "--external-rootfs",
        &rootfs,
        "none",
        "/bin/true",
    ]);
    assert!(err.contains(&missing), "{err}");
}

#[test]
fn console_log_rotates_keeps_max_file_and_logs_shows_the_tail() {
    let mut host = Host::new();
    let id = run_app(
        &mut host,
        "chatty",
        &["--log-opt", "max-size=8k", "--log-opt", "max-file=3"],
        &[
            "sh",
            "-c",
            // Paced (a pause every 100 lines), so that a follower polling the log reads a
            // rotated file before max-file drops it, as any reader of a rotated log must.
            "i=0; while [ $i -lt 4000 ]; do echo line-$i; i=$((i+1)); \
             [ $((i % 100)) = 0 ] && sleep 0.1; done; echo done-printing; exec sleep 300",
        ],
    );
    // `logs -f` from the start: it must go on across every rotation without a gap.
    let follower = Follower::start(&host, &["logs", "-f", "chatty"]);
    let mut followed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !followed
        .iter()
        .any(|l: &String| l.contains("done-printing"))
    {
        assert!(
            Instant::now() < deadline,
            "logs -f stopped at {:?}",
            followed.last()
        );
        if let Some(line) = follower.next(Duration::from_secs(1)) {
            followed.push(line);
        }
    }
    drop(follower);
    let followed: Vec<u32> = followed
        .iter()
        .filter_map(|l| l.trim().strip_prefix("line-"))
        .filter_map(|n| n.parse().ok())
        .collect();
    assert_eq!(followed.last(), Some(&3999));
    assert!(
        followed.windows(2).all(|w| w[1] == w[0] + 1),
        "logs -f lost or repeated lines across a rotation"
    );
    let log = host.store().join(&id).join("console.log");
    let numbered = |n: u32| host.store().join(&id).join(format!("console.log.{n}"));
    for path in [log.clone(), numbered(1), numbered(2)] {
        let size = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .len();
        assert!(size <= 8192, "{}: {size} bytes", path.display());
    }
    assert!(!numbered(3).exists(), "max-file=3 keeps three files");

    // `logs` reads the files oldest first: consecutive lines ending with the last one,
    // the first ones rotated away.
    let all = host.ok(["logs", "chatty"]);
    let numbers: Vec<u32> = all
        .lines()
        .filter_map(|l| l.trim().strip_prefix("line-"))
        .filter_map(|n| n.parse().ok())
        .collect();
    assert_eq!(numbers.last(), Some(&3999));
    assert!(numbers[0] > 0, "line-0 should have been rotated away");
    assert!(
        numbers.windows(2).all(|w| w[1] == w[0] + 1),
        "lines out of order or missing"
    );
    let tail = host.ok(["logs", "--tail", "2", "chatty"]);
    let tail: Vec<&str> = tail.lines().map(str::trim).collect();
    assert_eq!(tail, ["line-3999", "done-printing"]);
    let c = inspect_json(&host, "chatty");
    assert_eq!(
        c["HostConfig"]["LogConfig"]["Config"]["max-file"], "3",
        "{c}"
    );

    // Bad values are refused at create.
    let rootfs = host.rootfs();
    let err = host.refused(&rootfs, &["--log-opt", "max-file=2"]);
    assert!(err.contains("max-size"), "{err}");
    let err = host.refused(&rootfs, &["--log-opt", "compress=true"]);
    assert!(err.contains("compress"), "{err}");
}

fn health_status(host: &Host, name: &str) -> String {
    inspect_json(host, name)["State"]["Health"]["Status"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn ps_status(host: &Host, name: &str) -> String {
    host.ok(["ps", "-a"])
        .lines()
        .find(|l| l.trim_end().ends_with(name))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn health_checks_turn_unhealthy_after_retries_and_healthy_on_a_pass() {
    let mut host = Host::new();
    let since = now_rfc3339();
    run_app(
        &mut host,
        "checked",
        &[
            "--health-cmd",
            "echo probing; ls /proc/self/fd; test -e /tmp/ok",
            "--health-interval",
            "1s",
            "--health-retries",
            "2",
            "--health-timeout",
            "20s",
        ],
        &["sleep", "300"],
    );
    let first = health_status(&host, "checked");
    assert_eq!(first, "starting");
    assert!(
        ps_status(&host, "checked").contains("(health: starting)"),
        "{}",
        ps_status(&host, "checked")
    );
    wait_for("unhealthy", Duration::from_secs(90), || {
        health_status(&host, "checked") == "unhealthy"
    });
    let health = &inspect_json(&host, "checked")["State"]["Health"];
    assert!(health["FailingStreak"].as_u64().unwrap() >= 2, "{health}");
    let log = health["Log"].as_array().unwrap();
    assert!(!log.is_empty() && log.len() <= 5, "{health}");
    assert_eq!(log[0]["ExitCode"], 1, "{health}");
    let output = log[0]["Output"].as_str().unwrap();
    assert!(output.contains("probing"), "{health}");
    // The check inherits its output streams and nothing of the monitor's (console pty,
    // sockets): `ls` sees 0, 1, 2 and the directory it reads.
    let fds: Vec<u32> = output
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert_eq!(fds, [0, 1, 2, 3], "{output}");
    assert!(ps_status(&host, "checked").contains("(unhealthy)"));

    host.exec("checked", &["touch", "/tmp/ok"]);
    wait_for("healthy", Duration::from_secs(90), || {
        health_status(&host, "checked") == "healthy"
    });
    assert!(ps_status(&host, "checked").contains("(healthy)"));
    let health = &inspect_json(&host, "checked")["State"]["Health"];
    assert_eq!(health["FailingStreak"], 0, "{health}");

    let seen = actions(&events_of(
        &host,
        &since,
        &[
            "--filter",
            "container=checked",
            "--filter",
            "event=health_status",
        ],
    ));
    assert_eq!(
        seen,
        ["health_status: unhealthy", "health_status: healthy"],
        "{seen:?}"
    );
}

#[test]
fn exit_on_unhealthy_stops_the_container() {
    let mut host = Host::new();
    let since = now_rfc3339();
    run_app(
        &mut host,
        "doomed",
        &[
            "--health-cmd",
            "exit 1",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
            "--health-exit-on-unhealthy",
            "--stop-timeout",
            "1",
        ],
        &["sleep", "300"],
    );
    host.wait_status("doomed", "exited", Duration::from_secs(90));
    assert_eq!(health_status(&host, "doomed"), "unhealthy");
    let seen = actions(&events_of(&host, &since, &["--filter", "container=doomed"]));
    let unhealthy = seen.iter().position(|a| a == "health_status: unhealthy");
    let die = seen.iter().position(|a| a == "die");
    assert!(
        unhealthy.is_some() && die.is_some() && unhealthy < die,
        "{seen:?}"
    );
    assert!(seen.contains(&"stop".to_string()), "{seen:?}");
    // --no-healthcheck with a command is a contradiction.
    let rootfs = host.rootfs();
    let err = host.refused(&rootfs, &["--no-healthcheck", "--health-cmd", "true"]);
    assert!(err.contains("--no-healthcheck"), "{err}");
}

#[test]
fn a_system_container_reports_health_reboot_and_oom_events() {
    let mut host = Host::new();
    let since = now_rfc3339();
    host.boot(
        "sys",
        &[
            "--restart",
            "on-reboot",
            "--health-cmd",
            "test -S /run/systemd/private",
            "--health-interval",
            "1s",
        ],
    );
    wait_for("healthy", Duration::from_secs(90), || {
        health_status(&host, "sys") == "healthy"
    });
    let restarts = |host: &Host| host.state("sys")["RestartCount"].as_u64().unwrap_or(0);
    host.run(["exec", "sys", "systemctl", "reboot"]);
    wait_for("the reboot", Duration::from_secs(120), || {
        restarts(&host) == 1
    });
    host.wait_booted("sys");
    wait_for("healthy again", Duration::from_secs(90), || {
        health_status(&host, "sys") == "healthy"
    });
    let seen = actions(&events_of(&host, &since, &["--filter", "container=sys"]));
    let expected_order = [
        "create",
        "start",
        "health_status: healthy",
        "die",
        "reboot",
        "start",
        "health_status: healthy",
    ];
    let mut rest = seen.iter();
    for want in expected_order {
        assert!(
            rest.any(|a| a == want),
            "{want} missing or out of order in {seen:?}"
        );
    }
    let die = events_of(
        &host,
        &since,
        &["--filter", "container=sys", "--filter", "event=die"],
    );
    assert_eq!(die[0]["Actor"]["Attributes"]["cause"], "reboot", "{die:?}");

    // An application container the OOM killer ends: oom, then die.
    run_app(
        &mut host,
        "hog",
        &["-m", "16m", "--memory-swap", "16m"],
        &[
            "sh",
            "-c",
            "x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done",
        ],
    );
    host.wait_status("hog", "exited", Duration::from_secs(60));
    let seen = actions(&events_of(&host, &since, &["--filter", "container=hog"]));
    let oom = seen.iter().position(|a| a == "oom");
    let die = seen.iter().position(|a| a == "die");
    assert!(oom.is_some() && oom < die, "{seen:?}");

    // A container whose PID 1 survives the OOM killer: the oom event comes as it happens.
    run_app(
        &mut host,
        "survivor",
        &["-m", "16m", "--memory-swap", "16m"],
        &[
            "sh",
            "-c",
            "(x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done); echo hog-gone; exec sleep 300",
        ],
    );
    wait_for("the hog killed", Duration::from_secs(60), || {
        host.ok(["logs", "survivor"]).contains("hog-gone")
    });
    wait_for("the oom event", Duration::from_secs(30), || {
        !events_of(
            &host,
            &since,
            &["--filter", "container=survivor", "--filter", "event=oom"],
        )
        .is_empty()
    });
    assert_eq!(host.inspect("survivor", "{{.State.Status}}"), "running");
}

/// A running `syscontainer ARGS` (`events`, `logs -f`), killed when dropped; its lines
/// arrive on a channel.
struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Follower {
    fn start(host: &Host, args: &[&str]) -> Follower {
        let mut child = host
            .command()
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn syscontainer");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Follower { child, lines }
    }

    fn next(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn events_record_a_lifecycle_in_order_and_follow_new_ones() {
    let mut host = Host::new();
    let since = now_rfc3339();
    let follower = Follower::start(&host, &["events", "--filter", "container=life"]);
    // Give the follower time to open the log before anything happens.
    std::thread::sleep(Duration::from_millis(500));
    let id = run_app(&mut host, "life", &[], &["sleep", "300"]);
    let dir = tempfile::tempdir().unwrap();
    let bind = format!("{}:/mnt/shared", dir.path().display());
    let tools = |args: &[&str]| {
        let out = Command::new(bin("syscontainer-tools"))
            .arg("--root")
            .arg(host.store())
            .args(args)
            .output()
            .expect("spawn syscontainer-tools");
        assert!(
            out.status.success(),
            "syscontainer-tools {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    tools(&["add-path", "life", &bind]);
    tools(&["remove-path", "life", &bind]);
    host.ok(["pause", "life"]);
    host.ok(["unpause", "life"]);
    host.ok(["stop", "-t", "1", "life"]);
    host.ok(["rm", "life"]);

    let all = events_of(&host, &since, &["--filter", "container=life"]);
    assert_eq!(
        actions(&all),
        [
            "create",
            "start",
            "add-path",
            "remove-path",
            "pause",
            "unpause",
            "die",
            "stop",
            "destroy"
        ]
    );
    for e in &all {
        assert_eq!(e["Type"], "container", "{e}");
        assert_eq!(e["Actor"]["ID"], id.as_str(), "{e}");
        assert_eq!(e["Actor"]["Attributes"]["name"], "life", "{e}");
    }
    let times: Vec<u64> = all
        .iter()
        .map(|e| e["timeNano"].as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    let die = &all[6]["Actor"]["Attributes"];
    assert_eq!(die["exitCode"], "137", "{die}");
    assert_eq!(die["cause"], "signaled", "{die}");
    assert!(all[2]["Actor"]["Attributes"]["resource"]
        .as_str()
        .unwrap()
        .contains("/mnt/shared"));

    // Filters: by event (rm is destroy's other name), by ID prefix, and one that matches nothing.
    assert_eq!(
        actions(&events_of(
            &host,
            &since,
            &["--filter", "event=die", "--filter", "event=rm"]
        )),
        ["die", "destroy"]
    );
    let prefix = format!("container={}", &id[..12]);
    assert_eq!(
        events_of(&host, &since, &["--filter", &prefix]).len(),
        all.len()
    );
    assert!(events_of(&host, &since, &["--filter", "container=nobody"]).is_empty());
    let text = host.ok([
        "events",
        "--since",
        &since,
        "--until",
        &now_rfc3339(),
        "--filter",
        "event=create",
    ]);
    assert!(
        text.contains(&format!("container create {id} (image=none, name=life)")),
        "{text}"
    );
    let err = host.fails(["events", "--since", "yesterday", "--until", "0"]);
    assert!(err.contains("yesterday"), "{err}");

    // The follower (no --since) saw the same events as they happened.
    let mut followed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while followed.len() < all.len() && Instant::now() < deadline {
        if let Some(line) = follower.next(Duration::from_secs(1)) {
            followed.push(line);
        }
    }
    let followed_actions: Vec<String> = followed
        .iter()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
        .collect();
    assert_eq!(followed_actions, actions(&all), "{followed:#?}");
}

/// The subcommands `BIN --help` lists (without `help`).
fn listed_subcommands(bin_path: &Path) -> Vec<String> {
    let out = Command::new(bin_path).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let Some(section) = text.split("Commands:\n").nth(1) else {
        return Vec::new();
    };
    section
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|name| name != "help")
        .collect()
}

#[test]
fn every_binary_has_man_pages_for_each_subcommand_and_completions() {
    let binaries = [
        "syscontainer",
        "syscontainer-oci",
        "syscontainer-tools",
        "syscontainer-hooks",
        "lxcfs-rs",
        "lxcfs-toolkit",
        "lxcfs-hook",
    ];
    for name in binaries {
        let path = bin(name);
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(&path)
            .arg("--generate-man")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name} --generate-man: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut pages = vec![format!("{name}.1")];
        pages.extend(
            listed_subcommands(&path)
                .into_iter()
                .map(|sub| format!("{name}-{sub}.1")),
        );
        for page in &pages {
            let text = std::fs::read_to_string(dir.path().join(page))
                .unwrap_or_else(|e| panic!("{name}: {page}: {e}"));
            assert!(text.contains(".TH"), "{page} is not a man page");
        }
        if name == "syscontainer" {
            assert!(
                pages.contains(&"syscontainer-events.1".to_string()),
                "{pages:?}"
            );
            assert!(!dir.path().join("syscontainer-monitor.1").exists());
        }
        for shell in ["bash", "zsh", "fish"] {
            let out = Command::new(&path)
                .args(["--generate-completion", shell])
                .output()
                .unwrap();
            let script = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && script.contains(name),
                "{name} {shell}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let out = Command::new(&path)
            .args(["--generate-completion", "tcsh"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{name}: tcsh should be refused");
    }
}

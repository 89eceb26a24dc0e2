//! The threat model of docs/security.md, proven against real containers: each test is a row
//! of that table. (Rows proven by unit tests are named there too.)

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use syscontainer_tests::{wait_for, Host};

/// `run -d` of an application container (`PID 1` = `cmd`) on a fresh rootfs copy.
fn run_app(
    host: &Host,
    rootfs: &Path,
    name: &str,
    extra: &[&str],
    cmd: &[&str],
) -> std::process::Output {
    let mut args: Vec<String> = vec!["run".into(), "-d".into(), "--name".into(), name.into()];
    args.extend(["--cgroup-parent".into(), host.cgroup_parent.clone()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend([
        "--external-rootfs".into(),
        rootfs.display().to_string(),
        "none".into(),
    ]);
    args.extend(cmd.iter().map(|s| s.to_string()));
    host.run(&args)
}

fn app(host: &Host, rootfs: &Path, name: &str, extra: &[&str], cmd: &[&str]) {
    let out = run_app(host, rootfs, name, extra, cmd);
    assert!(
        out.status.success(),
        "run {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The numbers of `ls -l /proc/self/fd` (or of another process), leaving out the one
/// descriptor `ls` itself holds on the directory it lists.
fn open_fds(listing: &str) -> BTreeSet<u32> {
    listing
        .lines()
        .filter_map(|l| {
            let (left, target) = l.split_once(" -> ")?;
            let n: u32 = left.split_whitespace().last()?.parse().ok()?;
            let own_listing = target.starts_with("/proc/") && target.ends_with("/fd");
            (!own_listing).then_some(n)
        })
        .collect()
}

/// CVE-2024-21626: nothing the runtime holds reaches PID 1 or an exec'd process: they
/// start with stdin, stdout and stderr only.
#[test]
fn pid1_and_exec_get_no_descriptor_of_the_runtime() {
    let mut host = Host::new();
    let rootfs = host.rootfs();
    app(&host, &rootfs, "fds", &[], &["sleep", "300"]);
    let pid1 = host.exec("fds", &["ls", "-l", "/proc/1/fd"]);
    assert_eq!(open_fds(&pid1), BTreeSet::from([0, 1, 2]), "{pid1}");
    let own = host.exec("fds", &["ls", "-l", "/proc/self/fd"]);
    assert_eq!(open_fds(&own), BTreeSet::from([0, 1, 2]), "{own}");
    let detached = host.exec("fds", &["sh", "-c", "ls -l /proc/self/fd"]);
    assert_eq!(open_fds(&detached), BTreeSet::from([0, 1, 2]), "{detached}");
    host.ok(["rm", "-f", "fds"]);
}

/// CVE-2024-21626: `-w /proc/self/fd/N` cannot give PID 1 or an exec'd process a working
/// directory outside the container, whatever N the runtime happens to hold open.
#[test]
fn a_working_directory_through_proc_self_fd_stays_inside() {
    let mut host = Host::new();
    let rootfs = host.rootfs();
    app(&host, &rootfs, "cwd", &[], &["sleep", "300"]);
    for n in 3..=40 {
        let dir = format!("/proc/self/fd/{n}");
        let out = host.run(["exec", "-w", &dir, "cwd", "pwd"]);
        assert!(
            !out.status.success(),
            "exec -w {dir} ran in {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    host.ok(["rm", "-f", "cwd"]);

    for n in 3..=16 {
        let name = format!("cwd{n}");
        let dir = format!("/proc/self/fd/{n}");
        let out = run_app(&host, &rootfs, &name, &["-w", &dir], &["sleep", "300"]);
        if out.status.success() {
            // Allowed only if that directory is one the container itself can reach.
            let same = host.ok([
                "exec",
                "-w",
                "/",
                &name,
                "sh",
                "-c",
                "[ \"$(stat -L -c %d:%i /proc/1/cwd)\" = \"$(stat -c %d:%i \"$(readlink /proc/1/cwd)\")\" ] && echo inside",
            ]);
            assert_eq!(
                same, "inside",
                "run -w {dir}: PID 1 works outside the container"
            );
        }
        let _ = host.run(["rm", "-f", &name]);
    }
}

/// The /proc and /sys paths a container may not see or change, by default.
#[test]
fn proc_and_sys_are_masked_and_read_only_by_default() {
    let mut host = Host::new();
    let rootfs = host.rootfs();
    app(&host, &rootfs, "masks", &[], &["sleep", "300"]);
    // Each that this kernel has (this CI kernel lacks kcore and sysrq-trigger).
    let present = |p: &&str| Path::new(*p).exists();
    for file in [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sysrq-trigger",
    ]
    .into_iter()
    .filter(present)
    {
        // /dev/null bound over it: nothing to read, writes go nowhere.
        let kind = host.exec("masks", &["stat", "-L", "-c", "%F %t:%T", file]);
        assert_eq!(kind, "character special file 1:3", "{file}");
        assert_eq!(
            host.exec("masks", &["sh", "-c", &format!("wc -c < {file}")]),
            "0"
        );
    }
    for dir in ["/sys/firmware", "/proc/acpi", "/proc/scsi"]
        .into_iter()
        .filter(present)
    {
        let out = host.exec(
            "masks",
            &["sh", "-c", &format!("[ -d {dir} ] && ls -A {dir}")],
        );
        assert_eq!(out, "", "{dir} is not masked");
    }
    for file in [
        "/proc/sys/kernel/ns_last_pid",
        "/proc/sys/vm/drop_caches",
        "/sys/kernel/uevent_helper",
        "/sys/firmware/x",
    ] {
        let out = host.run(["exec", "masks", "sh", "-c", &format!("echo 1 > {file}")]);
        assert!(!out.status.success(), "{file} is writable");
    }
    let mountinfo = host.exec("masks", &["cat", "/proc/self/mountinfo"]);
    for path in ["/sys", "/proc/sys", "/proc/bus", "/proc/fs", "/proc/irq"] {
        let options = mountinfo
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .rfind(|f| f.get(4) == Some(&path))
            .map(|f| f[5].to_string());
        if path == "/proc/bus" && options.is_none() {
            continue;
        }
        assert!(
            options
                .as_deref()
                .is_some_and(|o| o.split(',').any(|x| x == "ro")),
            "{path}: {options:?}"
        );
    }
    host.ok(["rm", "-f", "masks"]);
}

/// A capability mask from a `/proc/PID/status` line.
fn cap_mask(status: &str, key: &str) -> u64 {
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("{key} missing: {status}"));
    u64::from_str_radix(hex.trim(), 16).unwrap()
}

/// What a system container's PID 1 runs with (docs/security.md): every capability the
/// runtime has but module loading, raw I/O, the clock and MAC policy; no no_new_privs
/// (systemd needs set-uid programs); a seccomp filter (the default one refuses `bpf`).
#[test]
fn a_system_containers_pid1_has_the_documented_capabilities_and_seccomp() {
    const DENIED: [u32; 5] = [16, 17, 25, 32, 33]; // SYS_MODULE, SYS_RAWIO, SYS_TIME, MAC_OVERRIDE, MAC_ADMIN
    let mut host = Host::new();
    host.boot("caps", &[]);
    let status = host.exec("caps", &["cat", "/proc/1/status"]);
    let ours = std::fs::read_to_string("/proc/self/status").unwrap();
    let denied: u64 = DENIED.iter().map(|b| 1u64 << b).sum();
    let expected = cap_mask(&ours, "CapBnd:") & !denied;
    assert_eq!(cap_mask(&status, "CapBnd:"), expected, "{status}");
    assert_eq!(cap_mask(&status, "CapEff:"), expected, "{status}");
    assert_eq!(cap_mask(&status, "CapPrm:"), expected, "{status}");
    assert_eq!(cap_mask(&status, "CapAmb:"), 0, "{status}");
    assert!(status.lines().any(|l| l == "NoNewPrivs:\t0"), "{status}");
    assert!(status.lines().any(|l| l == "Seccomp:\t2"), "{status}");
    // An exec'd process gets the same.
    let exec_status = host.exec("caps", &["cat", "/proc/self/status"]);
    assert_eq!(cap_mask(&exec_status, "CapBnd:"), expected);
    assert!(
        exec_status.lines().any(|l| l == "Seccomp:\t2"),
        "{exec_status}"
    );
    let out = host.exec_out("caps", &["ls", "-l", "/proc/self/fd"]);
    assert_eq!(open_fds(&out), BTreeSet::from([0, 1, 2]), "{out}");
    host.ok(["rm", "-f", "caps"]);
}

/// `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf` replaced in the rootfs by links to
/// host files: the runtime's bind mounts follow them inside the rootfs only.
#[test]
fn etc_files_planted_as_links_to_host_files_are_not_touched() {
    let mut host = Host::new();
    let rootfs = host.rootfs();
    let outside = tempfile::tempdir().unwrap();
    for name in ["hostname", "hosts", "resolv.conf"] {
        let host_file = outside.path().join(name);
        std::fs::write(&host_file, "host file\n").unwrap();
        let planted = rootfs.join("etc").join(name);
        let _ = std::fs::remove_file(&planted);
        std::os::unix::fs::symlink(&host_file, &planted).unwrap();
    }
    app(
        &host,
        &rootfs,
        "links",
        &["--hostname", "planted"],
        &["sleep", "300"],
    );
    assert_eq!(host.exec("links", &["cat", "/etc/hostname"]), "planted");
    assert!(host
        .exec("links", &["cat", "/etc/hosts"])
        .contains("planted"));
    for name in ["hostname", "hosts", "resolv.conf"] {
        let host_file = outside.path().join(name);
        assert_eq!(std::fs::read_to_string(&host_file).unwrap(), "host file\n");
        // Followed inside the container instead (there the path lies in its own /tmp).
        let inside = host.exec("links", &["cat", &host_file.display().to_string()]);
        assert_ne!(inside, "host file", "{name}");
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&outside.path().display().to_string()));
    host.ok(["rm", "-f", "links"]);
}

/// A container printing without end fills at most the console log's cap (16 MiB in
/// `console.log` plus one rotated `console.log.1`).
#[test]
fn endless_console_output_stays_within_the_log_cap() {
    const CAP: u64 = 16 << 20;
    let mut host = Host::new();
    let rootfs = host.rootfs();
    app(
        &host,
        &rootfs,
        "noisy",
        &[],
        &[
            "sh",
            "-c",
            "exec yes 0123456789012345678901234567890123456789012345678901234567890123456789",
        ],
    );
    let id = host.inspect("noisy", "{{.Id}}");
    let dir = host.store().join(&id);
    // `logs -f` follows the output across rotations.
    let mut follow = host
        .command()
        .args(["logs", "-f", "noisy"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = follow.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0u64;
        while total < CAP * 3 / 2 {
            match std::io::Read::read(&mut stdout, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n as u64,
            }
        }
        total
    });
    wait_for(
        "the console log to rotate twice",
        Duration::from_secs(300),
        || {
            // Rotated at least twice: console.log.1 was replaced by a newer one.
            std::fs::metadata(dir.join("console.log.1")).is_ok()
                && std::fs::metadata(dir.join("console.log")).is_ok_and(|m| m.len() > CAP / 2)
        },
    );
    let logs: Vec<(String, u64)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("console.log"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().to_string(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    assert!(logs.len() <= 2, "{logs:?}");
    assert!(logs.iter().all(|(_, size)| *size <= CAP), "{logs:?}");
    wait_for(
        "logs -f to read past a rotation",
        Duration::from_secs(300),
        || reader.is_finished(),
    );
    let _ = follow.kill();
    let _ = follow.wait();
    let followed = reader.join().unwrap();
    assert!(
        followed >= CAP * 3 / 2,
        "logs -f stopped after {followed} bytes"
    );
    host.ok(["rm", "-f", "noisy"]);
}

/// What a container root does to catch the runtime's `exec` child (CVE-2019-5736): it makes
/// `/etc/passwd` a FIFO, so that `exec -u` stops in the child while it reads it; grabs the
/// child's `/proc/PID/exe`; lets the exec go on; and, once told every runtime process is
/// gone, tries to write the binary through its handle.
const EXE_ATTACK: &str = r#"
mv /etc/passwd /etc/passwd.real && mkfifo /etc/passwd || exit 1
# Split so that this script's own command line does not match.
want="exec -u root e""xe true"
found=
while [ -z "$found" ]; do
  for p in /proc/[0-9]*; do
    case "$(tr '\0' ' ' < $p/cmdline 2>/dev/null)" in *"$want"*) found=$p ;; esac
  done
done
exec 7<"$found/exe"
own_root=$(stat -c %d:%i /)
for q in /proc/[0-9]*; do
  r=$(stat -L -c %d:%i $q/root 2>/dev/null) && [ "$r" != "$own_root" ] && echo "$q" >> /sc-foreign
done
echo "$(stat -f -L -c %T "$found/exe")" > /sc-seen
cat /etc/passwd.real > /etc/passwd
rm /etc/passwd && mv /etc/passwd.real /etc/passwd
while [ ! -e /sc-go ]; do sleep 0.1; done
if ( echo overwritten >> /proc/self/fd/7 ) 2>/sc-err; then echo written; else echo refused; fi > /sc-result
"#;

/// CVE-2019-5736: the process `exec` puts into the container's PID namespace runs from a
/// copy the container cannot write. The runtime here is a private copy of the binary, so
/// that no monitor keeps it busy (`ETXTBSY` would hide the hole).
#[test]
fn the_exec_child_never_exposes_a_writable_runtime_binary() {
    let mut host = Host::new();
    let rootfs = host.rootfs();
    // A system container keeps CAP_SYS_PTRACE, which opening another root process's
    // `/proc/PID/exe` needs; this one gets it without booting systemd.
    app(
        &host,
        &rootfs,
        "exe",
        &["--cap-add", "SYS_PTRACE"],
        &["sleep", "300"],
    );
    let dir = tempfile::tempdir().unwrap();
    let runtime = dir.path().join("syscontainer");
    syscontainer_tests::copy_executable(&syscontainer_tests::bin("syscontainer"), &runtime);
    let original = std::fs::read(&runtime).unwrap();
    // The process the container sees runs the exec stage, which the runtime finds beside it.
    let stage = dir.path().join("syscontainer-exec-stage");
    syscontainer_tests::copy_executable(
        &syscontainer_tests::bin("syscontainer-exec-stage"),
        &stage,
    );
    let original_stage = std::fs::read(&stage).unwrap();

    host.ok(["exec", "-d", "exe", "sh", "-c", EXE_ATTACK]);
    wait_for("the planted FIFO", Duration::from_secs(60), || {
        host.run(["exec", "exe", "test", "-p", "/etc/passwd"])
            .status
            .success()
    });
    let mut exec = std::process::Command::new(&runtime)
        .arg("--root")
        .arg(host.store())
        .args(["--log-level", "warn", "exec", "-u", "root", "exe", "true"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = exec.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = exec.kill();
            let _ = exec.wait();
            panic!("the exec never got past the planted /etc/passwd");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exec -u root: {status}");
    let seen = host.exec("exe", &["cat", "/sc-seen"]);

    host.exec("exe", &["touch", "/sc-go"]);
    wait_for("the write attempt", Duration::from_secs(60), || {
        host.run(["exec", "exe", "test", "-s", "/sc-result"])
            .status
            .success()
    });
    let result = host.exec("exe", &["cat", "/sc-result"]);
    let err = host.exec_out("exe", &["cat", "/sc-err"]);
    assert_eq!(result, "refused", "{err} (the binary was on {seen})");
    assert!(
        std::fs::read(&runtime).unwrap() == original,
        "the runtime binary changed"
    );
    assert!(
        std::fs::read(&stage).unwrap() == original_stage,
        "the exec stage binary changed"
    );
    // It was caught, and what it showed was the protected view.
    assert_eq!(seen, "overlayfs");
    // No process the container could see had a root other than the container's.
    let foreign = host.exec_out("exe", &["cat", "/sc-foreign"]);
    assert_eq!(foreign, "", "processes with the host's root");
    host.ok(["rm", "-f", "exe"]);
}

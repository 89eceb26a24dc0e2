//! The monitor's own executable: `start` needs it beside the CLI and says so when it is
//! missing; run by hand, it takes no command line but the one `start` gives it.

use std::path::Path;
use std::process::{Command, Output};

fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program).args(args).output().unwrap()
}

#[test]
fn the_monitor_executable_refuses_any_other_command_line() {
    let monitor = Path::new(env!("CARGO_BIN_EXE_syscontainer-monitor"));
    let id = "a".repeat(64);
    for args in [
        &[][..],
        &["--help"],
        &["--root", "/r", "--log-level", "loud", "monitor", &id],
        &["--root", "/r", "--log-level", "warn", "monitor", "short"],
        &["--root", "/r", "--log-level", "warn", "stop", &id],
    ] {
        let out = run(monitor, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("syscontainer-monitor: usage: syscontainer-monitor --root ROOT"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn start_names_the_missing_monitor_executable_and_leaves_the_container_created() {
    let dir = tempfile::tempdir().unwrap();
    let cli = dir.path().join("syscontainer");
    // Copied by a child process: a copy written here would be open in any child the other
    // test forks meanwhile, and running it then would fail with ETXTBSY.
    let copied = Command::new("install")
        .args(["-m", "0755", env!("CARGO_BIN_EXE_syscontainer")])
        .arg(&cli)
        .status()
        .unwrap();
    assert!(copied.success(), "install {}: {copied}", cli.display());
    let rootfs = dir.path().join("rootfs");
    for d in ["etc", "usr", "sbin"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::write(rootfs.join("sbin/init"), "").unwrap();
    let store = dir.path().join("store");
    let sc = |args: &[&str]| {
        let mut all = vec!["--root", store.to_str().unwrap()];
        all.extend_from_slice(args);
        run(&cli, &all)
    };
    let rootfs_arg = rootfs.to_str().unwrap();
    let created = sc(&[
        "create",
        "--name",
        "lone",
        "--system-container",
        "--external-rootfs",
        rootfs_arg,
        "none",
        "init",
    ]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let started = sc(&["start", "lone"]);
    let stderr = String::from_utf8_lossy(&started.stderr);
    let missing = dir.path().join("syscontainer-monitor");
    assert_eq!(started.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("no monitor executable at {}", missing.display())),
        "{stderr}"
    );
    let status = sc(&["inspect", "-f", "{{.State.Status}}", "lone"]);
    assert_eq!(String::from_utf8_lossy(&status.stdout).trim(), "created");
    assert!(sc(&["rm", "lone"]).status.success());
}

//! The `--log-level` flag of lxcfs-rs, lxcfs-hook and lxcfs-toolkit: clap refuses a bad
//! level (exit 2) before the program does anything.

use std::process::{Command, Output, Stdio};

use syscontainer_tests::assert_log_level_refused;

fn run(binary: &str, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn a_bad_log_level_is_refused_with_exit_2_by_every_binary() {
    let mountpoint = tempfile::tempdir().unwrap();
    let mnt = mountpoint.path().join("mnt");
    let mnt = mnt.to_str().unwrap();
    for level in ["loud", "WARN", "lxcfs_rs=debug"] {
        // Before the daemon mounts anything, and after none mounted.
        assert_log_level_refused(
            &run(env!("CARGO_BIN_EXE_lxcfs-rs"), &["--log-level", level, mnt]),
            level,
        );
        assert!(!std::path::Path::new(mnt).exists());
        assert_log_level_refused(
            &run(env!("CARGO_BIN_EXE_lxcfs-hook"), &["--log-level", level]),
            level,
        );
        assert_log_level_refused(
            &run(
                env!("CARGO_BIN_EXE_lxcfs-toolkit"),
                &["--log-level", level, "check-lxcfs"],
            ),
            level,
        );
        assert_log_level_refused(
            &run(
                env!("CARGO_BIN_EXE_lxcfs-toolkit"),
                &["check-lxcfs", "--log-level", level],
            ),
            level,
        );
    }
}

#[test]
fn a_named_level_is_taken() {
    let mountpoint = tempfile::tempdir().unwrap();
    let mnt = mountpoint.path().to_str().unwrap();
    for level in ["error", "warn", "info", "debug", "trace"] {
        // No daemon on this mount point: the check runs and fails with 1, not a usage error.
        let out = run(
            env!("CARGO_BIN_EXE_lxcfs-toolkit"),
            &["--mountpoint", mnt, "--log-level", level, "check-lxcfs"],
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "{level}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

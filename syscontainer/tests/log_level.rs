//! The `--log-level` flag of the `syscontainer` binary: clap refuses a bad level (exit 2)
//! before any command runs, on the monitor's lean entry too.

use std::process::{Command, Output};

use syscontainer_tests::assert_log_level_refused;

fn syscontainer(args: &[&str]) -> Output {
    let store = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_syscontainer"))
        .arg("--root")
        .arg(store.path())
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_bad_log_level_is_refused_with_exit_2() {
    for level in ["loud", "WARN", "syscontainer=debug"] {
        assert_log_level_refused(&syscontainer(&["--log-level", level, "ps"]), level);
        assert_log_level_refused(&syscontainer(&["ps", "--log-level", level]), level);
    }
}

#[test]
fn the_monitor_command_line_with_a_bad_level_is_refused_too() {
    let id = "a".repeat(64);
    assert_log_level_refused(
        &syscontainer(&["--log-level", "loud", "monitor", &id]),
        "loud",
    );
}

#[test]
fn every_named_level_is_taken() {
    for level in ["error", "warn", "info", "debug", "trace"] {
        let out = syscontainer(&["--log-level", level, "ps"]);
        assert!(
            out.status.success(),
            "{level}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

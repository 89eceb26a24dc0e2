//! The `syscontainer` command line: parses arguments, calls the library, prints.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "syscontainer",
    version,
    about = "Boot and manage system containers: a full root file system with systemd as PID 1",
    after_help = "Example:\n  syscontainer run -tid --name web1 --system-container --external-rootfs /srv/rootfs/web1 none init"
)]
pub struct Cli {
    /// Directory of the container store.
    #[arg(long, global = true, default_value = syscontainer::store::DEFAULT_ROOT, env = "SYSCONTAINER_ROOT")]
    pub root: PathBuf,
    /// Log level.
    #[arg(long, global = true, value_enum, default_value_t = sclog::LogLevel::Warn)]
    pub log_level: sclog::LogLevel,
    /// Write logs to this file instead of stderr.
    #[arg(long, global = true)]
    pub log_file: Option<PathBuf>,
    /// Daemon-wide defaults (cgroup-parent, hook-spec).
    #[arg(long, global = true, default_value = syscontainer::container::DEFAULT_DAEMON_CONFIG, env = "SYSCONTAINER_DAEMON_CONFIG")]
    pub daemon_config: PathBuf,
    #[command(subcommand)]
    pub command: commands::Command,
}

/// The arguments `container::start` spawns the monitor with, exactly: `--root ROOT
/// --log-level LEVEL monitor ID`; `None` for any other command line.
fn monitor_invocation(args: &[std::ffi::OsString]) -> Option<(PathBuf, sclog::LogLevel, &str)> {
    match args {
        [root_flag, root, level_flag, level, monitor, id]
            if root_flag == "--root" && level_flag == "--log-level" && monitor == "monitor" =>
        {
            let id = id.to_str().filter(|id| syscontainer::store::is_id(id))?;
            let level = level.to_str()?.parse().ok()?;
            Some((PathBuf::from(root), level, id))
        }
        _ => None,
    }
}

/// The monitor's own entry: what `commands::monitor` does, without building the whole
/// command-line parser first. The monitor is on the path of every boot, and is spawned
/// with one fixed form of arguments; anything else goes through clap as usual.
fn run_monitor(root: PathBuf, log_level: sclog::LogLevel, id: &str) -> ExitCode {
    use std::os::fd::{FromRawFd, OwnedFd};
    if let Err(e) = sclog::init(log_level, None) {
        eprintln!("syscontainer: {e:#}");
        return ExitCode::from(125);
    }
    let store = match syscontainer::store::Store::open(&root) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("syscontainer: open store {}: {e}", root.display());
            return ExitCode::from(125);
        }
    };
    store.sweep();
    // SAFETY: `start` passes the write end of its readiness pipe as fd 3.
    let ready = unsafe { OwnedFd::from_raw_fd(3) };
    // Not for the hooks the monitor runs: a hook's leftover child holding it would keep
    // `start` waiting for the answer.
    // SAFETY: F_SETFD on the descriptor we own.
    unsafe { libc::fcntl(3, libc::F_SETFD, libc::FD_CLOEXEC) };
    ExitCode::from(syscontainer::monitor::run(store, id, ready) as u8)
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if let Some((root, level, id)) = monitor_invocation(&args) {
        return run_monitor(root, level, id);
    }
    if let Some(code) = clidoc::intercept(<Cli as clap::CommandFactory>::command) {
        return ExitCode::from(code as u8);
    }
    let cli = Cli::parse();
    if let Err(e) = sclog::init(cli.log_level, cli.log_file.as_deref()) {
        eprintln!("syscontainer: {e:#}");
        return ExitCode::from(125);
    }
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("syscontainer: {e:#}");
            ExitCode::from(125)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_exact_monitor_command_line_takes_the_lean_entry() {
        let id = "a".repeat(64);
        let args = |v: &[&str]| -> Vec<std::ffi::OsString> { v.iter().map(Into::into).collect() };
        let ok = args(&["--root", "/r", "--log-level", "warn", "monitor", &id]);
        assert_eq!(
            super::monitor_invocation(&ok),
            Some((
                std::path::PathBuf::from("/r"),
                sclog::LogLevel::Warn,
                id.as_str()
            ))
        );
        for bad in [
            args(&["--root", "/r", "--log-level", "warn", "monitor", "abc"]),
            args(&["--log-level", "warn", "--root", "/r", "monitor", &id]),
            args(&["--root", "/r", "--log-level", "warn", "exec", &id]),
            args(&["--root", "/r", "monitor", &id]),
            args(&["--root", "/r", "--log-level", "warn", "monitor", &id, "x"]),
            args(&["--root", "/r", "--log-level", "loud", "monitor", &id]),
        ] {
            assert_eq!(super::monitor_invocation(&bad), None, "{bad:?}");
        }
        // What the lean entry replaces parses to the same thing through clap.
        use clap::Parser;
        let mut full = vec![std::ffi::OsString::from("syscontainer")];
        full.extend(ok);
        let cli = super::Cli::try_parse_from(full).unwrap();
        assert_eq!(cli.root, std::path::PathBuf::from("/r"));
        assert_eq!(cli.log_level, sclog::LogLevel::Warn);
        assert!(cli.log_file.is_none());
        assert!(matches!(cli.command, super::commands::Command::Monitor(_)));
    }

    #[test]
    fn every_visible_subcommand_gets_a_man_page() {
        use clap::CommandFactory;
        let dir = tempfile::tempdir().unwrap();
        let written = clidoc::write_man_pages(super::Cli::command(), dir.path()).unwrap();
        let cmd = super::Cli::command();
        let visible: Vec<&str> = cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| s.get_name())
            .collect();
        assert!(visible.contains(&"events") && !visible.contains(&"monitor"));
        for sub in visible {
            let page = dir.path().join(format!("syscontainer-{sub}.1"));
            assert!(written.contains(&page), "no page for {sub}");
        }
        let run = std::fs::read_to_string(dir.path().join("syscontainer-run.1")).unwrap();
        for option in ["health\\-cmd", "label\\-file", "log\\-opt", "entrypoint"] {
            assert!(run.contains(option), "run's page lacks {option}");
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}

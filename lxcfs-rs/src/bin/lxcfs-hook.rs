//! OCI prestart hook: reads the container state on stdin and bind-mounts the lxcfs-rs views
//! over the container's /proc files. Never blocks a container start: if the daemon is down
//! it warns and exits 0 (the container keeps the host's views).

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;

use lxcfs_rs::mounts::OutcomeKind;
use lxcfs_rs::toolkit::{self, HookState, ToolkitError};

/// OCI prestart hook mounting lxcfs-rs views into a container (state JSON on stdin).
#[derive(Debug, Parser)]
#[command(name = "lxcfs-hook", version)]
struct Cli {
    /// Mount point of the lxcfs-rs daemon.
    #[arg(long, default_value = toolkit::DEFAULT_MOUNTPOINT)]
    mountpoint: PathBuf,
    /// Log level.
    #[arg(long = "log-level", value_enum, default_value_t = sclog::LogLevel::Info)]
    log_level: sclog::LogLevel,
    /// Append the log to FILE instead of stderr (iSula's hook specs pass it).
    #[arg(long = "log", value_name = "FILE")]
    log_file: Option<PathBuf>,
}

fn main() {
    if let Some(code) = clidoc::intercept(<Cli as clap::CommandFactory>::command) {
        std::process::exit(code);
    }
    let cli = Cli::parse();
    if let Err(e) = sclog::init(cli.log_level, cli.log_file.as_deref()) {
        eprintln!("lxcfs-hook: {e}");
        std::process::exit(1);
    }
    if let Err(e) = run(&cli) {
        tracing::error!("{}", lxcfs_rs::error::describe(&e));
        std::process::exit(1);
    }
}

fn run(cli: &Cli) -> Result<()> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("cannot read hook state from stdin")?;
    let state = HookState::parse(&input)?;
    match toolkit::prestart(&state, &cli.mountpoint) {
        Ok(outcomes) => {
            let mut failed = false;
            for outcome in outcomes {
                match &outcome.result {
                    OutcomeKind::Failed(reason) => {
                        failed = true;
                        tracing::error!(target = outcome.target, "{reason}");
                    }
                    result => tracing::debug!(target = outcome.target, ?result),
                }
            }
            anyhow::ensure!(
                !failed,
                "some views of container {} could not be mounted",
                state.id
            );
            Ok(())
        }
        Err(ToolkitError::Mount(e @ lxcfs_rs::mounts::MountError::NotAlive { .. })) => {
            tracing::warn!(container = state.id, "{e}; container keeps host views");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guide_hook_arguments_parse() {
        let cli = Cli::try_parse_from([
            "lxcfs-hook",
            "--log",
            "/var/log/lxcfs-hook.log",
            "--log-level",
            "debug",
        ])
        .unwrap();
        assert_eq!(
            cli.log_file.as_deref(),
            Some(std::path::Path::new("/var/log/lxcfs-hook.log"))
        );
        assert_eq!(cli.mountpoint, PathBuf::from(toolkit::DEFAULT_MOUNTPOINT));
        assert!(Cli::try_parse_from(["lxcfs-hook"])
            .unwrap()
            .log_file
            .is_none());
        assert!(Cli::try_parse_from(["lxcfs-hook", "--log"]).is_err());
    }
}

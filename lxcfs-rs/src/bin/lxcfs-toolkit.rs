//! Maintenance of lxcfs-rs views in running containers.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use lxcfs_rs::mounts::{self, Outcome, OutcomeKind};
use lxcfs_rs::toolkit::{self, Container, HookState};

/// Manage lxcfs-rs views inside syscontainer containers.
#[derive(Debug, Parser)]
#[command(name = "lxcfs-toolkit", version)]
struct Cli {
    /// syscontainer state store (holds <ID>/state.json).
    #[arg(long, global = true, default_value = toolkit::DEFAULT_STORE)]
    root: PathBuf,
    /// Mount point of the lxcfs-rs daemon.
    #[arg(long, global = true, default_value = toolkit::DEFAULT_MOUNTPOINT)]
    mountpoint: PathBuf,
    /// Log level.
    #[arg(long = "log-level", global = true, value_enum, default_value_t = sclog::LogLevel::Info)]
    log_level: sclog::LogLevel,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Re-mount the views in running containers (after the daemon restarted).
    Remount {
        /// `all` or a container ID (unique prefix accepted).
        target: String,
    },
    /// Remove the views from running containers.
    Umount {
        /// `all` or a container ID (unique prefix accepted).
        target: String,
    },
    /// Exit 0 if the daemon's mount is alive.
    #[command(name = "check-lxcfs")]
    CheckLxcfs,
    /// Run as an OCI prestart hook (state JSON on stdin), like lxcfs-hook.
    Prestart,
}

fn main() {
    if let Some(code) = clidoc::intercept(<Cli as clap::CommandFactory>::command) {
        std::process::exit(code);
    }
    let cli = Cli::parse();
    if let Err(e) = sclog::init(cli.log_level, None) {
        eprintln!("lxcfs-toolkit: {e}");
        std::process::exit(1);
    }
    match run(&cli) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("lxcfs-toolkit: {}", lxcfs_rs::error::describe(&e));
            std::process::exit(1);
        }
    }
}

fn report(id: &str, outcomes: &[Outcome]) -> bool {
    let mut ok = true;
    for outcome in outcomes {
        match &outcome.result {
            OutcomeKind::Failed(reason) => {
                ok = false;
                eprintln!("{id}: {}: {reason}", outcome.target);
            }
            result => tracing::debug!(id, target = outcome.target, ?result),
        }
    }
    ok
}

fn for_each_container(
    cli: &Cli,
    selector: &str,
    verb: &str,
    action: impl Fn(&Container) -> toolkit::Result<Vec<Outcome>>,
) -> Result<()> {
    let containers = toolkit::find_containers(&cli.root, selector)?;
    let mut failures = 0;
    for container in &containers {
        let result = action(container).map(|outcomes| report(&container.id, &outcomes));
        match result {
            Ok(true) => println!("{verb} {}", container.id),
            Ok(false) => failures += 1,
            Err(e) => {
                failures += 1;
                eprintln!("{}: {e}", container.id);
            }
        }
    }
    anyhow::ensure!(
        failures == 0,
        "{failures} of {} containers failed",
        containers.len()
    );
    Ok(())
}

fn run(cli: &Cli) -> Result<()> {
    match &cli.command {
        Command::Remount { target } => {
            mounts::check_lxcfs(&cli.mountpoint)?;
            for_each_container(cli, target, "remounted", |container| {
                toolkit::remount(container, &cli.mountpoint)
            })
        }
        Command::Umount { target } => for_each_container(cli, target, "unmounted", toolkit::umount),
        Command::CheckLxcfs => {
            mounts::check_lxcfs(&cli.mountpoint)?;
            println!("lxcfs-rs is alive at {}", cli.mountpoint.display());
            Ok(())
        }
        Command::Prestart => prestart(&cli.mountpoint),
    }
}

fn prestart(mountpoint: &Path) -> Result<()> {
    let mut input = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut input)
        .context("cannot read hook state from stdin")?;
    let state = HookState::parse(&input)?;
    match toolkit::prestart(&state, mountpoint) {
        Ok(outcomes) => {
            anyhow::ensure!(
                report(&state.id, &outcomes),
                "some views could not be mounted"
            );
            Ok(())
        }
        Err(toolkit::ToolkitError::Mount(e @ mounts::MountError::NotAlive { .. })) => {
            tracing::warn!(container = state.id, "{e}; container keeps host views");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

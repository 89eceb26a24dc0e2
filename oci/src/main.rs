//! `syscontainer-oci`: runc's command line over the syscontainer library, so that
//! containerd's runc shim (`runtime_type = "io.containerd.runc.v2"`, `BinaryName`) can
//! run system containers. Global flags come before the subcommand, as with runc.

mod commands;
mod log;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use syscontainer::oci::record::DEFAULT_ROOT;

/// The version text runc's shape of `--version` prints after the program name.
const VERSION: &str = concat!(
    "version ",
    env!("CARGO_PKG_VERSION"),
    "\nspec: ",
    "1.0.2-dev"
);

#[derive(Debug, Parser)]
#[command(name = "syscontainer-oci", version = VERSION, about)]
struct Cli {
    /// Where container state lives (made if missing).
    #[arg(long, global = false, default_value = DEFAULT_ROOT)]
    root: PathBuf,
    /// Append errors (and, with --debug, more) to this file instead of stderr.
    #[arg(long)]
    log: Option<PathBuf>,
    /// The --log file's format.
    #[arg(long, value_enum, default_value_t = log::Format::Text)]
    log_format: log::Format,
    /// cgroupsPath is systemd's `slice:prefix:name`: use a delegated transient scope.
    #[arg(long)]
    systemd_cgroup: bool,
    /// Log debug messages too.
    #[arg(long)]
    debug: bool,
    #[command(subcommand)]
    command: commands::Command,
}

fn main() -> ExitCode {
    if let Some(code) = clidoc::intercept(<Cli as clap::CommandFactory>::command) {
        return ExitCode::from(code as u8);
    }
    let cli = Cli::parse();
    let logger = log::Logger::new(cli.log.clone(), cli.log_format, cli.debug);
    let ctx = commands::Context {
        root: cli.root.clone(),
        systemd_cgroup: cli.systemd_cgroup,
    };
    let owns_stdio = cli.command.stdio_is_the_containers();
    match cli.command.run(&ctx) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            logger.error(&sclog::Causes(e.as_ref()).to_string(), owns_stdio);
            ExitCode::FAILURE
        }
    }
}

//! `syscontainer-tools`: hot-add devices, NICs, routes and host paths to system
//! containers (openEuler syscontainer-tools compatible commands and output lines).

use std::path::PathBuf;

mod commands;

use clap::Parser;

use commands::Command;

#[derive(Parser)]
#[command(
    name = "syscontainer-tools",
    version,
    about = "Hot-add devices, NICs, routes and paths to system containers"
)]
struct Cli {
    /// Write the log to this file instead of stderr.
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    #[arg(long, global = true, value_enum, default_value_t = sclog::LogLevel::Warn)]
    log_level: sclog::LogLevel,
    /// The syscontainer state store.
    #[arg(long, global = true, env = "SYSCONTAINER_ROOT", default_value = syscontainer::store::DEFAULT_ROOT)]
    root: PathBuf,
    #[command(subcommand)]
    command: Command,
}

/// A command-line error as one line: clap's first paragraph (what and which argument),
/// without its usage block and tips.
fn one_line(e: &clap::Error) -> String {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand
    ) {
        return "no command given (see --help)".into();
    }
    let text = e.to_string();
    let first = text.split("\n\n").next().unwrap_or(&text);
    let first = first.trim().strip_prefix("error:").unwrap_or(first);
    let words: Vec<&str> = first.split_whitespace().collect();
    format!("{} (see --help)", words.join(" "))
}

fn main() {
    if let Some(code) = clidoc::intercept(<Cli as clap::CommandFactory>::command) {
        std::process::exit(code);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version: printed on stdout, exit 0.
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            eprintln!("syscontainer-tools: {}", one_line(&e));
            std::process::exit(1);
        }
    };
    if let Err(e) = sclog::init(cli.log_level, cli.log.as_deref()) {
        eprintln!("syscontainer-tools: {}", sclog::Causes(&e));
        std::process::exit(1);
    }
    if let Err(e) = cli.command.run(&cli.root) {
        tracing::debug!("{e:?}");
        eprintln!("syscontainer-tools: {}", sclog::Causes(e.as_ref()));
        std::process::exit(1);
    }
}

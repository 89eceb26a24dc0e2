//! `syscontainer-tools`: hot-add devices, NICs, routes and host paths to system
//! containers (openEuler syscontainer-tools compatible commands and output lines).

use std::path::PathBuf;

mod commands;

use anyhow::Result;
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
    /// error, warn, info, debug or trace.
    #[arg(long, global = true, default_value = "warn")]
    log_level: String,
    /// The syscontainer state store.
    #[arg(long, global = true, env = "SYSCONTAINER_ROOT", default_value = syscontainer::store::DEFAULT_ROOT)]
    root: PathBuf,
    #[command(subcommand)]
    command: Command,
}

fn init_logging(cli: &Cli) -> Result<()> {
    let level = match cli.log_level.as_str() {
        l @ ("error" | "warn" | "info" | "debug" | "trace") => l,
        other => {
            anyhow::bail!("invalid log level {other:?}: use error, warn, info, debug or trace")
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        .with_target(false);
    match &cli.log {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| anyhow::anyhow!("open log file {}: {e}", path.display()))?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init();
        }
        None => builder.with_writer(std::io::stderr).init(),
    }
    Ok(())
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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version: printed on stdout, exit 0.
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            eprintln!("syscontainer-tools: {}", one_line(&e));
            std::process::exit(1);
        }
    };
    if let Err(e) = init_logging(&cli) {
        eprintln!("syscontainer-tools: {e:#}");
        std::process::exit(1);
    }
    if let Err(e) = cli.command.run(&cli.root) {
        tracing::debug!("{e:?}");
        eprintln!("syscontainer-tools: {e:#}");
        std::process::exit(1);
    }
}

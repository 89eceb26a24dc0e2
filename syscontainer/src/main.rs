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
    /// Log level: error, warn, info, debug or trace.
    #[arg(long, global = true, default_value = "warn")]
    pub log_level: String,
    /// Write logs to this file instead of stderr.
    #[arg(long, global = true)]
    pub log_file: Option<PathBuf>,
    /// Daemon-wide defaults (cgroup-parent, hook-spec).
    #[arg(long, global = true, default_value = syscontainer::container::DEFAULT_DAEMON_CONFIG, env = "SYSCONTAINER_DAEMON_CONFIG")]
    pub daemon_config: PathBuf,
    #[command(subcommand)]
    pub command: commands::Command,
}

fn init_logging(cli: &Cli) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&cli.log_level).map_err(|_| {
        anyhow::anyhow!(
            "invalid --log-level {:?}: use error, warn, info, debug or trace",
            cli.log_level
        )
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match &cli.log_file {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = init_logging(&cli) {
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
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use oci_spec::runtime::Process;
use syscontainer::oci::ExecOptions;

use super::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A runtime-spec `process` JSON file (what containerd passes).
    #[arg(long, short = 'p')]
    process: Option<PathBuf>,
    /// Return once the process runs; it is reparented to the caller's subreaper.
    #[arg(long, short = 'd')]
    detach: bool,
    /// Write the process's host PID here.
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// With a terminal: send the pty master to this unix socket.
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// Inline form: give the process a terminal.
    #[arg(long, short = 't')]
    tty: bool,
    /// Inline form: working directory.
    #[arg(long)]
    cwd: Option<PathBuf>,
    /// Inline form: KEY=VALUE added to the container's environment.
    #[arg(long, short = 'e')]
    env: Vec<String>,
    id: String,
    /// Inline form: the command and its arguments (without --process).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// The process to run: the --process file, or the container's own process with the
/// inline command, environment, directory and terminal.
fn process(ctx: &Context, args: &Args) -> Result<Process> {
    if let Some(path) = &args.process {
        if !args.command.is_empty() {
            bail!("give either --process or a command, not both");
        }
        let text =
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        return serde_json::from_str(&text)
            .with_context(|| format!("{}: not a runtime-spec process", path.display()));
    }
    if args.command.is_empty() {
        bail!("exec needs --process FILE or a command");
    }
    let spec = ctx.open_root()?.load_spec(&args.id)?;
    let mut process = spec.process().clone().unwrap_or_default();
    process.set_args(Some(args.command.clone()));
    process.set_terminal(Some(args.tty));
    let mut env = process.env().clone().unwrap_or_default();
    for kv in &args.env {
        let key = kv.split_once('=').map_or(kv.as_str(), |(k, _)| k);
        env.retain(|e| e.split_once('=').map(|(k, _)| k) != Some(key));
        env.push(kv.clone());
    }
    process.set_env(Some(env));
    if let Some(cwd) = &args.cwd {
        process.set_cwd(cwd.clone());
    }
    Ok(process)
}

pub fn run(ctx: &Context, args: Args) -> Result<u8> {
    let process = process(ctx, &args)?;
    let code = syscontainer::oci::exec(
        &ctx.open_root()?,
        &args.id,
        &ExecOptions {
            process,
            detach: args.detach,
            pid_file: args.pid_file.as_deref(),
            console_socket: args.console_socket.as_deref(),
        },
    )?;
    Ok(u8::try_from(code).unwrap_or(255))
}

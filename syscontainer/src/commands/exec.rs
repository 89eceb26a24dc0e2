//! `exec [-i] [-t] [-d] [-e K=V] [-u USER] [-w DIR] CONTAINER COMMAND [ARG...]`

use std::path::PathBuf;

use clap::Args;
use syscontainer::exec::ExecOptions;
use syscontainer::options::{parse_abs_path, parse_env, parse_user, UserSpec};

use super::Ctx;

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Keep stdin open.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a terminal in the container.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Run in the background.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Environment variable KEY=VALUE.
    #[arg(short = 'e', long = "env", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// USER[:GROUP], looked up in the container.
    #[arg(short = 'u', long, value_parser = parse_user)]
    pub user: Option<UserSpec>,
    /// Working directory inside the container.
    #[arg(short = 'w', long, value_parser = parse_abs_path)]
    pub workdir: Option<PathBuf>,
    pub container: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn run(ctx: &Ctx, args: ExecArgs) -> anyhow::Result<u8> {
    // The exec'd child is visible in the container until it execs: not as the host binary.
    syscontainer::sealed_exe::reexec_sealed()?;
    let id = ctx.resolve(&args.container)?;
    let opts = ExecOptions {
        args: args.command,
        env: args.env,
        user: args.user,
        workdir: args.workdir,
        tty: args.tty,
        interactive: args.interactive,
        detach: args.detach,
        detach_keys: Vec::new(),
    };
    let code = syscontainer::exec::exec(&ctx.store, &id, &opts)?;
    Ok(code.clamp(0, 255) as u8)
}

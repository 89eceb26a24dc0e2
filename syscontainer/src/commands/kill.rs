//! `kill [-s SIGNAL] CONTAINER...`

use clap::Args;
use syscontainer::options::parse_signal;

use super::{for_each, Ctx};

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal name or number (default SIGKILL).
    #[arg(short = 's', long, default_value = "KILL", value_parser = parse_signal)]
    pub signal: i32,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn run(ctx: &Ctx, args: KillArgs) -> anyhow::Result<u8> {
    for_each(ctx, &args.containers, |id| {
        Ok(syscontainer::container::kill(&ctx.store, id, args.signal)?)
    })
}

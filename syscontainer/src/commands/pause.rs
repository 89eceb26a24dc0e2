//! `pause CONTAINER...` and `unpause CONTAINER...` (the freezer cgroup).

use clap::Args;

use super::{for_each, Ctx};

#[derive(Debug, Args)]
pub struct PauseArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UnpauseArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn run_pause(ctx: &Ctx, args: PauseArgs) -> anyhow::Result<u8> {
    for_each(ctx, &args.containers, |id| {
        Ok(syscontainer::container::pause(&ctx.store, id)?)
    })
}

pub fn run_unpause(ctx: &Ctx, args: UnpauseArgs) -> anyhow::Result<u8> {
    for_each(ctx, &args.containers, |id| {
        Ok(syscontainer::container::unpause(&ctx.store, id)?)
    })
}

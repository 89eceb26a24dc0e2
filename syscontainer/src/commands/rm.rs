//! `rm [-f] CONTAINER...`: removes the records; the rootfs is never touched.

use clap::Args;

use super::{for_each, Ctx};

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Kill a running container first.
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn run(ctx: &Ctx, args: RmArgs) -> anyhow::Result<u8> {
    for_each(ctx, &args.containers, |id| {
        Ok(syscontainer::container::remove(&ctx.store, id, args.force)?)
    })
}

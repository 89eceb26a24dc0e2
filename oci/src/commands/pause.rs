use anyhow::Result;

use super::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    id: String,
}

pub fn run(ctx: &Context, args: Args) -> Result<u8> {
    syscontainer::oci::pause(&ctx.open_root()?, &args.id)?;
    Ok(0)
}

use anyhow::Result;

use super::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kill a running container first; an unknown ID is not an error.
    #[arg(long, short = 'f')]
    force: bool,
    id: String,
}

pub fn run(ctx: &Context, args: Args) -> Result<u8> {
    syscontainer::oci::delete(&ctx.open_root()?, &args.id, args.force)?;
    Ok(0)
}

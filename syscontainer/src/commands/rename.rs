//! `rename CONTAINER NEW_NAME`

use clap::Args;
use syscontainer::options::parse_name;

use super::Ctx;

#[derive(Debug, Args)]
pub struct RenameArgs {
    pub container: String,
    #[arg(value_parser = parse_name)]
    pub new_name: String,
}

pub fn run(ctx: &Ctx, args: RenameArgs) -> anyhow::Result<u8> {
    let id = ctx.resolve(&args.container)?;
    syscontainer::container::rename(&ctx.store, &id, &args.new_name)?;
    Ok(0)
}

use anyhow::Result;

use super::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    id: String,
}

pub fn run(ctx: &Context, args: Args) -> Result<u8> {
    let state = syscontainer::oci::state(&ctx.open_root()?, &args.id)?;
    println!("{}", serde_json::to_string_pretty(&state)?);
    Ok(0)
}

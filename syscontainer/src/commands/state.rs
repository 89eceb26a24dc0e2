//! `state CONTAINER`: the OCI runtime state as JSON (what `runc state` prints).

use clap::Args;

use super::Ctx;

#[derive(Debug, Args)]
pub struct StateArgs {
    pub container: String,
}

pub fn run(ctx: &Ctx, args: StateArgs) -> anyhow::Result<u8> {
    let id = ctx.resolve(&args.container)?;
    let state = syscontainer::container::oci_state(&ctx.store, &id)?;
    println!("{}", serde_json::to_string_pretty(&state)?);
    Ok(0)
}

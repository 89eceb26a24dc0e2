//! `wait CONTAINER...`: prints each exit code.

use clap::Args;

use super::Ctx;

#[derive(Debug, Args)]
pub struct WaitArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn run(ctx: &Ctx, args: WaitArgs) -> anyhow::Result<u8> {
    for name in &args.containers {
        let id = ctx.resolve(name)?;
        let exit = syscontainer::container::wait(&ctx.store, &id)?;
        println!("{}", exit.map(|e| e.code).unwrap_or(0));
    }
    Ok(0)
}

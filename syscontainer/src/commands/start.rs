//! `start CONTAINER...`

use clap::Args;

use super::{attach, for_each, Ctx};

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach to the console after starting (one container only).
    #[arg(short = 'a', long)]
    pub attach: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn run(ctx: &Ctx, args: StartArgs) -> anyhow::Result<u8> {
    let exe = super::monitor_executable()?;
    if args.attach {
        anyhow::ensure!(
            args.containers.len() == 1,
            "--attach takes exactly one container"
        );
        let id = ctx.resolve(&args.containers[0])?;
        syscontainer::container::start(&ctx.store, &id, &exe, &ctx.log_level)?;
        let cfg = ctx.store.load_config(&id)?;
        return attach::attach_and_wait(ctx, &id, cfg.open_stdin, cfg.tty, &[16, 17]);
    }
    for_each(ctx, &args.containers, |id| {
        Ok(syscontainer::container::start(
            &ctx.store,
            id,
            &exe,
            &ctx.log_level,
        )?)
    })
}

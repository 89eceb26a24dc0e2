//! `monitor ID` (hidden): what `syscontainer-monitor` runs, kept for anything that still
//! spawns the CLI as a monitor. Started with the readiness pipe as fd 3.

use clap::Args;

use super::Ctx;

#[derive(Debug, Args)]
pub struct MonitorArgs {
    pub id: String,
}

pub fn run(ctx: &Ctx, args: MonitorArgs) -> anyhow::Result<u8> {
    anyhow::ensure!(
        syscontainer::store::is_id(&args.id),
        "monitor needs a full container ID, not {:?}",
        args.id
    );
    let code = syscontainer::monitor::entry::run_in(ctx.store.clone(), &args.id);
    Ok(code as u8)
}

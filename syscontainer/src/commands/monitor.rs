//! `monitor ID` (hidden): started by `start`, with the readiness pipe as fd 3.

use std::os::fd::{FromRawFd, OwnedFd};

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
    // SAFETY: `start` passes the write end of its readiness pipe as fd 3.
    let ready = unsafe { OwnedFd::from_raw_fd(3) };
    let code = syscontainer::monitor::run(ctx.store.clone(), &args.id, ready);
    Ok(code as u8)
}

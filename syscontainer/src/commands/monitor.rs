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
    // Not for the hooks the monitor runs: a hook's leftover child holding it would keep
    // `start` waiting for the answer.
    // SAFETY: F_SETFD on the descriptor we own.
    unsafe { libc::fcntl(3, libc::F_SETFD, libc::FD_CLOEXEC) };
    let code = syscontainer::monitor::run(ctx.store.clone(), &args.id, ready);
    Ok(code as u8)
}

//! `restore`: at host boot, start the containers whose restart policy asks for it
//! (`always`, and `unless-stopped` unless a user stopped them). `restore --shutdown`: at
//! host shutdown, halt every running container without counting it as a user's stop, so
//! that the next `restore` brings those back. Both are run by
//! `systemd/syscontainer-restore.service`.

use std::time::Duration;

use clap::Args;

use super::Ctx;

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Halt every running container for a host shutdown instead (not a user's stop:
    /// `restore` at the next boot starts them again).
    #[arg(long)]
    pub shutdown: bool,
    /// With --shutdown: seconds to wait for each clean halt before SIGKILL (default: each
    /// container's --stop-timeout).
    #[arg(short = 't', long = "time", requires = "shutdown")]
    pub time: Option<u64>,
}

pub fn run(ctx: &Ctx, args: RestoreArgs) -> anyhow::Result<u8> {
    let done = if args.shutdown {
        syscontainer::container::shutdown(&ctx.store, args.time.map(Duration::from_secs))?
    } else {
        let exe = super::monitor_executable()?;
        syscontainer::container::restore(&ctx.store, &exe, &ctx.log_level)?
    };
    for id in &done.started {
        println!("{id}");
    }
    let verb = if args.shutdown { "halt" } else { "restore" };
    for (id, e) in &done.failed {
        eprintln!("syscontainer: {verb} {id}: {e}");
    }
    Ok(if done.failed.is_empty() { 0 } else { 1 })
}

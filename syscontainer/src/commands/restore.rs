//! `restore`: at host boot, start the containers whose restart policy asks for it
//! (`always`, and `unless-stopped` unless a user stopped them). Run by
//! `systemd/syscontainer-restore.service`.

use clap::Args;

use super::Ctx;

#[derive(Debug, Args)]
pub struct RestoreArgs {}

pub fn run(ctx: &Ctx, _args: RestoreArgs) -> anyhow::Result<u8> {
    let exe = std::env::current_exe()?;
    let done = syscontainer::container::restore(&ctx.store, &exe, &ctx.log_level)?;
    for id in &done.started {
        println!("{id}");
    }
    for (id, e) in &done.failed {
        eprintln!("syscontainer: restore {id}: {e}");
    }
    Ok(if done.failed.is_empty() { 0 } else { 1 })
}

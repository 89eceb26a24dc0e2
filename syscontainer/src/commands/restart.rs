//! `restart [-t SECONDS] CONTAINER...`

use std::time::Duration;

use clap::Args;

use super::{for_each, Ctx};

#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Seconds to wait for a clean halt before SIGKILL.
    #[arg(short = 't', long = "time")]
    pub time: Option<u64>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn run(ctx: &Ctx, args: RestartArgs) -> anyhow::Result<u8> {
    let exe = super::monitor_executable()?;
    for_each(ctx, &args.containers, |id| {
        let timeout = match args.time {
            Some(t) => t,
            None => ctx.store.load_config(id)?.stop_timeout,
        };
        syscontainer::container::stop(&ctx.store, id, Duration::from_secs(timeout))?;
        sclog::crash_point("restart:after-stop");
        Ok(syscontainer::container::start(
            &ctx.store,
            id,
            &exe,
            &ctx.log_level,
        )?)
    })
}

//! `stop [-t SECONDS] CONTAINER...`

use std::time::Duration;

use clap::Args;

use super::{for_each, Ctx};

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait for a clean halt before SIGKILL (default: the container's --stop-timeout).
    #[arg(short = 't', long = "time")]
    pub time: Option<u64>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn run(ctx: &Ctx, args: StopArgs) -> anyhow::Result<u8> {
    for_each(ctx, &args.containers, |id| {
        let timeout = match args.time {
            Some(t) => t,
            None => ctx.store.load_config(id)?.stop_timeout,
        };
        Ok(syscontainer::container::stop(
            &ctx.store,
            id,
            Duration::from_secs(timeout),
        )?)
    })
}

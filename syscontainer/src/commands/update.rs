//! `update [OPTIONS] CONTAINER...`: memory, CPU and pids limits, live.

use clap::Args;
use syscontainer::options::{self as opt, ResourceArgs};

use super::{for_each, Ctx};

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub resources: ResourceArgs,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn run(ctx: &Ctx, args: UpdateArgs) -> anyhow::Result<u8> {
    let u = &args.resources;
    anyhow::ensure!(!u.is_empty(), "update needs at least one limit to change");
    syscontainer::spec::check_cpusets(u.cpuset_cpus.as_deref(), u.cpuset_mems.as_deref())?;
    for_each(ctx, &args.containers, |id| {
        check_reservation(ctx, id, u)?;
        Ok(syscontainer::container::update(&ctx.store, id, u)?)
    })
}

/// The reservation may not end up above the limit, counting the container's current
/// values for the one of the two that this update leaves alone.
fn check_reservation(ctx: &Ctx, id: &str, u: &ResourceArgs) -> anyhow::Result<()> {
    if u.memory.is_none() && u.memory_reservation.is_none() {
        return Ok(());
    }
    let spec = ctx.store.load_spec(id)?;
    let current = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| *r.memory());
    let stored = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok());
    let memory = u
        .memory
        .or_else(|| stored(current.as_ref().and_then(|m| m.limit())));
    let reservation = u
        .memory_reservation
        .or_else(|| stored(current.as_ref().and_then(|m| m.reservation())));
    opt::check_memory_reservation(memory, reservation).map_err(|reason| {
        anyhow::anyhow!(
            "--memory-reservation {}: {reason}",
            reservation.unwrap_or_default()
        )
    })
}

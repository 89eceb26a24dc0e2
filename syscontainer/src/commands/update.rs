//! `update [OPTIONS] CONTAINER...`: memory, CPU and pids limits, live.

use clap::Args;
use syscontainer::container::ResourceUpdate;
use syscontainer::options as opt;

use super::{for_each, Ctx};

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[arg(short = 'm', long, value_parser = opt::parse_memory_limit)]
    pub memory: Option<u64>,
    #[arg(long, value_parser = opt::parse_memory_swap, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    #[arg(long, value_parser = opt::parse_bytes)]
    pub memory_reservation: Option<u64>,
    #[arg(long, value_parser = opt::parse_cpus)]
    pub cpus: Option<f64>,
    #[arg(short = 'c', long, value_parser = |s: &str| opt::parse_int_in::<u64>(s, 2, 262_144))]
    pub cpu_shares: Option<u64>,
    #[arg(long, allow_hyphen_values = true, value_parser = opt::parse_cpu_quota)]
    pub cpu_quota: Option<i64>,
    #[arg(long, value_parser = |s: &str| opt::parse_int_in::<u64>(s, 1000, 1_000_000))]
    pub cpu_period: Option<u64>,
    #[arg(long, value_parser = opt::parse_cpu_list)]
    pub cpuset_cpus: Option<String>,
    #[arg(long, value_parser = opt::parse_cpu_list)]
    pub cpuset_mems: Option<String>,
    #[arg(long, allow_hyphen_values = true, value_parser = |s: &str| opt::parse_int_in::<i64>(s, -1, i64::MAX))]
    pub pids_limit: Option<i64>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn run(ctx: &Ctx, args: UpdateArgs) -> anyhow::Result<u8> {
    let u = ResourceUpdate {
        memory: args.memory,
        memory_swap: args.memory_swap,
        memory_reservation: args.memory_reservation,
        cpus: args.cpus,
        cpu_shares: args.cpu_shares,
        cpu_quota: args.cpu_quota,
        cpu_period: args.cpu_period,
        cpuset_cpus: args.cpuset_cpus.clone(),
        cpuset_mems: args.cpuset_mems.clone(),
        pids_limit: args.pids_limit,
    };
    anyhow::ensure!(
        u.memory.is_some()
            || u.memory_swap.is_some()
            || u.memory_reservation.is_some()
            || u.cpus.is_some()
            || u.cpu_shares.is_some()
            || u.cpu_quota.is_some()
            || u.cpu_period.is_some()
            || u.cpuset_cpus.is_some()
            || u.cpuset_mems.is_some()
            || u.pids_limit.is_some(),
        "update needs at least one limit to change"
    );
    syscontainer::spec::check_cpusets(u.cpuset_cpus.as_deref(), u.cpuset_mems.as_deref())?;
    for_each(ctx, &args.containers, |id| {
        check_reservation(ctx, id, &u)?;
        Ok(syscontainer::container::update(&ctx.store, id, &u)?)
    })
}

/// The reservation may not end up above the limit, counting the container's current
/// values for the one of the two that this update leaves alone.
fn check_reservation(ctx: &Ctx, id: &str, u: &ResourceUpdate) -> anyhow::Result<()> {
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

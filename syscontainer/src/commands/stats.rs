//! `stats [--no-stream] [CONTAINER...]`: CPU, memory and pids from the cgroups.

use std::time::{Duration, Instant};

use clap::Args;
use syscontainer::container::Container;

use super::Ctx;

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print one sample and exit.
    #[arg(long)]
    pub no_stream: bool,
    pub containers: Vec<String>,
}

struct Sample {
    name: String,
    cpu_ns: u64,
    mem: Option<(u64, u64)>,
    pids: Option<u64>,
}

fn sample(ctx: &Ctx, ids: &[String]) -> Vec<Sample> {
    ids.iter()
        .filter_map(|id| Container::load(&ctx.store, id).ok())
        .filter(|c| c.state.is_active())
        .map(|c| {
            let cg = c.cgroup();
            Sample {
                name: c.config.name.clone(),
                cpu_ns: cg.cpu_usage_ns().unwrap_or(0),
                mem: cg.memory_usage(),
                pids: cg.pids_current(),
            }
        })
        .collect()
}

fn mib(b: u64) -> String {
    if b >= 1 << 50 {
        "unlimited".into()
    } else {
        format!("{:.1}MiB", b as f64 / (1 << 20) as f64)
    }
}

pub fn run(ctx: &Ctx, args: StatsArgs) -> anyhow::Result<u8> {
    let ids: Vec<String> = if args.containers.is_empty() {
        ctx.store.ids()?
    } else {
        args.containers
            .iter()
            .map(|n| ctx.resolve(n))
            .collect::<anyhow::Result<_>>()?
    };
    loop {
        let t0 = Instant::now();
        let first = sample(ctx, &ids);
        std::thread::sleep(Duration::from_millis(500));
        let second = sample(ctx, &ids);
        let elapsed = t0.elapsed().as_nanos().max(1) as f64;
        println!(
            "{:<24} {:>8} {:>26} {:>8} {:>6}",
            "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS"
        );
        for s in &second {
            let before = first
                .iter()
                .find(|f| f.name == s.name)
                .map(|f| f.cpu_ns)
                .unwrap_or(s.cpu_ns);
            let cpu = (s.cpu_ns.saturating_sub(before)) as f64 / elapsed * 100.0;
            let (usage, limit) = s.mem.unwrap_or((0, 0));
            let pct = if limit > 0 && limit < 1 << 50 {
                usage as f64 / limit as f64 * 100.0
            } else {
                0.0
            };
            println!(
                "{:<24} {:>7.2}% {:>26} {:>7.2}% {:>6}",
                s.name,
                cpu,
                format!("{} / {}", mib(usage), mib(limit)),
                pct,
                s.pids.map(|p| p.to_string()).unwrap_or_else(|| "-".into())
            );
        }
        if args.no_stream {
            return Ok(0);
        }
    }
}

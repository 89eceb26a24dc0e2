//! Boot to running, the runtime's own share of boot, idle footprint, and graceful stop.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::{Bench, Running};
use crate::host;
use crate::procevents::{monotonic_ns, ExecListener};
use crate::results::Metric;
use crate::runtime::{Runtime, TIMEOUT};

/// How long a booted container is left alone before its footprint is read.
const SETTLE: Duration = Duration::from_millis(1500);

pub fn run(bench: &mut Bench) -> Result<()> {
    let execs = match ExecListener::start() {
        Ok(l) => Some(l),
        Err(e) => {
            bench.results.note(format!(
                "runtime share of boot not measured: the process connector is unavailable ({e})"
            ));
            None
        }
    };
    for run in 0..bench.runs {
        let peers = bench.peers();
        let mut samples = Vec::new();
        for peer in peers {
            let sample = one_boot(bench, peer, execs.as_ref())
                .with_context(|| format!("boot run {} of {}", run + 1, peer.name()))?;
            samples.push((peer.name(), sample));
        }
        for (peer, s) in samples {
            let r = &mut bench.results;
            r.add(Metric::Boot, peer, None, None, s.boot);
            if let Some(share) = s.runtime_share {
                r.add(Metric::RuntimeShare, peer, None, None, share);
            }
            r.add(Metric::MonitorRss, peer, None, None, s.monitor_rss);
            if let Some(pss) = s.monitor_pss {
                r.add(Metric::MonitorPss, peer, None, None, pss);
            }
            if let Some(mem) = s.container_memory {
                r.add(Metric::ContainerMemory, peer, None, None, mem);
            }
            r.add(Metric::Stop, peer, None, None, s.stop);
        }
    }
    Ok(())
}

struct BootSample {
    boot: f64,
    runtime_share: Option<f64>,
    monitor_rss: f64,
    monitor_pss: Option<f64>,
    container_memory: Option<f64>,
    stop: f64,
}

fn one_boot(bench: &Bench, peer: &dyn Runtime, execs: Option<&ExecListener>) -> Result<BootSample> {
    let rootfs = bench.rootfs_copy();
    let name = bench.name(peer.name());
    if let Some(l) = execs {
        l.clear();
    }
    let since = monotonic_ns();
    let t0 = Instant::now();
    let mut running = Running::new(peer, peer.start(&name, &rootfs.path())?);
    let init = peer.init_pid(&running.started)?;
    host::wait_booted(init, TIMEOUT)?;
    let boot = t0.elapsed().as_secs_f64();

    let runtime_share = execs
        .and_then(|l| l.first_exec(init, since, Duration::from_secs(2)))
        .map(|e| (e.monotonic_ns.saturating_sub(since)) as f64 / 1e6);

    std::thread::sleep(SETTLE);
    let monitor = peer.monitor_pid(&running.started)?;
    let monitor_rss = host::rss_kib(monitor)
        .with_context(|| format!("no VmRSS for {} monitor {monitor}", peer.name()))?;
    let monitor_pss = host::pss_kib(monitor);
    let container_memory = host::cgroup_anon_kib(init);

    let t1 = Instant::now();
    peer.stop(&mut running.started)?;
    let stop = t1.elapsed().as_secs_f64();
    drop(running);
    drop(rootfs);
    Ok(BootSample {
        boot,
        runtime_share,
        monitor_rss,
        monitor_pss,
        container_memory,
        stop,
    })
}

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
    if !bench.smoke {
        // Untimed: the first boot after the rootfs was made reads its files from disk,
        // and whichever peer came first would pay for every peer.
        for peer in bench.peers() {
            one_boot(bench, peer, execs.as_ref())
                .with_context(|| format!("warm-up boot of {}", peer.name()))?;
        }
    }
    for run in 0..bench.runs {
        let peers = nth_order(bench.peers(), run as usize);
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

/// The `n`-th of the orders of `items` in lexicographic order, cycling: run by run the
/// peers go through every order, so that none always boots first or always right after
/// the same other peer.
fn nth_order<T>(mut items: Vec<T>, n: usize) -> Vec<T> {
    let count: usize = (1..=items.len()).product();
    let mut rank = n % count.max(1);
    let mut ordered = Vec::with_capacity(items.len());
    while !items.is_empty() {
        let block: usize = (1..items.len()).product();
        ordered.push(items.remove(rank / block));
        rank %= block;
    }
    ordered
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

#[cfg(test)]
mod tests {
    use super::nth_order;

    #[test]
    fn runs_go_through_every_order_of_the_peers_then_start_over() {
        let orders: Vec<Vec<char>> = (0..7).map(|n| nth_order(vec!['s', 'l', 'n'], n)).collect();
        assert_eq!(
            orders[..6],
            [
                vec!['s', 'l', 'n'],
                vec!['s', 'n', 'l'],
                vec!['l', 's', 'n'],
                vec!['l', 'n', 's'],
                vec!['n', 's', 'l'],
                vec!['n', 'l', 's'],
            ]
        );
        assert_eq!(orders[6], orders[0]);
    }

    #[test]
    fn one_or_no_peer_keeps_its_order() {
        assert_eq!(nth_order(vec![1], 5), vec![1]);
        assert_eq!(nth_order(Vec::<u8>::new(), 3), Vec::<u8>::new());
    }
}

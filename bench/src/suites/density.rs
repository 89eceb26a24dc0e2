//! N containers started at once: time until every one answers `running`, and memory per
//! container (its cgroup's anon + shmem plus its supervisor's PSS: what it costs the host,
//! attributable to it whatever else the machine runs), for each N and each peer.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};

use super::{Bench, Running};
use crate::host;
use crate::results::{Metric, Results};
use crate::runtime::{Runtime, TIMEOUT};

/// Host memory a booted idle container may need at most, for the "as memory allows" check:
/// about 15 times what one takes (6–8 MiB of anon and shmem, its supervisor, a few MiB of
/// page cache for its overlay's journal), so that N = 100 fits a 24 GiB host.
const BUDGET_MIB_PER_CONTAINER: f64 = 100.0;

/// How long the runtimes may take to remove a stopped container's cgroups.
const CLEANUP_GRACE: Duration = Duration::from_secs(10);

pub fn run(bench: &mut Bench) -> Result<()> {
    let mut found = Results::default();
    for n in bench.density.clone() {
        let free = host::machine().memory_mib as f64 - host::host_used_mib();
        if n as f64 * BUDGET_MIB_PER_CONTAINER > free {
            found.note(format!(
                "density with {n} containers skipped: {free:.0} MiB free is less than \
                 {BUDGET_MIB_PER_CONTAINER:.0} MiB per container"
            ));
            continue;
        }
        for peer in bench.peers() {
            match at_once(bench, peer, n)? {
                Ok((seconds, mib)) => {
                    found.add(Metric::DensityTime, peer.name(), None, Some(n), seconds);
                    found.add(Metric::DensityMemory, peer.name(), None, Some(n), mib);
                }
                Err(failed) => found.note(format!(
                    "density: {failed} of {n} {} containers started at once did not finish \
                     booting within {} s, so {} has no figure for N = {n}",
                    peer.name(),
                    TIMEOUT.as_secs(),
                    peer.name()
                )),
            }
            let left = wait_for_cleanup(bench);
            if !left.is_empty() {
                found.note(format!(
                    "density: {} N = {n} left behind after stopping: {}",
                    peer.name(),
                    left.join(", ")
                ));
            }
        }
    }
    bench.results.merge(found);
    Ok(())
}

/// Whatever the containers of a run left on the host, once the runtimes had time to go.
fn wait_for_cleanup(bench: &Bench) -> Vec<String> {
    let deadline = Instant::now() + CLEANUP_GRACE;
    loop {
        let left = host::leftovers(&bench.work);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Boot `n` containers of one peer concurrently: (seconds until all run, MiB per
/// container), or how many did not boot.
fn at_once(bench: &Bench, peer: &dyn Runtime, n: u32) -> Result<Result<(f64, f64), usize>> {
    let copies: Vec<_> = (0..n).map(|_| bench.rootfs_copy()).collect();
    let names: Vec<String> = (0..n).map(|_| bench.name(peer.name())).collect();

    let running: Mutex<Vec<Running>> = Mutex::new(Vec::new());
    let t0 = Instant::now();
    let outcome: Vec<Result<f64>> = std::thread::scope(|s| {
        let handles: Vec<_> = copies
            .iter()
            .zip(&names)
            .map(|(copy, name)| {
                let running = &running;
                s.spawn(move || -> Result<f64> {
                    let started = peer.start(name, &copy.path())?;
                    let init = {
                        let r = Running::new(peer, started);
                        let init = peer.init_pid(&r.started);
                        running.lock().unwrap().push(r);
                        init?
                    };
                    host::wait_booted(init, TIMEOUT)?;
                    Ok(t0.elapsed().as_secs_f64())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("boot thread panicked")))
            })
            .collect()
    });
    let mut all_running: f64 = 0.0;
    let mut failed = 0;
    for r in outcome {
        match r {
            Ok(t) => all_running = all_running.max(t),
            Err(e) => {
                eprintln!("syscontainer-bench: density {} N={n}: {e:#}", peer.name());
                failed += 1;
            }
        }
    }
    if failed > 0 {
        return Ok(Err(failed));
    }

    std::thread::sleep(std::time::Duration::from_secs(2));
    let mut running = running.into_inner().unwrap();
    let mut total_kib = 0.0;
    for r in &running {
        let (init, monitor) = match (
            r.runtime.init_pid(&r.started),
            r.runtime.monitor_pid(&r.started),
        ) {
            (Ok(i), Ok(m)) => (i, m),
            (Err(e), _) | (_, Err(e)) => return Err(e),
        };
        total_kib +=
            host::cgroup_anon_kib(init).unwrap_or(0.0) + host::pss_kib(monitor).unwrap_or(0.0);
    }
    let per_container = total_kib / 1024.0 / n as f64;

    // Halt them all at once; whatever does not stop cleanly is destroyed by the drop.
    std::thread::scope(|s| {
        for r in running.iter_mut() {
            s.spawn(move || {
                let _ = r.runtime.stop(&mut r.started);
            });
        }
    });
    drop(running);
    drop(copies);
    Ok(Ok((all_running, per_container)))
}

//! `/bin/true` in a booted container: each peer's exec command, and `nsenter -a` as the floor
//! (no runtime at all: setns into every namespace and exec).

use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::{Bench, Running};
use crate::host;
use crate::results::{Metric, Results};
use crate::runtime::TIMEOUT;

/// The peer name under which the floor is reported.
pub const FLOOR: &str = "nsenter";

pub fn run(bench: &mut Bench) -> Result<()> {
    let peers = bench.peers();
    let mut rootfs = Vec::new();
    let mut booted = Vec::new();
    for peer in peers {
        let copy = bench.rootfs_copy();
        let started = peer.start(&bench.name(peer.name()), &copy.path())?;
        rootfs.push(copy);
        let running = Running::new(peer, started);
        let init = peer.init_pid(&running.started)?;
        host::wait_booted(init, TIMEOUT)?;
        booted.push((running, init));
    }
    let floor_pid = booted[0].1.to_string();
    let floor = ["nsenter", "-a", "-t", floor_pid.as_str(), "/bin/true"];

    let mut samples: Vec<(&str, f64)> = Vec::new();
    for _ in 0..bench.exec_runs {
        for (running, _) in &booted {
            let t0 = Instant::now();
            match running.runtime.exec_true(&running.started) {
                None => continue,
                Some(result) => {
                    result.with_context(|| format!("{} exec /bin/true", running.runtime.name()))?
                }
            }
            samples.push((running.runtime.name(), t0.elapsed().as_secs_f64() * 1e3));
        }
        let t0 = Instant::now();
        host::run(&floor)?;
        samples.push((FLOOR, t0.elapsed().as_secs_f64() * 1e3));
    }
    if samples.is_empty() {
        bail!("no exec was measured");
    }
    let mut found = Results::default();
    for (running, _) in &booted {
        if running.runtime.exec_true(&running.started).is_none() {
            found.note(format!(
                "{} has no exec command on this host (it needs systemd-machined, which needs \
                 systemd as the host's PID 1), so it is left out of the exec comparison",
                running.runtime.name()
            ));
        }
    }
    for (peer, ms) in samples {
        found.add(Metric::Exec, peer, None, None, ms);
    }
    drop(booted);
    drop(rootfs);
    bench.results.merge(found);
    Ok(())
}

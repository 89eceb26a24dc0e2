//! lxcfs-rs against lxcfs 5.0.3 on the same container: open+read+close latency and reads per
//! second of each view, read from inside a booted system container (`-m 256M
//! --cpuset-cpus 0`) through both daemons at once, with the kernel's own `/proc` as the floor;
//! then p50/p99 latency of 32 concurrent readers spread over 8 such containers, the daemons
//! taking turns.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use syscontainer_tests::{fuse_uring, Rootfs};

use super::{Bench, Running};
use crate::host;
use crate::readloop::FileReport;
use crate::results::{Metric, Results};
use crate::runtime::{Runtime, TIMEOUT};

pub const OURS: &str = "lxcfs-rs";
/// lxcfs-rs with every request through `/dev/fuse`, measured beside [`OURS`] when that one
/// serves over io_uring.
pub const OURS_DEV_FUSE: &str = "lxcfs-rs /dev/fuse";
pub const THEIRS: &str = "lxcfs 5.0.3";
pub const KERNEL: &str = "kernel /proc";
const LXCFS: &str = "/usr/bin/lxcfs";
const FILES: &[&str] = &[
    "proc/meminfo",
    "proc/stat",
    "proc/cpuinfo",
    "proc/uptime",
    "proc/loadavg",
    "proc/diskstats",
    "proc/swaps",
    "sys/devices/system/cpu/online",
];
const FUSE_SUPER_MAGIC: i64 = 0x6573_5546;
/// Containers and readers of the concurrent measurement.
const CONCURRENT_CONTAINERS: usize = 8;
const CONCURRENT_READERS: usize = 32;
/// The files read by the concurrent readers: the memory view, two CPU views and uptime.
const CONCURRENT_FILES: &[&str] = &["proc/meminfo", "proc/stat", "proc/cpuinfo", "proc/uptime"];

/// A FUSE daemon serving `mountpoint`; stopped and unmounted on drop.
struct Daemon {
    child: Child,
    mountpoint: PathBuf,
}

impl Daemon {
    fn start(program: &Path, args: &[&str], mountpoint: &Path) -> Result<Daemon> {
        std::fs::create_dir_all(mountpoint)?;
        let child = Command::new(program)
            .args(args)
            .arg(mountpoint)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        let mut daemon = Daemon {
            child,
            mountpoint: mountpoint.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !is_fuse(&mountpoint.join("proc/meminfo")) {
            if let Some(status) = daemon.child.try_wait()? {
                bail!("{} exited ({status}) before mounting", program.display());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not mount {}",
                    program.display(),
                    mountpoint.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(daemon)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = nix::mount::umount2(&self.mountpoint, nix::mount::MntFlags::MNT_DETACH);
    }
}

fn is_fuse(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .map(|s| s.filesystem_type().0 == FUSE_SUPER_MAGIC)
        .unwrap_or(false)
}

/// What the container must see through a view for the figure to count: the 256 MiB limit.
fn shows_the_limit(meminfo: &str) -> bool {
    meminfo
        .lines()
        .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["MemTotal:", "262144", "kB"])
}

pub fn run(bench: &mut Bench) -> Result<()> {
    let mut found = Results::default();
    let fuse = bench.work.join("fuse");
    let (ours, ours_dev_fuse, theirs) = start_daemons(bench, &fuse, &mut found)?;

    let exe = std::env::current_exe().context("cannot find the benchmark's own binary")?;
    let exe_dir = exe
        .parent()
        .context("the benchmark binary has no directory")?;
    let exe_name = exe
        .file_name()
        .context("the benchmark binary has no name")?;
    let volume_fuse = format!("{}:/bench/fuse", fuse.display());
    let volume_bin = format!("{}:/bench/bin:ro", exe_dir.display());

    let volumes = [volume_fuse.as_str(), volume_bin.as_str()];
    let mut containers = Vec::new();
    let first = start_reader_container(bench, "0", &volumes)?;
    let targets = read_targets(&ours, ours_dev_fuse.as_ref(), theirs.as_ref(), &mut found);
    let reader = format!("/bench/bin/{}", exe_name.to_string_lossy());
    let reports = read_loop(bench, &first.0, &reader, &targets)?;
    record(&targets, &reports, &mut found);
    containers.push(first);

    // The other containers alternate between the two CPUs.
    for i in 1..CONCURRENT_CONTAINERS {
        let cpu = if i % 2 == 1 { "1" } else { "0" };
        containers.push(start_reader_container(bench, cpu, &volumes)?);
    }
    let names: Vec<&str> = containers.iter().map(|c| c.0.as_str()).collect();
    let concurrent = concurrent_targets(&ours, theirs.as_ref());
    let per_container = concurrent_reads(bench, &names, &reader, &concurrent)?;
    record_concurrent(&concurrent, &per_container, &mut found);
    drop(containers);
    drop(theirs);
    drop(ours_dev_fuse);
    drop(ours);
    bench.results.merge(found);
    Ok(())
}

/// A booted reader container (`-m 256M`, pinned to `cpu`) with both daemons' mounts and the
/// benchmark binary as volumes: its name, the container and its rootfs (dropped in that
/// order).
fn start_reader_container<'a>(
    bench: &'a Bench,
    cpu: &str,
    volumes: &[&str; 2],
) -> Result<(String, Running<'a>, Rootfs)> {
    let rootfs = bench.rootfs_copy();
    let name = bench.name("lxcfs");
    let started = bench.syscontainer.start_with(
        &name,
        &rootfs.path(),
        &[
            "-m",
            "256M",
            "--cpuset-cpus",
            cpu,
            "-v",
            volumes[0],
            "-v",
            volumes[1],
        ],
    )?;
    let running = Running::new(&bench.syscontainer, started);
    let init = bench.syscontainer.init_pid(&running.started)?;
    host::wait_booted(init, TIMEOUT)?;
    Ok((name, running, rootfs))
}

/// lxcfs-rs, and lxcfs 5.0.3 where it is installed, each mounted below `fuse`. Where the
/// kernel has FUSE over io_uring, lxcfs-rs is mounted with the fuse module's switch on (for
/// its FUSE_INIT only, then put back) and serves over io_uring; a second lxcfs-rs serves over
/// `/dev/fuse` beside it.
fn start_daemons(
    bench: &Bench,
    fuse: &Path,
    found: &mut Results,
) -> Result<(Daemon, Option<Daemon>, Option<Daemon>)> {
    let program = bench.bin_dir.join("lxcfs-rs");
    let over_uring = fuse_uring::with_uring_enabled(|| {
        Daemon::start(
            &program,
            &["--log-level", "warn", "--io-uring", "on"],
            &fuse.join("ours"),
        )
    })
    .with_context(|| format!("cannot set {}", fuse_uring::ENABLE_URING))?;
    let (ours, ours_dev_fuse) = match over_uring {
        Some(ours) => {
            let ours = ours?;
            found.note(format!(
                "lxcfs-rs serves over io_uring ({} on for its mount only); \
                 \"{OURS_DEV_FUSE}\" is the same daemon with --io-uring off",
                fuse_uring::ENABLE_URING
            ));
            let dev_fuse = Daemon::start(
                &program,
                &["--log-level", "warn", "--io-uring", "off"],
                &fuse.join("ours-dev-fuse"),
            )?;
            (ours, Some(dev_fuse))
        }
        None => {
            found.note("this kernel has no FUSE over io_uring: lxcfs-rs serves /dev/fuse");
            let ours = Daemon::start(
                &program,
                &["--log-level", "warn", "--io-uring", "off"],
                &fuse.join("ours"),
            )?;
            (ours, None)
        }
    };
    let theirs = if Path::new(LXCFS).exists() {
        let pidfile = bench.work.join("lxcfs.pid");
        let pidfile = pidfile
            .to_str()
            .context("work dir is not UTF-8")?
            .to_string();
        Some(Daemon::start(
            Path::new(LXCFS),
            &["-f", "-p", &pidfile],
            &fuse.join("theirs"),
        )?)
    } else {
        found.note("lxcfs 5.0.3 is not installed: lxcfs-rs is measured alone");
        None
    };
    Ok((ours, ours_dev_fuse, theirs))
}

/// (peer, file, path inside the container) of every view the daemons serve, and the
/// kernel's own file.
fn read_targets(
    ours: &Daemon,
    ours_dev_fuse: Option<&Daemon>,
    theirs: Option<&Daemon>,
    found: &mut Results,
) -> Vec<(&'static str, &'static str, String)> {
    let mut targets = Vec::new();
    for file in FILES {
        if !ours.mountpoint.join(file).exists() {
            continue;
        }
        if let Some(theirs) = theirs {
            if !theirs.mountpoint.join(file).exists() {
                found.note(format!("lxcfs 5.0.3 does not serve {file}"));
                continue;
            }
            targets.push((THEIRS, *file, format!("/bench/fuse/theirs/{file}")));
        }
        targets.push((OURS, *file, format!("/bench/fuse/ours/{file}")));
        if ours_dev_fuse.is_some() {
            targets.push((
                OURS_DEV_FUSE,
                *file,
                format!("/bench/fuse/ours-dev-fuse/{file}"),
            ));
        }
        targets.push((KERNEL, *file, format!("/{file}")));
    }
    targets
}

/// Runs the benchmark's own `read-loop` inside the container over every target.
fn read_loop(
    bench: &Bench,
    name: &str,
    reader: &str,
    targets: &[(&str, &str, String)],
) -> Result<Vec<FileReport>> {
    // Many short throughput rounds, so that the daemons take turns often and share out
    // whatever else the machine is doing.
    let (iterations, cold, rounds, seconds) = if bench.smoke {
        ("20", "2", "1", "0.1")
    } else {
        ("2000", "30", "10", "0.3")
    };
    let mut args = vec![
        "exec",
        name,
        reader,
        "read-loop",
        "--iterations",
        iterations,
        "--cold",
        cold,
        "--rounds",
        rounds,
        "--seconds",
        seconds,
    ];
    args.extend(targets.iter().map(|(_, _, path)| path.as_str()));
    let out = bench
        .syscontainer
        .command()
        .args(&args)
        .output()
        .context("cannot run syscontainer exec")?;
    if !out.status.success() {
        bail!(
            "read-loop inside the container failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    serde_json::from_slice(&out.stdout).context("read-loop printed no valid JSON")
}

/// (peer, file, path inside the container) for the concurrent readers: each file through
/// lxcfs 5.0.3 then lxcfs-rs, so the daemons take turns file by file.
fn concurrent_targets(
    ours: &Daemon,
    theirs: Option<&Daemon>,
) -> Vec<(&'static str, &'static str, String)> {
    let mut targets = Vec::new();
    for file in CONCURRENT_FILES {
        if theirs.is_some_and(|t| t.mountpoint.join(file).exists()) {
            targets.push((THEIRS, *file, format!("/bench/fuse/theirs/{file}")));
        }
        if ours.mountpoint.join(file).exists() {
            targets.push((OURS, *file, format!("/bench/fuse/ours/{file}")));
        }
    }
    targets
}

/// Runs one `read-loop --concurrent` in every container at once, the phases aligned on the
/// wall clock; the readers are shared out evenly over the containers.
fn concurrent_reads(
    bench: &Bench,
    names: &[&str],
    reader: &str,
    targets: &[(&str, &str, String)],
) -> Result<Vec<Vec<FileReport>>> {
    let (rounds, seconds, lead_ms) = if bench.smoke {
        ("1", "0.2", 2000)
    } else {
        ("3", "1", 3000)
    };
    let readers = (CONCURRENT_READERS / names.len().max(1)).to_string();
    let start_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("clock before the epoch")?
        .as_millis() as u64
        + lead_ms;
    let start_ms = start_ms.to_string();
    let mut children = Vec::new();
    for name in names {
        let mut args = vec![
            "exec",
            name,
            reader,
            "read-loop",
            "--concurrent",
            &readers,
            "--rounds",
            rounds,
            "--seconds",
            seconds,
            "--start-at-ms",
            &start_ms,
        ];
        args.extend(targets.iter().map(|(_, _, path)| path.as_str()));
        let child = bench
            .syscontainer
            .command()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot run syscontainer exec")?;
        children.push(child);
    }
    let mut all = Vec::new();
    let mut failure = None;
    for child in children {
        let out = child.wait_with_output()?;
        if !out.status.success() {
            failure = Some(String::from_utf8_lossy(&out.stderr).trim().to_string());
            continue;
        }
        all.push(serde_json::from_slice(&out.stdout).context("read-loop printed no valid JSON")?);
    }
    if let Some(stderr) = failure {
        bail!("concurrent read-loop inside a container failed: {stderr}");
    }
    Ok(all)
}

/// The `q` quantile (nearest rank) of `sorted`, in µs.
fn quantile_us(sorted: &[u32], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(f64::from(sorted[rank - 1]) / 1e3)
}

/// p50 and p99 of each round over the reads of every container, per daemon and file.
fn record_concurrent(
    targets: &[(&str, &str, String)],
    per_container: &[Vec<FileReport>],
    found: &mut Results,
) {
    for (i, (peer, file, _)) in targets.iter().enumerate() {
        let rounds = per_container
            .iter()
            .filter_map(|reports| reports.get(i))
            .map(|r| r.concurrent_ns.len())
            .max()
            .unwrap_or(0);
        for round in 0..rounds {
            let mut merged: Vec<u32> = per_container
                .iter()
                .filter_map(|reports| reports.get(i)?.concurrent_ns.get(round))
                .flatten()
                .copied()
                .collect();
            merged.sort_unstable();
            if let Some(p50) = quantile_us(&merged, 0.5) {
                found.add(Metric::LxcfsConcurrentP50, peer, Some(file), None, p50);
            }
            if let Some(p99) = quantile_us(&merged, 0.99) {
                found.add(Metric::LxcfsConcurrentP99, peer, Some(file), None, p99);
            }
        }
    }
}

fn record(targets: &[(&str, &str, String)], reports: &[FileReport], found: &mut Results) {
    for ((peer, file, _), report) in targets.iter().zip(reports) {
        if *file == "proc/meminfo" && *peer != KERNEL && !shows_the_limit(&report.content) {
            found.note(format!(
                "{peer}: meminfo inside the container did not show the 256 MiB limit"
            ));
        }
        for ns in &report.latency_ns {
            found.add(Metric::LxcfsLatency, peer, Some(file), None, ns / 1e3);
        }
        for ns in &report.cold_latency_ns {
            found.add(Metric::LxcfsColdLatency, peer, Some(file), None, ns / 1e3);
        }
        for rate in &report.reads_per_sec {
            found.add(Metric::LxcfsThroughput, peer, Some(file), None, *rate);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn quantiles_are_nearest_rank_in_microseconds() {
        let sorted: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(super::quantile_us(&sorted, 0.5), Some(50.0));
        assert_eq!(super::quantile_us(&sorted, 0.99), Some(99.0));
        assert_eq!(super::quantile_us(&[7000], 0.99), Some(7.0));
        assert_eq!(super::quantile_us(&[], 0.5), None);
    }

    #[test]
    fn the_limit_is_recognised_exactly() {
        assert!(super::shows_the_limit(
            "MemTotal:         262144 kB\nMemFree: 1 kB\n"
        ));
        assert!(!super::shows_the_limit("MemTotal:       24576000 kB\n"));
    }
}

//! The reader that runs *inside* a container for the lxcfs figures: open+read+close of each
//! file, interleaved file by file, timed one by one (latency) and in parallel for a fixed time
//! (throughput); or, with `--concurrent`, many readers per file with every read timed, in
//! phases aligned on the wall clock so that readers in several containers run at once.
//! Prints JSON on stdout.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, clap::Args)]
pub struct ReadLoopArgs {
    /// Timed reads of each file, single-threaded.
    #[arg(long, default_value_t = 2000)]
    pub iterations: u32,
    /// Reads of one file before moving to the next, so the files share out any drift.
    #[arg(long, default_value_t = 20)]
    pub batch: u32,
    /// Throughput rounds per file.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// Seconds of each throughput round.
    #[arg(long, default_value_t = 1.0)]
    pub seconds: f64,
    /// Concurrent readers in a throughput round.
    #[arg(long, default_value_t = 4)]
    pub threads: u32,
    /// Timed reads of each file after the file was left alone for `--cold-gap-ms` (the
    /// first read after idle: no view cache can serve it).
    #[arg(long, default_value_t = 0)]
    pub cold: u32,
    /// Idle time before each cold read, ms.
    #[arg(long, default_value_t = 150)]
    pub cold_gap_ms: u64,
    /// Concurrent mode: this many readers read each file in turn for `--seconds`, `--rounds`
    /// times, every read timed (nothing else is measured).
    #[arg(long, default_value_t = 0)]
    pub concurrent: u32,
    /// Concurrent mode: wall-clock start of the first phase, ms since the epoch. Phase k
    /// starts `k × (seconds + 0.1 s)` later, so readers started elsewhere with the same
    /// arguments read the same file at the same time.
    #[arg(long)]
    pub start_at_ms: Option<u64>,
    /// Files to read.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Pause between concurrent phases, so that one daemon's backlog does not spill into the
/// next phase.
const PHASE_GAP: Duration = Duration::from_millis(100);

#[derive(Debug, Serialize, Deserialize)]
pub struct FileReport {
    pub file: PathBuf,
    /// The file's content at the first read, to check what was measured.
    pub content: String,
    pub latency_ns: Vec<f64>,
    #[serde(default)]
    pub cold_latency_ns: Vec<f64>,
    pub reads_per_sec: Vec<f64>,
    /// Concurrent mode: the latency of every read of each round (ns).
    #[serde(default)]
    pub concurrent_ns: Vec<Vec<u32>>,
}

/// One open+read+close, the whole file, as `cat` does it.
fn read_once(path: &Path, buf: &mut [u8]) -> io::Result<usize> {
    let mut file = File::open(path)?;
    let mut total = 0;
    loop {
        match file.read(buf)? {
            0 => return Ok(total),
            n => total += n,
        }
    }
}

pub fn run(args: &ReadLoopArgs) -> Result<Vec<FileReport>> {
    let mut reports = Vec::new();
    for file in &args.files {
        let content = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        reports.push(FileReport {
            file: file.clone(),
            content,
            latency_ns: Vec::with_capacity(args.iterations as usize),
            cold_latency_ns: Vec::new(),
            reads_per_sec: Vec::new(),
            concurrent_ns: Vec::new(),
        });
    }
    if args.concurrent > 0 {
        run_concurrent(args, &mut reports)?;
    } else {
        run_sequential(args, &mut reports)?;
    }
    Ok(reports)
}

fn run_sequential(args: &ReadLoopArgs, reports: &mut [FileReport]) -> Result<()> {
    let mut buf = vec![0u8; 64 * 1024];

    let batch = args.batch.max(1);
    let mut done = 0;
    while done < args.iterations {
        let this_batch = batch.min(args.iterations - done);
        for report in reports.iter_mut() {
            for _ in 0..this_batch {
                let t0 = Instant::now();
                read_once(&report.file, &mut buf)
                    .with_context(|| format!("cannot read {}", report.file.display()))?;
                report.latency_ns.push(t0.elapsed().as_nanos() as f64);
            }
        }
        done += this_batch;
    }

    // One idle gap serves every file: each file is read once per gap, in turn. Only the
    // first read after a gap finds the CPUs halted (a wake-up through the hypervisor, a few
    // hundred µs here), so the turn starts one file later at each gap: no file, and no
    // daemon, takes that wake-up every time.
    for gap in 0..args.cold as usize {
        std::thread::sleep(Duration::from_millis(args.cold_gap_ms));
        for i in gap_order(reports.len(), gap) {
            let report = &mut reports[i];
            let t0 = Instant::now();
            read_once(&report.file, &mut buf)
                .with_context(|| format!("cannot read {}", report.file.display()))?;
            report.cold_latency_ns.push(t0.elapsed().as_nanos() as f64);
        }
    }

    for _ in 0..args.rounds {
        for report in reports.iter_mut() {
            let rate = throughput(&report.file, args.threads.max(1), args.seconds)?;
            report.reads_per_sec.push(rate);
        }
    }
    Ok(())
}

/// The order the `n` files are read in after idle gap number `gap`: in turn, from file
/// `gap mod n`.
fn gap_order(n: usize, gap: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |i| (i + gap) % n)
}

/// Every file in turn, `--rounds` times: `--concurrent` readers for `--seconds` each phase.
fn run_concurrent(args: &ReadLoopArgs, reports: &mut [FileReport]) -> Result<()> {
    let start = args
        .start_at_ms
        .map_or_else(SystemTime::now, |ms| UNIX_EPOCH + Duration::from_millis(ms));
    let mut k = 0u32;
    for _ in 0..args.rounds {
        for report in reports.iter_mut() {
            let begin = phase_start(start, args.seconds, k);
            k += 1;
            // Sleep to the exact instant (not whole milliseconds): a phase never begins early.
            if let Ok(wait) = begin.duration_since(SystemTime::now()) {
                std::thread::sleep(wait);
            }
            let latencies = timed_reads(&report.file, args.concurrent, args.seconds)?;
            report.concurrent_ns.push(latencies);
        }
    }
    Ok(())
}

/// When phase `k` of a concurrent run that starts at `start` begins.
fn phase_start(start: SystemTime, seconds: f64, k: u32) -> SystemTime {
    start + (Duration::from_secs_f64(seconds) + PHASE_GAP) * k
}

/// The latency (ns) of every read `threads` readers looping over `path` for `seconds` made.
fn timed_reads(path: &Path, threads: u32, seconds: f64) -> Result<Vec<u32>> {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let all = Mutex::new(Vec::new());
    let failed = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut buf = vec![0u8; 64 * 1024];
                let mut mine = Vec::with_capacity(4096);
                loop {
                    let t0 = Instant::now();
                    if t0 >= deadline {
                        break;
                    }
                    if read_once(path, &mut buf).is_err() {
                        failed.store(true, Ordering::Relaxed);
                        break;
                    }
                    let ns = t0.elapsed().as_nanos();
                    mine.push(u32::try_from(ns).unwrap_or(u32::MAX));
                }
                all.lock().unwrap_or_else(|e| e.into_inner()).extend(mine);
            });
        }
    });
    anyhow::ensure!(
        !failed.load(Ordering::Relaxed),
        "a read of {} failed",
        path.display()
    );
    Ok(all.into_inner().unwrap_or_else(|e| e.into_inner()))
}

/// Reads per second of `threads` readers looping over `path` for `seconds`.
fn throughput(path: &Path, threads: u32, seconds: f64) -> Result<f64> {
    let stop = AtomicBool::new(false);
    let reads = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut buf = vec![0u8; 64 * 1024];
                while !stop.load(Ordering::Relaxed) {
                    if read_once(path, &mut buf).is_err() {
                        failed.store(true, Ordering::Relaxed);
                        return;
                    }
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(Duration::from_secs_f64(seconds));
        stop.store(true, Ordering::Relaxed);
    });
    anyhow::ensure!(
        !failed.load(Ordering::Relaxed),
        "a read of {} failed",
        path.display()
    );
    Ok(reads.load(Ordering::Relaxed) as f64 / t0.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_file_is_read_first_after_one_gap_in_n_and_every_file_after_each_gap() {
        let n = 5;
        let firsts: Vec<usize> = (0..2 * n)
            .map(|gap| gap_order(n, gap).next().unwrap())
            .collect();
        assert_eq!(firsts, [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
        for gap in 0..2 * n {
            let mut order: Vec<usize> = gap_order(n, gap).collect();
            order.sort_unstable();
            assert_eq!(order, (0..n).collect::<Vec<_>>(), "gap {gap}");
        }
        assert_eq!(gap_order(0, 3).count(), 0);
    }

    #[test]
    fn reads_and_times_every_file() {
        let dir = std::env::temp_dir().join(format!("readloop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::write(&a, "alpha\n").unwrap();
        std::fs::write(&b, "x".repeat(100_000)).unwrap();
        let args = ReadLoopArgs {
            iterations: 7,
            batch: 3,
            rounds: 2,
            seconds: 0.05,
            threads: 2,
            cold: 2,
            cold_gap_ms: 1,
            concurrent: 0,
            start_at_ms: None,
            files: vec![a.clone(), b],
        };
        let reports = run(&args).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(reports.len(), 2);
        assert_eq!(reports[0].content, "alpha\n");
        assert_eq!(reports[1].content.len(), 100_000);
        for r in &reports {
            assert_eq!(r.latency_ns.len(), 7);
            assert_eq!(r.cold_latency_ns.len(), 2);
            assert!(r.latency_ns.iter().all(|&ns| ns > 0.0));
            assert_eq!(r.reads_per_sec.len(), 2);
            assert!(r.reads_per_sec.iter().all(|&rate| rate > 0.0));
        }
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let args = ReadLoopArgs {
            iterations: 1,
            batch: 1,
            rounds: 0,
            seconds: 0.0,
            threads: 1,
            cold: 0,
            cold_gap_ms: 0,
            concurrent: 0,
            start_at_ms: None,
            files: vec![PathBuf::from("/nonexistent/lxcfs/proc/meminfo")],
        };
        let err = format!("{:#}", run(&args).unwrap_err());
        assert!(err.contains("/nonexistent/lxcfs/proc/meminfo"), "{err}");
    }

    #[test]
    fn phases_follow_each_other_at_seconds_plus_the_gap() {
        let start = UNIX_EPOCH + Duration::from_millis(1_000_000);
        assert_eq!(phase_start(start, 0.25, 0), start);
        assert_eq!(
            phase_start(start, 0.25, 3),
            start + Duration::from_millis(3 * 350)
        );
    }

    #[test]
    fn concurrent_mode_times_every_read_of_each_round() {
        let dir = std::env::temp_dir().join(format!("readloop-c-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::write(&a, "alpha\n").unwrap();
        std::fs::write(&b, "beta\n").unwrap();
        let args = ReadLoopArgs {
            iterations: 0,
            batch: 1,
            rounds: 2,
            seconds: 0.05,
            threads: 1,
            cold: 0,
            cold_gap_ms: 0,
            concurrent: 3,
            start_at_ms: None,
            files: vec![a, b],
        };
        let t0 = Instant::now();
        let reports = run(&args).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        // Four phases of 50 ms, each followed by the gap before the next.
        assert!(
            t0.elapsed() >= Duration::from_millis(3 * 150 + 50),
            "{:?}",
            t0.elapsed()
        );
        for r in &reports {
            assert_eq!(r.concurrent_ns.len(), 2);
            assert!(r.concurrent_ns.iter().all(|round| round.len() >= 3));
            assert!(r.latency_ns.is_empty() && r.reads_per_sec.is_empty());
        }
    }
}

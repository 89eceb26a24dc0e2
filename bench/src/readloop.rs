//! The reader that runs *inside* a container for the lxcfs figures: open+read+close of each
//! file, interleaved file by file, timed one by one (latency) and in parallel for a fixed time
//! (throughput). Prints JSON on stdout.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
    /// Files to read.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FileReport {
    pub file: PathBuf,
    /// The file's content at the first read, to check what was measured.
    pub content: String,
    pub latency_ns: Vec<f64>,
    #[serde(default)]
    pub cold_latency_ns: Vec<f64>,
    pub reads_per_sec: Vec<f64>,
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
    let mut buf = vec![0u8; 64 * 1024];
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
        });
    }

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

    // One idle gap serves every file: each file is read once per gap, in turn.
    for _ in 0..args.cold {
        std::thread::sleep(Duration::from_millis(args.cold_gap_ms));
        for report in reports.iter_mut() {
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
    Ok(reports)
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
            files: vec![PathBuf::from("/nonexistent/lxcfs/proc/meminfo")],
        };
        let err = format!("{:#}", run(&args).unwrap_err());
        assert!(err.contains("/nonexistent/lxcfs/proc/meminfo"), "{err}");
    }
}

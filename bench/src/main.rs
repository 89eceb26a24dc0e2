//! `syscontainer-bench`: syscontainer side by side with LXC, systemd-nspawn and lxcfs 5.0.3,
//! on one rootfs, in one run; writes raw results, a Markdown report and SVG charts.

mod host;
mod procevents;
mod readloop;
mod report;
mod results;
mod runtime;
mod stats;
mod suites;
mod svg;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use results::{Results, Settings};
use runtime::{Lxc, Nspawn, Syscontainer};
use suites::Bench;

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the benchmarks, then write the results, the report and its charts.
    Run(RunArgs),
    /// Re-render the report and charts from a results file.
    Report {
        /// A results file written by `run`.
        results: PathBuf,
        #[arg(long, default_value = "docs/benchmarks.md")]
        report: PathBuf,
    },
    /// Read files in a loop and print latencies and rates as JSON (run inside a container).
    ReadLoop(readloop::ReadLoopArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Directory of the syscontainer, lxcfs-rs and syscontainer-tools binaries.
    #[arg(long)]
    bin_dir: PathBuf,
    /// The cached rootfs every container gets an overlay copy of.
    #[arg(long)]
    rootfs: PathBuf,
    /// Boot/stop runs per peer.
    #[arg(long, default_value_t = 10)]
    runs: u32,
    /// exec calls per peer.
    #[arg(long, default_value_t = 200)]
    exec_runs: u32,
    /// Container counts for the density suite, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10,25,50,100")]
    density: Vec<u32>,
    /// Suites to run, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "boot,exec,density,lxcfs,hotadd,oci"
    )]
    suites: Vec<Suite>,
    /// One iteration of everything, syscontainer only: proves the harness works.
    #[arg(long)]
    smoke: bool,
    /// Where the raw results go.
    #[arg(long, default_value = "bench/results")]
    results_dir: PathBuf,
    /// The report page; its charts go to `bench/` beside it.
    #[arg(long, default_value = "docs/benchmarks.md")]
    report: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Suite {
    Boot,
    Exec,
    Density,
    Lxcfs,
    Hotadd,
    Oci,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Run(args) => run(args),
        Command::Report { results, report } => {
            let text = std::fs::read_to_string(&results)
                .with_context(|| format!("cannot read {}", results.display()))?;
            let parsed: Results = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a results file", results.display()))?;
            write_report(&parsed, &results, &report)
        }
        Command::ReadLoop(args) => {
            let reports = readloop::run(&args)?;
            println!("{}", serde_json::to_string(&reports)?);
            Ok(())
        }
    }
}

fn run(args: RunArgs) -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!("the benchmarks boot real containers: run as root");
    }
    if !args.rootfs.join("sbin/init").exists() {
        bail!(
            "no rootfs with /sbin/init at {} (scripts/mkrootfs.sh makes one)",
            args.rootfs.display()
        );
    }
    let work = std::env::temp_dir().join(format!("syscontainer-bench.{}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let outcome = run_in(&args, &work);
    let _ = std::fs::remove_dir_all(&work);
    outcome
}

fn run_in(args: &RunArgs, work: &Path) -> Result<()> {
    let syscontainer = Syscontainer::new(&args.bin_dir, work)?;
    let (lxc, nspawn) = if args.smoke {
        (None, None)
    } else {
        (Lxc::new(work), Nspawn::new())
    };
    let (runs, exec_runs, density) = if args.smoke {
        (1, 2, vec![2])
    } else {
        (args.runs, args.exec_runs, args.density.clone())
    };
    let mut bench = Bench::new(
        work,
        &args.rootfs,
        &args.bin_dir,
        syscontainer,
        lxc,
        nspawn,
        runs,
        exec_runs,
        density.clone(),
        args.smoke,
    );
    if !args.smoke {
        if bench.lxc.is_none() {
            bench.results.note("LXC is not installed: no LXC column");
        }
        if bench.nspawn.is_none() {
            bench
                .results
                .note("systemd-nspawn is not installed: no nspawn column");
        }
    }
    let mut machine = host::machine();
    for peer in bench.peers() {
        machine
            .versions
            .insert(peer.name().to_string(), peer.version());
    }
    if let Some(v) = host::version_of(&["lxcfs", "--version"]) {
        machine.versions.insert("lxcfs".into(), v);
    }
    bench.results.machine = machine;
    bench.results.settings = Settings {
        runs,
        exec_runs,
        density,
        smoke: args.smoke,
        peers: bench.peers().iter().map(|p| p.name().to_string()).collect(),
    };

    let limits = host::HostLimits::raise();
    let outcome = run_suites(&mut bench, &args.suites);
    drop(limits);
    bench.syscontainer.remove_cgroup_parent();
    if let Some(lxc) = &bench.lxc {
        lxc.remove_pivot();
    }
    outcome?;

    std::fs::create_dir_all(&args.results_dir)?;
    let stamp = host::command_line(&["date", "-u", "+%Y%m%dT%H%M%SZ"]).unwrap_or_default();
    let kind = if args.smoke { "smoke" } else { "run" };
    let file = args.results_dir.join(format!("{kind}-{stamp}.json"));
    std::fs::write(&file, serde_json::to_string_pretty(&bench.results)? + "\n")
        .with_context(|| format!("cannot write {}", file.display()))?;
    write_report(&bench.results, &file, &args.report)?;
    for t in report::targets(&bench.results) {
        let met = match t.met {
            Some(true) => "met",
            Some(false) => "NOT MET",
            None => "not measured",
        };
        println!("{:<32} {:<28} {:<40} {met}", t.what, t.goal, t.measured);
    }
    println!("results: {}", file.display());
    println!("report:  {}", args.report.display());
    Ok(())
}

type SuiteFn = fn(&mut Bench) -> Result<()>;

fn run_suites(bench: &mut Bench, chosen: &[Suite]) -> Result<()> {
    let all: [(Suite, &str, SuiteFn); 6] = [
        (
            Suite::Boot,
            "boot, runtime share, footprint, stop",
            suites::boot::run,
        ),
        (Suite::Exec, "exec", suites::exec::run),
        (Suite::Density, "density", suites::density::run),
        (Suite::Lxcfs, "lxcfs", suites::lxcfs::run),
        (Suite::Hotadd, "hot-add", suites::hotadd::run),
        (Suite::Oci, "OCI runtimes", suites::oci::run),
    ];
    for (suite, what, run) in all {
        if chosen.contains(&suite) {
            eprintln!("syscontainer-bench: {what}");
            run(bench).with_context(|| format!("suite {what}"))?;
        }
    }
    Ok(())
}

/// `target` as seen from `dir`, for a link in the report (absolute when they share nothing).
fn relative_to(dir: &Path, target: &Path) -> PathBuf {
    let (Ok(dir), Ok(target)) = (dir.canonicalize(), target.canonicalize()) else {
        return target.to_path_buf();
    };
    let common = dir
        .components()
        .zip(target.components())
        .take_while(|(a, b)| a == b)
        .count();
    if common <= 1 {
        return target;
    }
    let mut rel = PathBuf::new();
    for _ in dir.components().skip(common) {
        rel.push("..");
    }
    rel.extend(target.components().skip(common));
    rel
}

fn write_report(results: &Results, results_file: &Path, report: &Path) -> Result<()> {
    let dir = report.parent().unwrap_or(Path::new("."));
    let charts = dir.join("bench");
    std::fs::create_dir_all(&charts)
        .with_context(|| format!("cannot create {}", charts.display()))?;
    let link = relative_to(dir, results_file);
    let (page, svgs) = report::render(results, &link.display().to_string());
    for (name, svg) in svgs {
        let path = charts.join(&name);
        std::fs::write(&path, svg).with_context(|| format!("cannot write {}", path.display()))?;
    }
    std::fs::write(report, page).with_context(|| format!("cannot write {}", report.display()))?;
    Ok(())
}

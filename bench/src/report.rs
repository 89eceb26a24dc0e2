//! `docs/benchmarks.md` and its charts, computed from a [`Results`] alone (so a report can be
//! re-rendered from a results file, and tested without running anything).

use std::fmt::Write;

use crate::results::{Metric, Results};
use crate::stats::Summary;
use crate::suites::{exec::FLOOR, hotadd, lxcfs, oci};
use crate::svg::{self, Line, Series};

const US: &str = "syscontainer";

/// One target of the benchmark issue, judged against the numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub what: String,
    pub goal: String,
    pub measured: String,
    /// `None` when the figures it needs were not measured.
    pub met: Option<bool>,
}

fn median(r: &Results, metric: Metric, peer: &str, subject: Option<&str>) -> Option<f64> {
    r.summary(metric, peer, subject, None).map(|s| s.median)
}

fn not_measured(what: &str, goal: &str) -> Target {
    Target {
        what: what.into(),
        goal: goal.into(),
        measured: "not measured".into(),
        met: None,
    }
}

/// A goal judged on one median: `judge` gives the measured text and whether it is met.
fn single(
    what: &str,
    goal: &str,
    figure: Option<f64>,
    judge: impl Fn(f64) -> (String, bool),
) -> Target {
    match figure {
        Some(v) => {
            let (measured, met) = judge(v);
            Target {
                what: what.into(),
                goal: goal.into(),
                measured,
                met: Some(met),
            }
        }
        None => not_measured(what, goal),
    }
}

/// A goal that compares our median with a peer's: not measured unless both exist and the
/// one the ratio divides by is positive.
fn paired(
    what: &str,
    goal: &str,
    (ours, theirs): (Option<f64>, Option<f64>),
    judge: impl Fn(f64, f64) -> (String, bool),
) -> Target {
    match (ours, theirs) {
        (Some(o), Some(t)) if o > 0.0 && t > 0.0 => single(what, goal, Some(o), |o| judge(o, t)),
        _ => not_measured(what, goal),
    }
}

/// "ours vs theirs UNIT", both to three significant digits.
fn versus(ours: f64, theirs: f64, unit: &str) -> String {
    format!("{} vs {} {unit}", num(ours), num(theirs))
}

/// Issue 15's goals, in the order of the page.
pub fn targets(r: &Results) -> Vec<Target> {
    let pair = |metric, peer: &str| (median(r, metric, US, None), median(r, metric, peer, None));
    let mut out = vec![boot_target(r)];
    out.push(single(
        "runtime share of boot",
        "≤ 20 ms",
        median(r, Metric::RuntimeShare, US, None),
        |ms| (format!("{} ms", num(ms)), ms <= 20.0),
    ));
    out.push(paired(
        "stop",
        "≤ nspawn",
        pair(Metric::Stop, "nspawn"),
        |o, t| (format!("{} s vs {} s", num(o), num(t)), o <= t),
    ));
    out.push(paired(
        "exec",
        "≤ 1.3 × nsenter",
        pair(Metric::Exec, FLOOR),
        |o, t| {
            (
                format!("{:.2}× ({})", o / t, versus(o, t, "ms")),
                o <= 1.3 * t,
            )
        },
    ));
    out.push(single(
        "monitor RSS",
        "≤ 2 MiB",
        median(r, Metric::MonitorRss, US, None),
        |kib| (format!("{} MiB", num(kib / 1024.0)), kib <= 2048.0),
    ));
    out.push(paired(
        "memory per idle container",
        "≤ lxc",
        pair(Metric::ContainerMemory, "lxc"),
        |o, t| (versus(o, t, "KiB"), o <= t),
    ));
    out.extend(density_targets(r));
    for (metric, what) in [
        (Metric::OciLifecycle, "OCI create → start → delete"),
        (Metric::OciExec, "OCI exec"),
    ] {
        let figures = (
            median(r, metric, oci::OURS, None),
            median(r, metric, oci::RUNC, None),
        );
        out.push(paired(what, "≤ 1.2 × runc", figures, |o, t| {
            (
                format!("{:.2}× ({})", o / t, versus(o, t, "ms")),
                o <= 1.2 * t,
            )
        }));
    }
    out.extend(lxcfs_targets(r));
    let ops = r.subjects_of(Metric::Hotadd);
    for op in &ops {
        let figure = median(r, Metric::Hotadd, hotadd::TOOLS, Some(op));
        out.push(single(
            &format!("hot-add, {op}"),
            "≤ 5 ms median",
            figure,
            |ms| (format!("{} ms", num(ms)), ms <= 5.0),
        ));
    }
    if ops.is_empty() {
        out.push(not_measured("hot-add", "≤ 5 ms median"));
    }
    out
}

fn boot_target(r: &Results) -> Target {
    let fastest_peer = r
        .peers_of(Metric::Boot)
        .into_iter()
        .filter(|p| p != US)
        .filter_map(|p| median(r, Metric::Boot, &p, None).map(|m| (p, m)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    let (peer, theirs) = fastest_peer.unzip();
    let ours = median(r, Metric::Boot, US, None);
    paired(
        "boot to running",
        "≤ 0.9 × the faster peer",
        (ours, theirs),
        |o, t| {
            let peer = peer.as_deref().unwrap_or_default();
            (
                format!("{:.2}× {peer} ({})", o / t, versus(o, t, "s")),
                o <= 0.9 * t,
            )
        },
    )
}

/// At every N measured: memory per container no more than LXC's; and N = 100 reached.
fn density_targets(r: &Results) -> Vec<Target> {
    let mut out = Vec::new();
    for &n in &r.settings.density {
        let per = |peer: &str| {
            r.summary(Metric::DensityMemory, peer, None, Some(n))
                .map(|s| s.median)
        };
        let what = format!("density memory per container, N = {n}");
        out.push(paired(&what, "≤ lxc", (per(US), per("lxc")), |o, t| {
            (versus(o, t, "MiB"), o <= t)
        }));
    }
    let all_running = r
        .summary(Metric::DensityTime, US, None, Some(100))
        .map(|s| s.median);
    out.push(single(
        "100 booted containers at once",
        "all running",
        all_running,
        |s| (format!("all running after {} s", num(s)), true),
    ));
    out
}

/// Throughput ≥ 5 × lxcfs 5.0.3 and the read after idle ≥ 2 × faster, file by file.
fn lxcfs_targets(r: &Results) -> Vec<Target> {
    let mut out = Vec::new();
    let files = r.subjects_of(Metric::LxcfsThroughput);
    if files.is_empty() {
        out.push(not_measured("lxcfs-rs reads/s", "≥ 5 × lxcfs 5.0.3"));
        out.push(not_measured(
            "lxcfs-rs read after idle",
            "≥ 2 × faster than lxcfs 5.0.3",
        ));
    }
    for file in &files {
        let pair = |metric| {
            (
                median(r, metric, lxcfs::OURS, Some(file)),
                median(r, metric, lxcfs::THEIRS, Some(file)),
            )
        };
        let what = format!("lxcfs-rs reads/s, {file}");
        out.push(paired(
            &what,
            "≥ 5 × lxcfs 5.0.3",
            pair(Metric::LxcfsThroughput),
            |o, t| {
                (
                    format!("{:.1}× ({} /s)", o / t, versus(o, t, "").trim_end()),
                    o >= 5.0 * t,
                )
            },
        ));
        let what = format!("lxcfs-rs read after idle, {file}");
        let goal = "≥ 2 × faster than lxcfs 5.0.3";
        out.push(paired(
            &what,
            goal,
            pair(Metric::LxcfsColdLatency),
            |o, t| {
                (
                    format!("{:.1}× faster ({})", t / o, versus(o, t, "µs")),
                    t >= 2.0 * o,
                )
            },
        ));
    }
    out
}

/// At most 3 significant digits, no exponent for the ranges seen here.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    let decimals = if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        3
    };
    format!("{v:.decimals$}")
}

/// Table of one metric per peer: median, min–max, p90, n and the ratio of syscontainer to
/// each peer.
fn peer_table(out: &mut String, r: &Results, metric: Metric, unit: &str, subject: Option<&str>) {
    let ours = median(r, metric, US, subject);
    let _ = writeln!(
        out,
        "| peer | median ({unit}) | min – max | p90 | runs | syscontainer ÷ peer |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    for peer in r.peers_of(metric) {
        let Some(s) = r.summary(metric, &peer, subject, None) else {
            continue;
        };
        let ratio = match ours {
            Some(o) if s.median > 0.0 && peer != US => format!("{:.2}", o / s.median),
            _ => "".into(),
        };
        let _ = writeln!(
            out,
            "| {peer} | {} | {} – {} | {} | {} | {ratio} |",
            num(s.median),
            num(s.min),
            num(s.max),
            num(s.p90),
            s.n
        );
    }
    out.push('\n');
}

fn series(r: &Results, metric: Metric) -> Vec<Series> {
    r.peers_of(metric)
        .into_iter()
        .filter_map(|peer| {
            let m = r.find(metric, &peer, None, None)?;
            Some(Series {
                label: peer,
                values: m.samples.clone(),
            })
        })
        .collect()
}

/// The Markdown page and its charts as (file name, SVG), charts linked as `bench/NAME`.
pub fn render(r: &Results, results_file: &str) -> (String, Vec<(String, String)>) {
    let mut md = String::new();
    let mut charts: Vec<(String, String)> = Vec::new();
    let mut chart = |md: &mut String, file: &str, alt: &str, svg: String| {
        let _ = writeln!(md, "![{alt}](bench/{file})\n");
        charts.push((file.to_string(), svg));
    };

    let m = &r.machine;
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Written by `make bench` (`bench/`, `syscontainer-bench run`); do not edit by hand. \
         Raw numbers: [`{results_file}`]({results_file}).{}\n",
        if r.settings.smoke {
            " **Smoke run: one iteration, no peers — not a measurement.**"
        } else {
            ""
        }
    );
    let _ = writeln!(
        md,
        "Machine: {} CPUs ({}), {} MiB, Linux {}, {}. Peers: {}.\n",
        m.cpus,
        m.cpu_model,
        m.memory_mib,
        m.kernel,
        m.date,
        m.versions
            .iter()
            .map(|(k, v)| format!("{k} `{v}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let _ = writeln!(md, "## Targets\n");
    let _ = writeln!(md, "| target | goal | measured | met |");
    let _ = writeln!(md, "|---|---|---|---|");
    for t in targets(r) {
        let met = match t.met {
            Some(true) => "met",
            Some(false) => "**not met**",
            None => "not measured",
        };
        let _ = writeln!(md, "| {} | {} | {} | {met} |", t.what, t.goal, t.measured);
    }
    md.push('\n');

    let _ = writeln!(md, "## Method\n");
    let _ = writeln!(
        md,
        "{}",
        METHOD
            .replace("{runs}", &r.settings.runs.to_string())
            .replace("{exec_runs}", &r.settings.exec_runs.to_string())
    );

    let sections = [
        (Metric::Boot, "Boot to running", "s", "boot.svg"),
        (
            Metric::RuntimeShare,
            "The runtime's share of boot (start command → PID 1 exec)",
            "ms",
            "runtime-share.svg",
        ),
        (Metric::Stop, "Graceful stop", "s", "stop.svg"),
        (Metric::Exec, "exec /bin/true", "ms", "exec.svg"),
        (
            Metric::MonitorRss,
            "Monitor resident memory",
            "KiB",
            "monitor-rss.svg",
        ),
        (
            Metric::ContainerMemory,
            "Idle container memory (anon + shmem of its cgroup)",
            "KiB",
            "",
        ),
    ];
    for (metric, title, unit, file) in sections {
        if r.peers_of(metric).is_empty() {
            continue;
        }
        let _ = writeln!(md, "## {title}\n");
        peer_table(&mut md, r, metric, unit, None);
        if !file.is_empty() {
            let svg = svg::distribution_chart(title, unit, &series(r, metric));
            chart(&mut md, file, title, svg);
        }
    }

    density(&mut md, r, &mut chart);
    lxcfs_section(&mut md, r, &mut chart);
    lxcfs_concurrent_section(&mut md, r);
    hotadd_section(&mut md, r);
    oci_section(&mut md, r);

    if !r.notes.is_empty() {
        let _ = writeln!(md, "## Notes\n");
        for n in &r.notes {
            let _ = writeln!(md, "- {n}");
        }
        md.push('\n');
    }
    (md, charts)
}

type Chart<'a> = dyn FnMut(&mut String, &str, &str, String) + 'a;

fn density(md: &mut String, r: &Results, chart: &mut Chart) {
    let peers = r.peers_of(Metric::DensityTime);
    if peers.is_empty() {
        return;
    }
    let _ = writeln!(md, "## Density: N containers started at once\n");
    let _ = writeln!(
        md,
        "| N | peer | all running (s) | MiB per container (cgroup anon+shmem + supervisor PSS) |"
    );
    let _ = writeln!(md, "|---:|---|---:|---:|");
    let mut time_lines = Vec::new();
    let mut mem_lines = Vec::new();
    for peer in &peers {
        let mut time = Vec::new();
        let mut mem = Vec::new();
        for n in &r.settings.density {
            let t = r.summary(Metric::DensityTime, peer, None, Some(*n));
            let m = r.summary(Metric::DensityMemory, peer, None, Some(*n));
            if let (Some(t), Some(m)) = (t, m) {
                let _ = writeln!(
                    md,
                    "| {n} | {peer} | {} | {} |",
                    num(t.median),
                    num(m.median)
                );
                time.push((*n as f64, t.median));
                mem.push((*n as f64, m.median));
            }
        }
        time_lines.push(Line {
            label: peer.clone(),
            points: time,
        });
        mem_lines.push(Line {
            label: peer.clone(),
            points: mem,
        });
    }
    md.push('\n');
    chart(
        md,
        "density-time.svg",
        "density: time until all run",
        svg::line_chart(
            "Time until all N are running",
            "N containers",
            "s",
            &time_lines,
        ),
    );
    chart(
        md,
        "density-memory.svg",
        "density: memory per container",
        svg::line_chart(
            "Host memory per container",
            "N containers",
            "MiB",
            &mem_lines,
        ),
    );
}

fn lxcfs_section(md: &mut String, r: &Results, chart: &mut Chart) {
    let files = r.subjects_of(Metric::LxcfsLatency);
    if files.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "## lxcfs-rs and lxcfs 5.0.3, read from inside a container\n"
    );
    let _ = writeln!(
        md,
        "| file | lxcfs-rs µs | lxcfs 5.0.3 µs | kernel µs | lxcfs-rs µs after idle | lxcfs 5.0.3 µs after idle | lxcfs-rs reads/s | lxcfs 5.0.3 reads/s | throughput ÷ lxcfs | lxcfs-rs /dev/fuse µs, after idle µs, reads/s |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut bars = Vec::new();
    for file in &files {
        let lat = |peer| median(r, Metric::LxcfsLatency, peer, Some(file.as_str()));
        let thr = |peer| median(r, Metric::LxcfsThroughput, peer, Some(file.as_str()));
        let cold = |peer| median(r, Metric::LxcfsColdLatency, peer, Some(file.as_str()));
        let cell = |v: Option<f64>| v.map(num).unwrap_or_else(|| "–".into());
        let ratio = match (thr(lxcfs::OURS), thr(lxcfs::THEIRS)) {
            (Some(o), Some(t)) if t > 0.0 => format!("{:.1}×", o / t),
            _ => "–".into(),
        };
        let dev_fuse = match (
            lat(lxcfs::OURS_DEV_FUSE),
            cold(lxcfs::OURS_DEV_FUSE),
            thr(lxcfs::OURS_DEV_FUSE),
        ) {
            (None, None, None) => "–".to_string(),
            (l, c, t) => format!("{}, {}, {}", cell(l), cell(c), cell(t)),
        };
        let _ = writeln!(
            md,
            "| {file} | {} | {} | {} | {} | {} | {} | {} | {ratio} | {dev_fuse} |",
            cell(lat(lxcfs::OURS)),
            cell(lat(lxcfs::THEIRS)),
            cell(lat(lxcfs::KERNEL)),
            cell(cold(lxcfs::OURS)),
            cell(cold(lxcfs::THEIRS)),
            cell(thr(lxcfs::OURS)),
            cell(thr(lxcfs::THEIRS)),
        );
        for (colour, peer) in [lxcfs::OURS, lxcfs::THEIRS].into_iter().enumerate() {
            if let Some(v) = thr(peer) {
                let short = file.rsplit('/').next().unwrap_or(file);
                bars.push((format!("{short} · {peer}"), v, colour));
            }
        }
    }
    md.push('\n');
    chart(
        md,
        "lxcfs-throughput.svg",
        "lxcfs reads per second",
        svg::bar_chart("Reads per second (open+read+close)", "/s", &bars),
    );
}

/// p50/p99 of the 32 concurrent readers in 8 containers, per daemon and file.
fn lxcfs_concurrent_section(md: &mut String, r: &Results) {
    let files = r.subjects_of(Metric::LxcfsConcurrentP99);
    if files.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "### 32 concurrent readers in 8 containers\n\nopen+read+close latency, µs (median over rounds of each round's percentile over all readers).\n"
    );
    let _ = writeln!(
        md,
        "| file | lxcfs-rs p50 | lxcfs-rs p99 | lxcfs 5.0.3 p50 | lxcfs 5.0.3 p99 | p99 lxcfs ÷ lxcfs-rs |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|");
    for file in &files {
        let p50 = |peer| median(r, Metric::LxcfsConcurrentP50, peer, Some(file.as_str()));
        let p99 = |peer| median(r, Metric::LxcfsConcurrentP99, peer, Some(file.as_str()));
        let cell = |v: Option<f64>| v.map(num).unwrap_or_else(|| "–".into());
        let ratio = match (p99(lxcfs::OURS), p99(lxcfs::THEIRS)) {
            (Some(o), Some(t)) if o > 0.0 => format!("{:.1}×", t / o),
            _ => "–".into(),
        };
        let _ = writeln!(
            md,
            "| {file} | {} | {} | {} | {} | {ratio} |",
            cell(p50(lxcfs::OURS)),
            cell(p99(lxcfs::OURS)),
            cell(p50(lxcfs::THEIRS)),
            cell(p99(lxcfs::THEIRS)),
        );
    }
    md.push('\n');
}

fn hotadd_section(md: &mut String, r: &Results) {
    let ops = r.subjects_of(Metric::Hotadd);
    if ops.is_empty() {
        return;
    }
    let _ = writeln!(md, "## Hot-add\n");
    let _ = writeln!(
        md,
        "| operation | syscontainer-tools ms (median / p90) | lxc-device ms (median / p90) | ratio |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|");
    for op in ops {
        let cell = |s: Option<Summary>| {
            s.map(|s| format!("{} / {}", num(s.median), num(s.p90)))
                .unwrap_or_else(|| "–".into())
        };
        let ours = r.summary(Metric::Hotadd, hotadd::TOOLS, Some(&op), None);
        let theirs = r.summary(Metric::Hotadd, hotadd::LXC_DEVICE, Some(&op), None);
        let ratio = match (ours, theirs) {
            (Some(o), Some(t)) if t.median > 0.0 => format!("{:.2}", o.median / t.median),
            _ => "–".into(),
        };
        let _ = writeln!(md, "| {op} | {} | {} | {ratio} |", cell(ours), cell(theirs));
    }
    md.push('\n');
}

fn oci_section(md: &mut String, r: &Results) {
    let rows = [
        (Metric::OciLifecycle, "create → start → delete"),
        (Metric::OciExec, "exec /bin/true"),
    ];
    if rows.iter().all(|(m, _)| r.peers_of(*m).is_empty()) {
        return;
    }
    let _ = writeln!(md, "## OCI runtimes (what containerd calls)\n");
    let _ = writeln!(
        md,
        "The same busybox bundle (runc's default spec, `/bin/true`), each runtime called as \
         containerd's shim calls it, interleaved.\n"
    );
    let _ = writeln!(
        md,
        "| operation | {} ms (median / p90) | {} ms (median / p90) | ratio |",
        oci::OURS,
        oci::RUNC
    );
    let _ = writeln!(md, "|---|---:|---:|---:|");
    for (metric, what) in rows {
        let cell = |s: Option<Summary>| {
            s.map(|s| format!("{} / {}", num(s.median), num(s.p90)))
                .unwrap_or_else(|| "–".into())
        };
        let ours = r.summary(metric, oci::OURS, None, None);
        let runc = r.summary(metric, oci::RUNC, None, None);
        let ratio = match (ours, runc) {
            (Some(o), Some(t)) if t.median > 0.0 => format!("{:.2}", o.median / t.median),
            _ => "–".into(),
        };
        let _ = writeln!(md, "| {what} | {} | {} | {ratio} |", cell(ours), cell(runc));
    }
    md.push('\n');
}

const METHOD: &str = "\
- One Debian bookworm rootfs with systemd (`scripts/mkrootfs.sh`), a fresh overlay copy per \
container, for every peer. Peers are interleaved run by run, {runs} runs each, the order \
changing every run through all orders of the peers (so that none always boots first or right \
after the same other), after an untimed warm-up boot of each peer (the first boot reads the \
rootfs from disk for all).
- **syscontainer**: `syscontainer run -tid --system-container --external-rootfs DIR none init` \
(release build, an empty daemon config, cgroups below the benchmark's own). **LXC**: \
`lxc-start -d` with `common.conf`, an empty network, `lxc.signal.halt = SIGRTMIN+3`, \
`lxc.cgroup.relative = 1`. **nspawn**: `systemd-nspawn --boot --private-network \
--register=no --keep-unit --console=passive` in a cgroup of its own (this host's PID 1 is not \
systemd, so there is no machined).
- For the whole run the benchmark raises `fs.inotify.max_user_instances` to 8192 and \
`kernel.keys.maxkeys`/`maxbytes` to 2000/2000000 (LXD's production values for the keys; \
LXD's 1024 inotify instances run out near 100 containers, which take 8 each) and restores them \
after: every systemd container takes inotify instances and per-service keyrings charged to \
root, and with Debian's defaults (128, 200) about 20 booting containers exhaust them, whatever \
the runtime. Each syscontainer container gets a cgroup parent of its own, as each LXC and \
nspawn container is a CPU group of its own.
- **Boot**: from the start command to `nsenter -a -t PID1 systemctl is-system-running --wait` \
answering `running` or `degraded`, asked the same way for every peer, once systemd's private \
socket exists (watched from the host with a stat, so that probing does not load the machine).
- **Runtime share**: from the start command to the `exec` of the container's PID 1, as \
stamped by the kernel (process connector exec event, CLOCK_MONOTONIC).
- **Stop**: `syscontainer stop`, `lxc-stop`, SIGTERM to nspawn (its orderly halt), until the \
command returns with the container gone.
- **exec**: `/bin/true` in a booted container, {exec_runs} times, interleaved: `syscontainer \
exec`, `lxc-attach`, and `nsenter -a` as the floor (no runtime in the way).
- **Footprint**: VmRSS and PSS of the per-container supervisor (syscontainer's monitor, \
`[lxc monitor]`, the `systemd-nspawn` process) and the anon + shmem memory of the \
container's cgroup (page cache left out: every copy shares the rootfs's), 1.5 s after boot.
- **Density**: N containers started at once; time until the last one answers `running`; \
memory per container with all N booted: its cgroup's anon + shmem plus its supervisor's PSS.
- **lxcfs**: both daemons, each with its default options (lxcfs-rs: 4 FUSE workers; lxcfs: \
libfuse's multi-threaded loop; where the kernel has FUSE over io_uring, lxcfs-rs is mounted with \
the fuse module's `enable_uring` on and serves through one io_uring queue per CPU, and a second \
lxcfs-rs with `--io-uring off` is measured beside it in the last column), serve the same container (`-m 256M --cpuset-cpus 0`); a reader \
inside it (`syscontainer-bench read-loop`, via `syscontainer exec`) times open+read+close of \
each file one by one (latency, medians of 2000, files interleaved in batches of 20), then \
every file in turn after each of 30 idle gaps of 150 ms (*after idle*: lxcfs-rs keeps a \
rendered view for at most 100 ms, so this is its uncached path; the turn starts one file later \
at each gap, so the one read that finds the CPUs halted is not always the same daemon's), then counts reads per second with 4 readers in \
10 rounds of 0.3 s, the files and daemons taking turns. The kernel's own `/proc` file is the \
floor. *Concurrent*: 7 more such containers (pinned to CPU 1 and 0 in turn), 4 readers in \
each (32 in all) read the same file through one daemon at once for 1 s, every read timed; \
files and daemons take turns (phases aligned on the wall clock), 3 rounds; p50/p99 over all \
readers per round, the median of the rounds shown.
- **Hot-add**: wall time of the whole command, 20 calls each, each undone after it (not \
timed).
";

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Results {
        let mut r = Results::default();
        for (peer, boot) in [("syscontainer", 0.5), ("lxc", 0.7), ("nspawn", 0.8)] {
            r.add(Metric::Boot, peer, None, None, boot);
            r.add(Metric::Stop, peer, None, None, boot);
        }
        r.add(Metric::RuntimeShare, US, None, None, 25.0);
        r.add(Metric::Exec, US, None, None, 2.5);
        r.add(Metric::Exec, FLOOR, None, None, 2.0);
        r.add(Metric::MonitorRss, US, None, None, 1800.0);
        r.add(
            Metric::LxcfsThroughput,
            lxcfs::OURS,
            Some("proc/meminfo"),
            None,
            40000.0,
        );
        r.add(
            Metric::LxcfsThroughput,
            lxcfs::THEIRS,
            Some("proc/meminfo"),
            None,
            10000.0,
        );
        r.add(
            Metric::LxcfsLatency,
            lxcfs::OURS,
            Some("proc/meminfo"),
            None,
            20.0,
        );
        for (peer, us) in [(lxcfs::OURS, 100.0), (lxcfs::THEIRS, 250.0)] {
            r.add(
                Metric::LxcfsColdLatency,
                peer,
                Some("proc/meminfo"),
                None,
                us,
            );
        }
        r.settings.density = vec![10];
        r.add(Metric::DensityTime, US, None, Some(10), 4.0);
        r.add(Metric::DensityMemory, US, None, Some(10), 30.0);
        r.add(Metric::Hotadd, hotadd::TOOLS, Some("add-route"), None, 5.0);
        r.note("a note");
        r
    }

    #[test]
    fn targets_are_judged_against_the_numbers() {
        let t = targets(&sample());
        let by = |what: &str| t.iter().find(|t| t.what == what).unwrap().clone();
        // 0.5 / 0.7 = 0.71 ≤ 0.9
        assert_eq!(by("boot to running").met, Some(true));
        assert!(by("boot to running").measured.starts_with("0.71× lxc"));
        assert_eq!(by("runtime share of boot").met, Some(false));
        assert_eq!(by("stop").met, Some(true));
        // 2.5 / 2.0 = 1.25 ≤ 1.3
        assert_eq!(by("exec").met, Some(true));
        assert_eq!(by("monitor RSS").met, Some(true));
        // 40000 / 10000 = 4 < 5
        assert_eq!(by("lxcfs-rs reads/s, proc/meminfo").met, Some(false));
        assert!(by("lxcfs-rs reads/s, proc/meminfo")
            .measured
            .starts_with("4.0×"));
        // 100 µs against 250: 2.5× faster
        assert_eq!(by("lxcfs-rs read after idle, proc/meminfo").met, Some(true));
        assert_eq!(by("hot-add, add-route").met, Some(true));
        assert_eq!(by("density memory per container, N = 10").met, None);
        assert_eq!(by("100 booted containers at once").met, None);
    }

    #[test]
    fn missing_figures_are_not_measured_rather_than_met() {
        let t = targets(&Results::default());
        assert!(!t.is_empty());
        assert!(t.iter().all(|t| t.met.is_none()));
    }

    #[test]
    fn page_has_every_section_and_links_each_chart() {
        let (md, charts) = render(&sample(), "bench/results/x.json");
        for heading in [
            "## Targets",
            "## Boot to running",
            "## exec /bin/true",
            "## Density",
            "## lxcfs-rs and lxcfs 5.0.3",
            "## Hot-add",
            "## Notes",
        ] {
            assert!(md.contains(heading), "missing {heading}");
        }
        assert!(md.contains("**not met**"));
        for (file, svg) in &charts {
            assert!(md.contains(&format!("(bench/{file})")), "{file} not linked");
            assert!(svg.trim_start().starts_with("<svg"));
        }
        assert!(charts.iter().any(|(f, _)| f == "boot.svg"));
        // syscontainer ÷ lxc in the boot table
        assert!(
            md.contains("| lxc | 0.700 | 0.700 – 0.700 | 0.700 | 1 | 0.71 |"),
            "{md}"
        );
    }

    #[test]
    fn concurrent_percentiles_are_tabled_per_daemon() {
        let mut r = sample();
        for (peer, p50, p99) in [(lxcfs::OURS, 100.0, 400.0), (lxcfs::THEIRS, 300.0, 2000.0)] {
            r.add(
                Metric::LxcfsConcurrentP50,
                peer,
                Some("proc/stat"),
                None,
                p50,
            );
            r.add(
                Metric::LxcfsConcurrentP99,
                peer,
                Some("proc/stat"),
                None,
                p99,
            );
        }
        let (md, _) = render(&r, "bench/results/x.json");
        assert!(
            md.contains("### 32 concurrent readers in 8 containers"),
            "{md}"
        );
        assert!(
            md.contains("| proc/stat | 100 | 400 | 300 | 2000 | 5.0× |"),
            "{md}"
        );
        let (md, _) = render(&sample(), "bench/results/x.json");
        assert!(!md.contains("concurrent readers in 8"));
    }

    #[test]
    fn numbers_keep_three_significant_digits() {
        assert_eq!(num(0.7), "0.700");
        assert_eq!(num(12.345), "12.3");
        assert_eq!(num(1234.4), "1234");
        assert_eq!(num(f64::NAN), "–");
    }
}

//! End-to-end rendering over fixture trees: host files from `tests/fixtures/host` and cgroup
//! v1 / v2 hierarchies built in temp dirs. Pure file I/O, no root needed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use lxcfs_rs::cgroup::{CgroupLayout, Controller, Hierarchy, ProcessCgroups};
use lxcfs_rs::host::{CpuTimes, Cpuinfo, Meminfo, Stat, Uptime};
use lxcfs_rs::render::{Container, HostPaths, LimitSet, Options, Renderer, ViewFile};
use lxcfs_rs::watch::LimitWatch;

const MIB: u64 = 1024 * 1024;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn host_paths(tmp: &Path) -> HostPaths {
    write(&tmp.join("sys/devices/system/cpu/online"), "0-3\n");
    HostPaths {
        proc: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/host"),
        sys: tmp.join("sys"),
    }
}

fn hierarchy(mountpoint: PathBuf) -> Hierarchy {
    Hierarchy {
        mountpoint,
        root: "/".into(),
    }
}

/// A hybrid v1 tree where every controller puts the container at a different path.
fn v1_fixture(tmp: &Path) -> (CgroupLayout, ProcessCgroups) {
    let mem = tmp.join("memory");
    write(&mem.join("memory.limit_in_bytes"), "9223372036854771712\n");
    write(
        &mem.join("parent/memory.limit_in_bytes"),
        &format!("{}\n", 256 * MIB),
    );
    write(
        &mem.join("parent/memory.memsw.limit_in_bytes"),
        &format!("{}\n", 320 * MIB),
    );
    let ctr = mem.join("parent/ctr");
    write(
        &ctr.join("memory.limit_in_bytes"),
        &format!("{}\n", 1024 * MIB),
    );
    write(
        &ctr.join("memory.memsw.limit_in_bytes"),
        "9223372036854771712\n",
    );
    write(
        &ctr.join("memory.usage_in_bytes"),
        &format!("{}\n", 100 * MIB),
    );
    write(
        &ctr.join("memory.memsw.usage_in_bytes"),
        &format!("{}\n", 110 * MIB),
    );
    write(
        &ctr.join("memory.stat"),
        &format!(
            "cache 1\nrss 2\ntotal_cache {}\ntotal_rss {}\ntotal_shmem {}\ntotal_active_file {}\ntotal_inactive_file {}\n",
            60 * MIB,
            40 * MIB,
            40 * MIB,
            30 * MIB,
            30 * MIB
        ),
    );
    write(&tmp.join("cpuset/cs/cpuset.effective_cpus"), "1,3\n");
    write(&tmp.join("cpuset/cs/cpuset.cpus"), "0-3\n");
    write(&tmp.join("cpu/cpuq/cpu.cfs_quota_us"), "50000\n");
    write(&tmp.join("cpu/cpuq/cpu.cfs_period_us"), "100000\n");
    write(
        &tmp.join("cpuacct/acct/cpuacct.usage_all"),
        "cpu user system\n0 9000000000 0\n1 5000000000 1000000000\n2 0 0\n3 7000000000 0\n",
    );
    write(
        &tmp.join("blkio/io/blkio.throttle.io_service_bytes_recursive"),
        "8:0 Read 4096\n8:0 Write 8192\nTotal 12288\n",
    );
    write(
        &tmp.join("blkio/io/blkio.throttle.io_serviced_recursive"),
        "8:0 Read 1\n8:0 Write 2\nTotal 3\n",
    );

    let mut v1 = HashMap::new();
    for controller in ["memory", "cpuset", "cpu", "cpuacct", "blkio"] {
        v1.insert(
            Controller::from_name(controller).unwrap(),
            hierarchy(tmp.join(controller)),
        );
    }
    let layout = CgroupLayout { v1, unified: None };
    let cgroups = ProcessCgroups::parse(
        "6:blkio:/io\n4:memory:/parent/ctr\n3:cpuset:/cs\n2:cpuacct:/acct\n1:cpu:/cpuq\n0::/\n",
    )
    .unwrap();
    (layout, cgroups)
}

fn v2_fixture(tmp: &Path) -> (CgroupLayout, ProcessCgroups) {
    let root = tmp.join("unified");
    write(
        &root.join("cgroup.controllers"),
        "cpuset cpu io memory pids\n",
    );
    write(&root.join("parent/memory.max"), &format!("{}\n", 256 * MIB));
    write(
        &root.join("parent/memory.swap.max"),
        &format!("{}\n", 64 * MIB),
    );
    let ctr = root.join("parent/ctr");
    write(&ctr.join("memory.max"), "max\n");
    write(&ctr.join("memory.swap.max"), "max\n");
    write(&ctr.join("memory.current"), &format!("{}\n", 100 * MIB));
    write(&ctr.join("memory.swap.current"), &format!("{}\n", 10 * MIB));
    write(
        &ctr.join("memory.stat"),
        &format!(
            "anon {}\nfile {}\nshmem {}\nactive_file {}\nslab_reclaimable {}\nslab_unreclaimable 0\n",
            40 * MIB,
            60 * MIB,
            40 * MIB,
            30 * MIB,
            2 * MIB
        ),
    );
    write(&ctr.join("cpuset.cpus.effective"), "1,3\n");
    write(&ctr.join("cpu.max"), "50000 100000\n");
    write(
        &ctr.join("cpu.stat"),
        "usage_usec 4000000\nuser_usec 3000000\nsystem_usec 1000000\n",
    );
    write(
        &ctr.join("io.stat"),
        "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
    );
    let layout = CgroupLayout {
        v1: HashMap::new(),
        unified: Some(hierarchy(root)),
    };
    (layout, ProcessCgroups::parse("0::/parent/ctr\n").unwrap())
}

fn renderer(layout: CgroupLayout, host: HostPaths, options: Options) -> Renderer {
    Renderer::new(layout, host, options, 100)
}

fn container(cgroups: ProcessCgroups) -> Container {
    Container {
        init_pid: 1,
        // host uptime fixture is 100000 s; init started 60 s ago
        init_start_ticks: (100000 - 60) * 100,
        cgroups,
    }
}

fn render(r: &Renderer, view: ViewFile, c: &Container) -> String {
    String::from_utf8(r.render(view, c).unwrap()).unwrap()
}

fn both_versions(check: impl Fn(&str, &Renderer, &Container)) {
    for version in ["v1", "v2"] {
        let tmp = tempfile::tempdir().unwrap();
        let (layout, cgroups) = if version == "v1" {
            v1_fixture(tmp.path())
        } else {
            v2_fixture(tmp.path())
        };
        let r = renderer(layout, host_paths(tmp.path()), Options::default());
        check(version, &r, &container(cgroups));
    }
}

#[test]
fn meminfo_hierarchy_minimum_and_shmem_not_available() {
    both_versions(|version, r, c| {
        let m = Meminfo::parse(&render(r, ViewFile::Meminfo, c)).unwrap();
        assert_eq!(m.get("MemTotal"), Some(256 * 1024), "{version}");
        assert_eq!(m.get("MemFree"), Some(156 * 1024), "{version}");
        let slab = if version == "v2" { 2 * 1024 } else { 0 };
        // free + file cache - shmem (+ reclaimable slab on v2)
        assert_eq!(
            m.get("MemAvailable"),
            Some((156 + 60 - 40) * 1024 + slab),
            "{version}"
        );
        assert_eq!(m.get("Shmem"), Some(40 * 1024), "{version}");
        assert_eq!(m.get("Cached"), Some(60 * 1024), "{version}");
        assert_eq!(m.get("SwapTotal"), Some(64 * 1024), "{version}");
        assert_eq!(m.get("SwapFree"), Some(54 * 1024), "{version}");
    });
}

#[test]
fn swaps_show_container_swap_when_limited() {
    both_versions(|version, r, c| {
        let text = render(r, ViewFile::Swaps, c);
        let fields: Vec<&str> = text.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!(
            fields,
            ["none", "virtual", "65536", "10240", "0"],
            "{version}"
        );
    });
}

#[test]
fn cpus_renumbered_consistently() {
    both_versions(|version, r, c| {
        let cpuinfo = Cpuinfo::parse(&render(r, ViewFile::Cpuinfo, c)).unwrap();
        let ids: Vec<u32> = cpuinfo.blocks.iter().filter_map(|b| b.processor).collect();
        assert_eq!(ids, [0, 1], "{version}");
        assert!(
            cpuinfo.blocks[1]
                .lines
                .iter()
                .any(|l| l.contains("3003.000")),
            "{version}"
        );
        let stat = Stat::parse(&render(r, ViewFile::Stat, c)).unwrap();
        assert_eq!(stat.online_cpus(), [0, 1], "{version}");
        let sum = stat
            .cpus
            .iter()
            .fold(CpuTimes::default(), |s, (_, t)| s.saturating_add(t));
        assert_eq!(stat.total, sum, "{version}");
        assert!(
            stat.other_lines.iter().any(|l| l == "btime 1700000000"),
            "{version}"
        );
        assert_eq!(render(r, ViewFile::CpuOnline, c), "0-1\n", "{version}");
    });
}

#[test]
fn stat_uses_container_cpu_time() {
    both_versions(|version, r, c| {
        let stat = Stat::parse(&render(r, ViewFile::Stat, c)).unwrap();
        let (cpu0, cpu1) = (stat.cpu(0).unwrap(), stat.cpu(1).unwrap());
        if version == "v1" {
            // physical CPUs 1 and 3 of cpuacct.usage_all
            assert_eq!((cpu0.user, cpu0.system), (500, 100));
            assert_eq!((cpu1.user, cpu1.system), (700, 0));
        } else {
            // 3 s user + 1 s system split over two CPUs
            assert_eq!(
                (cpu0.user + cpu1.user, cpu0.system + cpu1.system),
                (300, 100)
            );
        }
        // each line advances with the host CPU's elapsed time
        assert_eq!(cpu0.total(), 21630, "{version}");
    });
}

#[test]
fn cfs_quota_narrows_cpus() {
    for version in ["v1", "v2"] {
        let tmp = tempfile::tempdir().unwrap();
        let (layout, cgroups) = if version == "v1" {
            v1_fixture(tmp.path())
        } else {
            v2_fixture(tmp.path())
        };
        let options = Options {
            cfs: true,
            ..Options::default()
        };
        let r = renderer(layout, host_paths(tmp.path()), options);
        let c = container(cgroups);
        assert_eq!(render(&r, ViewFile::CpuOnline, &c), "0\n", "{version}");
        let cpuinfo = Cpuinfo::parse(&render(&r, ViewFile::Cpuinfo, &c)).unwrap();
        assert_eq!(cpuinfo.blocks.len(), 1, "{version}");
        assert_eq!(
            Stat::parse(&render(&r, ViewFile::Stat, &c))
                .unwrap()
                .cpus
                .len(),
            1
        );
    }
}

/// `--enable-cfs` shows fewer CPUs than the container runs on, but none of its CPU time is
/// lost: the single visible CPU carries the time of both cpuset CPUs (v1: physical CPUs 1 and
/// 3 of `cpuacct.usage_all`; v2: `cpu.stat`).
#[test]
fn cfs_narrowed_stat_keeps_all_container_cpu_time() {
    for version in ["v1", "v2"] {
        let tmp = tempfile::tempdir().unwrap();
        let (layout, cgroups) = if version == "v1" {
            v1_fixture(tmp.path())
        } else {
            v2_fixture(tmp.path())
        };
        let options = Options {
            cfs: true,
            ..Options::default()
        };
        let r = renderer(layout, host_paths(tmp.path()), options);
        let stat = Stat::parse(&render(&r, ViewFile::Stat, &container(cgroups))).unwrap();
        assert_eq!(stat.cpus.len(), 1, "{version}");
        let expected = if version == "v1" {
            (1200, 100)
        } else {
            (300, 100)
        };
        assert_eq!((stat.total.user, stat.total.system), expected, "{version}");
        assert_eq!(stat.total, stat.cpus[0].1, "{version}");
        // idle fills the rest of the host CPU's elapsed time (physical CPU 1: 21630 ticks)
        assert_eq!(stat.total.total(), 21630, "{version}");
    }
}

#[test]
fn uptime_is_since_init_start() {
    both_versions(|version, r, c| {
        let up = Uptime::parse(&render(r, ViewFile::Uptime, c)).unwrap();
        assert!((up.uptime - 60.0).abs() < 0.01, "{version}: {up:?}");
        assert!(up.idle <= up.uptime, "{version}");
    });
}

#[test]
fn diskstats_from_container_io() {
    both_versions(|version, r, c| {
        let text = render(r, ViewFile::Diskstats, c);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{version}");
        assert!(
            lines[0].starts_with("   8       0 sda 1 0 8 0 2 0 16 "),
            "{version}: {text}"
        );
        // partitions are the host's
        assert_eq!(
            render(r, ViewFile::Partitions, c),
            include_str!("fixtures/host/partitions"),
            "{version}"
        );
    });
}

#[test]
fn loadavg_is_host_unless_enabled() {
    both_versions(|version, r, c| {
        assert_eq!(
            render(r, ViewFile::Loadavg, c),
            "1.50 1.00 0.50 3/400 12345\n",
            "{version}"
        );
    });
}

#[test]
fn missing_controller_falls_back_to_host_and_malformed_file_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, _) = v1_fixture(tmp.path());
    let r = renderer(layout, host_paths(tmp.path()), Options::default());
    let elsewhere = container(ProcessCgroups::parse("4:memory:/nonexistent\n").unwrap());
    assert_eq!(
        render(&r, ViewFile::Meminfo, &elsewhere),
        include_str!("fixtures/host/meminfo")
    );
    write(
        &tmp.path().join("memory/parent/ctr/memory.usage_in_bytes"),
        "lots\n",
    );
    let (_, cgroups) = v1_fixture(&tmp.path().join("unused"));
    let err = r
        .render(ViewFile::Meminfo, &container(cgroups))
        .unwrap_err();
    assert!(err.to_string().contains("memory.usage_in_bytes"), "{err}");
}

#[test]
fn swap_disabled_hides_swap() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, cgroups) = v2_fixture(tmp.path());
    let options = Options {
        swap: false,
        ..Options::default()
    };
    let r = renderer(layout, host_paths(tmp.path()), options);
    let c = container(cgroups);
    let m = Meminfo::parse(&render(&r, ViewFile::Meminfo, &c)).unwrap();
    assert_eq!((m.get("SwapTotal"), m.get("SwapFree")), (Some(0), Some(0)));
    assert_eq!(render(&r, ViewFile::Swaps, &c).lines().count(), 1);
}

/// The limits a cached view is keyed on change with every limit file the view reads (the
/// container's own and its ancestors'), and not with usage counters.
#[test]
fn limits_follow_every_limit_file_and_ignore_usage() {
    let cases: [(&str, ViewFile, &str, &str); 10] = [
        (
            "v1",
            ViewFile::Meminfo,
            "memory/parent/ctr/memory.limit_in_bytes",
            "536870912\n",
        ),
        (
            "v1",
            ViewFile::Swaps,
            "memory/parent/memory.memsw.limit_in_bytes",
            "402653184\n",
        ),
        (
            "v1",
            ViewFile::CpuOnline,
            "cpuset/cs/cpuset.effective_cpus",
            "0-3\n",
        ),
        (
            "v1",
            ViewFile::Cpuinfo,
            "cpu/cpuq/cpu.cfs_quota_us",
            "200000\n",
        ),
        (
            "v1",
            ViewFile::Stat,
            "sys/devices/system/cpu/online",
            "0-1\n",
        ),
        (
            "v2",
            ViewFile::Meminfo,
            "unified/parent/memory.max",
            "536870912\n",
        ),
        (
            "v2",
            ViewFile::Meminfo,
            "unified/parent/ctr/memory.swap.max",
            "0\n",
        ),
        (
            "v2",
            ViewFile::Stat,
            "unified/parent/ctr/cpuset.cpus.effective",
            "2\n",
        ),
        (
            "v2",
            ViewFile::CpuOnline,
            "unified/parent/ctr/cpu.max",
            "max 100000\n",
        ),
        (
            "v2",
            ViewFile::Cpuinfo,
            "unified/parent/ctr/cpu.max",
            "300000 100000\n",
        ),
    ];
    let options = Options {
        cfs: true,
        ..Options::default()
    };
    for (version, view, file, new) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let (layout, cgroups) = if version == "v1" {
            v1_fixture(tmp.path())
        } else {
            v2_fixture(tmp.path())
        };
        let r = renderer(layout, host_paths(tmp.path()), options);
        let c = container(cgroups);
        let before = r.limits(view, &c, LimitSet::All).unwrap();
        // What the daemon checks at every open: the watched files through inotify, the
        // others re-read.
        let watch = LimitWatch::new().unwrap();
        let generation = watch
            .watch(
                &r.watched_limit_files(view, &c),
                (c.init_pid, c.init_start_ticks),
            )
            .expect("every limit file can be watched");
        let before_unwatched = r.limits(view, &c, LimitSet::Unwatchable).unwrap();
        let usage = if version == "v1" {
            "memory/parent/ctr/memory.usage_in_bytes"
        } else {
            "unified/parent/ctr/memory.current"
        };
        write(&tmp.path().join(usage), &format!("{}\n", 200 * MIB));
        assert_eq!(
            r.limits(view, &c, LimitSet::All).unwrap(),
            before,
            "{version} {view:?}: usage"
        );
        assert_eq!(watch.generation(), generation, "{version} {view:?}: usage");
        assert_eq!(
            r.limits(view, &c, LimitSet::Unwatchable).unwrap(),
            before_unwatched,
            "{version} {view:?}: usage"
        );
        write(&tmp.path().join(file), new);
        assert_ne!(
            r.limits(view, &c, LimitSet::All).unwrap(),
            before,
            "{version} {view:?}: {file}"
        );
        assert!(
            watch.generation() != generation
                || r.limits(view, &c, LimitSet::Unwatchable).unwrap() != before_unwatched,
            "{version} {view:?}: a change of {file} is neither watched nor re-read"
        );
    }
}

/// The memory limits read at a watch generation are reused at that generation only (the
/// daemon moves to a new one as soon as a limit file is written); usage is read every time,
/// and without a generation nothing is reused.
#[test]
fn memory_limits_are_reused_only_at_the_generation_they_were_read_at() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, cgroups) = v1_fixture(tmp.path());
    let r = renderer(layout, host_paths(tmp.path()), Options::default());
    let c = container(cgroups);
    let meminfo = |generation: Option<u64>| {
        let text = r.render_at(ViewFile::Meminfo, &c, generation).unwrap();
        Meminfo::parse(std::str::from_utf8(&text).unwrap()).unwrap()
    };
    let first = meminfo(Some(7));
    assert_eq!(first.get("MemTotal"), Some(256 * 1024));
    write(
        &tmp.path().join("memory/parent/memory.limit_in_bytes"),
        &format!("{}\n", 128 * MIB),
    );
    write(
        &tmp.path().join("memory/parent/ctr/memory.usage_in_bytes"),
        &format!("{}\n", 50 * MIB),
    );
    let same_generation = meminfo(Some(7));
    assert_eq!(same_generation.get("MemTotal"), Some(256 * 1024));
    assert_eq!(
        same_generation.get("MemFree"),
        Some(206 * 1024),
        "usage is fresh"
    );
    assert_eq!(meminfo(Some(8)).get("MemTotal"), Some(128 * 1024));
    assert_eq!(meminfo(None).get("MemTotal"), Some(128 * 1024));
    write(
        &tmp.path().join("memory/parent/memory.limit_in_bytes"),
        &format!("{}\n", 64 * MIB),
    );
    assert_eq!(meminfo(None).get("MemTotal"), Some(64 * 1024));
}

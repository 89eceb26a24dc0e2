//! Root integration tests of the real lxcfs-rs daemon.

mod common;

use std::io::Read;
use std::os::unix::fs::FileExt;

use syscontainer_tests::LoopDevice;

use common::{
    meminfo_value, processor_count, require_root, sections, CgroupSpec, Daemon, TestCgroup,
};

const LIMIT: u64 = 256 * 1024 * 1024;

fn script_reading(daemon: &Daemon, files: &[&str]) -> String {
    files
        .iter()
        .map(|f| format!("echo =={f}==; cat {}", daemon.path(f).display()))
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn container_sees_its_limits() {
    require_root();
    let daemon = Daemon::start_ours(&[]);
    let cgroup = TestCgroup::create(LIMIT, "0");
    let files = [
        "proc/meminfo",
        "proc/cpuinfo",
        "proc/stat",
        "sys/devices/system/cpu/online",
        "proc/uptime",
        "proc/swaps",
        "proc/diskstats",
        "proc/loadavg",
        "proc/partitions",
    ];
    // The container's init starts, waits a known time, then reads the views.
    let host_loadavg_before = std::fs::read_to_string("/proc/loadavg").unwrap();
    let out = cgroup.run_in_container(&format!(
        "sleep {UPTIME_WAIT}; {}",
        script_reading(&daemon, &files)
    ));
    let host_loadavg_after = std::fs::read_to_string("/proc/loadavg").unwrap();
    let s = sections(&out.stdout);

    assert_eq!(meminfo_value(&s["proc/meminfo"], "MemTotal"), Some(262144));
    assert!(meminfo_value(&s["proc/meminfo"], "MemFree").unwrap() <= 262144);
    assert_eq!(
        processor_count(&s["proc/cpuinfo"]),
        1,
        "{}",
        s["proc/cpuinfo"]
    );
    assert!(s["proc/cpuinfo"].contains("processor\t: 0\n"));
    let cpu_lines: Vec<&str> = s["proc/stat"]
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.starts_with("cpu"))
        .collect();
    assert_eq!(cpu_lines, ["cpu", "cpu0"], "{}", s["proc/stat"]);
    assert_eq!(s["sys/devices/system/cpu/online"], "0\n");
    let uptime = lxcfs_rs::host::Uptime::parse(&s["proc/uptime"]).unwrap();
    assert!(uptime.uptime < 10.0, "uptime {uptime:?}");
    // A view stuck at 0 (or counting from anything later than the init's start) fails this;
    // 0.05 s allows for the 10 ms tick granularity of both start times.
    assert!(
        uptime.uptime >= UPTIME_WAIT - 0.05,
        "uptime {uptime:?}, but the container's init started at least {UPTIME_WAIT} s ago"
    );
    assert!(uptime.idle <= uptime.uptime);
    // No memsw limit: swaps is exactly the host's file.
    assert_eq!(
        s["proc/swaps"],
        std::fs::read_to_string("/proc/swaps").unwrap()
    );
    // Without -l loadavg is the host's: its averages are the host's of just before or just
    // after (they change every 5 s), and it counts the host's tasks, not the container's 3.
    let ours = lxcfs_rs::host::Loadavg::parse(&s["proc/loadavg"]).unwrap();
    let before = lxcfs_rs::host::Loadavg::parse(&host_loadavg_before).unwrap();
    let after = lxcfs_rs::host::Loadavg::parse(&host_loadavg_after).unwrap();
    assert!(
        ours.avg == before.avg || ours.avg == after.avg,
        "loadavg {ours:?}, host {before:?} / {after:?}"
    );
    let (low, high) = (before.total.min(after.total), before.total.max(after.total));
    assert!(
        ours.total + 50 >= low && ours.total <= high + 50,
        "loadavg {ours:?}, host {before:?} / {after:?}"
    );
    // No blkio cgroup of its own: the view comes from the root blkio cgroup's counters, and
    // every line names a host device (exact counters: the loop device test below).
    let host_devices: Vec<String> =
        lxcfs_rs::host::parse_diskstats(&std::fs::read_to_string("/proc/diskstats").unwrap())
            .unwrap()
            .into_iter()
            .map(|l| format!("{}:{} {}", l.major, l.minor, l.name))
            .collect();
    for line in lxcfs_rs::host::parse_diskstats(&s["proc/diskstats"]).unwrap() {
        let device = format!("{}:{} {}", line.major, line.minor, line.name);
        assert!(
            host_devices.contains(&device),
            "{device} is not a host device"
        );
    }
    assert_eq!(
        s["proc/partitions"],
        std::fs::read_to_string("/proc/partitions").unwrap()
    );
}

/// Seconds the container in `container_sees_its_limits` waits before reading its uptime.
const UPTIME_WAIT: f64 = 2.0;

/// A blkio throttle rule on one device in one v1 cgroup; Drop lifts it (rate 0).
struct ThrottleRule {
    file: std::path::PathBuf,
    device: (u32, u32),
}

impl ThrottleRule {
    fn set(file: std::path::PathBuf, device: (u32, u32), bytes_per_second: u64) -> ThrottleRule {
        let (major, minor) = device;
        std::fs::write(&file, format!("{major}:{minor} {bytes_per_second}"))
            .unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
        ThrottleRule { file, device }
    }
}

impl Drop for ThrottleRule {
    fn drop(&mut self) {
        let (major, minor) = self.device;
        let _ = std::fs::write(&self.file, format!("{major}:{minor} 0"));
    }
}

/// A container in its own blkio cgroup does a known amount of direct I/O on a loop device:
/// its diskstats shows exactly that on the loop device's line.
///
/// Kernel 6.x counts v1 `blkio.throttle.io_service*` only on a device whose queue has had a
/// throttle rule since boot (in any cgroup): as a host with a throttled disk, the test sets a
/// rule on its own loop device, far above what it reads, so that it does not depend on what
/// earlier runs or other tests left on the loop device it gets.
#[test]
fn diskstats_counts_the_containers_io_on_a_loop_device() {
    require_root();
    let daemon = Daemon::start_ours(&[]);
    let device = LoopDevice::new(16 << 20);
    let limit = LIMIT.to_string();
    let cgroup = TestCgroup::build(&[
        CgroupSpec {
            controller: "memory",
            path: "",
            files: &[("memory.limit_in_bytes", &limit)],
            join: true,
        },
        CgroupSpec {
            controller: "blkio",
            path: "",
            files: &[],
            join: true,
        },
    ]);
    let blkio_dir = cgroup
        .dirs
        .iter()
        .find(|d| d.join("blkio.throttle.read_bps_device").exists())
        .expect("the test's blkio cgroup");
    let rule = ThrottleRule::set(
        blkio_dir.join("blkio.throttle.read_bps_device"),
        device.numbers(),
        1 << 40,
    );
    let dev = &device.dev;
    let out = cgroup.run_in_container(&format!(
        "dd if={dev} of=/dev/null bs=4096 count=8 iflag=direct 2>/dev/null && \
         dd if=/dev/zero of={dev} bs=4096 count=4 oflag=direct 2>/dev/null && \
         cat {}",
        daemon.path("proc/diskstats").display()
    ));
    drop(rule);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines = lxcfs_rs::host::parse_diskstats(&text).unwrap();
    let (major, minor) = device.numbers();
    let ours: Vec<_> = lines
        .iter()
        .filter(|l| (l.major, l.minor) == (major, minor))
        .collect();
    assert_eq!(ours.len(), 1, "{text}");
    let name = dev.trim_start_matches("/dev/");
    assert_eq!(ours[0].name, name);
    // 8 reads of 4 KiB (64 sectors), 4 writes of 4 KiB (32 sectors), every other field 0
    let mut expected = vec![0u64; ours[0].counters.len()];
    expected[..7].copy_from_slice(&[8, 0, 64, 0, 4, 0, 32]);
    assert_eq!(ours[0].counters, expected, "{text}");
    // The host's line of the device counts the same I/O (and has timings the view zeroes).
    let host =
        lxcfs_rs::host::parse_diskstats(&std::fs::read_to_string("/proc/diskstats").unwrap())
            .unwrap();
    let host_line = host
        .iter()
        .find(|l| (l.major, l.minor) == (major, minor))
        .unwrap();
    assert!(host_line.counters[0] >= 8 && host_line.counters[4] >= 4);
    assert_eq!(ours[0].counters.len(), host_line.counters.len());
}

/// With a memsw limit, swaps shows one virtual device of (memsw − memory) limit capped at the
/// host's swap (none on a host without swap: header only); meminfo's SwapTotal agrees.
#[test]
fn swaps_follows_the_memsw_limit() {
    require_root();
    let daemon = Daemon::start_ours(&[]);
    let limit = LIMIT.to_string();
    let memsw = (LIMIT + 64 * 1024 * 1024).to_string();
    let cgroup = TestCgroup::build(&[CgroupSpec {
        controller: "memory",
        path: "",
        files: &[
            ("memory.limit_in_bytes", &limit),
            ("memory.memsw.limit_in_bytes", &memsw),
        ],
        join: true,
    }]);
    let out = cgroup.run_in_container(&script_reading(&daemon, &["proc/swaps", "proc/meminfo"]));
    let s = sections(&out.stdout);
    let host_swap_kb = meminfo_value(
        &std::fs::read_to_string("/proc/meminfo").unwrap(),
        "SwapTotal",
    )
    .unwrap();
    let expected_kb = host_swap_kb.min(64 * 1024);
    assert_eq!(
        meminfo_value(&s["proc/meminfo"], "SwapTotal"),
        Some(expected_kb)
    );
    let lines: Vec<&str> = s["proc/swaps"].lines().collect();
    assert_eq!(lines[0], "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority");
    if expected_kb == 0 {
        assert_eq!(lines.len(), 1, "{}", s["proc/swaps"]);
    } else {
        assert_eq!(lines.len(), 2, "{}", s["proc/swaps"]);
        let fields: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(fields[..3], ["none", "virtual", &expected_kb.to_string()]);
    }
}

#[test]
fn host_caller_sees_host_values() {
    require_root();
    let daemon = Daemon::start_ours(&[]);
    let ours = std::fs::read_to_string(daemon.path("proc/meminfo")).unwrap();
    let host = std::fs::read_to_string("/proc/meminfo").unwrap();
    assert_eq!(
        meminfo_value(&ours, "MemTotal"),
        meminfo_value(&host, "MemTotal")
    );
    assert_eq!(
        std::fs::read_to_string(daemon.path("sys/devices/system/cpu/online")).unwrap(),
        std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap()
    );
    assert_eq!(
        processor_count(&std::fs::read_to_string(daemon.path("proc/cpuinfo")).unwrap()),
        processor_count(&std::fs::read_to_string("/proc/cpuinfo").unwrap())
    );
}

#[test]
fn partial_reads_at_offsets_match_full_read() {
    require_root();
    let daemon = Daemon::start_ours(&[]);
    for file in ["proc/meminfo", "proc/stat", "proc/cpuinfo"] {
        let handle = std::fs::File::open(daemon.path(file)).unwrap();
        assert_eq!(
            handle.metadata().unwrap().len(),
            0,
            "st_size is not computed"
        );
        let mut chunked = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = handle.read_at(&mut buf, chunked.len() as u64).unwrap();
            if n == 0 {
                break;
            }
            chunked.extend_from_slice(&buf[..n]);
        }
        // Reads at later offsets continued the snapshot of the first read.
        let mut whole = Vec::new();
        let mut again = std::fs::File::open(daemon.path(file)).unwrap();
        again.read_to_end(&mut whole).unwrap();
        assert!(!chunked.is_empty());
        assert_eq!(chunked.last(), Some(&b'\n'), "{file}");
        if file == "proc/cpuinfo" {
            assert_eq!(whole, chunked, "cpuinfo is stable across opens");
        }
        // A read from the start again renders afresh, and later offsets continue that one.
        let mut reread = vec![0u8; 64 * 1024];
        let n = handle.read_at(&mut reread, 0).unwrap();
        let fresh = &reread[..n];
        assert_eq!(fresh.last(), Some(&b'\n'), "{file}: a whole view again");
        assert_eq!(
            fresh.iter().filter(|&&b| b == b'\n').count(),
            chunked.iter().filter(|&&b| b == b'\n').count(),
            "{file}: the same lines"
        );
        let mut small = [0u8; 3];
        assert_eq!(handle.read_at(&mut small, 5).unwrap(), 3);
        assert_eq!(&small, &fresh[5..8]);
    }
}

/// A file kept open and read again from the start shows the present, as the kernel's own does:
/// procps 4's `top`, `vmstat` and `free -s` open /proc/meminfo and /proc/stat once and re-read
/// them at every refresh.
#[test]
fn a_file_read_again_from_the_start_shows_the_present() {
    require_root();
    let daemon = Daemon::start_ours(&[]);
    let uptime_of = |text: &[u8]| -> f64 {
        let text = std::str::from_utf8(text).unwrap();
        text.split_whitespace().next().unwrap().parse().unwrap()
    };
    let handle = std::fs::File::open(daemon.path("proc/uptime")).unwrap();
    let mut buf = [0u8; 256];
    let n = handle.read_at(&mut buf, 0).unwrap();
    let first = uptime_of(&buf[..n]);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let n = handle.read_at(&mut buf, 0).unwrap();
    let second = uptime_of(&buf[..n]);
    assert!(second >= first + 0.05, "uptime {first} then {second}");

    // In a container: its meminfo kept open, 96 MiB touched, then read again from the start
    // (after the 100 ms the daemon may keep a rendering).
    let cgroup = TestCgroup::create(LIMIT, "0");
    let script = format!(
        "perl -e 'open(my $f, \"<\", $ARGV[0]) or die \"$!\"; sysread($f, my $before, 65536); \
         my $x = \"a\" x (96 << 20); select(undef, undef, undef, 0.3); \
         sysseek($f, 0, 0); sysread($f, my $after, 65536); \
         print \"==before==\\n$before==after==\\n$after\"' {}",
        daemon.path("proc/meminfo").display()
    );
    let found = sections(&cgroup.run_in_container(&script).stdout);
    let free = |name: &str| meminfo_value(&found[name], "MemFree").unwrap();
    assert_eq!(meminfo_value(&found["after"], "MemTotal"), Some(262144));
    assert!(
        free("after") + 64 * 1024 <= free("before"),
        "MemFree {} kB then {} kB after touching 96 MiB",
        free("before"),
        free("after")
    );
}

/// The usage a view shows is read afresh at each rendering: the daemon keeps a container's
/// cgroup statistics files open and reads them again, so its CPU time in `proc/stat` grows
/// between two opens while it burns half a second of CPU.
#[test]
fn a_containers_cpu_time_grows_between_two_reads_of_its_stat() {
    require_root();
    let daemon = Daemon::start_ours(&[]);
    let cgroup = TestCgroup::build(&[
        CgroupSpec {
            controller: "cpuset",
            path: "",
            files: &[("cpuset.cpus", "0")],
            join: true,
        },
        CgroupSpec {
            controller: "cpuacct",
            path: "",
            files: &[],
            join: true,
        },
    ]);
    let stat = daemon.path("proc/stat");
    let script = format!(
        "echo ==before==; cat {stat}; \
         timeout 0.5 sh -c 'while :; do :; done' || true; \
         echo ==after==; cat {stat}",
        stat = stat.display()
    );
    let found = sections(&cgroup.run_in_container(&script).stdout);
    let busy_ticks = |name: &str| -> u64 {
        let line = found[name]
            .lines()
            .find(|l| l.starts_with("cpu "))
            .unwrap_or_else(|| panic!("no cpu line in {}", found[name]));
        let ticks: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map(|t| t.parse().unwrap())
            .collect();
        ticks[0] + ticks[1] + ticks[2]
    };
    // 0.5 s is 50 ticks of user and system time; some of it may fall outside the reads.
    assert!(
        busy_ticks("after") >= busy_ticks("before") + 30,
        "user+nice+system {} ticks, then {} after 0.5 s of busy loop",
        busy_ticks("before"),
        busy_ticks("after")
    );
}

/// A view longer than the `max_read` mount option comes back whole from one read(2): the
/// kernel sends one READ after another within the call. The host's cpuinfo is replaced by a
/// long one in a mount namespace of the test's own, where the daemon runs.
#[test]
fn one_read_returns_a_view_longer_than_max_read() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("cpuinfo");
    let max_read = lxcfs_rs::fs::MAX_READ as usize;
    let text: String = (0..)
        .map(|cpu| format!("processor\t: {cpu}\nmodel name\t: long view\n\n"))
        .scan(0, |len, entry| {
            *len += entry.len();
            (*len < 3 * max_read + 100).then_some(entry)
        })
        .collect();
    assert!(text.len() > 3 * max_read);
    std::fs::write(&long, &text).unwrap();
    let mountpoint = dir.path().join("mnt");
    let read = dir.path().join("read");
    let script = format!(
        "set -e; mount --bind {long} /proc/cpuinfo; \
         {daemon} --log-level warn {mnt} & pid=$!; trap 'kill $pid; wait $pid' EXIT; \
         for i in $(seq 200); do [ -e {mnt}/proc/cpuinfo ] && break; sleep 0.05; done; \
         dd if={mnt}/proc/cpuinfo of={read} bs=1M count=1 2>/dev/null; \
         grep ' {mnt} ' /proc/self/mountinfo",
        long = long.display(),
        daemon = env!("CARGO_BIN_EXE_lxcfs-rs"),
        mnt = mountpoint.display(),
        read = read.display(),
    );
    // Bounded, so that a daemon that never answers fails the test instead of hanging it; the
    // mount namespace, and the mounts in it, end with its processes either way.
    let output = std::process::Command::new("timeout")
        .args(["-k", "5", "120", "unshare", "--mount"])
        .args(["--propagation", "private"])
        .args(["sh", "-c", &script])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mountinfo = String::from_utf8_lossy(&output.stdout);
    assert!(
        mountinfo.contains(&format!("max_read={max_read}")),
        "{mountinfo}"
    );
    assert_eq!(std::fs::read_to_string(&read).unwrap(), text);
}

#[test]
fn writes_are_refused() {
    require_root();
    let daemon = Daemon::start_ours(&[]);
    let err = std::fs::OpenOptions::new()
        .write(true)
        .open(daemon.path("proc/meminfo"))
        .unwrap_err();
    assert!(
        matches!(err.raw_os_error(), Some(libc::EROFS) | Some(libc::EACCES)),
        "{err}"
    );
}

/// The kernel refuses writes on the read-only mount before the daemon sees them; remounted
/// read-write, every kind of change reaches the daemon, which refuses it itself.
#[test]
fn daemon_itself_refuses_changes_on_a_read_write_mount() {
    require_root();
    let daemon = Daemon::start_ours(&[]);
    let flags = nix::mount::MsFlags::MS_REMOUNT
        | nix::mount::MsFlags::MS_NOSUID
        | nix::mount::MsFlags::MS_NODEV
        | nix::mount::MsFlags::MS_NOEXEC;
    nix::mount::mount(
        None::<&str>,
        &daemon.mountpoint,
        None::<&str>,
        flags,
        None::<&str>,
    )
    .unwrap();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(daemon.mountpoint.to_str().unwrap()))
        .unwrap();
    assert!(line.split(' ').nth(5).unwrap().starts_with("rw,"), "{line}");

    let file = daemon.path("proc/meminfo");
    let expect_eacces = |what: &str, result: std::io::Result<()>| {
        let err = result.expect_err(what);
        assert_eq!(err.raw_os_error(), Some(libc::EACCES), "{what}: {err}");
    };
    let open = |options: &mut std::fs::OpenOptions| options.open(&file).map(drop);
    expect_eacces("O_WRONLY", open(std::fs::OpenOptions::new().write(true)));
    expect_eacces(
        "O_RDWR",
        open(std::fs::OpenOptions::new().read(true).write(true)),
    );
    expect_eacces(
        "O_TRUNC",
        open(std::fs::OpenOptions::new().write(true).truncate(true)),
    );
    expect_eacces(
        "truncate",
        nix::unistd::truncate(&file, 0).map_err(std::io::Error::from),
    );
    expect_eacces(
        "chmod",
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o666)),
    );
    expect_eacces(
        "create",
        std::fs::File::create(daemon.path("proc/new")).map(drop),
    );
    expect_eacces("mkdir", std::fs::create_dir(daemon.path("proc/dir")));
    expect_eacces("unlink", std::fs::remove_file(&file));
    expect_eacces(
        "rmdir",
        std::fs::remove_dir(daemon.path("sys/devices/system/cpu")),
    );
    expect_eacces(
        "rename",
        std::fs::rename(&file, daemon.path("proc/meminfo2")),
    );
    // Reads still work and the content is untouched.
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("MemTotal:"), "{text}");
}

/// Offset reads of a view rendered for a container (the reader runs in the container's PID
/// namespace and cgroups): 7-byte reads, then a large read continuing on the same open file,
/// and reads after seeking, all give the bytes of one snapshot.
#[test]
fn partial_reads_of_a_container_view_match_full_read() {
    require_root();
    let daemon = Daemon::start_ours(&[]);
    let cgroup = TestCgroup::create(LIMIT, "0");
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().display();
    let file = |f: &str| daemon.path(f).display().to_string();
    let (meminfo, cpuinfo) = (file("proc/meminfo"), file("proc/cpuinfo"));
    let online = file("sys/devices/system/cpu/online");
    cgroup.run_in_container(&format!(
        "set -e; \
         {{ dd bs=7 count=3 2>/dev/null; cat; }} < {meminfo} > {out}/meminfo.split; \
         cat {meminfo} > {out}/meminfo.whole; \
         dd if={cpuinfo} bs=7 2>/dev/null > {out}/cpuinfo.chunked; \
         cat {cpuinfo} > {out}/cpuinfo.whole; \
         dd if={cpuinfo} bs=7 skip=5 count=3 2>/dev/null > {out}/cpuinfo.skip; \
         dd if={online} bs=1 2>/dev/null > {out}/online.chunked"
    ));
    let read = |name: &str| std::fs::read_to_string(out_dir.path().join(name)).unwrap();

    // meminfo: the container's (256 MiB), complete, in one piece across the two readers.
    let split = read("meminfo.split");
    let whole = read("meminfo.whole");
    assert_eq!(meminfo_value(&split, "MemTotal"), Some(262144), "{split}");
    let keys = |t: &str| -> Vec<String> {
        lxcfs_rs::host::Meminfo::parse(t)
            .unwrap()
            .lines
            .into_iter()
            .map(|l| l.key)
            .collect()
    };
    assert_eq!(keys(&split), keys(&whole));
    assert!(split.ends_with('\n'), "{split}");

    // cpuinfo: the container's (1 CPU; the host has more), stable across opens.
    let chunked = read("cpuinfo.chunked");
    let whole = read("cpuinfo.whole");
    assert_eq!(processor_count(&whole), 1, "{whole}");
    assert_eq!(chunked, whole);
    assert_eq!(read("cpuinfo.skip"), whole[35..56]);
    assert_eq!(read("online.chunked"), "0\n");
}

#[test]
fn killed_daemon_gives_enotconn() {
    require_root();
    let mut daemon = Daemon::start_ours(&[]);
    assert!(std::fs::read_to_string(daemon.path("proc/meminfo")).is_ok());
    daemon.kill();
    let err = std::fs::read_to_string(daemon.path("proc/meminfo")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOTCONN), "{err}");
}

#[test]
fn sigterm_unmounts_cleanly() {
    require_root();
    let mut daemon = Daemon::start_ours(&[]);
    let child = daemon.child.take().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", output.status);
    assert!(!common::is_fuse_mounted(&daemon.mountpoint));
}

#[test]
fn loadavg_enabled_counts_container_tasks() {
    require_root();
    let daemon = Daemon::start_ours(&["-l"]);
    let cgroup = TestCgroup::create(LIMIT, "0");
    let out = cgroup.run_in_container(&format!("cat {}", daemon.path("proc/loadavg").display()));
    let text = String::from_utf8(out.stdout).unwrap();
    let loadavg = lxcfs_rs::host::Loadavg::parse(&text).unwrap();
    // sh, unshare, and cat in the container's cgroup: a handful, not the host's hundreds
    assert!(loadavg.total >= 1 && loadavg.total < 10, "{text}");
}

/// A limit written through another mount of the memory hierarchy (a fresh cgroup v1 mount in
/// the container's own mount namespace), on the container's cgroup or on an ancestor, shows at
/// the very next read, although the view was rendered a moment before (well within the
/// cache's lifetime): the daemon's inotify watches see every write, whichever mount it came
/// through.
#[test]
fn a_limit_written_through_another_mount_or_on_an_ancestor_shows_at_once() {
    require_root();
    let daemon = Daemon::start_ours(&[]);
    let limit = LIMIT.to_string();
    let cgroup = TestCgroup::build(&[CgroupSpec {
        controller: "memory",
        path: "ctr",
        files: &[("memory.limit_in_bytes", &limit)],
        join: true,
    }]);
    let parent = &cgroup.dirs[0];
    let layout = lxcfs_rs::cgroup::CgroupLayout::from_system().unwrap();
    let root = layout
        .v1_dir(
            lxcfs_rs::cgroup::Controller::Memory,
            &lxcfs_rs::cgroup::ProcessCgroups::parse("4:memory:/\n").unwrap(),
        )
        .unwrap()
        .mountpoint;
    let relative = parent.strip_prefix(&root).unwrap().display().to_string();
    let meminfo = daemon.path("proc/meminfo").display().to_string();
    let mib = |n: u64| (n * 1024 * 1024).to_string();
    let script = format!(
        "m=$(mktemp -d); mount -t cgroup -o memory none $m || {{ rmdir $m; exit 98; }}; \
         echo ==first==; cat {meminfo}; echo ==again==; cat {meminfo}; \
         echo {child} > $m/{relative}/ctr/memory.limit_in_bytes; echo ==child==; cat {meminfo}; \
         echo {ancestor} > $m/{relative}/memory.limit_in_bytes; echo ==ancestor==; cat {meminfo}; \
         echo {host} > {parent}/memory.limit_in_bytes; echo ==host==; cat {meminfo}; \
         umount $m; rmdir $m",
        child = mib(128),
        ancestor = mib(64),
        host = mib(96),
        parent = parent.display(),
    );
    let out = cgroup.run_in_container(&script);
    let s = sections(&out.stdout);
    let total = |name: &str| meminfo_value(&s[name], "MemTotal");
    assert_eq!(total("first"), Some(256 * 1024));
    assert_eq!(total("again"), Some(256 * 1024));
    assert_eq!(
        total("child"),
        Some(128 * 1024),
        "child limit via another mount"
    );
    assert_eq!(
        total("ancestor"),
        Some(64 * 1024),
        "ancestor limit via another mount"
    );
    assert_eq!(
        total("host"),
        Some(96 * 1024),
        "ancestor limit via the host's mount"
    );
}

//! lxcfs-rs on pure cgroup v2 (VM lane), side by side with lxcfs 5.0.3 from Debian: booted
//! containers with `-m`, `--memory-swap`, `--cpuset-cpus`, `--cpus` and some I/O, and every
//! view checked against the v2 files it comes from (memory.max, memory.current, memory.stat,
//! memory.swap.max, cpuset.cpus.effective, cpu.max for `--enable-cfs`, cpu.stat, io.stat) and
//! the container init's start time. lxcfs 5.0.3's answers are printed beside ours; they are
//! asserted only where lxcfs is right.
//!
//! The daemons run on private mount points and are read as the host-lane tests do
//! (tests/tests/lxcfs.rs): from a process in the container's PID namespace that stays in the
//! host's mount namespace, where every daemon's mount point is visible.

mod v2;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use syscontainer_tests::{bin, Host, MountDir};
use v2::{assert_v2_under_systemd, meminfo_kb, read_trimmed, service_in, wait_running};

const MIB: u64 = 1 << 20;

/// lxcfs-rs with one thread serving every request, so that a second rendering of a view is
/// done by the thread that kept the first one's cgroup files open.
const ONE_WORKER: &[&str] = &["--threads", "1", "--io-uring", "off"];

/// Longer than lxcfs-rs keeps a rendered view (100 ms).
const PAST_THE_CACHE: Duration = Duration::from_millis(150);

/// A line in the lane's log also when the test passes: libtest captures `println!`, not
/// writes to the stdout handle.
macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout().lock(), "lxcfs_v2: {}", format!($($arg)*));
    }};
}

/// A FUSE daemon serving a [`MountDir`]; Drop kills it.
struct Daemon {
    child: Child,
}

impl Daemon {
    /// `lxcfs-rs ARGS MOUNT`.
    fn ours(mount: &MountDir, args: &[&str]) -> Daemon {
        let mut command = Command::new(bin("lxcfs-rs"));
        command.args(["--log-level", "warn"]).args(args);
        Daemon::start(command, mount, "lxcfs-rs")
    }

    /// lxcfs 5.0.3 from Debian in the foreground: `lxcfs -f ARGS MOUNT`.
    fn lxcfs(mount: &MountDir, args: &[&str]) -> Daemon {
        let mut command = Command::new("/usr/bin/lxcfs");
        command
            .arg("-f")
            .arg("-p")
            .arg(mount.file("lxcfs.pid"))
            .args(args);
        Daemon::start(command, mount, "lxcfs 5.0.3")
    }

    fn start(mut command: Command, mount: &MountDir, name: &'static str) -> Daemon {
        let log = std::fs::File::create(mount.file("daemon.log")).unwrap();
        let child = command
            .arg(mount.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let mut daemon = Daemon { child };
        let deadline = Instant::now() + Duration::from_secs(20);
        let meminfo = mount.path().join("proc/meminfo");
        while !nix::sys::statfs::statfs(&meminfo)
            .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::FUSE_SUPER_MAGIC)
        {
            let log = || std::fs::read_to_string(mount.file("daemon.log")).unwrap_or_default();
            let exited = daemon.child.try_wait().unwrap();
            assert!(exited.is_none(), "{name} exited ({exited:?}): {}", log());
            assert!(Instant::now() < deadline, "{name} did not mount: {}", log());
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `file` below `mount`, read by a process in the PID namespace of the container's init.
fn read_as_container(init: i32, mount: &MountDir, file: &str) -> String {
    let out = Command::new("nsenter")
        .args(["--target", &init.to_string(), "--pid", "--", "cat"])
        .arg(mount.path().join(file))
        .stdin(Stdio::null())
        .output()
        .expect("spawn nsenter");
    assert!(
        out.status.success(),
        "reading {file} of {}: {}",
        mount.path().display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `file` below `mount` opened once by a process in the PID namespace of the container's
/// init and read twice from offset 0 on that one descriptor, as procps's `free -s`, `top`
/// and `vmstat` do: `between` runs after the first read.
fn read_twice_as_container(
    init: i32,
    mount: &MountDir,
    file: &str,
    between: impl FnOnce(),
) -> (String, String) {
    use std::io::{BufRead, Read, Write};
    const REREAD: &str = r#"
        open(my $f, "<", $ARGV[0]) or die "open $ARGV[0]: $!";
        $| = 1;
        defined(sysread($f, my $first, 1 << 16)) or die "read: $!";
        print $first, "--\n";
        <STDIN>;
        defined(sysseek($f, 0, 0)) or die "seek: $!";
        defined(sysread($f, my $second, 1 << 16)) or die "read again: $!";
        print $second;
    "#;
    let mut child = Command::new("nsenter")
        .args([
            "--target",
            &init.to_string(),
            "--pid",
            "--",
            "perl",
            "-e",
            REREAD,
        ])
        .arg(mount.path().join(file))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn nsenter");
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    loop {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 || line == "--\n" {
            break;
        }
        first.push_str(&line);
    }
    between();
    child.stdin.take().unwrap().write_all(b"\n").unwrap();
    let mut second = String::new();
    stdout.read_to_string(&mut second).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "reading {file} twice: {status}");
    (first, second)
}

/// A booted container of `host`: its init's PID and its cgroup directory.
fn boot(host: &mut Host, name: &str, options: &[&str]) -> (i32, PathBuf) {
    let rootfs = host.rootfs();
    let id = host.start_system(name, &rootfs, options);
    let pid: i32 = host.inspect(name, "{{.State.Pid}}").parse().unwrap();
    let cgroup = host
        .cgroup_file(&id, "cgroup.procs")
        .unwrap_or_else(|| panic!("no cgroup2 directory for {name}"))
        .parent()
        .unwrap()
        .to_path_buf();
    (pid, cgroup)
}

fn cgroup_value(cgroup: &Path, file: &str) -> String {
    read_trimmed(&cgroup.join(file))
}

/// A `key value` line of a flat-keyed cgroup file (memory.stat, cpu.stat).
fn keyed(cgroup: &Path, file: &str, key: &str) -> u64 {
    let text = cgroup_value(cgroup, file);
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {file}:\n{text}"))
}

/// A 256 MiB swap file for the duration of a test, so that the swap views have a host swap
/// to limit.
struct SwapFile(PathBuf);

impl SwapFile {
    fn new() -> SwapFile {
        let path = PathBuf::from(format!("/var/tmp/sctest-swap-{}", std::process::id()));
        let swap = SwapFile(path.clone());
        let path = path.display().to_string();
        for (program, args) in [
            ("fallocate", vec!["-l", "256M", &path]),
            ("chmod", vec!["600", &path]),
            ("mkswap", vec!["-q", &path]),
            ("swapon", vec![&path]),
        ] {
            let out = Command::new(program).args(&args).output().unwrap();
            assert!(
                out.status.success(),
                "{program} {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        swap
    }
}

impl Drop for SwapFile {
    fn drop(&mut self) {
        let _ = Command::new("swapoff").arg(&self.0).output();
        let _ = std::fs::remove_file(&self.0);
    }
}

fn uptime_seconds(text: &str) -> f64 {
    text.split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("bad uptime {text:?}"))
}

/// The container's age in seconds: host uptime minus its init's start time.
fn container_age(init: i32) -> f64 {
    let stat = read_trimmed(Path::new(&format!("/proc/{init}/stat")));
    let start_ticks: f64 = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    let tck = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .unwrap()
        .unwrap() as f64;
    uptime_seconds(&read_trimmed(Path::new("/proc/uptime"))) - start_ticks / tck
}

/// The `major minor name counters...` line of a diskstats text for a device.
fn diskstats_counters(text: &str, major: u32, minor: u32) -> Option<Vec<u64>> {
    text.lines().find_map(|l| {
        let words: Vec<&str> = l.split_whitespace().collect();
        (words.len() > 7 && words[0] == major.to_string() && words[1] == minor.to_string())
            .then(|| words[3..].iter().map(|w| w.parse().unwrap()).collect())
    })
}

/// `(rios, rbytes, wios, wbytes)` of a device in io.stat.
fn io_stat(cgroup: &Path, major: u32, minor: u32) -> (u64, u64, u64, u64) {
    let text = cgroup_value(cgroup, "io.stat");
    let device = format!("{major}:{minor} ");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(&device))
        .unwrap_or_else(|| panic!("no {major}:{minor} in io.stat:\n{text}"));
    let field = |key: &str| -> u64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
            .unwrap_or(0)
    };
    (
        field("rios"),
        field("rbytes"),
        field("wios"),
        field("wbytes"),
    )
}

fn within(what: &str, value: u64, low: u64, high: u64) {
    assert!(
        (low..=high).contains(&value),
        "{what}: {value} is not within {low}..={high}"
    );
}

#[test]
fn memory_swap_uptime_and_diskstats_follow_the_v2_files() {
    assert_v2_under_systemd();
    let _swap = SwapFile::new();
    let theirs = MountDir::new();
    let _lxcfs = Daemon::lxcfs(&theirs, &[]);
    let ours = MountDir::new();
    let _ours = Daemon::ours(&ours, &[]);
    let one_worker = MountDir::new();
    let _one_worker = Daemon::ours(&one_worker, ONE_WORKER);
    let mut host = Host::new();
    let (init, cgroup) = boot(&mut host, "v2mem", &["-m", "256M", "--memory-swap", "384M"]);
    wait_running(init, "v2mem");

    // meminfo: MemTotal from memory.max, MemFree from memory.current, Cached from
    // memory.stat's file, the swap lines from memory.swap.max and memory.swap.current.
    let host_meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let max: u64 = cgroup_value(&cgroup, "memory.max").parse().unwrap();
    assert_eq!(max, 256 * MIB);
    let swap_max: u64 = cgroup_value(&cgroup, "memory.swap.max").parse().unwrap();
    let current_before: u64 = cgroup_value(&cgroup, "memory.current").parse().unwrap();
    let file_before = keyed(&cgroup, "memory.stat", "file");
    let our_meminfo = read_as_container(init, &ours, "proc/meminfo");
    let their_meminfo = read_as_container(init, &theirs, "proc/meminfo");
    let current_after: u64 = cgroup_value(&cgroup, "memory.current").parse().unwrap();
    let file_after = keyed(&cgroup, "memory.stat", "file");
    let swap_current: u64 = cgroup_value(&cgroup, "memory.swap.current")
        .parse()
        .unwrap();
    for key in [
        "MemTotal",
        "MemFree",
        "MemAvailable",
        "Cached",
        "SwapTotal",
        "SwapFree",
    ] {
        report!(
            "meminfo {key:>12}: lxcfs-rs {:>8} kB, lxcfs 5.0.3 {:>8} kB",
            meminfo_kb(&our_meminfo, key),
            meminfo_kb(&their_meminfo, key)
        );
    }
    report!("memory.max {max} memory.swap.max {swap_max} memory.current {current_before}..{current_after} memory.swap.current {swap_current}");
    let total = max / 1024;
    assert_eq!(meminfo_kb(&our_meminfo, "MemTotal"), total, "{our_meminfo}");
    assert_eq!(
        meminfo_kb(&their_meminfo, "MemTotal"),
        total,
        "{their_meminfo}"
    );
    let slack = 1024;
    let (low, high) = (
        current_before.min(current_after) / 1024,
        current_before.max(current_after) / 1024,
    );
    within(
        "MemFree",
        meminfo_kb(&our_meminfo, "MemFree"),
        total - high - slack,
        total - low + slack,
    );
    within(
        "Cached",
        meminfo_kb(&our_meminfo, "Cached"),
        (file_before.min(file_after) / 1024).saturating_sub(slack),
        file_before.max(file_after) / 1024 + slack,
    );
    let swap_total = (swap_max / 1024).min(meminfo_kb(&host_meminfo, "SwapTotal"));
    assert!(swap_total > 0, "no swap to limit: {host_meminfo}");
    assert_eq!(meminfo_kb(&our_meminfo, "SwapTotal"), swap_total);
    within(
        "SwapFree",
        meminfo_kb(&our_meminfo, "SwapFree"),
        (swap_total - swap_current / 1024).saturating_sub(slack),
        swap_total - swap_current / 1024 + slack,
    );
    let our_swaps = read_as_container(init, &ours, "proc/swaps");
    report!(
        "swaps lxcfs-rs:\n{our_swaps}swaps lxcfs 5.0.3:\n{}",
        read_as_container(init, &theirs, "proc/swaps")
    );
    let swap_line: Vec<&str> = our_swaps
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        swap_line.get(2),
        Some(&swap_total.to_string().as_str()),
        "{our_swaps}"
    );

    // uptime: since the container's init started.
    let age_before = container_age(init);
    let our_uptime = uptime_seconds(&read_as_container(init, &ours, "proc/uptime"));
    let their_uptime = uptime_seconds(&read_as_container(init, &theirs, "proc/uptime"));
    let age_after = container_age(init);
    report!("uptime: lxcfs-rs {our_uptime}, lxcfs 5.0.3 {their_uptime}, init age {age_before:.2}..{age_after:.2}");
    assert!(
        our_uptime >= age_before - 0.05 && our_uptime <= age_after + 0.05,
        "uptime {our_uptime} is not the init's age {age_before}..{age_after}"
    );

    // diskstats: 8 MiB written with O_DIRECT inside the container, on the disk that holds
    // its rootfs's upper layer (the VM's root disk).
    let dev = std::fs::metadata(std::env::temp_dir()).unwrap().dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    service_in(
        init,
        "dd if=/dev/zero of=/var/tmp/sctest-io bs=1M count=8 oflag=direct status=none && \
         dd if=/var/tmp/sctest-io of=/dev/null bs=1M iflag=direct status=none && rm /var/tmp/sctest-io",
    );
    let before = io_stat(&cgroup, major, minor);
    let our_diskstats = read_as_container(init, &ours, "proc/diskstats");
    let their_diskstats = read_as_container(init, &theirs, "proc/diskstats");
    let after = io_stat(&cgroup, major, minor);
    report!("io.stat {major}:{minor} (rios, rbytes, wios, wbytes): {before:?}..{after:?}");
    report!("diskstats lxcfs-rs:\n{our_diskstats}diskstats lxcfs 5.0.3:\n{their_diskstats}");
    let counters = diskstats_counters(&our_diskstats, major, minor)
        .unwrap_or_else(|| panic!("no {major}:{minor} in our diskstats:\n{our_diskstats}"));
    assert!(
        after.3 >= 8 * MIB,
        "io.stat does not show the 8 MiB written: {after:?}"
    );
    within("reads completed", counters[0], before.0, after.0);
    within("sectors read", counters[2], before.1 / 512, after.1 / 512);
    within("writes completed", counters[4], before.2, after.2);
    within(
        "sectors written",
        counters[6],
        before.3 / 512,
        after.3 / 512,
    );

    // A second rendering re-reads io.stat through the descriptor the first one kept open
    // (one worker thread renders both), and shows the 8 MiB written in between.
    let sectors_written = |text: &str| {
        diskstats_counters(text, major, minor)
            .unwrap_or_else(|| panic!("no {major}:{minor} in our diskstats:\n{text}"))[6]
    };
    let first = sectors_written(&read_as_container(init, &one_worker, "proc/diskstats"));
    service_in(
        init,
        "dd if=/dev/zero of=/var/tmp/sctest-io bs=1M count=8 oflag=direct status=none && rm /var/tmp/sctest-io",
    );
    std::thread::sleep(PAST_THE_CACHE);
    let before = io_stat(&cgroup, major, minor);
    let second = sectors_written(&read_as_container(init, &one_worker, "proc/diskstats"));
    let after = io_stat(&cgroup, major, minor);
    report!("sectors written, rendered twice by one worker: {first} then {second}");
    assert!(
        second >= first + 8 * MIB / 512,
        "the second rendering does not show the 8 MiB written: {first} then {second} sectors"
    );
    within(
        "sectors written, second rendering",
        second,
        before.3 / 512,
        after.3 / 512,
    );

    // A descriptor kept open and read again from the start shows the present (procps keeps
    // /proc/meminfo open between the samples of `free -s`): 64 MiB or more taken in the
    // container between the two reads (perl's `x` builds the string, then copies it).
    let taken = 64 * MIB;
    let (first, second) = read_twice_as_container(init, &ours, "proc/meminfo", || {
        let before: u64 = cgroup_value(&cgroup, "memory.current").parse().unwrap();
        v2::inside_pid_ok(
            init,
            &[
                "systemd-run",
                "--quiet",
                "--collect",
                "--unit=sctest-hog",
                "perl",
                "-e",
                // `$$`: systemd expands `$NAME` in a command line.
                "$$x = 'a' x (64 << 20); sleep 300",
            ],
        );
        syscontainer_tests::wait_for(
            "the container to take 64 MiB",
            Duration::from_secs(60),
            || {
                let now: u64 = cgroup_value(&cgroup, "memory.current").parse().unwrap();
                now >= before + taken
            },
        );
    });
    v2::inside_pid_ok(init, &["systemctl", "stop", "sctest-hog"]);
    let (free_first, free_second) = (
        meminfo_kb(&first, "MemFree"),
        meminfo_kb(&second, "MemFree"),
    );
    report!("meminfo read twice on one descriptor: MemFree {free_first} kB, then {free_second} kB");
    assert!(
        free_first >= free_second + taken / 1024 * 3 / 4,
        "the second read from offset 0 does not show the 64 MiB taken: MemFree {free_first} then {free_second} kB"
    );
}

/// The CPU numbers of /proc/stat's per-CPU lines, cpuinfo's processors and online.
struct CpuViews {
    stat: Vec<String>,
    processors: usize,
    online: String,
    /// user and system ticks of the aggregate `cpu` line.
    user_system: (u64, u64),
}

fn cpu_views(init: i32, mount: &MountDir) -> CpuViews {
    let stat = read_as_container(init, mount, "proc/stat");
    let aggregate: Vec<u64> = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .unwrap()
        .split_whitespace()
        .skip(1)
        .map(|w| w.parse().unwrap())
        .collect();
    CpuViews {
        stat: stat
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|w| w.starts_with("cpu") && *w != "cpu")
            .map(str::to_string)
            .collect(),
        processors: read_as_container(init, mount, "proc/cpuinfo")
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count(),
        online: read_as_container(init, mount, "sys/devices/system/cpu/online")
            .trim()
            .to_string(),
        user_system: (aggregate[0], aggregate[2]),
    }
}

fn print_cpu_views(what: &str, ours: &CpuViews, theirs: &CpuViews) {
    report!(
        "{what}: lxcfs-rs stat {:?} cpuinfo {} online {}; lxcfs 5.0.3 stat {:?} cpuinfo {} online {}",
        ours.stat, ours.processors, ours.online, theirs.stat, theirs.processors, theirs.online
    );
}

fn assert_cpu_count(what: &str, views: &CpuViews, count: usize) {
    let names: Vec<String> = (0..count).map(|i| format!("cpu{i}")).collect();
    assert_eq!(views.stat, names, "{what}: stat");
    assert_eq!(views.processors, count, "{what}: cpuinfo");
    let online = if count == 1 {
        "0".to_string()
    } else {
        format!("0-{}", count - 1)
    };
    assert_eq!(views.online, online, "{what}: online");
}

#[test]
fn cpu_views_follow_cpuset_cpus_effective_cpu_max_and_cpu_stat() {
    assert_v2_under_systemd();
    let online = read_trimmed(Path::new("/sys/devices/system/cpu/online"));
    assert_eq!(online, "0-1", "the VM lane boots 2 CPUs");
    let (theirs, theirs_cfs, ours, ours_cfs, one_worker) = (
        MountDir::new(),
        MountDir::new(),
        MountDir::new(),
        MountDir::new(),
        MountDir::new(),
    );
    let _daemons = [
        Daemon::lxcfs(&theirs, &[]),
        Daemon::lxcfs(&theirs_cfs, &["--enable-cfs"]),
        Daemon::ours(&ours, &[]),
        Daemon::ours(&ours_cfs, &["--enable-cfs"]),
        Daemon::ours(&one_worker, ONE_WORKER),
    ];
    let mut host = Host::new();
    let (pinned, pinned_cgroup) = boot(&mut host, "v2pinned", &["--cpuset-cpus", "1"]);
    let (quota, quota_cgroup) = boot(&mut host, "v2quota", &["--cpus", "0.5"]);
    wait_running(pinned, "v2pinned");
    wait_running(quota, "v2quota");

    // cpuset: physical CPU 1 is the container's CPU 0 in all three views.
    assert_eq!(cgroup_value(&pinned_cgroup, "cpuset.cpus.effective"), "1");
    let (our_view, their_view) = (cpu_views(pinned, &ours), cpu_views(pinned, &theirs));
    print_cpu_views("--cpuset-cpus 1", &our_view, &their_view);
    assert_cpu_count("--cpuset-cpus 1", &our_view, 1);
    assert_eq!(their_view.processors, 1, "lxcfs 5.0.3 cpuinfo");

    // cpu.max: without --enable-cfs the view is the cpuset (both CPUs); with it,
    // ceil(quota / period) CPUs.
    assert_eq!(cgroup_value(&quota_cgroup, "cpu.max"), "50000 100000");
    assert_eq!(cgroup_value(&quota_cgroup, "cpuset.cpus.effective"), "0-1");
    let (our_view, their_view) = (cpu_views(quota, &ours), cpu_views(quota, &theirs));
    print_cpu_views("--cpus 0.5", &our_view, &their_view);
    assert_cpu_count("--cpus 0.5", &our_view, 2);
    let (our_cfs, their_cfs) = (cpu_views(quota, &ours_cfs), cpu_views(quota, &theirs_cfs));
    print_cpu_views("--cpus 0.5 --enable-cfs", &our_cfs, &their_cfs);
    assert_cpu_count("--cpus 0.5 --enable-cfs", &our_cfs, 1);

    // cpu.stat: the aggregate line is the container's user and system time in ticks.
    service_in(quota, "timeout 3 sh -c 'while :; do :; done' || true");
    let tck = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .unwrap()
        .unwrap() as u64;
    let ticks = |usec: u64| usec * tck / 1_000_000;
    let (user_before, system_before) = (
        keyed(&quota_cgroup, "cpu.stat", "user_usec"),
        keyed(&quota_cgroup, "cpu.stat", "system_usec"),
    );
    let our_view = cpu_views(quota, &ours);
    let their_view = cpu_views(quota, &theirs);
    let (user_after, system_after) = (
        keyed(&quota_cgroup, "cpu.stat", "user_usec"),
        keyed(&quota_cgroup, "cpu.stat", "system_usec"),
    );
    report!(
        "cpu.stat user_usec {user_before}..{user_after} system_usec {system_before}..{system_after}; \
         cpu line (user, system) ticks: lxcfs-rs {:?}, lxcfs 5.0.3 {:?}",
        our_view.user_system, their_view.user_system
    );
    assert!(
        user_after >= 500_000,
        "the busy loop used no CPU: {user_after} µs"
    );
    within(
        "cpu user ticks",
        our_view.user_system.0,
        ticks(user_before),
        ticks(user_after),
    );
    within(
        "cpu system ticks",
        our_view.user_system.1,
        ticks(system_before),
        ticks(system_after),
    );

    // A second rendering re-reads cpu.stat through the descriptor the first one kept open
    // (one worker thread renders both), and shows the CPU time burnt in between: a second
    // of busy loop at half a CPU is about 50 ticks.
    let busy = |(user, system): (u64, u64)| user + system;
    let first = busy(cpu_views(quota, &one_worker).user_system);
    service_in(quota, "timeout 1 sh -c 'while :; do :; done' || true");
    std::thread::sleep(PAST_THE_CACHE);
    let before = ticks(keyed(&quota_cgroup, "cpu.stat", "user_usec"))
        + ticks(keyed(&quota_cgroup, "cpu.stat", "system_usec"));
    let second = busy(cpu_views(quota, &one_worker).user_system);
    let after = ticks(keyed(&quota_cgroup, "cpu.stat", "user_usec"))
        + ticks(keyed(&quota_cgroup, "cpu.stat", "system_usec"));
    report!("cpu user+system ticks, rendered twice by one worker: {first} then {second}");
    assert!(
        second >= first + 30,
        "the second rendering does not show the busy loop: {first} then {second} ticks"
    );
    within(
        "cpu user+system ticks, second rendering",
        second,
        before,
        after,
    );
}

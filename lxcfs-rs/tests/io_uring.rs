//! `--io-uring`: FUSE over io_uring, one queue per CPU. With the kernel's switch on at mount
//! time, the views reach a container through the daemon's io_uring queues (the kernel's own
//! counters show the requests there); with it off, `--io-uring on` is refused before mounting.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{meminfo_value, require_root, sections, Daemon, TestCgroup};
use syscontainer_tests::fuse_uring::{with_uring_enabled, with_uring_switch, ENABLE_URING};

/// Completions the daemon has taken from each of its io_uring instances (`CqHead` in fdinfo).
fn ring_completions(pid: u32) -> Vec<u64> {
    let mut heads = Vec::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        let target = std::fs::read_link(fd.path()).unwrap_or_default();
        if target != Path::new("anon_inode:[io_uring]") {
            continue;
        }
        let name = fd.file_name();
        let info =
            std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", name.to_string_lossy()))
                .unwrap();
        let head = info
            .lines()
            .find_map(|l| l.strip_prefix("CqHead:"))
            .expect("fdinfo of an io_uring has CqHead");
        heads.push(head.trim().parse().unwrap());
    }
    heads
}

fn possible_cpus() -> usize {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap();
    lxcfs_rs::cpuset::parse_cpu_list(&text).unwrap().len()
}

#[test]
fn a_container_reads_its_views_through_one_io_uring_queue_per_cpu() {
    require_root();
    let Some(daemon) = with_uring_enabled(|| Daemon::start_ours(&["--io-uring", "on"])).unwrap()
    else {
        eprintln!("skipped: this kernel has no FUSE over io_uring ({ENABLE_URING} is absent)");
        return;
    };
    let pid = daemon.child.as_ref().unwrap().id();
    let before = ring_completions(pid);
    assert_eq!(before.len(), possible_cpus(), "one ring per possible CPU");

    let cgroup = TestCgroup::create(256 * 1024 * 1024, "0");
    let script = format!(
        "d=$(mktemp -d); for r in 1 2 3 4; do \
           (for i in $(seq 50); do grep MemTotal {m}; grep -c '^cpu' {s}; done > $d/$r) & \
         done; wait; \
         echo ==all==; cat $d/*; rm -r $d; \
         echo ==proc==; ls {dir}; \
         echo ==reread==; perl -e 'open(my $f, \"<\", $ARGV[0]) or die; sysread($f, my $a, 256); \
           select(undef, undef, undef, 0.1); sysseek($f, 0, 0); sysread($f, my $b, 256); \
           print \"$a$b\"' {u}",
        m = daemon.path("proc/meminfo").display(),
        u = daemon.path("proc/uptime").display(),
        s = daemon.path("proc/stat").display(),
        dir = daemon.path("proc").display(),
    );
    let out = cgroup.run_in_container(&script);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found = sections(&out.stdout);
    let lines: Vec<&str> = found["all"].lines().collect();
    assert_eq!(lines.len(), 4 * 50 * 2, "{}", found["all"]);
    for pair in lines.chunks(2) {
        assert_eq!(meminfo_value(pair[0], "MemTotal"), Some(262144), "{pair:?}");
        assert_eq!(pair[1], "2", "the container's cpuset is CPU 0: {pair:?}");
    }
    let listed: Vec<&str> = found["proc"].split_whitespace().collect();
    assert_eq!(
        listed,
        [
            "cpuinfo",
            "diskstats",
            "loadavg",
            "meminfo",
            "partitions",
            "stat",
            "swaps",
            "uptime"
        ]
    );

    // The container's uptime, kept open and read again from the start: the present again.
    let uptimes: Vec<f64> = found["reread"]
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(uptimes.len(), 2, "{}", found["reread"]);
    assert!(uptimes[1] >= uptimes[0] + 0.05, "{uptimes:?}");

    // 400 opens, each OPEN, READ, READ at EOF and RELEASE: at least 1600 requests answered
    // through the rings. Over /dev/fuse the rings would see none.
    let after = ring_completions(pid);
    let answered: u64 = after.iter().sum::<u64>() - before.iter().sum::<u64>();
    assert!(
        answered >= 1600,
        "requests through the rings: {answered} ({before:?} → {after:?})"
    );
}

#[test]
fn io_uring_on_is_refused_before_mounting_when_the_kernel_has_it_off() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    let ran = with_uring_switch(false, || {
        Command::new(env!("CARGO_BIN_EXE_lxcfs-rs"))
            .args(["--io-uring", "on"])
            .arg(&mnt)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .unwrap();
    let Some(out) = ran else {
        eprintln!("skipped: this kernel has no FUSE over io_uring ({ENABLE_URING} is absent)");
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(ENABLE_URING) && stderr.contains("--io-uring"),
        "{stderr}"
    );
    assert!(!mnt.exists(), "nothing is mounted or created: {stderr}");
}

#[test]
fn a_word_other_than_auto_on_off_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_lxcfs-rs"))
        .args(["--io-uring", "yes", "/nonexistent/mnt"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("'yes'") && stderr.contains("--io-uring"),
        "{stderr}"
    );
}

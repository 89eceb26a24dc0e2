//! Root integration tests of the real lxcfs-rs daemon.

mod common;

use std::io::Read;
use std::os::unix::fs::FileExt;

use common::{meminfo_value, processor_count, require_root, sections, Daemon, TestCgroup};

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
    let out = cgroup.run_in_container(&script_reading(&daemon, &files));
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
    assert!(uptime.idle <= uptime.uptime);
    assert!(s["proc/swaps"].starts_with("Filename"));
    assert!(!s["proc/loadavg"].is_empty());
    assert!(s["proc/partitions"].contains("major"));
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
        // The same handle keeps the snapshot taken at open.
        let mut whole = Vec::new();
        let mut again = std::fs::File::open(daemon.path(file)).unwrap();
        again.read_to_end(&mut whole).unwrap();
        assert!(!chunked.is_empty());
        assert_eq!(chunked.last(), Some(&b'\n'), "{file}");
        let mut reread = vec![0u8; chunked.len()];
        let n = handle.read_at(&mut reread, 0).unwrap();
        assert_eq!(
            &reread[..n],
            &chunked[..],
            "{file}: offset reads differ from full read"
        );
        if file == "proc/cpuinfo" {
            assert_eq!(whole, chunked, "cpuinfo is stable across opens");
        }
        let mut small = [0u8; 3];
        assert_eq!(handle.read_at(&mut small, 5).unwrap(), 3);
        assert_eq!(&small, &chunked[5..8]);
    }
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

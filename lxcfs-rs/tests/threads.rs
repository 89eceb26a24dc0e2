//! `--threads N`: the number of FUSE workers. With one or with many, readers in a container
//! at once get the same views; a count outside 1..=64 is refused.

mod common;

use std::process::{Command, Stdio};

use common::{meminfo_value, require_root, sections, Daemon, TestCgroup};

#[test]
fn a_worker_count_outside_1_to_64_is_refused_before_mounting() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    for count in ["0", "65", "-1", "four"] {
        let out = Command::new(env!("CARGO_BIN_EXE_lxcfs-rs"))
            .arg(format!("--threads={count}"))
            .arg(&mnt)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--threads {count}: {stderr}");
        assert!(
            stderr.contains(&format!("'{count}'")) && stderr.contains("--threads"),
            "the error names the flag and the value {count}: {stderr}"
        );
        assert!(!mnt.exists(), "--threads {count} mounted something");
    }
}

#[test]
fn one_or_many_workers_serve_concurrent_readers_in_a_container() {
    require_root();
    for workers in ["1", "8"] {
        concurrent_readers_see_their_container(&Daemon::start_ours(&["--threads", workers]));
    }
}

fn concurrent_readers_see_their_container(daemon: &Daemon) {
    let cgroup = TestCgroup::create(256 * 1024 * 1024, "0");
    let meminfo = daemon.path("proc/meminfo");
    let stat = daemon.path("proc/stat");
    // Eight readers at once, 50 reads each; every read must be the container's view.
    let script = format!(
        "d=$(mktemp -d); for r in 1 2 3 4 5 6 7 8; do \
           (for i in $(seq 50); do grep MemTotal {m}; grep -c '^cpu' {s}; done > $d/$r) & \
         done; wait; \
         echo ==all==; cat $d/*; rm -r $d",
        m = meminfo.display(),
        s = stat.display(),
    );
    let out = cgroup.run_in_container(&script);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = &sections(&out.stdout)["all"];
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 8 * 50 * 2, "{all}");
    for pair in lines.chunks(2) {
        assert_eq!(meminfo_value(pair[0], "MemTotal"), Some(262144), "{all}");
        // "cpu" and "cpu0": the container's cpuset is CPU 0.
        assert_eq!(pair[1], "2", "{all}");
    }
}

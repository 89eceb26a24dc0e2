//! Side-by-side with the real lxcfs 5.0.3: same cgroup, same caller. The values compared here
//! are those where lxcfs is right; intended differences are documented in docs/lxcfs.md.

mod common;

use common::{is_root, meminfo_value, processor_count, sections, Daemon, TestCgroup};

#[test]
fn matches_lxcfs_where_lxcfs_is_right() {
    if !is_root() {
        return;
    }
    let lxcfs = Daemon::start_lxcfs();
    let ours = Daemon::start_ours(&[]);
    let cgroup = TestCgroup::create(256 * 1024 * 1024, "0");
    let mut script = Vec::new();
    for (name, daemon) in [("lxcfs", &lxcfs), ("ours", &ours)] {
        for file in [
            "proc/meminfo",
            "proc/cpuinfo",
            "sys/devices/system/cpu/online",
            "proc/stat",
        ] {
            script.push(format!(
                "echo =={name}:{file}==; cat {}",
                daemon.path(file).display()
            ));
        }
    }
    let out = cgroup.run_in_container(&script.join("; "));
    let s = sections(&out.stdout);
    let get = |name: &str, file: &str| s[&format!("{name}:{file}")].clone();

    assert_eq!(
        meminfo_value(&get("lxcfs", "proc/meminfo"), "MemTotal"),
        meminfo_value(&get("ours", "proc/meminfo"), "MemTotal")
    );
    assert_eq!(
        meminfo_value(&get("ours", "proc/meminfo"), "MemTotal"),
        Some(262144)
    );
    assert_eq!(
        processor_count(&get("lxcfs", "proc/cpuinfo")),
        processor_count(&get("ours", "proc/cpuinfo"))
    );
    assert_eq!(
        get("lxcfs", "sys/devices/system/cpu/online"),
        get("ours", "sys/devices/system/cpu/online")
    );
    // Same number of per-CPU lines; ours are numbered from 0 (lxcfs keeps physical numbers).
    let cpu_lines = |text: &str| text.lines().filter(|l| l.starts_with("cpu")).count();
    assert_eq!(
        cpu_lines(&get("lxcfs", "proc/stat")),
        cpu_lines(&get("ours", "proc/stat"))
    );
    assert!(get("ours", "proc/stat").contains("\ncpu0 "));
}

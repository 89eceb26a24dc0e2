//! A one-iteration run of the whole harness (no peers), so that `make bench` cannot rot
//! unnoticed. It asserts that every suite produced its figures and that nothing is left
//! behind; it never asserts how fast anything was.

use std::process::{Command, Stdio};

use serde_json::Value;
use syscontainer_tests::{bin_dir, own_cgroup_dirs, require_root, rootfs_cache};

fn samples<'a>(results: &'a Value, metric: &str, peer: &str) -> Vec<&'a Value> {
    results["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["metric"] == metric && m["peer"] == peer)
        .collect()
}

fn mounts() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap()
}

#[test]
fn smoke_run_measures_every_suite_and_leaves_nothing() {
    require_root();
    let out_dir = tempfile::tempdir().unwrap();
    let report = out_dir.path().join("docs/benchmarks.md");
    let child = Command::new(env!("CARGO_BIN_EXE_syscontainer-bench"))
        .args(["run", "--smoke", "--bin-dir"])
        .arg(bin_dir())
        .arg("--rootfs")
        .arg(rootfs_cache())
        .arg("--results-dir")
        .arg(out_dir.path().join("results"))
        .arg("--report")
        .arg(&report)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "smoke run failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let file = std::fs::read_dir(out_dir.path().join("results"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("no results file written");
    let results: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(results["settings"]["smoke"], true);
    for metric in [
        "boot",
        "runtime-share",
        "stop",
        "exec",
        "monitor-rss",
        "density-time",
        "density-memory",
    ] {
        let found = samples(&results, metric, "syscontainer");
        assert_eq!(found.len(), 1, "{metric}: {found:?}");
        let values = found[0]["samples"].as_array().unwrap();
        assert!(
            !values.is_empty() && values.iter().all(|v| v.as_f64().unwrap() >= 0.0),
            "{metric}: {values:?}"
        );
    }
    assert_eq!(samples(&results, "exec", "nsenter").len(), 1);
    for metric in ["oci-lifecycle", "oci-exec"] {
        for peer in ["syscontainer-oci", "runc"] {
            let found = samples(&results, metric, peer);
            assert_eq!(found.len(), 1, "{metric} of {peer}: {found:?}");
        }
    }
    let boot = samples(&results, "boot", "syscontainer")[0]["samples"][0]
        .as_f64()
        .unwrap();
    let share = samples(&results, "runtime-share", "syscontainer")[0]["samples"][0]
        .as_f64()
        .unwrap();
    assert!(
        share > 0.0 && share / 1e3 < boot,
        "PID 1 exec ({share} ms) must come after the start and before boot ends ({boot} s)"
    );
    for metric in ["lxcfs-latency", "lxcfs-cold-latency", "lxcfs-throughput"] {
        assert!(
            samples(&results, metric, "lxcfs-rs")
                .iter()
                .any(|m| m["subject"] == "proc/meminfo"),
            "no lxcfs-rs meminfo {metric}"
        );
    }
    assert!(
        !samples(&results, "hotadd", "syscontainer-tools").is_empty(),
        "no hot-add figures"
    );
    let notes = results["notes"].as_array().unwrap();
    assert!(
        !notes.iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("did not show the 256 MiB limit")),
        "lxcfs-rs served the wrong view: {notes:?}"
    );

    let page = std::fs::read_to_string(&report).unwrap();
    assert!(page.contains("## Targets") && page.contains("Smoke run"));
    for chart in ["boot.svg", "exec.svg", "density-time.svg"] {
        let svg = std::fs::read_to_string(report.parent().unwrap().join("bench").join(chart))
            .unwrap_or_else(|e| panic!("{chart}: {e}"));
        assert!(svg.starts_with("<svg") && page.contains(&format!("(bench/{chart})")));
    }

    // Every mount of the run (overlays, FUSE) lives under its work directory, and every
    // cgroup under its own parent.
    let work = format!("/syscontainer-bench.{pid}/");
    let left: Vec<String> = mounts()
        .lines()
        .filter(|l| l.contains(&work))
        .map(String::from)
        .collect();
    assert!(left.is_empty(), "mounts left behind: {left:#?}");
    assert!(
        !std::env::temp_dir().join(&work[1..]).exists(),
        "work directory left behind"
    );
    for dir in own_cgroup_dirs() {
        let parent = dir.join(format!("scbench-{pid}"));
        assert!(!parent.exists(), "cgroup left behind: {}", parent.display());
    }
}

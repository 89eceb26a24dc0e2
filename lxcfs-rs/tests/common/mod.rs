//! Helpers for root integration tests: a daemon guard, a test cgroup guard and a way to run a
//! shell script as PID 1's child in a new PID namespace inside that cgroup. Every guard cleans
//! up in Drop, so a failing assertion still unmounts, kills and removes what it created.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use lxcfs_rs::cgroup::{CgroupDir, CgroupLayout, Controller, ProcessCgroups};

/// These tests mount FUSE file systems and create cgroups: they run as root (CI does), and
/// fail rather than pass vacuously otherwise.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "these tests mount FUSE and create cgroups: run them as root"
    );
}

fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn is_fuse_mounted(mountpoint: &Path) -> bool {
    nix::sys::statfs::statfs(&mountpoint.join("proc/meminfo"))
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::FUSE_SUPER_MAGIC)
}

/// A FUSE daemon (ours or lxcfs) on a temp mount point.
pub struct Daemon {
    pub child: Option<Child>,
    pub mountpoint: PathBuf,
    _dir: tempfile::TempDir,
}

impl Daemon {
    pub fn start_ours(extra_args: &[&str]) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let mountpoint = dir.path().join("mnt");
        let child = Command::new(env!("CARGO_BIN_EXE_lxcfs-rs"))
            .args(extra_args)
            .arg("--log-level")
            .arg("warn")
            .arg(&mountpoint)
            .spawn()
            .expect("cannot start lxcfs-rs");
        Daemon::wait_mounted(child, mountpoint, dir)
    }

    pub fn start_lxcfs() -> Daemon {
        let binary = Path::new("/usr/bin/lxcfs");
        assert!(
            binary.exists(),
            "lxcfs 5.0.3 is not installed at /usr/bin/lxcfs: install it (apt-get install -y lxcfs) to run the comparison test"
        );
        let dir = tempfile::tempdir().unwrap();
        let mountpoint = dir.path().join("mnt");
        std::fs::create_dir(&mountpoint).unwrap();
        let child = Command::new(binary)
            .arg("-f")
            .arg("-p")
            .arg(dir.path().join("lxcfs.pid"))
            .arg(&mountpoint)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start lxcfs");
        Daemon::wait_mounted(child, mountpoint, dir)
    }

    fn wait_mounted(child: Child, mountpoint: PathBuf, dir: tempfile::TempDir) -> Daemon {
        let mut daemon = Daemon {
            child: Some(child),
            mountpoint,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !is_fuse_mounted(&daemon.mountpoint) {
            if let Some(status) = daemon.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("daemon exited before mounting: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not mount {}",
                daemon.mountpoint.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.mountpoint.join(relative)
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
        let _ = nix::mount::umount2(&self.mountpoint, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// One cgroup to create for a test: `path` (below the test's unique cgroup, "" for that
/// cgroup itself) in the v1 hierarchy of `controller`, the files to write there, and whether
/// the container process joins it.
pub struct CgroupSpec<'a> {
    pub controller: &'a str,
    pub path: &'a str,
    pub files: &'a [(&'a str, &'a str)],
    pub join: bool,
}

/// Test cgroups below this process's own cgroup in v1 hierarchies; Drop kills what runs in
/// them and removes them, deepest first.
pub struct TestCgroup {
    /// Every directory created, parents before children.
    pub dirs: Vec<PathBuf>,
    /// The cgroups the container process joins.
    joined: Vec<PathBuf>,
}

impl TestCgroup {
    /// A memory cgroup with `memory_limit` and a cpuset cgroup with `cpus`, both joined.
    pub fn create(memory_limit: u64, cpus: &str) -> TestCgroup {
        let limit = memory_limit.to_string();
        TestCgroup::build(&[
            CgroupSpec {
                controller: "memory",
                path: "",
                files: &[("memory.limit_in_bytes", &limit)],
                join: true,
            },
            CgroupSpec {
                controller: "cpuset",
                path: "",
                files: &[("cpuset.cpus", cpus)],
                join: true,
            },
        ])
    }

    /// Creates each spec's cgroup (and its missing parents). A new cpuset cgroup first gets
    /// its parent's `cpuset.mems` and `cpuset.cpus`, without which it cannot hold tasks.
    pub fn build(specs: &[CgroupSpec]) -> TestCgroup {
        let layout = CgroupLayout::from_system().unwrap();
        let own = ProcessCgroups::read(std::process::id() as i32).unwrap();
        let name = unique_name("lxcfs-test");
        let mut cgroup = TestCgroup {
            dirs: Vec::new(),
            joined: Vec::new(),
        };
        for spec in specs {
            let base: CgroupDir = layout
                .v1_dir(
                    Controller::from_name(spec.controller).expect("a known controller"),
                    &own,
                )
                .unwrap_or_else(|| panic!("no v1 {} hierarchy mounted", spec.controller));
            let mut dir = base.path();
            for part in std::iter::once(name.as_str()).chain(spec.path.split('/')) {
                if part.is_empty() {
                    continue;
                }
                let parent = dir.clone();
                dir.push(part);
                if dir.exists() {
                    continue;
                }
                std::fs::create_dir(&dir)
                    .unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
                cgroup.dirs.push(dir.clone());
                if spec.controller == "cpuset" {
                    for file in ["cpuset.mems", "cpuset.cpus"] {
                        let value = std::fs::read_to_string(parent.join(file)).unwrap();
                        std::fs::write(dir.join(file), value.trim()).unwrap();
                    }
                }
            }
            for (file, value) in spec.files {
                std::fs::write(dir.join(file), value)
                    .unwrap_or_else(|e| panic!("write {}: {e}", dir.join(file).display()));
            }
            if spec.join {
                cgroup.joined.push(dir);
            }
        }
        cgroup
    }

    fn procs_files(&self) -> Vec<PathBuf> {
        self.joined.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// Runs `script` with `sh` as the child of PID 1 of a new PID namespace (with its own
    /// /proc and a private mount namespace), inside the joined cgroups.
    pub fn run_in_container(&self, script: &str) -> Output {
        let wrapper = r#"for f in "$@"; do echo $$ > "$f" || exit 99; done; exec unshare --pid --fork --mount-proc sh -c "$0""#;
        let output = Command::new("sh")
            .arg("-c")
            .arg(wrapper)
            .arg(script)
            .args(self.procs_files())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "container script failed: {}\nstdout:\n{}\nstderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        for dir in self.dirs.iter().rev() {
            if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                for pid in procs
                    .split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok())
                {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
            for _ in 0..50 {
                if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Splits output of `echo ==name==; cat file` sections into (name, text) pairs.
pub fn sections(stdout: &[u8]) -> std::collections::HashMap<String, String> {
    let text = String::from_utf8_lossy(stdout);
    let mut map = std::collections::HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("==").and_then(|l| l.strip_suffix("==")) {
            current = Some(name.to_string());
            map.insert(name.to_string(), String::new());
        } else if let Some(name) = &current {
            let entry = map.get_mut(name).unwrap();
            entry.push_str(line);
            entry.push('\n');
        }
    }
    map
}

pub fn meminfo_value(text: &str, key: &str) -> Option<u64> {
    lxcfs_rs::host::Meminfo::parse(text).ok()?.get(key)
}

pub fn processor_count(cpuinfo: &str) -> usize {
    cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count()
}

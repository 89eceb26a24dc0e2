//! Host-side observations shared by every peer: processes, memory, cgroups, readiness.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::results::Machine;

/// Fields of `/proc/PID/stat` after the command name: state is field 0, ppid field 1.
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

pub fn parent_of(pid: i32) -> Option<i32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

/// The process's PID in each nested PID namespace, outermost first.
fn ns_pids(pid: i32) -> Vec<i32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|v| {
            v.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn descends_from(mut pid: i32, ancestor: i32) -> bool {
    for _ in 0..64 {
        match parent_of(pid) {
            Some(p) if p == ancestor => return true,
            Some(p) if p > 1 => pid = p,
            _ => return false,
        }
    }
    false
}

/// PID (on the host) of the init of a PID namespace created below `ancestor`.
pub fn ns_init_below(ancestor: i32) -> Option<i32> {
    let host_depth = ns_pids(std::process::id() as i32).len();
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find(|&pid| {
            let ns = ns_pids(pid);
            ns.len() == host_depth + 1 && ns.last() == Some(&1) && descends_from(pid, ancestor)
        })
}

/// VmRSS of a process, KiB.
pub fn rss_kib(pid: i32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Proportional set size of a process, KiB: its resident pages, each shared page divided
/// among the processes that map it (so N monitors of one binary share its text).
pub fn pss_kib(pid: i32) -> Option<f64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    rollup
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Anonymous plus shared (tmpfs) memory charged to the memory cgroup of `pid`, KiB. Page
/// cache is left out: the rootfs is shared by every copy, and whoever reads a page first
/// is charged for it.
pub fn cgroup_anon_kib(pid: i32) -> Option<f64> {
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let path = container_cgroup(path);
        let (stat_file, keys): (PathBuf, &[&str]) = if controllers.split(',').any(|c| c == "memory")
        {
            (
                Path::new("/sys/fs/cgroup/memory")
                    .join(path.trim_start_matches('/'))
                    .join("memory.stat"),
                &["total_rss", "total_shmem"],
            )
        } else if controllers.is_empty() && Path::new("/sys/fs/cgroup/memory.stat").exists() {
            (
                Path::new("/sys/fs/cgroup")
                    .join(path.trim_start_matches('/'))
                    .join("memory.stat"),
                &["anon", "shmem"],
            )
        } else {
            continue;
        };
        let stat = std::fs::read_to_string(stat_file).ok()?;
        let bytes: u64 = stat
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(k, _)| keys.contains(k))
            .filter_map(|(_, v)| v.trim().parse::<u64>().ok())
            .sum();
        return Some(bytes as f64 / 1024.0);
    }
    None
}

/// The container's own cgroup from its PID 1's: systemd moves itself into `init.scope`, and
/// nspawn puts its payload in `payload`.
fn container_cgroup(path: &str) -> &str {
    let path = path.strip_suffix("/init.scope").unwrap_or(path);
    path.strip_suffix("/payload").unwrap_or(path)
}

fn meminfo_kib(key: &str) -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Host memory in use (MemTotal − MemAvailable), MiB.
pub fn host_used_mib() -> f64 {
    let total = meminfo_kib("MemTotal").unwrap_or(0);
    let available = meminfo_kib("MemAvailable").unwrap_or(0);
    total.saturating_sub(available) as f64 / 1024.0
}

pub fn machine() -> Machine {
    let uname = nix::sys::utsname::uname().ok();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    Machine {
        date: command_line(&["date", "-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default(),
        kernel: uname
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default(),
        cpu_model: cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default(),
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        memory_mib: meminfo_kib("MemTotal").unwrap_or(0) / 1024,
        versions: Default::default(),
    }
}

/// First line of a command's stdout, if it ran and succeeded.
pub fn command_line(argv: &[&str]) -> Option<String> {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string(),
    )
}

/// A program's version: the first non-empty line it prints on stdout or stderr (lxcfs
/// prints it on stderr), without quotes.
pub fn version_of(argv: &[&str]) -> Option<String> {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .map(|l| l.trim().trim_matches('"').to_string())
        .find(|l| !l.is_empty())
}

/// Run a command to success, discarding stdout; the error carries its stderr.
pub fn run(argv: &[&str]) -> Result<()> {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("cannot run {}", argv[0]))?;
    if !out.status.success() {
        bail!(
            "{} failed ({}): {}",
            argv.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Block until systemd inside the container of `init_pid` reports that boot has finished
/// (`running` or `degraded`), asking through `nsenter` so that every peer is judged the
/// same way. Returns the state.
pub fn wait_booted(init_pid: i32, timeout: Duration) -> Result<String> {
    let deadline = Instant::now() + timeout;
    let pid = init_pid.to_string();
    // Until systemd's private socket exists, systemctl fails at once; asking in a loop would
    // be a fork/exec storm (N containers × a spawn every few ms) that slows every boot it
    // measures. Watching for the socket from the host costs a stat.
    let socket = Path::new("/proc")
        .join(&pid)
        .join("root/run/systemd/private");
    while !socket.exists() {
        if Instant::now() > deadline {
            bail!("container PID {init_pid} has no systemd manager socket after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    loop {
        // `--wait` blocks until boot ends; `timeout` (inside, from coreutils) bounds it, so a
        // container that never finishes booting cannot hang the run.
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_secs()
            .max(1)
            .to_string();
        let out = Command::new("nsenter")
            .args(["-a", "-t", &pid, "timeout", "-k", "1", &left])
            .args(["systemctl", "is-system-running", "--wait"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .context("cannot run nsenter")?;
        let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
        match state.as_str() {
            "running" | "degraded" => return Ok(state),
            // The manager is not up yet, or already going down: ask again.
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => bail!(
                "container PID {init_pid} did not finish booting in {timeout:?} (state {state:?})"
            ),
        }
    }
}

/// Host limits that systemd containers exhaust long before memory runs out: each systemd
/// takes several inotify instances and a kernel keyring per service, all charged to root.
/// Debian's defaults (128 instances, 200 keys) stop about 20 containers from booting,
/// whatever the runtime. A booted bookworm container holds 8 inotify instances (PID 1,
/// journald, logind, dbus), so 100 of them need 800 of the 1024 LXD's production settings
/// give, leaving the host too little: the run raises it to 8192. Restored on drop.
pub struct HostLimits {
    saved: Vec<(&'static str, String)>,
}

pub const RAISED_LIMITS: [(&str, u64); 3] = [
    ("/proc/sys/fs/inotify/max_user_instances", 8192),
    ("/proc/sys/kernel/keys/maxkeys", 2000),
    ("/proc/sys/kernel/keys/maxbytes", 2_000_000),
];

impl HostLimits {
    pub fn raise() -> HostLimits {
        let mut saved = Vec::new();
        for (path, want) in RAISED_LIMITS {
            let Ok(old) = std::fs::read_to_string(path) else {
                continue;
            };
            let old = old.trim().to_string();
            if old.parse::<u64>().is_ok_and(|v| v < want)
                && std::fs::write(path, want.to_string()).is_ok()
            {
                saved.push((path, old));
            }
        }
        HostLimits { saved }
    }
}

impl Drop for HostLimits {
    fn drop(&mut self) {
        for (path, old) in &self.saved {
            let _ = std::fs::write(path, old);
        }
    }
}

/// What containers of this run left on the host: cgroups below ours named for them (`scb-…`:
/// LXC's `lxc.payload.NAME`, nspawn's and syscontainer's per-container parents) and mounts
/// below `work` (the overlay copies). Empty once everything is cleaned up.
pub fn leftovers(work: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for dir in syscontainer_tests::own_cgroup_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten().filter(|e| e.path().is_dir()) {
            if e.file_name().to_string_lossy().contains("scb-") {
                found.push(format!("cgroup {}", e.path().display()));
            }
        }
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    found.extend(
        mountinfo
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| Path::new(m).starts_with(work))
            .map(|m| format!("mount {m}")),
    );
    found
}

/// Poll `probe` until it yields a value or `timeout` passes.
pub fn poll<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A cgroup of our own in every hierarchy, below this process's cgroup, for a peer that
/// stays in the cgroup it is started in (nspawn with `--keep-unit`). Removed on drop.
pub struct OwnCgroup {
    dirs: Vec<PathBuf>,
    procs: Vec<File>,
}

impl OwnCgroup {
    pub fn create(name: &str) -> Result<OwnCgroup> {
        let mut cgroup = OwnCgroup {
            dirs: Vec::new(),
            procs: Vec::new(),
        };
        for parent in syscontainer_tests::own_cgroup_dirs() {
            let dir = parent.join(name);
            std::fs::create_dir(&dir)
                .with_context(|| format!("cannot create cgroup {}", dir.display()))?;
            cgroup.dirs.push(dir.clone());
            for file in ["cpuset.cpus", "cpuset.mems"] {
                if let Ok(value) = std::fs::read_to_string(parent.join(file)) {
                    std::fs::write(dir.join(file), value.trim())
                        .with_context(|| format!("cannot write {}/{file}", dir.display()))?;
                }
            }
            let procs = std::fs::OpenOptions::new()
                .write(true)
                .open(dir.join("cgroup.procs"))
                .with_context(|| format!("cannot open {}/cgroup.procs", dir.display()))?;
            cgroup.procs.push(procs);
        }
        Ok(cgroup)
    }

    /// Raw fds of the `cgroup.procs` files, for a `pre_exec` that joins them with write(2)
    /// (allocation-free, so safe between fork and exec).
    pub fn procs_fds(&self) -> Vec<i32> {
        self.procs.iter().map(|f| f.as_raw_fd()).collect()
    }

    /// Close the `cgroup.procs` files once the process has joined: one per hierarchy and
    /// container would otherwise add up to a thousand open files with 100 containers.
    pub fn close_procs(&mut self) {
        self.procs.clear();
    }
}

impl Drop for OwnCgroup {
    /// Removes the tree, waiting (up to 10 s) for the processes of a container that was just
    /// killed to be gone: a cgroup with tasks in it cannot be removed.
    fn drop(&mut self) {
        self.procs.clear();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            for dir in &self.dirs {
                syscontainer_tests::remove_cgroup_tree(dir);
            }
            if self.dirs.iter().all(|d| !d.exists()) || Instant::now() > deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_cgroup_is_above_init_scope() {
        assert_eq!(container_cgroup("/a/b/init.scope"), "/a/b");
        assert_eq!(container_cgroup("/a/ns/payload/init.scope"), "/a/ns");
        assert_eq!(container_cgroup("/lxc.payload.c1"), "/lxc.payload.c1");
    }

    #[test]
    fn own_process_facts() {
        let me = std::process::id() as i32;
        assert!(rss_kib(me).unwrap() > 0.0);
        assert!(pss_kib(me).unwrap() > 0.0);
        assert!(pss_kib(me).unwrap() <= rss_kib(me).unwrap() + 4.0);
        assert!(parent_of(me).unwrap() > 0);
        assert!(!ns_pids(me).is_empty());
        assert!(host_used_mib() > 0.0);
        assert!(ns_init_below(me).is_none());
    }
}

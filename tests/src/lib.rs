//! Shared fixtures for the integration tests in `tests/tests/`.
//!
//! Every test gets a [`Host`]: its own state store (`--root`), its own cgroup parent under
//! the test process's own cgroup, and overlay copies of the cached Debian rootfs. Dropping
//! the `Host` force-removes its containers, unmounts its overlays and removes its cgroups,
//! so a failing assertion still leaves the machine clean.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

pub mod containerd;
pub mod cri;
pub mod fuse_uring;
pub mod oci;
pub mod oci_image;
pub mod seccomp;
pub mod warmer;

/// Where `make test` (scripts/mkrootfs.sh) caches the bookworm rootfs.
pub const DEFAULT_ROOTFS_CACHE: &str = "/var/cache/syscontainer/rootfs/bookworm";

/// Directory of the workspace binaries: `$SYSCONTAINER_BIN_DIR`, else `target/debug`.
pub fn bin_dir() -> PathBuf {
    std::env::var_os("SYSCONTAINER_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug"))
}

/// Write an executable file (mode 0755) without this process holding it open for writing.
///
/// The tests run on many threads, and every child another thread forks meanwhile inherits
/// an open file until it execs: running the file in that window fails with `ETXTBSY`.
/// A shell child does the writing instead.
pub fn write_executable(path: &Path, contents: &[u8]) {
    use std::io::Write;
    let mut writer = Command::new("sh")
        .args(["-c", "cat > \"$1\" && chmod 0755 \"$1\"", "sh"])
        .arg(path)
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn sh to write an executable");
    writer.stdin.take().unwrap().write_all(contents).unwrap();
    let status = writer.wait().unwrap();
    assert!(status.success(), "writing {}: {status}", path.display());
}

/// Copy `from` to `to` as an executable (mode 0755), written by a child process for the
/// reason [`write_executable`] gives.
pub fn copy_executable(from: &Path, to: &Path) {
    let status = Command::new("install")
        .args(["-m", "0755"])
        .arg(from)
        .arg(to)
        .status()
        .expect("spawn install");
    assert!(
        status.success(),
        "copying {} to {}: {status}",
        from.display(),
        to.display()
    );
}

/// Path of a workspace binary; panics with a hint when it has not been built.
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (`make test` does)",
        path.display()
    );
    path
}

/// The cached rootfs: `$SYSCONTAINER_TEST_ROOTFS`, else the `make test` cache.
pub fn rootfs_cache() -> PathBuf {
    let path = std::env::var_os("SYSCONTAINER_TEST_ROOTFS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOTFS_CACHE));
    assert!(
        path.join("sbin/init").exists(),
        "no cached rootfs at {}: run scripts/mkrootfs.sh (`make test` does)",
        path.display()
    );
    path
}

/// Panics unless running as root: these tests boot real containers.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "integration tests boot real containers and must run as root"
    );
}

fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A writable copy of the cached rootfs: an overlay whose upper layer is private.
pub struct Rootfs {
    dir: tempfile::TempDir,
    mounted: bool,
}

impl Rootfs {
    pub fn new() -> Rootfs {
        Self::over(&rootfs_cache())
    }

    /// An overlay over any lower tree.
    pub fn over(lower: &Path) -> Rootfs {
        Self::over_in(lower, &std::env::temp_dir())
    }

    /// An overlay over `lower` whose layers live in a new directory under `parent`.
    pub fn over_in(lower: &Path, parent: &Path) -> Rootfs {
        let dir = tempfile::Builder::new()
            .prefix("sctest-rootfs-")
            .tempdir_in(parent)
            .unwrap();
        for sub in ["upper", "work", "merged"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        let options = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            dir.path().join("upper").display(),
            dir.path().join("work").display()
        );
        mount(
            Some("overlay"),
            &dir.path().join("merged"),
            Some("overlay"),
            MsFlags::empty(),
            Some(options.as_str()),
        )
        .unwrap_or_else(|e| panic!("mount overlay over {}: {e}", lower.display()));
        Rootfs { dir, mounted: true }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("merged")
    }

    /// What the container changed, as seen in the private upper layer.
    pub fn upper(&self) -> PathBuf {
        self.dir.path().join("upper")
    }
}

impl Default for Rootfs {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Rootfs {
    fn drop(&mut self) {
        if self.mounted {
            let _ = umount2(&self.path(), MntFlags::MNT_DETACH);
        }
    }
}

/// One test's private syscontainer installation: store, cgroup parent, rootfs copies.
pub struct Host {
    store: tempfile::TempDir,
    /// Relative `--cgroup-parent`: created under this test process's own cgroups.
    pub cgroup_parent: String,
    rootfs: Vec<Rootfs>,
}

impl Host {
    pub fn new() -> Host {
        require_root();
        Host {
            store: tempfile::Builder::new()
                .prefix("sctest-store-")
                .tempdir()
                .unwrap(),
            cgroup_parent: unique("sctest"),
            rootfs: Vec::new(),
        }
    }

    pub fn store(&self) -> &Path {
        self.store.path()
    }

    /// A new overlay copy of the cached rootfs, unmounted when the host is dropped.
    pub fn rootfs(&mut self) -> PathBuf {
        let r = Rootfs::new();
        let path = r.path();
        self.rootfs.push(r);
        path
    }

    /// `syscontainer --root STORE` ready for arguments.
    pub fn command(&self) -> Command {
        let mut c = Command::new(bin("syscontainer"));
        c.arg("--root")
            .arg(self.store())
            .arg("--log-level")
            .arg("warn");
        c.stdin(Stdio::null());
        c
    }

    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command()
            .args(args)
            .output()
            .expect("spawn syscontainer")
    }

    /// Run and require success; returns trimmed stdout.
    pub fn ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args
            .into_iter()
            .map(|a| a.as_ref().to_os_string())
            .collect();
        succeeded(&format!("syscontainer {args:?}"), &self.run(&args))
    }

    /// Run and require failure; returns stderr.
    pub fn fails<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args
            .into_iter()
            .map(|a| a.as_ref().to_os_string())
            .collect();
        let out = self.run(&args);
        assert!(
            !out.status.success(),
            "syscontainer {args:?} should have failed:\nstdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).trim().to_string()
    }

    /// `run -d OPTIONS --system-container --external-rootfs ROOTFS none init`, which must be
    /// refused; returns the error text.
    pub fn refused(&self, rootfs: impl AsRef<OsStr>, options: &[&str]) -> String {
        let mut args: Vec<&OsStr> = vec![OsStr::new("run"), OsStr::new("-d")];
        args.extend(options.iter().map(OsStr::new));
        args.extend([
            OsStr::new("--system-container"),
            OsStr::new("--external-rootfs"),
            rootfs.as_ref(),
        ]);
        args.extend([OsStr::new("none"), OsStr::new("init")]);
        self.fails(args)
    }

    /// `run -tid --system-container` of a fresh rootfs copy under this host's cgroup
    /// parent, then wait for systemd to finish booting. Returns the full ID.
    pub fn boot(&mut self, name: &str, extra: &[&str]) -> String {
        let rootfs = self.rootfs();
        let id = self.start_system(name, &rootfs, extra);
        let state = self.wait_booted(name);
        assert!(
            state == "running" || state == "degraded",
            "{name} booted to {state}; failed units: {}",
            self.exec_out(name, &["systemctl", "--failed", "--no-legend"])
        );
        id
    }

    /// `run -tid --system-container` without waiting for systemd.
    pub fn start_system(&self, name: &str, rootfs: &Path, extra: &[&str]) -> String {
        let mut args: Vec<String> = vec!["run".into(), "-tid".into(), "--name".into(), name.into()];
        args.extend(["--cgroup-parent".into(), self.cgroup_parent.clone()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend([
            "--system-container".into(),
            "--external-rootfs".into(),
            rootfs.display().to_string(),
            "none".into(),
            "init".into(),
        ]);
        self.ok(&args)
    }

    /// Wait until `systemctl is-system-running --wait` gives a final answer; returns it.
    pub fn wait_booted(&self, name: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let out = self.run(["exec", name, "systemctl", "is-system-running", "--wait"]);
            let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
            // "offline" / no bus: systemd has not set itself up yet.
            if !state.is_empty()
                && state != "offline"
                && state != "starting"
                && state != "initializing"
            {
                return state;
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not boot: last answer {state:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `exec NAME ARGS...`, requiring success; returns trimmed stdout.
    pub fn exec(&self, name: &str, args: &[&str]) -> String {
        let mut all = vec!["exec", name];
        all.extend_from_slice(args);
        self.ok(all)
    }

    /// `exec NAME ARGS...` under `refusal`, requiring success; returns trimmed stdout.
    pub fn exec_refused(&self, refusal: seccomp::Refusal, name: &str, args: &[&str]) -> String {
        let mut command = self.command();
        command.arg("exec").arg(name).args(args);
        let out = refusal
            .apply(&mut command)
            .output()
            .expect("spawn syscontainer");
        succeeded(&format!("syscontainer exec {name} {args:?}"), &out)
    }

    /// `exec` that may fail; returns stdout either way (for diagnostics).
    pub fn exec_out(&self, name: &str, args: &[&str]) -> String {
        let mut all = vec!["exec", name];
        all.extend_from_slice(args);
        String::from_utf8_lossy(&self.run(all).stdout)
            .trim()
            .to_string()
    }

    pub fn inspect(&self, name: &str, format: &str) -> String {
        self.ok(["inspect", "-f", format, name])
    }

    pub fn state(&self, name: &str) -> serde_json::Value {
        serde_json::from_str(&self.inspect(name, "{{json .State}}")).expect("inspect state is JSON")
    }

    /// Poll `inspect` until the status is `want`.
    pub fn wait_status(&self, name: &str, want: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.inspect(name, "{{.State.Status}}");
            if status == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name} stayed {status}, expected {want}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// IDs of every container in this host's store.
    pub fn container_ids(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.store()) else {
            return vec![];
        };
        entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
            .collect()
    }

    /// Directories of this host's cgroup parent in every hierarchy (existing or not).
    pub fn cgroup_parent_dirs(&self) -> Vec<PathBuf> {
        own_cgroup_dirs()
            .into_iter()
            .map(|d| d.join(&self.cgroup_parent))
            .collect()
    }

    /// Every PID in the container's cgroups (and their children), in any hierarchy.
    pub fn cgroup_procs(&self, id: &str) -> Vec<i32> {
        fn walk(dir: &Path, out: &mut Vec<i32>) {
            if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
            }
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&e.path(), out);
                }
            }
        }
        let mut pids = Vec::new();
        for dir in self.cgroup_parent_dirs() {
            walk(&dir.join(id), &mut pids);
        }
        pids.sort();
        pids.dedup();
        pids
    }

    /// The container's cgroup directory in the hierarchy holding `file`
    /// (e.g. `memory.limit_in_bytes` on v1, `memory.max` on v2).
    pub fn cgroup_file(&self, id: &str, file: &str) -> Option<PathBuf> {
        self.cgroup_parent_dirs()
            .into_iter()
            .map(|d| d.join(id).join(file))
            .find(|p| p.exists())
    }
}

/// The trimmed stdout of `out`, which must be a success; `what` names the command if not.
fn succeeded(what: &str, out: &Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Default for Host {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        for id in self.container_ids() {
            let _ = self
                .command()
                .args(["rm", "-f", &id])
                .stderr(Stdio::null())
                .output();
        }
        self.rootfs.clear();
        for dir in self.cgroup_parent_dirs() {
            remove_cgroup_tree(&dir);
        }
    }
}

/// This process's cgroup directory in every mounted hierarchy (v1 controllers, named
/// hierarchies, hybrid or pure cgroup2).
pub fn own_cgroup_dirs() -> Vec<PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut dirs = Vec::new();
    for line in mountinfo.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let mut post = post.split_whitespace();
        let fstype = post.next().unwrap_or("");
        let _source = post.next();
        let super_opts = post.next().unwrap_or("");
        let pre: Vec<&str> = pre.split_whitespace().collect();
        let (root, mount_point) = (
            pre.get(3).copied().unwrap_or("/"),
            pre.get(4).copied().unwrap_or(""),
        );
        let key = match fstype {
            "cgroup2" => Some(String::new()),
            "cgroup" => super_opts
                .split(',')
                .find(|o| {
                    !matches!(*o, "rw" | "ro")
                        && !o.starts_with("release_agent")
                        && *o != "clone_children"
                })
                .map(|_| super_opts.to_string()),
            _ => None,
        };
        let Some(key) = key else { continue };
        for entry in own.lines() {
            let mut parts = entry.splitn(3, ':');
            let (_, controllers, path) = (
                parts.next(),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            let matches = if fstype == "cgroup2" {
                controllers.is_empty()
            } else {
                controllers
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .all(|c| key.split(',').any(|o| o == c))
                    && !controllers.is_empty()
            };
            if matches {
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or(path)
                    .trim_start_matches('/');
                dirs.push(Path::new(mount_point).join(rel));
            }
        }
    }
    dirs.sort();
    dirs.dedup();
    dirs
}

/// Remove a cgroup directory and its children, depth first (cgroup dirs are removed
/// with rmdir, their files cannot be deleted).
pub fn remove_cgroup_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// Every trace a container with this ID could leave on the host, as readable lines.
/// An empty list means it is gone for good.
pub fn leftovers(host: &Host, id: &str) -> Vec<String> {
    let mut found = Vec::new();
    if host.store().join(id).exists() {
        found.push(format!("store record {}", host.store().join(id).display()));
    }
    let run_dir = Path::new("/run/syscontainer").join(&id[..32]);
    if run_dir.exists() {
        found.push(format!("run dir {}", run_dir.display()));
    }
    for dir in host.cgroup_parent_dirs() {
        if dir.join(id).exists() {
            found.push(format!("cgroup {}", dir.join(id).display()));
        }
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in mountinfo
        .lines()
        .filter(|l| l.contains(id) || l.contains(&id[..32]))
    {
        found.push(format!("mount {line}"));
    }
    found
}

/// Whether the binary `name` was built with stop points (`sclog::stop_point`): debug builds
/// only, found by the environment variable's name in the executable.
pub fn has_stop_points(name: &str) -> bool {
    let exe = std::fs::read(bin(name)).unwrap_or_else(|e| panic!("read {name}: {e}"));
    exe.windows(sclog::STOP_POINT_ENV.len())
        .any(|w| w == sclog::STOP_POINT_ENV.as_bytes())
}

/// Wait until `pred` holds, polling every 50 ms; panics with `what` after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut pred: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !pred() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn pid_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true)
}

/// A private copy of the cached rootfs (at `rootfs` in the returned directory) with every
/// owner shifted by `offset`, as an operator prepares one for `--user-remap`. Removed on drop.
pub fn shifted_rootfs(offset: u32) -> tempfile::TempDir {
    fn shift(path: &Path, offset: u32) {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::symlink_metadata(path).unwrap();
        std::os::unix::fs::lchown(path, Some(meta.uid() + offset), Some(meta.gid() + offset))
            .unwrap();
        if meta.is_dir() {
            for entry in std::fs::read_dir(path).unwrap() {
                shift(&entry.unwrap().path(), offset);
            }
        }
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("sctest-shifted-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let rootfs = dir.path().join("rootfs");
    let out = Command::new("cp")
        .arg("-a")
        .arg(rootfs_cache())
        .arg(&rootfs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cp: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    shift(&rootfs, offset);
    dir
}

/// A loop device over a temp file, detached on drop; the I/O scheduler it had is put back
/// then too (tests may switch it, for a bfq weight).
pub struct LoopDevice {
    /// `/dev/loopN`.
    pub dev: String,
    scheduler: String,
    _image: tempfile::NamedTempFile,
}

impl LoopDevice {
    /// Over a sparse file of `size` bytes.
    pub fn new(size: u64) -> LoopDevice {
        let image = tempfile::Builder::new()
            .prefix("sctest-disk-")
            .tempfile()
            .unwrap();
        image.as_file().set_len(size).unwrap();
        LoopDevice::over(image)
    }

    /// Over an image made by the test (a file system, say).
    pub fn over(image: tempfile::NamedTempFile) -> LoopDevice {
        let out = Command::new("losetup")
            .args(["--find", "--show"])
            .arg(image.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "losetup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dev = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let scheduler = std::fs::read_to_string(Self::sysfs(&dev, "queue/scheduler"))
            .unwrap_or_default()
            .split_whitespace()
            .find_map(|s| s.strip_prefix('[').and_then(|s| s.strip_suffix(']')))
            .unwrap_or("none")
            .to_string();
        LoopDevice {
            dev,
            scheduler,
            _image: image,
        }
    }

    fn sysfs(dev: &str, file: &str) -> PathBuf {
        Path::new("/sys/block")
            .join(dev.trim_start_matches("/dev/"))
            .join(file)
    }

    /// (major, minor) from sysfs.
    pub fn numbers(&self) -> (u32, u32) {
        let text = std::fs::read_to_string(Self::sysfs(&self.dev, "dev")).unwrap();
        let (major, minor) = text.trim().split_once(':').unwrap();
        (major.parse().unwrap(), minor.parse().unwrap())
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = std::fs::write(Self::sysfs(&self.dev, "queue/scheduler"), &self.scheduler);
        let _ = Command::new("losetup").arg("-d").arg(&self.dev).status();
    }
}

/// Asserts that a binary refused `--log-level LEVEL` the way clap does (exit 2, the value
/// and the possible levels named), as every binary's shared logging setup must.
pub fn assert_log_level_refused(out: &Output, level: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: invalid value '{level}' for '--log-level")),
        "{stderr}"
    );
    assert!(
        stderr.contains("[possible values: error, warn, info, debug, trace]"),
        "{stderr}"
    );
}

/// A perl script (x86_64) that a container runs to take the device filter off its own
/// cgroup: `bpf(BPF_PROG_QUERY)` on the cgroup directory given as its argument, then
/// `BPF_PROG_GET_FD_BY_ID` and `BPF_PROG_DETACH` of every device program attached there.
/// Prints `query=ERRNO` when the first call fails, else `query=ok count=N detached=M`.
pub const BPF_DETACH_SCRIPT: &str = r#"use strict;
use warnings;
my ($sys_bpf, $query, $get_fd_by_id, $detach, $cgroup_device) = (321, 16, 13, 9, 6);
opendir(my $dir, $ARGV[0]) or die "open $ARGV[0]: $!\n";
my $cg = fileno($dir);
my $ids = "\0" x 256;
my $attr = pack("LLLLQLL", $cg, $cgroup_device, 0, 0, unpack("Q", pack("P", $ids)), 64, 0) . "\0" x 88;
if (syscall($sys_bpf, $query, $attr, length $attr) < 0) {
    print "query=", $! + 0, "\n";
    exit 0;
}
my $n = unpack("L", substr($attr, 24, 4));
my $detached = 0;
for my $id (unpack("L$n", $ids)) {
    my $get = pack("LLL", $id, 0, 0) . "\0" x 108;
    my $fd = syscall($sys_bpf, $get_fd_by_id, $get, length $get);
    next if $fd < 0;
    my $det = pack("LLLLL", $cg, $fd, $cgroup_device, 0, 0) . "\0" x 100;
    $detached++ if syscall($sys_bpf, $detach, $det, length $det) == 0;
}
print "query=ok count=$n detached=$detached\n";
"#;

/// The device programs attached directly to a cgroup2 directory that carry our name.
pub fn our_device_programs(dir: &Path) -> Vec<u32> {
    syscontainer_device_filter::DeviceCgroup::open(dir)
        .and_then(|c| c.query())
        .unwrap_or_else(|e| panic!("query device programs of {}: {e}", dir.display()))
        .into_iter()
        .filter(|p| p.is_ours())
        .map(|p| p.id)
        .collect()
}

/// A private directory for a FUSE mount at [`MountDir::path`], with room for the daemon's
/// log and pid files beside it. Drop detaches whatever is mounted there (a live or a dead
/// daemon's mount) before the directory is removed.
pub struct MountDir {
    dir: tempfile::TempDir,
}

impl MountDir {
    pub fn new() -> MountDir {
        let dir = tempfile::Builder::new()
            .prefix("sctest-lxcfs-")
            .tempdir()
            .unwrap();
        std::fs::create_dir(dir.path().join("mnt")).unwrap();
        MountDir { dir }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }

    /// A file beside the mount point (logs, pid files).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Default for MountDir {
    fn default() -> Self {
        MountDir::new()
    }
}

impl Drop for MountDir {
    fn drop(&mut self) {
        for _ in 0..4 {
            if umount2(&self.path(), MntFlags::MNT_DETACH).is_err() {
                break;
            }
        }
    }
}

/// `syscontainer-hooks` installed root-owned 0755 with a hook spec for prestart and
/// poststop that logs to a file of its own ([`Hook::log`]).
pub struct Hook {
    dir: tempfile::TempDir,
}

impl Hook {
    pub fn install() -> Hook {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("sct-hook-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let exe = dir.path().join("syscontainer-hooks");
        copy_executable(&bin("syscontainer-hooks"), &exe);
        let log = dir.path().join("hook.log");
        let entry = |stage: &str| {
            serde_json::json!([{
                "path": exe,
                "args": ["syscontainer-hooks", "--state", stage, "--log", log],
                "timeout": 30
            }])
        };
        let spec = serde_json::json!({
            "prestart": entry("prestart"),
            "poststop": entry("poststop"),
        });
        std::fs::write(dir.path().join("hookspec.json"), spec.to_string()).unwrap();
        Hook { dir }
    }

    /// The hook spec's path, for `--hook-spec`.
    pub fn spec(&self) -> String {
        self.dir.path().join("hookspec.json").display().to_string()
    }

    /// What the hook has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("hook.log")).unwrap_or_default()
    }
}

/// The exec stage forks the command straight into the container's cgroup2 exec leaf with
/// `clone3`. Where that call is refused (a kernel before 5.3, a sandbox whose seccomp
/// profile predates it), it forks plainly and the command writes itself into the leaf: the
/// command must end up in the same cgroups either way, and must have run under the refusal.
pub fn check_exec_without_clone3(host: &Host, name: &str) {
    let refused = || seccomp::Refusal::new("clone3", libc::ENOSYS);
    let cgroups = host.exec(name, &["cat", "/proc/self/cgroup"]);
    assert!(
        cgroups.lines().any(|l| l == "0::/.syscontainer/exec"),
        "exec is not in the exec leaf: {cgroups}"
    );
    assert_eq!(
        host.exec_refused(refused(), name, &["cat", "/proc/self/cgroup"]),
        cgroups,
        "without clone3 the command is in other cgroups"
    );
    let filters = |status: String| -> u32 {
        status
            .lines()
            .find_map(|l| l.strip_prefix("Seccomp_filters:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no Seccomp_filters in {status}"))
    };
    let own = filters(host.exec(name, &["cat", "/proc/self/status"]));
    assert_eq!(
        filters(host.exec_refused(refused(), name, &["cat", "/proc/self/status"])),
        own + 1,
        "the command did not run under the filter refusing clone3"
    );
}

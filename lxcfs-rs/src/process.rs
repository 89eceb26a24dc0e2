//! Finds which container a FUSE caller belongs to: caller pid → its PID namespace → the init
//! of that namespace (cached per namespace, revalidated by start time) → the init's cgroups.

use std::collections::HashMap;
use std::ffi::CStr;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cgroup::ProcessCgroups;
use crate::error::{read_file_string, read_string, Error, Result};
use crate::host::parse_pid_starttime;
use crate::render::Container;

/// How long a cached init's cgroup paths are trusted before `/proc/INIT/cgroup` is re-read.
const CGROUP_REFRESH: Duration = Duration::from_secs(1);

/// The fields of `/proc/PID/status` needed to find a namespace's init.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidStatus {
    pub ppid: i32,
    /// The pid in each nested PID namespace, outermost (the reader's) first.
    pub nspid: Vec<i32>,
}

impl PidStatus {
    pub fn parse(text: &str) -> Result<Self> {
        let mut ppid = None;
        let mut nspid = Vec::new();
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("PPid:") {
                ppid = Some(
                    v.trim()
                        .parse()
                        .map_err(|_| Error::parse("status", "bad PPid", line))?,
                );
            } else if let Some(v) = line.strip_prefix("NSpid:") {
                nspid = v
                    .split_whitespace()
                    .map(|w| {
                        w.parse()
                            .map_err(|_| Error::parse("status", "bad NSpid", line))
                    })
                    .collect::<Result<_>>()?;
            }
        }
        let ppid = ppid.ok_or_else(|| Error::parse("status", "missing PPid", ""))?;
        Ok(PidStatus { ppid, nspid })
    }

    /// True for the init (pid 1) of the process's own PID namespace.
    pub fn is_namespace_init(&self) -> bool {
        self.nspid.last() == Some(&1)
    }
}

/// Whom a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Same PID namespace as the daemon: host views.
    Host,
    Container(Arc<Container>),
}

#[derive(Debug)]
struct CachedInit {
    container: Arc<Container>,
    checked: Instant,
    /// `/proc/INIT`, opened when the init was found. It stays bound to that very process: once
    /// the process is gone (even if its pid is reused) nothing can be looked up below it, so
    /// "is the init alive" is one `fstatat` instead of reading and parsing `/proc/INIT/stat`.
    dir: Arc<File>,
}

/// `/proc/PID` as a directory handle (`O_PATH`).
fn open_pid_dir(path: &Path) -> Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

/// Opens `name` below the directory handle `dir` for reading.
fn open_at(dir: &File, name: &CStr) -> std::io::Result<File> {
    // SAFETY: `name` is NUL-terminated and `dir` an open descriptor; a descriptor returned
    // by openat is owned by nothing else.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// True while the process `dir` was opened for still exists (a zombie counts, as its
/// `/proc/PID/stat` did).
fn process_alive(dir: &File) -> bool {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: the path is NUL-terminated and `st` is large enough for a `struct stat`.
    unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            c"stat".as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        ) == 0
    }
}

/// Resolves callers to containers, caching one init per PID namespace.
#[derive(Debug)]
pub struct Resolver {
    proc: PathBuf,
    own_pid_ns: u64,
    cache: Mutex<HashMap<u64, CachedInit>>,
}

impl Resolver {
    pub fn new(proc: impl Into<PathBuf>) -> Result<Self> {
        let proc = proc.into();
        let own_pid_ns = pid_ns_inode(&proc, std::process::id() as i32)?;
        Ok(Resolver {
            proc,
            own_pid_ns,
            cache: Mutex::new(HashMap::new()),
        })
    }

    pub fn resolve(&self, pid: u32) -> Result<Caller> {
        // pid 0: the caller is not visible in our namespace; treat it like the host.
        let Ok(pid) = i32::try_from(pid) else {
            return Ok(Caller::Host);
        };
        if pid == 0 {
            return Ok(Caller::Host);
        }
        let ns = pid_ns_inode(&self.proc, pid)?;
        if ns == self.own_pid_ns {
            return Ok(Caller::Host);
        }
        if let Some(container) = self.cached(ns)? {
            return Ok(Caller::Container(container));
        }
        let init = self.find_init(pid, ns)?;
        let (container, dir) = self.load(init)?;
        let container = Arc::new(container);
        self.evict_dead();
        self.lock().insert(
            ns,
            CachedInit {
                container: container.clone(),
                checked: Instant::now(),
                dir: Arc::new(dir),
            },
        );
        Ok(Caller::Container(container))
    }

    /// Drops the entries whose init has exited (or whose pid was recycled). Run before each
    /// insertion, so the cache holds at most the live namespaces plus the one being added,
    /// however many containers came and went.
    fn evict_dead(&self) {
        self.lock().retain(|_, c| process_alive(&c.dir));
    }

    /// Number of cached namespaces.
    pub fn cached_namespaces(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, CachedInit>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached container of `ns` if its init is still the same process.
    fn cached(&self, ns: u64) -> Result<Option<Arc<Container>>> {
        let Some((container, checked, dir)) = self
            .lock()
            .get(&ns)
            .map(|c| (c.container.clone(), c.checked, c.dir.clone()))
        else {
            return Ok(None);
        };
        if !process_alive(&dir) {
            self.lock().remove(&ns);
            return Ok(None);
        }
        if checked.elapsed() < CGROUP_REFRESH {
            return Ok(Some(container));
        }
        let path = self.pid_file(container.init_pid, "cgroup");
        let text = match open_at(&dir, c"cgroup") {
            Ok(file) => read_file_string(file, &path)?,
            Err(e) => return Err(Error::io(path, e)),
        };
        let refreshed = Arc::new(Container {
            cgroups: ProcessCgroups::parse(&text)?.of_container_init(),
            ..(*container).clone()
        });
        self.lock().insert(
            ns,
            CachedInit {
                container: refreshed.clone(),
                checked: Instant::now(),
                dir,
            },
        );
        Ok(Some(refreshed))
    }

    fn pid_file(&self, pid: i32, name: &str) -> PathBuf {
        self.proc.join(pid.to_string()).join(name)
    }

    fn status(&self, pid: i32) -> Result<PidStatus> {
        PidStatus::parse(&read_string(&self.pid_file(pid, "status"))?)
    }

    /// The init's container and its `/proc/INIT` handle. Both files are read through the
    /// handle, so they describe the process the handle stays bound to.
    fn load(&self, init: i32) -> Result<(Container, File)> {
        let dir = open_pid_dir(&self.proc.join(init.to_string()))?;
        let read = |name: &CStr, file: &str| {
            let path = self.pid_file(init, file);
            match open_at(&dir, name) {
                Ok(f) => read_file_string(f, &path),
                Err(e) => Err(Error::io(path, e)),
            }
        };
        let cgroups = ProcessCgroups::parse(&read(c"cgroup", "cgroup")?)?.of_container_init();
        let init_start_ticks = parse_pid_starttime(&read(c"stat", "stat")?)?;
        Ok((
            Container {
                init_pid: init,
                init_start_ticks,
                cgroups,
            },
            dir,
        ))
    }

    /// Walks up the parent chain inside the namespace; scans /proc if that does not reach
    /// the namespace's init (e.g. the caller was reparented to a sub-reaper).
    fn find_init(&self, pid: i32, ns: u64) -> Result<i32> {
        let mut current = pid;
        for _ in 0..256 {
            let status = self.status(current)?;
            if status.is_namespace_init() {
                return Ok(current);
            }
            if status.ppid <= 0 || pid_ns_inode(&self.proc, status.ppid).ok() != Some(ns) {
                break;
            }
            current = status.ppid;
        }
        self.scan_for_init(ns)
    }

    fn scan_for_init(&self, ns: u64) -> Result<i32> {
        let entries = std::fs::read_dir(&self.proc).map_err(|e| Error::io(&self.proc, e))?;
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            if pid_ns_inode(&self.proc, pid).ok() == Some(ns)
                && self.status(pid).is_ok_and(|s| s.is_namespace_init())
            {
                return Ok(pid);
            }
        }
        Err(Error::NoProcess(0))
    }
}

/// Inode of `/proc/PID/ns/pid`, which identifies the PID namespace.
///
/// The link's text (`pid:[INODE]`) names the same inode; reading it is much cheaper than
/// `stat`, which makes the kernel build (and then free) an nsfs inode and dentry per call.
/// Something that is not such a link (a fixture tree) is `stat`ed.
pub fn pid_ns_inode(proc: &Path, pid: i32) -> Result<u64> {
    let path = proc.join(pid.to_string()).join("ns/pid");
    if let Ok(target) = std::fs::read_link(&path) {
        if let Some(inode) = parse_ns_link(target.as_os_str().as_encoded_bytes()) {
            return Ok(inode);
        }
    }
    std::fs::metadata(&path)
        .map(|m| m.ino())
        .map_err(|e| Error::io(path, e))
}

/// The inode in a `pid:[INODE]` namespace link.
fn parse_ns_link(target: &[u8]) -> Option<u64> {
    std::str::from_utf8(target)
        .ok()?
        .strip_prefix("pid:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_parsing() {
        let s = PidStatus::parse("Name:\tsh\nPPid:\t10\nNSpid:\t4242\t1\n").unwrap();
        assert_eq!(s.ppid, 10);
        assert!(s.is_namespace_init());
        let s = PidStatus::parse("PPid:\t1\nNSpid:\t4242\n").unwrap();
        assert!(!s.is_namespace_init());
        assert!(PidStatus::parse("PPid:\tx\n").is_err());
        assert!(PidStatus::parse("NSpid:\t1 a\nPPid:\t1\n").is_err());
        assert!(PidStatus::parse("Name:\tsh\n").is_err());
    }

    #[test]
    fn namespace_link_names_the_stat_inode() {
        let pid = std::process::id() as i32;
        let path = format!("/proc/{pid}/ns/pid");
        assert_eq!(
            pid_ns_inode(Path::new("/proc"), pid).unwrap(),
            std::fs::metadata(path).unwrap().ino()
        );
        assert_eq!(parse_ns_link(b"pid:[4026531836]"), Some(4026531836));
        assert_eq!(parse_ns_link(b"net:[4026531836]"), None);
        assert_eq!(parse_ns_link(b"pid:[x]"), None);
        assert!(pid_ns_inode(Path::new("/proc"), -5).is_err());
    }

    #[test]
    fn own_process_is_host() {
        let resolver = Resolver::new("/proc").unwrap();
        assert_eq!(resolver.resolve(std::process::id()).unwrap(), Caller::Host);
        assert_eq!(resolver.resolve(0).unwrap(), Caller::Host);
    }

    /// A fake /proc: the daemon's own pid, and one container init per namespace. A
    /// namespace is a file `ns/pid` (its inode is the namespace id).
    struct FakeProc {
        dir: tempfile::TempDir,
    }

    impl FakeProc {
        fn new() -> FakeProc {
            let fake = FakeProc {
                dir: tempfile::tempdir().unwrap(),
            };
            fake.add_process(std::process::id() as i32, 1, 0);
            fake
        }

        fn add_process(&self, pid: i32, start: u64, ppid: i32) {
            let base = self.dir.path().join(pid.to_string());
            std::fs::create_dir_all(base.join("ns")).unwrap();
            std::fs::write(base.join("ns/pid"), "").unwrap();
            std::fs::write(
                base.join("status"),
                format!("Name:\tinit\nPPid:\t{ppid}\nNSpid:\t{pid}\t1\n"),
            )
            .unwrap();
            std::fs::write(
                base.join("stat"),
                format!("{pid} (init) S {ppid} {pid} {pid} 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 {start} 1 1\n"),
            )
            .unwrap();
            std::fs::write(base.join("cgroup"), "4:memory:/ctr/init.scope\n0::/ctr\n").unwrap();
        }

        /// The init exits: its /proc entry goes away. The namespace file is kept elsewhere so
        /// its inode is not reused by a later namespace (which would replace the entry anyway).
        fn exit(&self, pid: i32) {
            let base = self.dir.path().join(pid.to_string());
            let graveyard = self.dir.path().join("graveyard");
            std::fs::create_dir_all(&graveyard).unwrap();
            let kept = graveyard.join(format!(
                "{pid}-{}",
                std::fs::read_dir(&graveyard).unwrap().count()
            ));
            std::fs::rename(base.join("ns/pid"), kept).unwrap();
            std::fs::remove_dir_all(base).unwrap();
        }
        /// The init's /proc entry goes away, namespace file and all.
        fn exit_keeping_nothing(&self, pid: i32) {
            std::fs::remove_dir_all(self.dir.path().join(pid.to_string())).unwrap();
        }
    }

    /// The cache key (the PID namespace's inode) comes back with the same init pid, but the
    /// process behind it is another one, in another cgroup: the view follows the new owner
    /// and never serves the old container's cgroup.
    #[test]
    fn a_reused_namespace_key_and_init_pid_follow_the_new_owner() {
        let fake = FakeProc::new();
        let resolver = Resolver::new(fake.dir.path()).unwrap();
        fake.add_process(3000, 30, 0);
        let Caller::Container(old) = resolver.resolve(3000).unwrap() else {
            panic!("3000 resolved as the host");
        };
        assert_eq!(old.cgroups.v1[&crate::cgroup::Controller::Memory], "/ctr");
        // The init exits; a new process gets pid 3000, and the namespace file (the key)
        // keeps its inode.
        let ns = fake.dir.path().join("3000/ns/pid");
        let kept = fake.dir.path().join("kept-ns");
        std::fs::rename(&ns, &kept).unwrap();
        fake.exit_keeping_nothing(3000);
        fake.add_process(3000, 31, 0);
        std::fs::rename(&kept, &ns).unwrap();
        std::fs::write(
            fake.dir.path().join("3000/cgroup"),
            "4:memory:/other/init.scope\n0::/other\n",
        )
        .unwrap();
        let Caller::Container(new) = resolver.resolve(3000).unwrap() else {
            panic!("3000 resolved as the host");
        };
        assert_eq!(new.init_start_ticks, 31);
        assert_eq!(new.cgroups.v1[&crate::cgroup::Controller::Memory], "/other");
    }

    #[test]
    fn cache_forgets_namespaces_whose_init_is_gone() {
        let fake = FakeProc::new();
        let resolver = Resolver::new(fake.dir.path()).unwrap();
        // 50 containers come and go, one after the other.
        for pid in 1000..1050 {
            fake.add_process(pid, pid as u64 * 10, 0);
            let Caller::Container(c) = resolver.resolve(pid as u32).unwrap() else {
                panic!("pid {pid} resolved as the host");
            };
            assert_eq!(c.init_pid, pid);
            // a systemd init's init.scope is the container's cgroup's child
            assert_eq!(c.cgroups.v1[&crate::cgroup::Controller::Memory], "/ctr");
            assert!(resolver.cached_namespaces() <= 2, "cache grows");
            fake.exit(pid);
        }
        // Live ones stay cached; a recycled pid (other start time) is dropped too.
        fake.add_process(2000, 1, 0);
        fake.add_process(2001, 2, 0);
        resolver.resolve(2000).unwrap();
        resolver.resolve(2001).unwrap();
        assert_eq!(resolver.cached_namespaces(), 2);
        fake.exit(2000);
        fake.add_process(2000, 99, 0);
        fake.add_process(2002, 3, 0);
        resolver.resolve(2002).unwrap();
        // 2000's namespace file was recreated: its old entry (old inode) is gone, 2001 and
        // 2002 remain.
        assert_eq!(resolver.cached_namespaces(), 2);
    }
}

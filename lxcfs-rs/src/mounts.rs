//! Putting the views into containers: bind-mount each file of the daemon's mount over the
//! matching file of the container, inside the container's mount namespace.
//!
//! The source trees are cloned on the host with `open_tree(OPEN_TREE_CLONE)` first, because
//! after `pivot_root` the container cannot see the daemon's mount point; a forked child then
//! joins the container's mount namespace (setns needs a single-threaded process) and attaches
//! them with `move_mount`. Targets are resolved with `openat2(RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS)`
//! so a symlink in the container's root cannot redirect a mount outside it.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::render::ViewFile;

#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error("lxcfs mount at {path} is not alive: {reason}")]
    NotAlive { path: PathBuf, reason: String },
    #[error("{op} {path} failed: {source}")]
    Sys {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("child in mount namespace of pid {pid} failed: {reason}")]
    Child { pid: i32, reason: String },
    #[error(
        "pid {pid} is no longer the container's init (start time {found}, expected {expected})"
    )]
    StalePid { pid: i32, expected: u64, found: u64 },
    #[error("the container's /proc is not a mounted procfs")]
    NoProc,
}

pub type Result<T> = std::result::Result<T, MountError>;

fn cstring(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap_or_default()
}

/// The FUSE source name (`fsname`) the daemon mounts with, shown in mountinfo.
pub const DAEMON_SOURCE: &str = "lxcfs-rs";

/// How long the liveness probe waits for the daemon to answer.
pub const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Undoes mountinfo's octal escapes (`\040` for a space, `\011`, `\012`, `\134`).
fn unescape_mountinfo(field: &str) -> Vec<u8> {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = std::str::from_utf8(&bytes[i + 1..i + 4]).ok();
            if let Some(value) = digits.and_then(|d| u8::from_str_radix(d, 8).ok()) {
                out.push(value);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// (file system type, source) of the topmost mount at `mountpoint` in a mountinfo text.
pub fn mount_at(mountinfo: &str, mountpoint: &Path) -> Option<(String, String)> {
    mountinfo.lines().rev().find_map(|line| {
        let (pre, post) = line.split_once(" - ")?;
        let target = unescape_mountinfo(pre.split(' ').nth(4)?);
        let mut post = post.split(' ');
        let (fstype, source) = (post.next()?, post.next()?);
        (target == mountpoint.as_os_str().as_bytes()).then(|| {
            (
                fstype.to_string(),
                String::from_utf8_lossy(&unescape_mountinfo(source)).into_owned(),
            )
        })
    })
}

/// Whether a mount of `fstype` from `source` is the lxcfs-rs daemon's (not lxcfs or any other
/// FUSE file system).
pub fn is_daemon_mount(fstype: &str, source: &str) -> bool {
    (fstype == "fuse" || fstype == "fuse.lxcfs-rs") && source == DAEMON_SOURCE
}

/// `f_type` of a `statfs` of `path`, done in a forked child so that a hung daemon cannot
/// block the caller: after `timeout` the child is killed and left unreaped (a FUSE request
/// the daemon read but never answered waits uninterruptibly, so waiting for the child could
/// hang too; a thread would keep the whole process from exiting). The child only calls
/// async-signal-safe functions, so this is safe in a multi-threaded process.
fn probe_statfs(path: &Path, timeout: std::time::Duration) -> std::result::Result<i64, String> {
    let c_path = cstring(path);
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 fills two fds.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(format!("pipe: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: both fds are new and owned here.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: the child runs only statfs, write and _exit (async-signal-safe).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: async-signal-safe calls only; the buffers live on this stack.
        unsafe {
            let mut stat: libc::statfs = std::mem::zeroed();
            let mut answer = [0i64; 2];
            if libc::statfs(c_path.as_ptr(), &mut stat) == 0 {
                answer[1] = stat.f_type as i64;
            } else {
                answer[0] = *libc::__errno_location() as i64;
            }
            libc::write(
                write_end.as_raw_fd(),
                answer.as_ptr().cast(),
                std::mem::size_of_val(&answer),
            );
            libc::_exit(0);
        }
    }
    drop(write_end);
    let mut poll_fd = libc::pollfd {
        fd: read_end.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let deadline = std::time::Instant::now() + timeout;
    let ready = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        // SAFETY: one valid pollfd.
        let n = unsafe {
            libc::poll(
                &mut poll_fd,
                1,
                left.as_millis().min(i32::MAX as u128) as i32,
            )
        };
        if n >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break n > 0;
        }
    };
    if !ready {
        // SAFETY: pid is our child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG);
        }
        return Err(format!(
            "the daemon did not answer a statfs of {} within {timeout:?}",
            path.display()
        ));
    }
    let mut answer = [0u8; 16];
    let read = File::from(read_end).read(&mut answer);
    // SAFETY: the child wrote its answer and exits at once.
    unsafe {
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    match read {
        Ok(16) => {}
        Ok(_) => return Err(format!("the statfs probe of {} died", path.display())),
        Err(e) => return Err(format!("reading the statfs probe: {e}")),
    }
    let errno = i64::from_ne_bytes(answer[..8].try_into().unwrap_or_default());
    if errno != 0 {
        return Err(format!(
            "statfs {}: {}",
            path.display(),
            std::io::Error::from_raw_os_error(errno as i32)
        ));
    }
    Ok(i64::from_ne_bytes(
        answer[8..].try_into().unwrap_or_default(),
    ))
}

/// Succeeds if `mountpoint` holds the lxcfs-rs daemon's mount (by mountinfo, without touching
/// the mount) and the daemon answers a `statfs` of `proc/meminfo` within [`PROBE_TIMEOUT`].
pub fn check_lxcfs(mountpoint: &Path) -> Result<()> {
    check_lxcfs_within(mountpoint, PROBE_TIMEOUT)
}

/// [`check_lxcfs`] with a given probe timeout.
pub fn check_lxcfs_within(mountpoint: &Path, timeout: std::time::Duration) -> Result<()> {
    let not_alive = |reason: String| MountError::NotAlive {
        path: mountpoint.to_path_buf(),
        reason,
    };
    // Resolve the parent only: resolving the mount point itself would ask the daemon.
    let absolute = match (mountpoint.parent(), mountpoint.file_name()) {
        (Some(parent), Some(name)) => {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            std::fs::canonicalize(parent)
                .map_err(|e| not_alive(format!("cannot resolve {}: {e}", parent.display())))?
                .join(name)
        }
        _ => mountpoint.to_path_buf(),
    };
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| not_alive(format!("cannot read /proc/self/mountinfo: {e}")))?;
    match mount_at(&mountinfo, &absolute) {
        None => {
            return Err(not_alive(format!(
                "nothing is mounted at {}",
                absolute.display()
            )))
        }
        Some((fstype, source)) if !is_daemon_mount(&fstype, &source) => {
            return Err(not_alive(format!(
                "the mount at {} is {fstype} from {source:?}, not lxcfs-rs",
                absolute.display()
            )))
        }
        Some(_) => {}
    }

    let probe = absolute.join("proc/meminfo");
    let fs_type = probe_statfs(&probe, timeout).map_err(not_alive)?;
    if nix::sys::statfs::FsType(fs_type as _) != nix::sys::statfs::FUSE_SUPER_MAGIC {
        return Err(not_alive(format!(
            "{} is not on a fuse filesystem",
            probe.display()
        )));
    }
    Ok(())
}

/// A detached clone of one view file of the daemon's mount, ready to attach anywhere.
#[derive(Debug)]
pub struct ViewTree {
    pub view: ViewFile,
    fd: OwnedFd,
}

/// Clones every view file of the daemon's mount at `mountpoint` (host side).
pub fn open_view_trees(mountpoint: &Path) -> Result<Vec<ViewTree>> {
    ViewFile::ALL
        .iter()
        .map(|view| {
            let path = mountpoint.join(view.relative_path());
            let fd = mountapi::clone_tree(&path).map_err(|source| MountError::Sys {
                op: "open_tree",
                path: path.clone(),
                source,
            })?;
            set_view_attributes(&fd, &path);
            Ok(ViewTree { view: *view, fd })
        })
        .collect()
}

/// Read-only, no suid/dev/exec, slave propagation. Failure only loses hardening: warn.
fn set_view_attributes(fd: &OwnedFd, path: &Path) {
    use mountapi::{MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY};
    let attributes = mountapi::MountAttributes {
        set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
        clear: 0,
        propagation: libc::MS_SLAVE,
    };
    if let Err(e) = mountapi::set_attributes(fd, attributes) {
        tracing::warn!("mount_setattr on {}: {e}", path.display());
    }
}

/// What happened to one view file in a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub target: String,
    pub result: OutcomeKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutcomeKind {
    Mounted,
    Unmounted(u32),
    /// The container's root lacks the target file.
    Skipped,
    Failed(String),
}

/// Opens `relative` below `root`, refusing symlinks (none of the view targets is one), so the
/// path cannot leave the root and resolves the same as `root/relative`.
fn open_in_root(root: &OwnedFd, relative: &str, root_path: &Path) -> Result<OwnedFd> {
    mountapi::open_contained(root, Path::new(relative), mountapi::OFlags::PATH).map_err(|source| {
        MountError::Sys {
            op: "openat2",
            path: root_path.join(relative),
            source,
        }
    })
}

fn open_root(root: &Path) -> Result<OwnedFd> {
    mountapi::open_root(root).map_err(|source| MountError::Sys {
        op: "open",
        path: root.to_path_buf(),
        source,
    })
}

/// Lazily unmounts lxcfs mounts stacked on `relative` below `root` (live or dead FUSE
/// mounts); returns how many were removed.
fn detach_stale(root: &OwnedFd, relative: &str, root_path: &Path) -> Result<u32> {
    let mut removed = 0;
    for _ in 0..8 {
        let target = open_in_root(root, relative, root_path)?;
        let is_lxcfs = match nix::sys::statfs::fstatfs(&target) {
            Ok(stat) => stat.filesystem_type() == nix::sys::statfs::FUSE_SUPER_MAGIC,
            Err(nix::errno::Errno::ENOTCONN) => true,
            Err(_) => false,
        };
        if !is_lxcfs {
            break;
        }
        drop(target);
        // Not via /proc/self/fd: the container's /proc belongs to a PID namespace we are not in.
        let flags = nix::mount::MntFlags::MNT_DETACH | nix::mount::MntFlags::UMOUNT_NOFOLLOW;
        nix::mount::umount2(&root_path.join(relative), flags).map_err(|e| MountError::Sys {
            op: "umount",
            path: root_path.join(relative),
            source: e.into(),
        })?;
        removed += 1;
    }
    Ok(removed)
}

/// Attaches each tree over its file below `root` (run inside the container's mount
/// namespace), replacing stale lxcfs mounts.
pub fn attach_views(root: &Path, trees: &[ViewTree]) -> Result<Vec<Outcome>> {
    let root_fd = open_root(root)?;
    Ok(trees
        .iter()
        .map(|tree| {
            let relative = tree.view.relative_path();
            let result = attach_one(&root_fd, root, relative, &tree.fd);
            Outcome {
                target: root.join(relative).display().to_string(),
                result: match result {
                    Ok(kind) => kind,
                    Err(e) => OutcomeKind::Failed(e.to_string()),
                },
            }
        })
        .collect())
}

fn attach_one(
    root_fd: &OwnedFd,
    root: &Path,
    relative: &str,
    tree: &OwnedFd,
) -> Result<OutcomeKind> {
    match detach_stale(root_fd, relative, root) {
        Err(MountError::Sys { source, .. }) if source.raw_os_error() == Some(libc::ENOENT) => {
            return Ok(OutcomeKind::Skipped)
        }
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    let target = open_in_root(root_fd, relative, root)?;
    mountapi::attach(tree, target).map_err(|source| MountError::Sys {
        op: "move_mount",
        path: root.join(relative),
        source,
    })?;
    sclog::crash_point("lxcfs:after-one-view");
    Ok(OutcomeKind::Mounted)
}

/// Removes lxcfs mounts from every view target below `root`.
pub fn detach_views(root: &Path) -> Result<Vec<Outcome>> {
    let root_fd = open_root(root)?;
    Ok(ViewFile::ALL
        .iter()
        .map(|view| {
            let relative = view.relative_path();
            Outcome {
                target: root.join(relative).display().to_string(),
                result: match detach_stale(&root_fd, relative, root) {
                    Ok(n) => OutcomeKind::Unmounted(n),
                    Err(MountError::Sys { source, .. })
                        if source.raw_os_error() == Some(libc::ENOENT) =>
                    {
                        OutcomeKind::Skipped
                    }
                    Err(e) => OutcomeKind::Failed(e.to_string()),
                },
            }
        })
        .collect())
}

/// Where a container's root directory is inside its mount namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerRoot {
    /// Before `pivot_root` (OCI prestart): the container's mounts exist, but its rootfs still
    /// sits at its host path in the container's mount namespace.
    HostPath(PathBuf),
    /// After `pivot_root` (a running container): the root directory of its init process,
    /// `/proc/PID/root`.
    ProcessRoot,
}

/// The init process of a container: its pid and, when known, its start time (field 22 of
/// `/proc/PID/stat`), which must still match so that a recycled pid is never acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitProcess {
    pub pid: i32,
    pub start_time: Option<u64>,
}

fn read_start_time(pid: i32) -> Result<u64> {
    let path = PathBuf::from(format!("/proc/{pid}/stat"));
    let text = std::fs::read_to_string(&path).map_err(|source| MountError::Sys {
        op: "read",
        path: path.clone(),
        source,
    })?;
    crate::host::parse_pid_starttime(&text).map_err(|e| MountError::Sys {
        op: "parse",
        path,
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
    })
}

/// Runs `work` in a forked child that joined the container's mount namespace and chrooted
/// into the container's root, so `work` sees the container's files at `/`. Returns the
/// child's outcomes. The caller must be single-threaded (fork).
///
/// The namespace and root are opened first and the init's start time checked afterwards:
/// if the check passes, the opened handles belong to the container's init, not to a process
/// that reused its pid.
pub fn in_container<F>(init: InitProcess, root: &ContainerRoot, work: F) -> Result<Vec<Outcome>>
where
    F: FnOnce(&Path) -> Result<Vec<Outcome>>,
{
    let pid = init.pid;
    let ns_path = PathBuf::from(format!("/proc/{pid}/ns/mnt"));
    let ns = File::open(&ns_path).map_err(|source| MountError::Sys {
        op: "open",
        path: ns_path.clone(),
        source,
    })?;
    let root = match root {
        ContainerRoot::ProcessRoot => {
            RootHandle::Fd(open_root(Path::new(&format!("/proc/{pid}/root")))?)
        }
        ContainerRoot::HostPath(path) => RootHandle::Path(path.clone()),
    };
    if let Some(expected) = init.start_time {
        let found = read_start_time(pid)?;
        if found != expected {
            return Err(MountError::StalePid {
                pid,
                expected,
                found,
            });
        }
    }
    let (read_end, write_end) = nix::unistd::pipe().map_err(|e| MountError::Sys {
        op: "pipe",
        path: ns_path.clone(),
        source: e.into(),
    })?;
    let child_failed = |reason: String| MountError::Child { pid, reason };
    // SAFETY: the child only makes syscalls, runs `work` and exits without unwinding.
    match unsafe { nix::unistd::fork() }.map_err(|e| child_failed(format!("fork: {e}")))? {
        nix::unistd::ForkResult::Child => {
            drop(read_end);
            let result = nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNS)
                .map_err(|e| child_failed(format!("setns {}: {e}", ns_path.display())))
                .and_then(|_| enter_root(&root))
                .and_then(|_| check_proc_mounted())
                .and_then(|_| work(Path::new("/")))
                .map_err(|e| e.to_string());
            let mut pipe = File::from(write_end);
            let ok = result.is_ok();
            let _ = pipe.write_all(
                serde_json::to_string(&result)
                    .unwrap_or_default()
                    .as_bytes(),
            );
            drop(pipe);
            // SAFETY: leave the forked child without running the parent's destructors.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(write_end);
            let mut text = String::new();
            let _ = File::from(read_end).read_to_string(&mut text);
            let _ = nix::sys::wait::waitpid(child, None);
            let result: std::result::Result<Vec<Outcome>, String> = serde_json::from_str(&text)
                .map_err(|_| child_failed("child died without a report".into()))?;
            result.map_err(child_failed)
        }
    }
}

/// The container's root, ready to enter from inside its mount namespace.
enum RootHandle {
    /// A path resolved in the container's mount namespace (before pivot_root).
    Path(PathBuf),
    /// The init's root directory, opened from the host.
    Fd(OwnedFd),
}

/// In the container's mount namespace: make the container's root our `/`.
fn enter_root(root: &RootHandle) -> Result<()> {
    let shown = match root {
        RootHandle::Path(path) => path.clone(),
        RootHandle::Fd(_) => PathBuf::from("/proc/PID/root"),
    };
    let failed = |op: &'static str| {
        let path = shown.clone();
        move |e: nix::errno::Errno| MountError::Sys {
            op,
            path,
            source: e.into(),
        }
    };
    match root {
        RootHandle::Fd(fd) => nix::unistd::fchdir(fd.as_raw_fd()).map_err(failed("fchdir"))?,
        RootHandle::Path(path) => nix::unistd::chdir(path).map_err(failed("chdir"))?,
    }
    nix::unistd::chroot(".").map_err(failed("chroot"))?;
    nix::unistd::chdir("/").map_err(failed("chdir"))
}

/// The views go over the container's procfs: if `/proc` is not a procfs mount, the root was
/// resolved wrongly (or the runtime has not mounted it yet) and nothing must be mounted.
fn check_proc_mounted() -> Result<()> {
    let stat = nix::sys::statfs::statfs("/proc").map_err(|e| MountError::Sys {
        op: "statfs",
        path: PathBuf::from("/proc"),
        source: e.into(),
    })?;
    if stat.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
        return Err(MountError::NoProc);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
299 27 0:73 / /var/lib/lxcfs ro,nosuid,nodev,noexec,relatime - fuse lxcfs-rs ro,user_id=0,group_id=0,allow_other
300 27 0:74 / /var/lib/other\\040lxcfs rw,nosuid,nodev,relatime - fuse.lxcfs lxcfs rw,user_id=0,group_id=0,allow_other
301 27 0:75 / /mnt/sshfs rw,relatime - fuse.sshfs host:/ rw,user_id=0,group_id=0
302 299 0:76 / /var/lib/lxcfs rw,relatime - tmpfs tmpfs rw
";

    #[test]
    fn finds_the_topmost_mount_and_unescapes_paths() {
        let first: String = MOUNTINFO.lines().take(4).collect::<Vec<_>>().join("\n");
        assert_eq!(
            mount_at(&first, Path::new("/var/lib/lxcfs")),
            Some(("fuse".into(), "lxcfs-rs".into()))
        );
        // a tmpfs mounted over it hides the daemon's mount
        assert_eq!(
            mount_at(MOUNTINFO, Path::new("/var/lib/lxcfs")),
            Some(("tmpfs".into(), "tmpfs".into()))
        );
        assert_eq!(
            mount_at(MOUNTINFO, Path::new("/var/lib/other lxcfs")),
            Some(("fuse.lxcfs".into(), "lxcfs".into()))
        );
        assert_eq!(mount_at(MOUNTINFO, Path::new("/var/lib")), None);
        assert_eq!(unescape_mountinfo("a\\134b\\011\\"), b"a\\b\t\\");
    }

    #[test]
    fn only_the_daemons_mount_counts() {
        assert!(is_daemon_mount("fuse", "lxcfs-rs"));
        assert!(is_daemon_mount("fuse.lxcfs-rs", "lxcfs-rs"));
        assert!(!is_daemon_mount("fuse.lxcfs", "lxcfs"), "lxcfs 5.0.3");
        assert!(!is_daemon_mount("fuse.sshfs", "host:/"));
        assert!(!is_daemon_mount("fuse", "other"));
        assert!(!is_daemon_mount("tmpfs", "lxcfs-rs"));
    }

    #[test]
    fn a_mount_point_without_our_daemon_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = check_lxcfs(dir.path()).unwrap_err().to_string();
        assert!(err.contains("nothing is mounted"), "{err}");
        // the root file system is mounted, but is not the daemon's
        let err = check_lxcfs(Path::new("/")).unwrap_err().to_string();
        assert!(err.contains("not lxcfs-rs"), "{err}");
    }
}

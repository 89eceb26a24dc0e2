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

fn sys_error(op: &'static str, path: &Path) -> MountError {
    MountError::Sys {
        op,
        path: path.to_path_buf(),
        source: std::io::Error::last_os_error(),
    }
}

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x04;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
const MOUNT_ATTR_RDONLY: u64 = 0x01;
const MOUNT_ATTR_NOSUID: u64 = 0x02;
const MOUNT_ATTR_NODEV: u64 = 0x04;
const MOUNT_ATTR_NOEXEC: u64 = 0x08;
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_IN_ROOT: u64 = 0x10;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

fn cstring(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap_or_default()
}

fn fd_result(ret: libc::c_long, op: &'static str, path: &Path) -> Result<OwnedFd> {
    if ret < 0 {
        return Err(sys_error(op, path));
    }
    // SAFETY: the syscall returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}

/// Succeeds if `mountpoint` holds a live FUSE mount serving `proc/meminfo`.
pub fn check_lxcfs(mountpoint: &Path) -> Result<()> {
    let probe = mountpoint.join("proc/meminfo");
    let not_alive = |reason: String| MountError::NotAlive {
        path: mountpoint.to_path_buf(),
        reason,
    };
    let stat = nix::sys::statfs::statfs(&probe)
        .map_err(|e| not_alive(format!("statfs {}: {e}", probe.display())))?;
    if stat.filesystem_type() != nix::sys::statfs::FUSE_SUPER_MAGIC {
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
            let c = cstring(&path);
            // SAFETY: plain syscall with a valid NUL-terminated path.
            let ret = unsafe {
                libc::syscall(
                    libc::SYS_open_tree,
                    libc::AT_FDCWD,
                    c.as_ptr(),
                    OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
                )
            };
            let fd = fd_result(ret, "open_tree", &path)?;
            set_view_attributes(&fd, &path);
            Ok(ViewTree { view: *view, fd })
        })
        .collect()
}

/// Read-only, no suid/dev/exec, slave propagation. Failure only loses hardening: warn.
fn set_view_attributes(fd: &OwnedFd, path: &Path) {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
        attr_clr: 0,
        propagation: libc::MS_SLAVE,
        userns_fd: 0,
    };
    let empty = c"";
    // SAFETY: valid fd, empty path with AT_EMPTY_PATH, and a correctly sized mount_attr.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if ret < 0 {
        tracing::warn!(
            "mount_setattr on {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
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
    let c = CString::new(relative).unwrap_or_default();
    let how = OpenHow {
        flags: (libc::O_PATH | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: valid dirfd, NUL-terminated path and a correctly sized open_how.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    fd_result(ret, "openat2", &root_path.join(relative))
}

fn open_root(root: &Path) -> Result<OwnedFd> {
    let c = cstring(root);
    // SAFETY: plain open of a NUL-terminated path.
    let ret = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    fd_result(ret as libc::c_long, "open", root)
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
    let empty = c"";
    // SAFETY: valid fds, empty paths with the EMPTY_PATH flags.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            empty.as_ptr(),
            target.as_raw_fd(),
            empty.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if ret < 0 {
        return Err(sys_error("move_mount", &root.join(relative)));
    }
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

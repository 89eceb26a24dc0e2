//! Acting on paths inside a container without ever touching a host path.
//!
//! Every container path is opened with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS)` below a directory fd of the container's root, which is
//! `/proc/PID/root` (a running container) or `/proc/PID/root/<rootfs>` (the prestart
//! hook, before `pivot_root`). `..` cannot climb out of that root, and a symlink anywhere
//! on the path is refused rather than followed: a link planted in the container can never
//! redirect a mkdir, mknod or mount to the host. Mounts are made with the new mount API:
//! `open_tree(OPEN_TREE_CLONE)` of the host path, then `move_mount` from a thread that has
//! unshared its fs context and joined the container's mount namespace.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use mountapi::{MountAttributes, OFlags, MOUNT_ATTR_NODEV, MOUNT_ATTR_RDONLY};

use crate::error::{io_err, Error, Result};

/// An `O_PATH` directory: what every parent on a container path must be.
const DIRECTORY: OFlags = OFlags::PATH.union(OFlags::DIRECTORY);

fn cstr(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| Error::Invalid(format!("path {} contains a NUL byte", p.display())))
}

fn last_os_error() -> std::io::Error {
    std::io::Error::last_os_error()
}

/// The root directory of a container as seen by its processes.
pub struct ContainerRoot {
    fd: OwnedFd,
    /// `/proc/PID/ns/mnt`, for mounting.
    mnt_ns: OwnedFd,
    /// The host ids of the container's root when it runs in a user namespace
    /// (`--user-remap`): files are created as that owner, as the container's own root would.
    owner: Option<(u32, u32)>,
}

/// Map a container id to the host id through a `/proc/PID/{uid,gid}_map` text; `None`
/// when the id is not mapped.
pub fn map_id(map: &str, id: u32) -> Option<u32> {
    map.lines().find_map(|l| {
        let v: Vec<u64> = l
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        let [inside, outside, count] = v[..] else {
            return None;
        };
        let id = u64::from(id);
        (id >= inside && id < inside + count)
            .then(|| u32::try_from(outside + (id - inside)).ok())
            .flatten()
    })
}

impl ContainerRoot {
    /// `prefix`: `None` for a running container, the rootfs host path before pivot_root.
    pub fn open(pid: i32, prefix: Option<&Path>) -> Result<ContainerRoot> {
        let mut path = PathBuf::from(format!("/proc/{pid}/root"));
        if let Some(p) = prefix {
            path.push(p.strip_prefix("/").unwrap_or(p));
        }
        let fd = mountapi::open_root(&path).map_err(io_err("open container root", &path))?;
        let ns_path = format!("/proc/{pid}/ns/mnt");
        let ns = File::open(&ns_path).map_err(io_err("open", &ns_path))?;
        let read =
            |f: &str| std::fs::read_to_string(format!("/proc/{pid}/{f}")).unwrap_or_default();
        let owner = match (map_id(&read("uid_map"), 0), map_id(&read("gid_map"), 0)) {
            (Some(0), Some(0)) | (None, _) | (_, None) => None,
            (Some(u), Some(g)) => Some((u, g)),
        };
        Ok(ContainerRoot {
            fd,
            mnt_ns: ns.into(),
            owner,
        })
    }

    fn rel(path: &Path) -> &Path {
        path.strip_prefix("/").unwrap_or(path)
    }

    /// Open a container path (O_PATH unless `flags` says otherwise), contained.
    pub fn open_path(&self, path: &Path, flags: OFlags) -> Result<OwnedFd> {
        mountapi::open_contained(&self.fd, Self::rel(path), flags)
            .map_err(|e| contained_error(path, e))
    }

    /// Open a container path that must be a directory, contained.
    fn open_dir(&self, path: &Path) -> std::io::Result<OwnedFd> {
        mountapi::open_contained(&self.fd, Self::rel(path), DIRECTORY)
    }

    fn open_parent(&self, path: &Path) -> Result<(OwnedFd, CString)> {
        let parent = path.parent().unwrap_or(Path::new("/"));
        let name = path.file_name().ok_or_else(|| {
            Error::Invalid(format!("container path {} has no name", path.display()))
        })?;
        let fd = if parent == Path::new("/") {
            self.open_dir(Path::new("."))
        } else {
            self.open_dir(parent)
        }
        .map_err(|e| contained_error(parent, e))?;
        Ok((fd, cstr(Path::new(name))?))
    }

    /// `lstat` of a container path; `None` if it (or a parent directory) does not exist.
    pub fn stat(&self, path: &Path) -> Result<Option<libc::stat>> {
        let parent = path.parent().unwrap_or(Path::new("/"));
        if parent != Path::new("/") {
            match self.open_dir(parent) {
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
                Err(e) => return Err(contained_error(parent, e)),
                Ok(_) => {}
            }
        }
        let (dir, name) = self.open_parent(path)?;
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstatat on our fd with a NUL-terminated name into a local struct.
        let rc = unsafe {
            libc::fstatat(
                dir.as_raw_fd(),
                name.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        if rc == 0 {
            return Ok(Some(st));
        }
        let e = last_os_error();
        if e.raw_os_error() == Some(libc::ENOENT) {
            Ok(None)
        } else {
            Err(contained_error(path, e))
        }
    }

    /// `mkdir -p` inside the container; returns the directories it created, parents first.
    pub fn mkdir_p(&self, path: &Path) -> Result<Vec<PathBuf>> {
        self.as_owner(|| self.mkdir_p_raw(path))
    }

    fn mkdir_p_raw(&self, path: &Path) -> Result<Vec<PathBuf>> {
        let mut created = Vec::new();
        let mut cur = PathBuf::from("/");
        for comp in Self::rel(path).components() {
            cur.push(comp);
            match self.open_dir(&cur) {
                Ok(_) => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    let (dir, name) = self.open_parent(&cur)?;
                    // SAFETY: mkdirat on our fd with a NUL-terminated name.
                    if unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o755) } != 0 {
                        let e = last_os_error();
                        if e.raw_os_error() != Some(libc::EEXIST) {
                            self.remove_created(&created);
                            return Err(contained_error(&cur, e));
                        }
                    } else {
                        created.push(cur.clone());
                    }
                    // Whatever is there now must be a real directory.
                    if let Err(e) = self.open_dir(&cur) {
                        self.remove_created(&created);
                        return Err(contained_error(&cur, e));
                    }
                }
                Err(e) => {
                    self.remove_created(&created);
                    return Err(contained_error(&cur, e));
                }
            }
        }
        Ok(created)
    }

    /// Remove directories made by [`Self::mkdir_p`], deepest first (only if empty).
    pub fn remove_created(&self, created: &[PathBuf]) {
        for dir in created.iter().rev() {
            if let Ok((parent, name)) = self.open_parent(dir) {
                // SAFETY: unlinkat on our fd with a NUL-terminated name.
                unsafe { libc::unlinkat(parent.as_raw_fd(), name.as_ptr(), libc::AT_REMOVEDIR) };
            }
        }
    }

    /// Create an empty regular file (a mount point for a file bind); false if one exists.
    pub fn create_file(&self, path: &Path) -> Result<bool> {
        self.as_owner(|| self.create_file_raw(path))
    }

    fn create_file_raw(&self, path: &Path) -> Result<bool> {
        let (dir, name) = self.open_parent(path)?;
        // SAFETY: openat on our fd with a NUL-terminated name; O_NOFOLLOW | O_EXCL.
        let fd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                name.as_ptr(),
                libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0o644,
            )
        };
        if fd >= 0 {
            // SAFETY: closing the fd we just opened.
            unsafe { libc::close(fd) };
            return Ok(true);
        }
        let e = last_os_error();
        if e.raw_os_error() == Some(libc::EEXIST) {
            return Ok(false);
        }
        Err(contained_error(path, e))
    }

    /// Remove a non-directory entry (file or device node) inside the container.
    pub fn unlink(&self, path: &Path) -> Result<()> {
        let (dir, name) = self.open_parent(path)?;
        // SAFETY: unlinkat on our fd with a NUL-terminated name.
        if unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) } != 0 {
            let e = last_os_error();
            if e.raw_os_error() != Some(libc::ENOENT) {
                return Err(contained_error(path, e));
            }
        }
        Ok(())
    }

    /// Make a device node; parents must exist. `mode` holds type and permission bits.
    pub fn mknod(&self, path: &Path, mode: u32, rdev: u64, uid: u32, gid: u32) -> Result<()> {
        self.as_owner(|| self.mknod_raw(path, mode, rdev, uid, gid))
    }

    /// Run `f` with the fs ids of the container's root (a thread of its own with
    /// `setfsuid`/`setfsgid`, capabilities re-raised): a file system mounted in the
    /// container's user namespace refuses owners it cannot map.
    fn as_owner<T: Send>(&self, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        let Some((uid, gid)) = self.owner else {
            return f();
        };
        std::thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: setfsuid/setfsgid affect only this thread, which ends afterwards.
                unsafe {
                    libc::setfsgid(gid);
                    libc::setfsuid(uid);
                }
                let permitted = caps::read(None, caps::CapSet::Permitted)
                    .map_err(|e| Error::Failed(format!("read capabilities: {e}")))?;
                caps::set(None, caps::CapSet::Effective, &permitted)
                    .map_err(|e| Error::Failed(format!("raise capabilities: {e}")))?;
                f()
            })
            .join()
            .unwrap_or_else(|_| Err(Error::Failed("file thread panicked".into())))
        })
    }

    fn mknod_raw(&self, path: &Path, mode: u32, rdev: u64, uid: u32, gid: u32) -> Result<()> {
        let (dir, name) = self.open_parent(path)?;
        // SAFETY: mknodat/fchownat on our fd with a NUL-terminated name. The mode is set
        // by mknodat itself (umask cleared around it) rather than by a later chmod, which
        // would follow a symlink the container could swap in between; the chown does not
        // follow. No other thread creates files meanwhile (the tools are single-threaded
        // apart from the helper threads, whose parents wait for them).
        unsafe {
            let old_mask = libc::umask(0);
            let rc = libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode, rdev as libc::dev_t);
            libc::umask(old_mask);
            if rc != 0 {
                return Err(contained_error(path, last_os_error()));
            }
            if libc::fchownat(
                dir.as_raw_fd(),
                name.as_ptr(),
                uid,
                gid,
                libc::AT_SYMLINK_NOFOLLOW,
            ) != 0
            {
                let e = last_os_error();
                libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0);
                return Err(contained_error(path, e));
            }
        }
        Ok(())
    }

    /// Bind-mount a host path onto a container path (made if missing), read-only if
    /// asked. All-or-nothing: on failure what was created is removed again.
    pub fn bind(&self, host: &Path, ctr: &Path, readonly: bool) -> Result<()> {
        self.bind_with(host, ctr, readonly, false)
    }

    /// Whether the container runs in a user namespace of its own (`--user-remap`).
    pub fn in_userns(&self) -> bool {
        self.owner.is_some()
    }

    /// Bind a device node made on the host onto a container path. For a container in a
    /// user namespace, whose own `/dev` cannot hold usable nodes (a file system mounted in
    /// a user namespace is implicitly nodev).
    pub fn bind_device_node(&self, node: &Path, ctr: &Path) -> Result<()> {
        self.bind_with(node, ctr, false, true)
    }

    fn bind_with(&self, host: &Path, ctr: &Path, readonly: bool, allow_dev: bool) -> Result<()> {
        // A NUL byte is refused in plain words before anything is looked at.
        cstr(host)?;
        let meta = std::fs::metadata(host).map_err(io_err("stat host path", host))?;
        let tree = mountapi::clone_tree(host).map_err(io_err("open_tree", host))?;
        if readonly || allow_dev {
            let attributes = MountAttributes {
                set: if readonly { MOUNT_ATTR_RDONLY } else { 0 },
                clear: if allow_dev { MOUNT_ATTR_NODEV } else { 0 },
                propagation: 0,
            };
            mountapi::set_attributes(&tree, attributes)
                .map_err(io_err("set mount attributes of", host))?;
        }
        let is_dir = meta.is_dir();
        self.in_mount_ns(|| {
            let parent = ctr.parent().unwrap_or(Path::new("/"));
            let mut created = self.mkdir_p(if is_dir { ctr } else { parent })?;
            let mut made_file = false;
            if !is_dir {
                made_file = self.create_file(ctr)?;
            }
            let undo = |created: &mut Vec<PathBuf>| {
                if made_file {
                    let _ = self.unlink(ctr);
                }
                self.remove_created(created);
            };
            let flags = if is_dir { DIRECTORY } else { OFlags::PATH };
            let target = match self.open_path(ctr, flags) {
                Ok(t) => t,
                Err(e) => {
                    undo(&mut created);
                    return Err(e);
                }
            };
            if let Err(e) = mountapi::attach(&tree, &target) {
                undo(&mut created);
                return Err(Error::Failed(format!(
                    "mount {} on {} in the container: {e}",
                    host.display(),
                    ctr.display()
                )));
            }
            Ok(())
        })
    }

    /// Unmount whatever is mounted on a container path (lazily). Not mounted is an error
    /// unless `missing_ok`.
    pub fn unmount(&self, ctr: &Path, missing_ok: bool) -> Result<()> {
        self.in_mount_ns(|| {
            let (dir, name) = match self.open_parent(ctr) {
                Ok(x) => x,
                Err(_) if missing_ok => return Ok(()),
                Err(e) => return Err(e),
            };
            // SAFETY: fchdir to our fd, then umount2 of a plain name relative to it; this
            // thread has its own fs context (unshared in in_mount_ns).
            let rc = unsafe {
                if libc::fchdir(dir.as_raw_fd()) != 0 {
                    return Err(contained_error(ctr, last_os_error()));
                }
                libc::umount2(name.as_ptr(), libc::MNT_DETACH | libc::UMOUNT_NOFOLLOW)
            };
            if rc != 0 {
                let e = last_os_error();
                let not_mounted =
                    matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOENT));
                if missing_ok && not_mounted {
                    return Ok(());
                }
                return Err(Error::Failed(format!(
                    "unmount {} in the container: {}",
                    ctr.display(),
                    if not_mounted {
                        "not a mount point".to_string()
                    } else {
                        e.to_string()
                    }
                )));
            }
            Ok(())
        })
    }

    /// Whether a container path is a mount point (its mount ID differs from its parent's).
    pub fn is_mount_point(&self, ctr: &Path) -> bool {
        let Ok(fd) = self.open_path(ctr, OFlags::PATH) else {
            return false;
        };
        let parent = ctr.parent().unwrap_or(Path::new("/"));
        let Ok(pfd) = self.open_path(parent, OFlags::PATH) else {
            return false;
        };
        match (mount_id(fd.as_fd()), mount_id(pfd.as_fd())) {
            (Some(a), Some(b)) => a != b,
            _ => false,
        }
    }

    /// Run `f` on a thread that has joined the container's mount namespace.
    fn in_mount_ns<T: Send>(&self, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        let ns = self.mnt_ns.as_fd();
        std::thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: unshare/setns affect only this thread, which ends afterwards.
                unsafe {
                    if libc::unshare(libc::CLONE_FS) != 0 {
                        return Err(Error::Failed(format!("unshare fs: {}", last_os_error())));
                    }
                    if libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNS) != 0 {
                        return Err(Error::Failed(format!(
                            "join the container's mount namespace: {}",
                            last_os_error()
                        )));
                    }
                }
                f()
            })
            .join()
            .unwrap_or_else(|_| Err(Error::Failed("mount thread panicked".into())))
        })
    }
}

fn mount_id(fd: BorrowedFd) -> Option<u64> {
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: statx on our fd with AT_EMPTY_PATH into a local struct.
    let rc = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_MNT_ID,
            &mut stx,
        )
    };
    (rc == 0 && stx.stx_mask & libc::STATX_MNT_ID != 0).then_some(stx.stx_mnt_id)
}

/// A resolution error in plain words: a symlink on the path is an escape attempt.
fn contained_error(path: &Path, e: std::io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::ELOOP) => Error::Invalid(format!(
            "container path {} goes through a symlink: refused (give the resolved path)",
            path.display()
        )),
        Some(libc::EXDEV) => Error::Invalid(format!(
            "container path {} leaves the container root: refused",
            path.display()
        )),
        Some(libc::ENOTDIR) => Error::Invalid(format!(
            "container path {}: a parent is not a directory",
            path.display()
        )),
        _ => Error::Io {
            op: "resolve in container",
            path: path.to_path_buf(),
            source: e,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake container root: a directory of this process's own root (/proc/self/root).
    fn fake_root() -> (PathBuf, ContainerRoot) {
        let dir = std::env::temp_dir().join(format!(
            "sct-inroot-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        let root = ContainerRoot::open(std::process::id() as i32, Some(&dir)).unwrap();
        (dir, root)
    }

    #[test]
    fn mkdir_p_creates_inside_and_reports_what_it_made() {
        let (dir, root) = fake_root();
        let made = root.mkdir_p(Path::new("/a/b/c")).unwrap();
        assert_eq!(
            made,
            vec![
                PathBuf::from("/a"),
                PathBuf::from("/a/b"),
                PathBuf::from("/a/b/c")
            ]
        );
        assert!(dir.join("a/b/c").is_dir());
        assert!(root.mkdir_p(Path::new("/a/b")).unwrap().is_empty());
        assert!(root.create_file(Path::new("/a/f")).unwrap());
        assert!(!root.create_file(Path::new("/a/f")).unwrap());
        assert!(root.stat(Path::new("/a/f")).unwrap().is_some());
        assert!(root.stat(Path::new("/a/none")).unwrap().is_none());
        root.unlink(Path::new("/a/f")).unwrap();
        root.remove_created(&made);
        assert!(!dir.join("a").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn symlinks_are_refused_and_nothing_is_made_outside() {
        let (dir, root) = fake_root();
        let outside = std::env::temp_dir().join(format!("sct-outside-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&outside);
        std::fs::create_dir_all(&outside).unwrap();
        // Absolute link to a host directory, and a relative one climbing out.
        std::os::unix::fs::symlink(&outside, dir.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../../..", dir.join("up")).unwrap();
        for p in ["/abs/x", "/up/tmp/x", "/abs"] {
            let e = root.mkdir_p(Path::new(p)).unwrap_err().to_string();
            assert!(e.contains("symlink: refused"), "{p}: {e}");
            let e = root
                .create_file(Path::new(&format!("{p}/f")))
                .unwrap_err()
                .to_string();
            assert!(e.contains("symlink: refused"), "{p}: {e}");
        }
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        // A file where a directory is needed.
        std::fs::write(dir.join("file"), b"").unwrap();
        let e = root.mkdir_p(Path::new("/file/x")).unwrap_err().to_string();
        assert!(e.contains("not a directory"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&outside).unwrap();
    }
}

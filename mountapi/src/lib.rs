//! The new mount API and contained path resolution, as the tools and lxcfs-rs use them to
//! mount host files into containers.
//!
//! A host path is cloned as a detached tree with `open_tree(OPEN_TREE_CLONE)`, its mount
//! attributes are set with `mount_setattr` while it is still detached, and it is attached
//! with `move_mount` onto a target opened with `openat2(RESOLVE_IN_ROOT |
//! RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)` below the container's root: `..` cannot
//! climb out of the root, and a symlink anywhere on the path is refused, so a link planted
//! in the container can never redirect a mount (or a mkdir, mknod) to the host. Every fd
//! is close-on-exec.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

pub use rustix::fs::OFlags;

/// Resolution that stays below the root fd and follows no link of any kind.
const CONTAINED: rustix::fs::ResolveFlags = rustix::fs::ResolveFlags::IN_ROOT
    .union(rustix::fs::ResolveFlags::NO_SYMLINKS)
    .union(rustix::fs::ResolveFlags::NO_MAGICLINKS);

/// An `O_PATH` directory fd of the host path `root`, to resolve container paths below.
pub fn open_root(root: &Path) -> io::Result<OwnedFd> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    Ok(rustix::fs::open(root, flags, rustix::fs::Mode::empty())?)
}

/// Opens `path` (relative to `root`) with `flags` plus `O_CLOEXEC`, resolved as if `root`
/// were `/` and refusing every symlink on the way (`ELOOP`; `EXDEV` for an escape).
pub fn open_contained(root: impl AsFd, path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
    let mode = rustix::fs::Mode::empty();
    Ok(rustix::fs::openat2(
        root,
        path,
        flags | OFlags::CLOEXEC,
        mode,
        CONTAINED,
    )?)
}

/// A detached, close-on-exec clone of the mount at `host` (not of its submounts).
pub fn clone_tree(host: &Path) -> io::Result<OwnedFd> {
    use rustix::mount::OpenTreeFlags;
    let flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    Ok(rustix::mount::open_tree(rustix::fs::CWD, host, flags)?)
}

/// Mount attributes (`MOUNT_ATTR_*`) to set on or clear from a detached tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MountAttributes {
    pub set: u64,
    pub clear: u64,
    /// `MS_SLAVE`, `MS_PRIVATE`, ...; 0 leaves the propagation as it is.
    pub propagation: u64,
}

pub const MOUNT_ATTR_RDONLY: u64 = libc::MOUNT_ATTR_RDONLY;
pub const MOUNT_ATTR_NOSUID: u64 = libc::MOUNT_ATTR_NOSUID;
pub const MOUNT_ATTR_NODEV: u64 = libc::MOUNT_ATTR_NODEV;
pub const MOUNT_ATTR_NOEXEC: u64 = libc::MOUNT_ATTR_NOEXEC;

/// `mount_setattr` on the tree `tree` itself (rustix has no wrapper for it).
pub fn set_attributes(tree: impl AsFd, attributes: MountAttributes) -> io::Result<()> {
    let attr = libc::mount_attr {
        attr_set: attributes.set,
        attr_clr: attributes.clear,
        propagation: attributes.propagation,
        userns_fd: 0,
    };
    // SAFETY: a valid fd, an empty NUL-terminated path with AT_EMPTY_PATH, and a
    // `mount_attr` passed with its own size; the kernel only reads it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_fd().as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Attaches the detached `tree` onto the already opened `target` (`move_mount` between two
/// fds, no path resolved).
pub fn attach(tree: impl AsFd, target: impl AsFd) -> io::Result<()> {
    use rustix::mount::MoveMountFlags;
    rustix::mount::move_mount(
        tree,
        c"",
        target,
        c"",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("mountapi-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root/etc")).unwrap();
        dir
    }

    #[test]
    fn contained_paths_resolve_below_the_root_and_refuse_links() {
        let dir = scratch("contained");
        std::fs::write(dir.join("secret"), b"host").unwrap();
        std::os::unix::fs::symlink("/etc", dir.join("root/abs")).unwrap();
        std::os::unix::fs::symlink("../secret", dir.join("root/up")).unwrap();
        let root = open_root(&dir.join("root")).unwrap();

        assert!(open_contained(&root, Path::new("etc"), OFlags::PATH).is_ok());
        // `..` stops at the root: ../../etc is the root's own etc.
        assert!(open_contained(&root, Path::new("../../etc"), OFlags::DIRECTORY).is_ok());
        for link in ["abs", "up", "abs/passwd"] {
            let err = open_contained(&root, Path::new(link), OFlags::PATH).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "{link}");
        }
        let fd = open_contained(&root, Path::new("etc"), OFlags::PATH).unwrap();
        let flags = rustix::io::fcntl_getfd(&fd).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Runs `f` on a thread with a mount namespace of its own, so its mounts vanish with it.
    fn in_private_mount_ns(f: impl FnOnce() + Send) {
        std::thread::scope(|s| {
            s.spawn(|| {
                use rustix::thread::{unshare_unsafe, UnshareFlags};
                // SAFETY: only this thread's fs context and mount namespace change.
                unsafe { unshare_unsafe(UnshareFlags::FS | UnshareFlags::NEWNS) }.unwrap();
                rustix::mount::mount_change(
                    "/",
                    rustix::mount::MountPropagationFlags::PRIVATE
                        | rustix::mount::MountPropagationFlags::REC,
                )
                .unwrap();
                f()
            })
            .join()
            .unwrap()
        })
    }

    #[test]
    fn a_cloned_tree_is_attached_read_only_inside_the_root() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root for mounts");
            return;
        }
        let dir = scratch("attach");
        std::fs::create_dir_all(dir.join("host")).unwrap();
        std::fs::write(dir.join("host/file"), b"shared").unwrap();
        std::fs::create_dir_all(dir.join("root/mnt")).unwrap();
        in_private_mount_ns(|| {
            let tree = clone_tree(&dir.join("host")).unwrap();
            let attributes = MountAttributes {
                set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV,
                ..MountAttributes::default()
            };
            set_attributes(&tree, attributes).unwrap();
            let root = open_root(&dir.join("root")).unwrap();
            let target = open_contained(&root, Path::new("/mnt"), OFlags::PATH).unwrap();
            attach(&tree, &target).unwrap();
            let mounted = dir.join("root/mnt/file");
            assert_eq!(std::fs::read(&mounted).unwrap(), b"shared");
            let err = std::fs::write(&mounted, b"changed").unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EROFS));
        });
        assert!(
            !dir.join("root/mnt/file").exists(),
            "the mount left its namespace"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! Path resolution inside a container's root.

use std::ffi::OsStr;
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

const MAX_SYMLINKS: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum PathError {
    #[error("{path}: too many levels of symbolic links inside the container root")]
    Loop { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Resolve `path` as the container would see it with `root` as `/`: every symlink is
/// followed *inside* root, and `..` never climbs above it. The result is a host path
/// under `root` (the last component may not exist).
///
/// Used before the container runs, when nothing inside it can race us; tools acting on
/// a running container use `openat2(RESOLVE_IN_ROOT)` instead.
pub fn secure_join(root: &Path, path: &Path) -> Result<PathBuf, PathError> {
    let mut pending: Vec<PathBuf> = vec![path.to_path_buf()];
    let mut resolved: Vec<std::ffi::OsString> = Vec::new();
    let mut links = 0;
    while let Some(current) = pending.pop() {
        let mut components: Vec<Component> = current.components().collect();
        components.reverse();
        while let Some(c) = components.pop() {
            match c {
                Component::RootDir | Component::Prefix(_) => resolved.clear(),
                Component::CurDir => {}
                Component::ParentDir => {
                    resolved.pop();
                }
                Component::Normal(name) => {
                    let candidate: PathBuf = std::iter::once(root.as_os_str())
                        .chain(resolved.iter().map(|s| s.as_os_str()))
                        .chain(std::iter::once(name))
                        .collect();
                    match fs::symlink_metadata(&candidate) {
                        Ok(m) if m.file_type().is_symlink() => {
                            links += 1;
                            if links > MAX_SYMLINKS {
                                return Err(PathError::Loop {
                                    path: path.to_path_buf(),
                                });
                            }
                            let target =
                                fs::read_link(&candidate).map_err(|source| PathError::Io {
                                    path: candidate.clone(),
                                    source,
                                })?;
                            // Resolve the rest after the link target.
                            let rest: PathBuf = components.iter().rev().collect();
                            components.clear();
                            if !rest.as_os_str().is_empty() {
                                pending.push(rest);
                            }
                            if target.is_absolute() {
                                resolved.clear();
                            }
                            pending.push(target);
                            break;
                        }
                        _ => resolved.push(name.to_os_string()),
                    }
                }
            }
        }
    }
    let mut out = root.to_path_buf();
    for part in resolved {
        out.push(part);
    }
    Ok(out)
}

/// Create `path` (a host path already resolved inside the root) as a directory or an
/// empty file, with missing parents, so that something can be mounted on it.
pub fn ensure_mount_point(path: &Path, as_dir: bool) -> std::io::Result<()> {
    if fs::symlink_metadata(path).is_ok() {
        return Ok(());
    }
    if as_dir {
        fs::create_dir_all(path)
    } else {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map(|_| ())
    }
}

/// A path as bytes, for syscalls.
pub fn c_path(path: &Path) -> std::ffi::CString {
    std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap_or_default()
}

pub fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// Open `path` inside the directory tree `root` (typically `/proc/PID/root` of a running
/// container) with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`: absolute symlinks
/// and `..` planted by the container resolve inside its root, never on the host.
pub fn open_in_root(
    root: &Path,
    path: &Path,
    flags: nix::fcntl::OFlag,
) -> std::io::Result<std::os::fd::OwnedFd> {
    use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
    use std::os::fd::{FromRawFd, OwnedFd};
    let dir = nix::fcntl::open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    // SAFETY: a fresh descriptor we own.
    let dir = unsafe { OwnedFd::from_raw_fd(dir) };
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let fd = openat2(dir.as_raw_fd(), path, how)?;
    // SAFETY: a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Symlinks followed at the last component by [`resolve_parent_in_root`].
const MAX_FINAL_LINKS: usize = 40;

fn cstring(name: &OsStr) -> std::io::Result<std::ffi::CString> {
    std::ffi::CString::new(name.as_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
}

fn cvt(ret: libc::c_int) -> std::io::Result<libc::c_int> {
    if ret < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// The directory holding `path` (as the container sees it, relative to `root`) and the
/// name in it, both resolved inside `root`: the directory with
/// `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`, and a symlink at the last
/// component followed (inside `root` again) until the name is not a link. The caller then
/// acts only relative to the returned directory fd, with `O_NOFOLLOW`, so nothing the
/// container plants can make it touch a host path.
pub fn resolve_parent_in_root(
    root: &Path,
    path: &Path,
) -> std::io::Result<(std::os::fd::OwnedFd, std::ffi::OsString)> {
    use nix::fcntl::OFlag;
    let mut path = Path::new("/").join(path);
    for _ in 0..MAX_FINAL_LINKS {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(std::io::Error::from_raw_os_error(libc::EISDIR));
        };
        let dir = open_in_root(root, parent, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
        let c = cstring(name)?;
        let mut buf = vec![0u8; libc::PATH_MAX as usize];
        // SAFETY: readlinkat on our dir fd, a NUL-terminated name and a sized buffer.
        let n = unsafe {
            libc::readlinkat(
                dir.as_raw_fd(),
                c.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            return match e.raw_os_error() {
                // Not a link (EINVAL) or not there yet: this is the file.
                Some(libc::EINVAL) | Some(libc::ENOENT) => Ok((dir, name.to_os_string())),
                _ => Err(e),
            };
        }
        buf.truncate(n as usize);
        let target = PathBuf::from(std::ffi::OsString::from_vec(buf));
        path = parent.join(target);
    }
    Err(std::io::Error::from_raw_os_error(libc::ELOOP))
}

/// `/proc/self/fd/N`: `mount(2)` follows this magic link to exactly the object `fd` is,
/// whatever happens to its name afterwards.
pub fn proc_fd_path(fd: std::os::fd::BorrowedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// The mount ID of the mount `fd` lies on and whether `fd` is that mount's root.
fn mount_of(fd: std::os::fd::BorrowedFd) -> std::io::Result<(u64, bool)> {
    // SAFETY: a zeroed statx is a valid out-buffer.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: statx of our fd itself (AT_EMPTY_PATH) into our buffer.
    cvt(unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
            libc::STATX_MNT_ID,
            &mut stx,
        )
    })?;
    let is_root = stx.stx_attributes & libc::STATX_ATTR_MOUNT_ROOT as u64 != 0;
    Ok((stx.stx_mnt_id, is_root))
}

/// A mount point inside a container's root, held open (`O_PATH`) with the directory it is
/// in. Mounting through [`MountTarget::proc_path`] puts the mount on this very object: a
/// directory swapped for a symlink after the check (CVE-2021-30465) cannot redirect it.
#[derive(Debug)]
pub struct MountTarget {
    dir: std::os::fd::OwnedFd,
    name: std::ffi::OsString,
    fd: std::os::fd::OwnedFd,
}

impl MountTarget {
    pub fn proc_path(&self) -> PathBuf {
        use std::os::fd::AsFd;
        proc_fd_path(self.fd.as_fd())
    }

    pub fn is_dir(&self) -> std::io::Result<bool> {
        Ok(nix::sys::stat::fstat(self.fd.as_raw_fd())?.st_mode & libc::S_IFMT == libc::S_IFDIR)
    }

    /// The root of the mount just made on this target (a remount or a propagation change
    /// needs the mount's root, which the held fd lies below). Refused unless the name now
    /// leads to a mount root other than the mount the target was on.
    pub fn mounted_root(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::{AsFd, FromRawFd, OwnedFd};
        let (under, _) = mount_of(self.fd.as_fd())?;
        let c = cstring(&self.name)?;
        // SAFETY: openat on our dir fd with a NUL-terminated name.
        let fd = cvt(unsafe {
            libc::openat(
                self.dir.as_raw_fd(),
                c.as_ptr(),
                libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        })?;
        // SAFETY: a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        match mount_of(fd.as_fd())? {
            (id, true) if id != under => Ok(fd),
            _ => Err(std::io::Error::other(
                "the mount point changed while it was mounted on",
            )),
        }
    }
}

/// Open the mount point `path` (as the container sees it) below `root` for a mount:
/// resolved inside `root` like [`resolve_parent_in_root`] (a symlink at the end is followed,
/// inside `root`), created when missing if `create` says as what (`Some(true)`: a directory,
/// with missing parents), and opened with `O_PATH | O_NOFOLLOW` relative to its directory,
/// so nothing the container swaps in meanwhile can make it a host path.
pub fn open_mount_target(
    root: &Path,
    path: &Path,
    create: Option<bool>,
) -> std::io::Result<MountTarget> {
    use nix::fcntl::OFlag;
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut path = Path::new("/").join(path);
    for _ in 0..MAX_FINAL_LINKS {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(std::io::Error::from_raw_os_error(libc::EISDIR));
        };
        let dir = match open_in_root(root, parent, OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
            Err(e) if create.is_some() && e.raw_os_error() == Some(libc::ENOENT) => {
                open_mount_target(root, parent, Some(true))?;
                continue;
            }
            other => other?,
        };
        let c = cstring(name)?;
        // SAFETY: openat on our dir fd with a NUL-terminated name.
        let fd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                c.as_ptr(),
                libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            let e = std::io::Error::last_os_error();
            match (e.raw_os_error(), create) {
                (Some(libc::ENOENT), Some(as_dir)) => create_at(&dir, &c, as_dir)?,
                _ => return Err(e),
            }
            continue;
        }
        // SAFETY: a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        match link_target(&fd)? {
            // A link at the end is followed, inside the root again.
            Some(target) => path = parent.join(target),
            None => {
                return Ok(MountTarget {
                    dir,
                    name: name.to_os_string(),
                    fd,
                })
            }
        }
    }
    Err(std::io::Error::from_raw_os_error(libc::ELOOP))
}

/// The target of the symlink `fd` (opened `O_PATH | O_NOFOLLOW`), or `None` for anything else.
fn link_target(fd: &std::os::fd::OwnedFd) -> std::io::Result<Option<PathBuf>> {
    let st = nix::sys::stat::fstat(fd.as_raw_fd())?;
    if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
        return Ok(None);
    }
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: readlinkat of the link fd itself (empty path) into a sized buffer.
    let n = unsafe {
        libc::readlinkat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(Some(PathBuf::from(std::ffi::OsString::from_vec(buf))))
}

/// Make an empty directory or file `name` in `dir` (never through a link); one that
/// appeared meanwhile is fine.
fn create_at(
    dir: &std::os::fd::OwnedFd,
    name: &std::ffi::CStr,
    as_dir: bool,
) -> std::io::Result<()> {
    // SAFETY: mkdirat/openat on our dir fd with a NUL-terminated name.
    let ret = unsafe {
        if as_dir {
            libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o755)
        } else {
            let fd = libc::openat(
                dir.as_raw_fd(),
                name.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0o644 as libc::c_uint,
            );
            if fd >= 0 {
                libc::close(fd);
            }
            fd.min(0)
        }
    };
    match cvt(ret) {
        Err(e) if e.raw_os_error() != Some(libc::EEXIST) => Err(e),
        _ => Ok(()),
    }
}

/// Metadata of `name` in `dir`, without following a symlink.
pub fn stat_at(dir: std::os::fd::BorrowedFd, name: &OsStr) -> std::io::Result<libc::stat> {
    let c = cstring(name)?;
    // SAFETY: a zeroed stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstatat on our dir fd with a NUL-terminated name.
    cvt(unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            c.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    Ok(st)
}

/// Open `name` in `dir` for reading, refusing a symlink (`O_NOFOLLOW`).
pub fn open_read_at(dir: std::os::fd::BorrowedFd, name: &OsStr) -> std::io::Result<fs::File> {
    use std::os::fd::FromRawFd;
    let c = cstring(name)?;
    // SAFETY: openat on our dir fd with a NUL-terminated name.
    let fd = cvt(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: a fresh descriptor we own.
    Ok(unsafe { fs::File::from_raw_fd(fd) })
}

/// Replace `name` in `dir` atomically with `data`, owned by `owner` with `mode`: a new
/// temporary file made with `O_CREAT | O_EXCL | O_NOFOLLOW` (so a planted file or link
/// at its name is never opened), written, fsynced and renamed over `name` (a link at
/// `name` is replaced, not followed).
pub fn replace_at(
    dir: std::os::fd::BorrowedFd,
    name: &OsStr,
    data: &[u8],
    mode: u32,
    owner: (u32, u32),
) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    let target = cstring(name)?;
    let mut attempt = 0u32;
    let (tmp, mut file) = loop {
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp{}.{attempt}", std::process::id()));
        let tmp = cstring(&tmp_name)?;
        // SAFETY: openat on our dir fd with a NUL-terminated name.
        let fd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                tmp.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0o600 as libc::c_uint,
            )
        };
        if fd >= 0 {
            // SAFETY: a fresh descriptor we own.
            break (tmp, unsafe { fs::File::from_raw_fd(fd) });
        }
        let e = std::io::Error::last_os_error();
        attempt += 1;
        if e.raw_os_error() != Some(libc::EEXIST) || attempt >= 100 {
            return Err(e);
        }
    };
    let written = (|| {
        // Owner first: chown clears set-id bits that the chmod then sets.
        // SAFETY: fchown on our own fd.
        cvt(unsafe { libc::fchown(file.as_raw_fd(), owner.0, owner.1) })?;
        // SAFETY: fchmod on our own fd.
        cvt(unsafe { libc::fchmod(file.as_raw_fd(), mode & 0o7777) })?;
        file.write_all(data)?;
        file.sync_all()?;
        // SAFETY: renameat within our dir fd with NUL-terminated names.
        cvt(unsafe {
            libc::renameat(
                dir.as_raw_fd(),
                tmp.as_ptr(),
                dir.as_raw_fd(),
                target.as_ptr(),
            )
        })
    })();
    if let Err(e) = written {
        // SAFETY: unlinkat of our own temporary name in our dir fd.
        unsafe { libc::unlinkat(dir.as_raw_fd(), tmp.as_ptr(), 0) };
        return Err(e);
    }
    // SAFETY: fsync of the directory so that the rename is durable.
    unsafe { libc::fsync(dir.as_raw_fd()) };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_stay_inside_the_root() {
        let root = std::env::temp_dir().join(format!("sc-join-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::create_dir_all(root.join("lib/systemd")).unwrap();
        symlink("/etc/passwd", root.join("abs")).unwrap();
        symlink("../../../../../etc", root.join("lib/up")).unwrap();
        symlink("/lib/systemd/systemd", root.join("init")).unwrap();
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();

        assert_eq!(
            secure_join(&root, Path::new("/abs")).unwrap(),
            root.join("etc/passwd")
        );
        assert_eq!(
            secure_join(&root, Path::new("/lib/up/shadow")).unwrap(),
            root.join("etc/shadow")
        );
        assert_eq!(
            secure_join(&root, Path::new("/../../x")).unwrap(),
            root.join("x")
        );
        assert_eq!(
            secure_join(&root, Path::new("init")).unwrap(),
            root.join("lib/systemd/systemd")
        );
        assert!(matches!(
            secure_join(&root, Path::new("/loop1")),
            Err(PathError::Loop { .. })
        ));
        fs::remove_dir_all(&root).unwrap();
    }
}

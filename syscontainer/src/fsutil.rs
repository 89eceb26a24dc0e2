//! Path resolution inside a container's root.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
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
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
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

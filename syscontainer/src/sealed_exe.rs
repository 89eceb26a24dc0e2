//! CVE-2019-5736: a process of the runtime that enters a container's PID namespace (the
//! `exec` child, from `fork` to `execve`) can be named there by `/proc/PID/exe`, and a
//! container root with `CAP_SYS_PTRACE` can open that. If it is the host's binary, the
//! container keeps the handle until no process runs the binary any more and then rewrites
//! it. So such a process runs from a view the container cannot write: the binary seen
//! through a private overlayfs made of read-only lower layers only (no copy; such an
//! overlay cannot be made writable, not even by remounting it), or, where overlayfs is not
//! available, a sealed `memfd` copy. `exec` starts its exec stage that way
//! ([`protected_view`]); `syscontainer-oci exec` re-executes itself ([`reexec_sealed`]).

use std::ffi::{CString, OsString};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub use exec_stage::protected::MARKER;
use exec_stage::protected::SEALS;
/// The empty second lower layer overlayfs needs to be read-only ("lower-only").
const EMPTY_LOWER: &str = "/run/syscontainer/.sealed-exe";

const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("protect the runtime binary: {what}: {source}")]
    Sys {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("protect the runtime binary: the re-executed binary is still the host's")]
    NotSealed,
}

fn sys(what: &'static str) -> impl FnOnce(std::io::Error) -> SealError {
    move |source| SealError::Sys { what, source }
}

fn cvt(ret: libc::c_long) -> std::io::Result<libc::c_long> {
    if ret < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Whether this process runs from a protected copy (our overlay or a sealed memfd).
pub fn running_sealed() -> bool {
    exec_stage::protected::running_protected()
}

/// Re-execute this process (same arguments and environment) from a protected copy of its
/// binary, unless it already runs from one. Returns only when it does, or on failure.
pub fn reexec_sealed() -> Result<(), SealError> {
    if running_sealed() {
        return Ok(());
    }
    if std::env::var_os(MARKER).is_some() {
        return Err(SealError::NotSealed);
    }
    let real: PathBuf = std::fs::read_link("/proc/self/exe").map_err(sys("read /proc/self/exe"))?;
    let exe = match overlay_view(&real) {
        Ok(fd) => fd,
        Err(e) => {
            tracing::debug!("{e}; copying the binary into a sealed memfd instead");
            memfd_copy(Path::new("/proc/self/exe"))?
        }
    };
    let args: Vec<CString> = std::env::args_os().map(c_string).collect();
    let mut env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            c_string(kv)
        })
        .collect();
    env.push(c_string(OsString::from(format!("{MARKER}=1"))));
    let argv: Vec<*const libc::c_char> = args
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp: Vec<*const libc::c_char> = env
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    // SAFETY: execveat of our fd with NUL-terminated, NULL-ended argument and environment
    // arrays that outlive the call; it returns only on failure.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            exe.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Err(sys("execveat")(std::io::Error::last_os_error()))
}

fn c_string(s: OsString) -> CString {
    CString::new(s.as_bytes()).unwrap_or_default()
}

/// overlayfs lower directories are separated by `:`, with `\` escaping.
fn escape_lower(path: &Path) -> String {
    path.to_string_lossy()
        .replace('\\', "\\\\")
        .replace(':', "\\:")
}

fn fsconfig_string(ctx: &OwnedFd, key: &std::ffi::CStr, value: &str) -> std::io::Result<()> {
    let value = CString::new(value).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: fsconfig on our fs context with NUL-terminated key and value.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_raw_fd(),
            FSCONFIG_SET_STRING,
            key.as_ptr(),
            value.as_ptr(),
            0,
        )
    })
    .map(drop)
}

/// An `O_PATH` descriptor of `binary` to `execveat`, through a view the container cannot
/// write: the overlay view, or (without overlayfs) a sealed memfd copy. The new program
/// finds [`MARKER`] in its environment only if the caller puts it there.
pub fn protected_view(binary: &Path) -> Result<OwnedFd, SealError> {
    match overlay_view(binary) {
        Ok(fd) => Ok(fd),
        Err(e) => {
            tracing::debug!("{e}; copying the binary into a sealed memfd instead");
            memfd_copy(binary)
        }
    }
}

/// `binary` seen through a detached, read-only overlayfs whose lower layers are the
/// binary's directory and an empty directory.
fn overlay_view(binary: &Path) -> Result<OwnedFd, SealError> {
    let (Some(dir), Some(name)) = (binary.parent(), binary.file_name()) else {
        return Err(sys("locate the binary")(std::io::Error::from_raw_os_error(
            libc::ENOENT,
        )));
    };
    std::fs::create_dir_all(EMPTY_LOWER).map_err(sys("create the empty lower layer"))?;
    // SAFETY: fsopen with a NUL-terminated file system name.
    let ctx = cvt(unsafe { libc::syscall(libc::SYS_fsopen, c"overlay".as_ptr(), FSOPEN_CLOEXEC) })
        .map_err(sys("fsopen overlay"))?;
    // SAFETY: a fresh descriptor we own.
    let ctx = unsafe { OwnedFd::from_raw_fd(ctx as i32) };
    let lower = format!(
        "{}:{}",
        escape_lower(dir),
        escape_lower(Path::new(EMPTY_LOWER))
    );
    fsconfig_string(&ctx, c"lowerdir", &lower).map_err(sys("overlay lowerdir"))?;
    // Only to keep overlayfs quiet about inode numbers across file systems.
    let _ = fsconfig_string(&ctx, c"xino", "off");
    // SAFETY: fsconfig CMD_CREATE on our fs context.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    })
    .map_err(sys("create the overlay"))?;
    let attrs = libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOSUID;
    // SAFETY: fsmount of our fs context.
    let mnt =
        cvt(unsafe { libc::syscall(libc::SYS_fsmount, ctx.as_raw_fd(), FSMOUNT_CLOEXEC, attrs) })
            .map_err(sys("fsmount the overlay"))?;
    // SAFETY: a fresh descriptor we own.
    let mnt = unsafe { OwnedFd::from_raw_fd(mnt as i32) };
    let name = CString::new(name.as_bytes())
        .map_err(|_| sys("binary name")(std::io::Error::from_raw_os_error(libc::EINVAL)))?;
    // SAFETY: openat below our mount fd with a NUL-terminated name.
    let fd = cvt(unsafe {
        libc::openat(
            mnt.as_raw_fd(),
            name.as_ptr(),
            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    } as libc::c_long)
    .map_err(sys("open the binary in the overlay"))?;
    // SAFETY: a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// A sealed (no write, grow or shrink, no new seals) memfd copy of `binary`.
fn memfd_copy(binary: &Path) -> Result<OwnedFd, SealError> {
    // SAFETY: memfd_create with a NUL-terminated name.
    let fd = cvt(unsafe {
        libc::memfd_create(
            c"syscontainer".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    } as libc::c_long)
    .map_err(sys("memfd_create"))?;
    // SAFETY: a fresh descriptor we own.
    let copy = unsafe { std::fs::File::from_raw_fd(fd as i32) };
    let mut exe = std::fs::File::open(binary).map_err(sys("open the binary"))?;
    let mut writer = &copy;
    let mut buf = Vec::new();
    exe.read_to_end(&mut buf).map_err(sys("read the binary"))?;
    std::io::Write::write_all(&mut writer, &buf).map_err(sys("copy the binary"))?;
    // SAFETY: F_ADD_SEALS on our own memfd.
    cvt(unsafe { libc::fcntl(copy.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } as libc::c_long)
        .map_err(sys("seal the copy"))?;
    Ok(OwnedFd::from(copy))
}

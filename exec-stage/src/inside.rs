//! Steps of a process that runs inside a container, right before it execs.

use std::ffi::CString;
use std::path::{Path, PathBuf};

/// chdir to `cwd`, and refuse a working directory outside the container's root (such as a
/// descriptor of the runtime's reached through `/proc/self/fd`).
pub fn chdir_inside(cwd: &Path) -> Result<(), String> {
    nix::unistd::chdir(cwd).map_err(|e| format!("chdir {}: {e}", cwd.display()))?;
    match nix::unistd::getcwd() {
        Ok(now) if now.is_absolute() => Ok(()),
        _ => Err(format!(
            "chdir {}: the working directory is outside the container",
            cwd.display()
        )),
    }
}

/// `execve` arguments or environment (a string with a NUL byte becomes empty).
pub fn c_strings(items: &[String]) -> Vec<CString> {
    items
        .iter()
        .map(|s| CString::new(s.as_bytes()).unwrap_or_default())
        .collect()
}

/// Mark every descriptor from 3 up close-on-exec.
pub fn mark_fds_cloexec() {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
}

/// Look a program up in the container's PATH (the spec's env, not ours).
pub fn find_executable(program: &str, env: &[String]) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    path.split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
        })
}

/// Set one resource limit (`resource` is a `libc::RLIMIT_*` number) on the calling process.
pub fn set_rlimit(resource: u32, soft: u64, hard: u64) -> std::io::Result<()> {
    let value = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit with a pointer to a live struct; the kernel checks the resource.
    if unsafe { libc::setrlimit(resource as _, &value) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

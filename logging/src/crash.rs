//! Named crash points for the crash-matrix test (tests/tests/crash.rs).
//!
//! A multi-step operation calls [`crash_point`] between its steps. In a debug build (the
//! integration tests run the debug binaries) the process whose
//! `SYSCONTAINER_CRASH_POINT` names the point SIGKILLs itself there, as a power cut or an
//! OOM kill would. If `SYSCONTAINER_CRASH_MARK` names a file, the point's name is
//! appended to it first, so the test knows the point was reached, and a point the file
//! lists already is passed: each point kills once, so the commands that repair the crash
//! can run with the same environment (a hook's environment is fixed in the container's
//! spec). A release build compiles every point to nothing.
//!
//! The test finds the points by reading the sources for `crash_point("…")`, so a new
//! point cannot be left out of the matrix.
//!
//! A [`stop_point`] is the same for a test that must look at a process at one instant: the
//! process whose `SYSCONTAINER_STOP_POINT` names the point stops itself there (SIGSTOP) until
//! the test sends SIGCONT. Debug builds only, too.

/// The environment variable naming the point to die at.
pub const CRASH_POINT_ENV: &str = "SYSCONTAINER_CRASH_POINT";
/// The environment variable naming a file to append a reached point's name to.
pub const CRASH_MARK_ENV: &str = "SYSCONTAINER_CRASH_MARK";

/// The environment variable naming the point to stop at.
pub const STOP_POINT_ENV: &str = "SYSCONTAINER_STOP_POINT";

/// Stop here (SIGSTOP, until a SIGCONT) if this is the point the environment names.
#[inline]
pub fn stop_point(name: &str) {
    #[cfg(debug_assertions)]
    if std::env::var_os(STOP_POINT_ENV).is_some_and(|p| p == name) {
        // SAFETY: signalling ourselves.
        unsafe { libc::raise(libc::SIGSTOP) };
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}

/// Die here (SIGKILL, no clean-up of any kind) if this is the point the environment names.
#[inline]
pub fn crash_point(name: &str) {
    #[cfg(debug_assertions)]
    if std::env::var_os(CRASH_POINT_ENV).is_some_and(|p| p == name) && !reached_before(name) {
        die_at(name);
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}

#[cfg(debug_assertions)]
fn reached_before(name: &str) -> bool {
    std::env::var_os(CRASH_MARK_ENV)
        .and_then(|mark| std::fs::read_to_string(mark).ok())
        .is_some_and(|text| text.lines().any(|l| l == name))
}

#[cfg(debug_assertions)]
fn die_at(name: &str) -> ! {
    use std::io::Write;
    // Also on stderr: a process inside a container's mount namespace cannot reach the
    // mark file, but its parent passes its stderr on.
    let _ = writeln!(std::io::stderr(), "crash point {name}: SIGKILL");
    if let Some(mark) = std::env::var_os(CRASH_MARK_ENV) {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(mark)
        {
            let _ = writeln!(f, "{name}");
            let _ = f.sync_all();
        }
    }
    // SAFETY: signalling ourselves; SIGKILL cannot be caught, so this does not return.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_not_named_does_nothing() {
        crash_point("test:never");
    }

    #[test]
    #[cfg(debug_assertions)]
    fn the_named_point_kills_the_process_and_leaves_its_mark() {
        let dir = tempfile::tempdir().unwrap();
        let mark = dir.path().join("mark");
        let exe = std::env::current_exe().unwrap();
        let status = std::process::Command::new(exe)
            .args([
                "--exact",
                "crash::tests::child_dies_at_its_point",
                "--nocapture",
            ])
            .env(CRASH_POINT_ENV, "test:here")
            .env(CRASH_MARK_ENV, &mark)
            .status()
            .unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
        assert_eq!(std::fs::read_to_string(&mark).unwrap(), "test:here\n");
        // Once marked, the point is passed.
        let again = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash::tests::child_dies_at_its_point"])
            .env(CRASH_POINT_ENV, "test:here")
            .env(CRASH_MARK_ENV, &mark)
            .status()
            .unwrap();
        assert!(again.success(), "{again:?}");
    }

    /// Run by the test above in a child process with the point named.
    #[test]
    fn child_dies_at_its_point() {
        crash_point("test:here");
    }

    #[test]
    #[cfg(debug_assertions)]
    fn the_named_stop_point_stops_the_process_until_sigcont() {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash::tests::child_stops_at_its_point"])
            .env(STOP_POINT_ENV, "test:stop")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id() as libc::pid_t;
        let mut status = 0;
        // SAFETY: waiting for our own child; WUNTRACED reports it stopped.
        let waited = unsafe { libc::waitpid(pid, &mut status, libc::WUNTRACED) };
        assert_eq!(waited, pid);
        assert!(libc::WIFSTOPPED(status), "status {status:#x}");
        assert_eq!(libc::WSTOPSIG(status), libc::SIGSTOP);
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid, libc::SIGCONT) };
        let exit = child.wait().unwrap();
        assert!(exit.success(), "{exit:?}");
    }

    /// Run by the test above in a child process with the point named; other points pass.
    #[test]
    fn child_stops_at_its_point() {
        stop_point("test:elsewhere");
        stop_point("test:stop");
    }
}

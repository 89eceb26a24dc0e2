//! OCI hooks: the `--hook-spec` file format, its checks, and running hooks with the
//! container's OCI state on stdin.
//!
//! Grammar of a hook spec file (JSON, at most 10 MB):
//! `{"prestart":[HOOK...],"poststart":[HOOK...],"poststop":[HOOK...]}` with
//! `HOOK = {"path": "/abs/exe", "args": ["exe", ...], "env": ["K=V", ...], "timeout": N}`.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::{Hook, HookBuilder, Hooks, HooksBuilder};
use serde::{Deserialize, Serialize};

use crate::trusted_file::{check_trusted_file, read_trusted_file};

const MAX_SPEC_BYTES: u64 = 10 << 20;

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("hook spec {path}: {reason}")]
    Spec { path: PathBuf, reason: String },
    #[error("hook {path}: {reason}")]
    Hook { path: PathBuf, reason: String },
    #[error("{stage} hook {path} failed: {reason}")]
    Failed {
        stage: HookStage,
        path: PathBuf,
        reason: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HookSpecFile {
    #[serde(default)]
    prestart: Vec<HookEntry>,
    #[serde(default)]
    poststart: Vec<HookEntry>,
    #[serde(default)]
    poststop: Vec<HookEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HookEntry {
    path: PathBuf,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: Vec<String>,
    timeout: Option<serde_json::Value>,
}

/// Check that a hook program may be run by root: absolute, existing, a regular
/// executable file, owned by root and writable by nobody else.
pub fn check_hook_program(path: &Path) -> Result<(), HookError> {
    let bad = |reason: String| HookError::Hook {
        path: path.to_path_buf(),
        reason,
    };
    let meta = check_trusted_file(path).map_err(|e| bad(e.to_string()))?;
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(bad("is not executable".into()));
    }
    Ok(())
}

/// Parse and check a hook spec file (a root-owned file of at most 10 MB that nobody else can
/// write, as its programs), returning OCI hooks.
pub fn load_hook_spec(path: &Path) -> Result<Hooks, HookError> {
    let bad = |reason: String| HookError::Spec {
        path: path.to_path_buf(),
        reason,
    };
    let text = read_trusted_file(path, MAX_SPEC_BYTES).map_err(|e| bad(e.to_string()))?;
    let file: HookSpecFile =
        serde_json::from_slice(&text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    let convert = |entries: Vec<HookEntry>| -> Result<Vec<Hook>, HookError> {
        entries
            .into_iter()
            .map(|e| {
                check_hook_program(&e.path)?;
                let timeout = match e.timeout {
                    None => None,
                    Some(serde_json::Value::Number(n)) if n.as_i64().is_some_and(|t| t > 0) => {
                        n.as_i64()
                    }
                    Some(other) => {
                        return Err(HookError::Hook {
                            path: e.path.clone(),
                            reason: format!("timeout {other} must be an integer greater than 0"),
                        })
                    }
                };
                let mut b = HookBuilder::default().path(e.path.clone());
                if !e.args.is_empty() {
                    b = b.args(e.args);
                }
                if !e.env.is_empty() {
                    b = b.env(e.env);
                }
                if let Some(t) = timeout {
                    b = b.timeout(t);
                }
                b.build().map_err(|err| HookError::Hook {
                    path: e.path,
                    reason: err.to_string(),
                })
            })
            .collect()
    };
    HooksBuilder::default()
        .prestart(convert(file.prestart)?)
        .poststart(convert(file.poststart)?)
        .poststop(convert(file.poststop)?)
        .build()
        .map_err(|e| bad(e.to_string()))
}

/// Daemon-wide hooks first, then the container's.
pub fn merge(first: Option<Hooks>, second: Option<Hooks>) -> Option<Hooks> {
    match (first, second) {
        (None, h) | (h, None) => h,
        (Some(a), Some(b)) => {
            let join = |x: &Option<Vec<Hook>>, y: &Option<Vec<Hook>>| {
                let mut v = x.clone().unwrap_or_default();
                v.extend(y.clone().unwrap_or_default());
                v
            };
            HooksBuilder::default()
                .prestart(join(a.prestart(), b.prestart()))
                .poststart(join(a.poststart(), b.poststart()))
                .poststop(join(a.poststop(), b.poststop()))
                .build()
                .ok()
        }
    }
}

/// When in the container's life a hook runs (the keys of a hook spec file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HookStage {
    /// After the rootfs is mounted, before the pivot into it.
    Prestart,
    /// OCI `createRuntime`: as prestart, in the runtime's namespaces.
    #[serde(rename = "createRuntime")]
    CreateRuntime,
    /// OCI `createContainer`: after createRuntime, in the container's namespaces, before
    /// the pivot.
    #[serde(rename = "createContainer")]
    CreateContainer,
    /// OCI `startContainer`: in the container, after `start`, before the exec.
    #[serde(rename = "startContainer")]
    StartContainer,
    /// After PID 1 exec'd.
    Poststart,
    /// After PID 1 ended, or after a failed create.
    Poststop,
}

impl HookStage {
    pub fn as_str(self) -> &'static str {
        match self {
            HookStage::Prestart => "prestart",
            HookStage::CreateRuntime => "createRuntime",
            HookStage::CreateContainer => "createContainer",
            HookStage::StartContainer => "startContainer",
            HookStage::Poststart => "poststart",
            HookStage::Poststop => "poststop",
        }
    }
}

impl std::fmt::Display for HookStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The OCI state a hook reads on stdin.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState {
    pub oci_version: String,
    pub id: String,
    pub status: crate::state::OciStatus,
    pub pid: i32,
    pub bundle: PathBuf,
    /// The rootfs on the host.
    pub root: PathBuf,
    pub annotations: std::collections::BTreeMap<String, String>,
}

impl OciState {
    /// The state of a stored container as the OCI runtime spec words it.
    pub fn of(
        config: &crate::config::ContainerConfig,
        spec: &oci_spec::runtime::Spec,
        bundle: PathBuf,
        status: crate::state::OciStatus,
        pid: i32,
    ) -> OciState {
        OciState {
            oci_version: spec.version().clone(),
            id: config.id.clone(),
            status,
            pid,
            bundle,
            root: config.rootfs.clone(),
            annotations: spec
                .annotations()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
        }
    }
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// Run hooks in order; stops at the first failure. Hook stderr is returned with the
/// error (and logged); stdout is discarded.
pub fn run_hooks(stage: HookStage, hooks: &[Hook], state: &OciState) -> Result<(), HookError> {
    let input = serde_json::to_vec(state).unwrap_or_default();
    for hook in hooks {
        run_one(stage, hook, &input)?;
    }
    Ok(())
}

fn run_one(stage: HookStage, hook: &Hook, input: &[u8]) -> Result<(), HookError> {
    let fail = |reason: String| HookError::Failed {
        stage,
        path: hook.path().clone(),
        reason,
    };
    let args = hook
        .args()
        .clone()
        .unwrap_or_else(|| vec![hook.path().display().to_string()]);
    let mut cmd = Command::new(hook.path());
    {
        use std::os::unix::process::CommandExt;
        if let Some(argv0) = args.first() {
            cmd.arg0(argv0);
        }
        // Its own process group, so that a timeout ends the hook's children too.
        cmd.process_group(0);
    }
    cmd.args(args.iter().skip(1))
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for kv in hook.env().clone().unwrap_or_default() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    let mut child = cmd.spawn().map_err(|e| fail(format!("cannot run: {e}")))?;
    let timeout = hook
        .timeout()
        .map(|t| Duration::from_secs(t as u64))
        .unwrap_or(DEFAULT_TIMEOUT);
    let deadline = Instant::now() + timeout;
    // The state goes in and stderr comes out by non-blocking I/O inside the wait loop,
    // not by blocking calls or helper threads: a hook that never reads its stdin (with a
    // state larger than the pipe buffer) or leaves a child holding stderr open cannot
    // outlast its timeout, and the monitor stays single-threaded for its next clone.
    let mut stdin = child.stdin.take();
    let mut stderr = child.stderr.take();
    if let Some(fd) = &stdin {
        set_nonblocking(fd.as_raw_fd());
    }
    if let Some(fd) = &stderr {
        set_nonblocking(fd.as_raw_fd());
    }
    let mut pending = input;
    let mut err_bytes = Vec::new();
    let status = loop {
        if let Some(w) = stdin.as_mut() {
            match w.write(pending) {
                Ok(n) => pending = &pending[n..],
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                    ) => {}
                // EPIPE: the hook does not want its state; that is its business.
                Err(_) => pending = &[],
            }
            if pending.is_empty() {
                // Closing the pipe is the hook's end of input.
                stdin = None;
            }
        }
        drain(&mut stderr, &mut err_bytes);
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                // SAFETY: SIGKILL to the hook's own process group (its pid, see above).
                unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!("timed out after {}s", timeout.as_secs())));
            }
            Ok(None) => wait_io(stdin.as_ref(), stderr.as_ref()),
            Err(e) => return Err(fail(e.to_string())),
        }
    };
    drain(&mut stderr, &mut err_bytes);
    let err_text = String::from_utf8_lossy(&err_bytes).into_owned();
    if !err_text.trim().is_empty() {
        tracing::warn!(hook = %hook.path().display(), %stage, "{}", err_text.trim());
        eprint!("{err_text}");
    }
    if !status.success() {
        let detail = err_text.trim();
        return Err(fail(if detail.is_empty() {
            status.to_string()
        } else {
            format!("{status}: {detail}")
        }));
    }
    Ok(())
}

/// Most of a hook's stderr kept for the error message and the log.
const MAX_HOOK_STDERR: usize = 1 << 20;

fn set_nonblocking(fd: std::os::fd::RawFd) {
    // SAFETY: fcntl on a pipe end we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
}

/// Read what a hook's stderr has now (non-blocking); `None` once it is closed.
fn drain(stderr: &mut Option<std::process::ChildStderr>, into: &mut Vec<u8>) {
    let Some(r) = stderr.as_mut() else {
        return;
    };
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf) {
            Ok(0) => {
                *stderr = None;
                return;
            }
            Ok(n) => {
                let room = MAX_HOOK_STDERR.saturating_sub(into.len());
                into.extend_from_slice(&buf[..n.min(room)]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(_) => {
                *stderr = None;
                return;
            }
        }
    }
}

/// Sleep until the hook can take more input or has more stderr, at most 5 ms (its exit
/// is polled with `try_wait`).
fn wait_io(stdin: Option<&std::process::ChildStdin>, stderr: Option<&std::process::ChildStderr>) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let mut fds = Vec::new();
    if let Some(w) = stdin {
        fds.push(PollFd::new(w.as_fd(), PollFlags::POLLOUT));
    }
    if let Some(r) = stderr {
        fds.push(PollFd::new(r.as_fd(), PollFlags::POLLIN));
    }
    if fds.is_empty() {
        std::thread::sleep(Duration::from_millis(5));
    } else {
        let _ = poll(&mut fds, PollTimeout::from(5u8));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell_hook(script: &str, timeout: i64) -> Hook {
        HookBuilder::default()
            .path("/bin/sh")
            .args(vec!["sh".to_string(), "-c".to_string(), script.to_string()])
            .timeout(timeout)
            .build()
            .unwrap()
    }

    #[test]
    fn a_hook_that_never_reads_a_big_state_times_out() {
        let big = vec![b'x'; 4 << 20];
        let (tx, rx) = std::sync::mpsc::channel();
        let input = big.clone();
        std::thread::spawn(move || {
            let _ = tx.send(run_one(
                HookStage::Prestart,
                &shell_hook("sleep 30", 1),
                &input,
            ));
        });
        let err = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the hook outlived its 1 s timeout")
            .unwrap_err()
            .to_string();
        assert!(err.contains("timed out after 1s"), "{err}");
        // One that closes its stdin at once is not an error (EPIPE is ignored).
        run_one(
            HookStage::Prestart,
            &shell_hook("exec 0<&-; sleep 0.2", 5),
            &big,
        )
        .unwrap();
    }

    #[test]
    fn a_hook_gets_all_of_a_big_state_and_its_stderr_is_kept() {
        let out = std::env::temp_dir().join(format!("sc-hooks-{}-count", std::process::id()));
        let big: Vec<u8> = (0..(3 << 20)).map(|i| b'a' + (i % 26) as u8).collect();
        let script = format!("wc -c > {}; echo done >&2; exit 3", out.display());
        let err = run_one(HookStage::Poststop, &shell_hook(&script, 10), &big)
            .unwrap_err()
            .to_string();
        assert!(err.contains("done"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&out).unwrap().trim(),
            big.len().to_string()
        );
        let _ = std::fs::remove_file(out);
    }

    fn tmp(name: &str, content: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("sc-hooks-{}-{name}", std::process::id()));
        std::fs::write(&p, content).unwrap();
        p
    }

    #[test]
    fn shipped_files_are_valid() {
        let etc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../etc");
        let text = std::fs::read(etc.join("hookspec.json")).unwrap();
        let file: HookSpecFile = serde_json::from_slice(&text).unwrap();
        let all: Vec<&HookEntry> = file
            .prestart
            .iter()
            .chain(&file.poststart)
            .chain(&file.poststop)
            .collect();
        assert!(!all.is_empty());
        for hook in all {
            assert!(hook.path.is_absolute(), "{}", hook.path.display());
            assert!(hook
                .timeout
                .as_ref()
                .and_then(|t| t.as_i64())
                .is_some_and(|t| t > 0));
        }
        let daemon = crate::container::DaemonConfig::load(&etc.join("daemon.json")).unwrap();
        assert_eq!(
            daemon.hook_spec.as_deref(),
            Some(Path::new("/etc/syscontainer/hookspec.json"))
        );
        // The sample leaves parent and driver to the host: systemd's machine.slice on a
        // systemd host, /syscontainer elsewhere.
        assert!(daemon.cgroup_parent.is_none() && daemon.cgroup_manager.is_none());
    }

    #[test]
    fn spec_rules() {
        let bad_json = tmp("bad.json", "{");
        assert!(load_hook_spec(&bad_json)
            .unwrap_err()
            .to_string()
            .contains("invalid JSON"));
        assert!(load_hook_spec(Path::new("rel.json"))
            .unwrap_err()
            .to_string()
            .contains("absolute"));
        assert!(load_hook_spec(Path::new("/nonexistent.json")).is_err());
        let unknown = tmp("unknown.json", r#"{"prestop":[]}"#);
        assert!(load_hook_spec(&unknown).is_err());
        let rel_hook = tmp("rel.json", r#"{"prestart":[{"path":"bin/true"}]}"#);
        assert!(load_hook_spec(&rel_hook)
            .unwrap_err()
            .to_string()
            .contains("absolute"));
        let zero = tmp(
            "zero.json",
            r#"{"prestart":[{"path":"/bin/true","timeout":0}]}"#,
        );
        assert!(load_hook_spec(&zero)
            .unwrap_err()
            .to_string()
            .contains("timeout"));
        let text = tmp(
            "text.json",
            r#"{"prestart":[{"path":"/bin/true","timeout":"5"}]}"#,
        );
        assert!(load_hook_spec(&text)
            .unwrap_err()
            .to_string()
            .contains("timeout"));
        let good = tmp(
            "good.json",
            r#"{"prestart":[{"path":"/bin/true","args":["true"],"timeout":5}],"poststop":[{"path":"/bin/true"}]}"#,
        );
        std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o664)).unwrap();
        let err = load_hook_spec(&good).unwrap_err().to_string();
        assert!(
            err.contains("good.json") && err.contains("writable"),
            "{err}"
        );
        std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o644)).unwrap();
        let hooks = load_hook_spec(&good).unwrap();
        assert_eq!(hooks.prestart().as_ref().unwrap().len(), 1);
        assert_eq!(hooks.poststop().as_ref().unwrap().len(), 1);
        let merged = merge(Some(hooks.clone()), Some(hooks)).unwrap();
        assert_eq!(merged.prestart().as_ref().unwrap().len(), 2);
        for p in [bad_json, unknown, rel_hook, zero, text, good] {
            std::fs::remove_file(p).unwrap();
        }
    }

    #[test]
    fn program_rules() {
        let writable = tmp("writable.sh", "#!/bin/sh\n");
        std::fs::set_permissions(&writable, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(check_hook_program(&writable)
            .unwrap_err()
            .to_string()
            .contains("writable"));
        std::fs::set_permissions(&writable, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(check_hook_program(&writable)
            .unwrap_err()
            .to_string()
            .contains("executable"));
        assert!(check_hook_program(Path::new("/tmp")).is_err());
        std::fs::remove_file(writable).unwrap();
    }

    #[test]
    fn runs_with_state_and_reports_failure() {
        let state = OciState {
            oci_version: "1.0.2".into(),
            id: "abc".into(),
            status: crate::state::OciStatus::Created,
            pid: 42,
            bundle: "/b".into(),
            root: "/r".into(),
            annotations: Default::default(),
        };
        let ok = HookBuilder::default()
            .path("/bin/sh")
            .args(vec![
                "sh".into(),
                "-c".into(),
                "grep -q '\"status\":\"created\",\"pid\":42'".into(),
            ])
            .build()
            .unwrap();
        run_hooks(HookStage::Prestart, &[ok], &state).unwrap();
        let fails = HookBuilder::default()
            .path("/bin/sh")
            .args(vec![
                "sh".into(),
                "-c".into(),
                "echo broken >&2; exit 3".into(),
            ])
            .build()
            .unwrap();
        let e = run_hooks(HookStage::Prestart, &[fails], &state)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("prestart hook /bin/sh failed: "), "{e}");
        assert!(e.contains("broken") && e.contains("3"), "{e}");
        let slow = HookBuilder::default()
            .path("/bin/sleep")
            .args(vec!["sleep".into(), "5".into()])
            .timeout(1)
            .build()
            .unwrap();
        assert!(run_hooks(HookStage::Prestart, &[slow], &state)
            .unwrap_err()
            .to_string()
            .contains("timed out"));
    }

    #[test]
    fn stages_read_as_the_hook_spec_keys() {
        for (stage, name) in [
            (HookStage::Prestart, "prestart"),
            (HookStage::Poststart, "poststart"),
            (HookStage::Poststop, "poststop"),
        ] {
            assert_eq!(stage.to_string(), name);
            assert_eq!(
                serde_json::to_string(&stage).unwrap(),
                format!("\"{name}\"")
            );
        }
    }
}

//! `create`: load the bundle, make the state directory and the cgroup, clone the init
//! as the caller's child and drive it to "created" (parked on `exec.fifo`), record it,
//! write its PID file, return. A failure half-way kills the init and removes the cgroup
//! and the state directory.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Hook, Hooks, Spec};

use super::bundle::{Bundle, HOOK_SPEC_ANNOTATION};
use super::record::{OciRoot, Phase, Record};
use super::{cgroups_path, console, io_error, OciError, Result};
use crate::cgroups::ContainerCgroup;
use crate::hooks::{self, HookStage, OciState};
use crate::process::{self, init::ContainerHooks, InitContext};
use crate::state::{now_rfc3339, OciStatus, ProcessId};

pub struct CreateOptions<'a> {
    pub id: &'a str,
    pub pid_file: Option<&'a Path>,
    pub console_socket: Option<&'a Path>,
    /// `--systemd-cgroup`: cgroupsPath is `slice:prefix:name`.
    pub systemd_cgroup: bool,
    /// The isula daemon.json whose `hook-spec` a system container gets.
    pub daemon_config: &'a Path,
}

/// Create the container from `bundle` ([`super::bundle::load`]); returns its record (the init
/// parked at "created").
pub fn create(root: &OciRoot, mut bundle: Bundle, opts: &CreateOptions) -> Result<Record> {
    super::record::validate_id(opts.id)?;
    if bundle.system_container {
        add_hook_specs(&mut bundle.spec, opts.daemon_config)?;
    }
    let terminal = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal && opts.console_socket.is_none() {
        return Err(OciError::Invalid(
            "process.terminal is set but no --console-socket was given".into(),
        ));
    }
    let cgroups_path = bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().clone())
        .map(|p| p.display().to_string());
    let placement = cgroups_path::placement(cgroups_path.as_deref(), opts.id, opts.systemd_cgroup)?;
    let dir = root.make_dir(opts.id)?;
    let mut record = Record {
        id: opts.id.to_string(),
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        init: ProcessId {
            pid: 0,
            start_time: 0,
        },
        created: String::new(),
        phase: Phase::Created,
        owner: owner(),
        annotations: bundle
            .spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        cgroup: placement,
        created_cgroups: Vec::new(),
        system_container: bundle.system_container,
    };
    let cgroup = ContainerCgroup::load(&record.cgroup);
    let made = match cgroup.create() {
        Ok(made) => made,
        Err(e) => {
            let _ = root.remove(opts.id);
            return Err(e.into());
        }
    };
    record.created_cgroups = made.clone();
    match create_in(root, &dir, &bundle, &cgroup, &mut record, opts) {
        Ok(()) => Ok(record),
        Err(e) => {
            if let Err(e) = cgroup.destroy(&made) {
                tracing::warn!("removing the cgroup of a failed create: {e}");
            }
            let _ = root.remove(opts.id);
            Err(e)
        }
    }
}

fn create_in(
    root: &OciRoot,
    dir: &Path,
    bundle: &Bundle,
    cgroup: &ContainerCgroup,
    record: &mut Record,
    opts: &CreateOptions,
) -> Result<()> {
    root.save_spec(&record.id, &bundle.spec)?;
    let fifo = dir.join(super::record::EXEC_FIFO);
    make_fifo(&fifo)?;
    let pty = match opts.console_socket {
        Some(_) if terminal_of(&bundle.spec) => Some(console::open_pty()?),
        _ => None,
    };
    let fifo = open_path(&fifo)?;
    let pid = start_init(bundle, cgroup, fifo.as_fd(), pty.as_ref(), record)?;
    drop(fifo);
    let mut finish = || -> Result<()> {
        record.init = ProcessId::of(pid)
            .ok_or_else(|| OciError::Invalid(format!("the init {pid} vanished at create")))?;
        record.created = now_rfc3339();
        if let (Some(pty), Some(socket)) = (&pty, opts.console_socket) {
            let name = pty.slave_path.display().to_string();
            console::send_master(socket, pty.master.as_fd(), &name)?;
        }
        root.save(record)?;
        if let Some(pid_file) = opts.pid_file {
            write_pid_file(pid_file, pid)?;
        }
        Ok(())
    };
    finish().inspect_err(|_| {
        let pid = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
    })
}

fn terminal_of(spec: &Spec) -> bool {
    spec.process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false)
}

/// Clone the init, place it in its cgroup with its limits, run the createRuntime and
/// prestart hooks once its mounts exist, and leave it parked; its PID.
fn start_init(
    bundle: &Bundle,
    cgroup: &ContainerCgroup,
    fifo: std::os::fd::BorrowedFd,
    pty: Option<&console::Pty>,
    record: &Record,
) -> Result<i32> {
    let spec = &bundle.spec;
    let resources = spec.linux().as_ref().and_then(|l| l.resources().as_ref());
    let limits_after_placing = cgroup.made_with_first_process();
    if let Some(resources) = resources.filter(|_| !limits_after_placing) {
        cgroup.apply(resources)?;
    }
    let hooks = spec.hooks().clone().unwrap_or_default();
    let state = |status, pid| hook_state(record, spec, status, pid);
    let container_hooks = ContainerHooks {
        create_container: hooks.create_container().clone().unwrap_or_default(),
        start_container: hooks.start_container().clone().unwrap_or_default(),
        state: state(OciStatus::Creating, 0),
    };
    let ctx = InitContext {
        spec,
        bundle: &bundle.dir,
        console: pty.map(|p| p.slave_path.as_path()),
        notify_socket: None,
        writable_proc_paths: &[],
        exec_fifo: Some(fifo),
        container_hooks: Some(&container_hooks),
    };
    let v2_dir = cgroup.v2_dir();
    let v1_tasks = cgroup.v1_tasks_files();
    let placement = process::SelfPlacement {
        v2_dir: v2_dir.as_deref(),
        v1_tasks: &v1_tasks,
    };
    let runtime_hooks: Vec<Hook> = [hooks.create_runtime(), hooks.prestart()]
        .into_iter()
        .flat_map(|h| h.clone().unwrap_or_default())
        .collect();
    let created = process::create(
        &ctx,
        Some(placement).filter(|_| !limits_after_placing),
        |pid, move_it| {
            if move_it {
                cgroup.add_process(pid)?;
            }
            if let Some(resources) = resources.filter(|_| limits_after_placing) {
                cgroup.apply(resources)?;
            }
            Ok(())
        },
        |pid| {
            hooks::run_hooks(
                HookStage::CreateRuntime,
                &runtime_hooks,
                &state(OciStatus::Creating, pid),
            )
            .map_err(|e| process::ProcessError::Hook(e.to_string()))
        },
    )?;
    Ok(created.release().as_raw())
}

/// The state a hook reads.
pub(crate) fn hook_state(record: &Record, spec: &Spec, status: OciStatus, pid: i32) -> OciState {
    OciState {
        oci_version: spec.version().clone(),
        id: record.id.clone(),
        status,
        pid,
        bundle: record.bundle.clone(),
        root: record.rootfs.clone(),
        annotations: record.annotations.clone(),
    }
}

/// A system container's hooks from the isula `hook-spec` files: daemon.json's, then the
/// one the `syscontainer.hook-spec` annotation names, after the spec's own.
fn add_hook_specs(spec: &mut Spec, daemon_config: &Path) -> Result<()> {
    let daemon = crate::container::DaemonConfig::load(daemon_config)
        .map_err(|e| OciError::Invalid(e.to_string()))?;
    let annotated = spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(HOOK_SPEC_ANNOTATION))
        .map(PathBuf::from);
    let mut merged: Option<Hooks> = spec.hooks().clone();
    for file in daemon.hook_spec.iter().chain(annotated.iter()) {
        merged = hooks::merge(merged, Some(hooks::load_hook_spec(file)?));
    }
    spec.set_hooks(merged);
    Ok(())
}

fn open_path(path: &Path) -> Result<std::os::fd::OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(path)
        .map(std::os::fd::OwnedFd::from)
        .map_err(io_error("open", path))
}

fn make_fifo(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .map_err(|e| io_error("mkfifo", path)(e.into()))?;
    // Writable by the container's user, whoever that is (the umask may have cut it).
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o622))
        .map_err(io_error("chmod", path))
}

/// The PID as containerd reads it: digits only, the file replaced atomically.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("pid"),
        std::process::id()
    ));
    std::fs::write(&tmp, pid.to_string()).map_err(io_error("write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_error("rename", path)(e)
    })
}

fn owner() -> String {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pid_file_holds_digits_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("init.pid");
        write_pid_file(&path, 4242).unwrap();
        write_pid_file(&path, 17).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "17");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

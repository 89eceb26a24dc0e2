//! systemd-nspawn 252 in the foreground, one process per container.
//!
//! This host's PID 1 is not systemd, so there is no machined: nspawn runs with
//! `--register=no --keep-unit` in a cgroup made for it (it puts the payload below its own
//! cgroup), and it has no exec command (`machinectl shell` and `systemd-run -M` need machined).

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{Runtime, Started, TIMEOUT};
use crate::host::{self, OwnCgroup};

pub struct Nspawn;

impl Nspawn {
    /// `None` when systemd-nspawn is not installed.
    pub fn new() -> Option<Nspawn> {
        host::command_line(&["systemd-nspawn", "--version"]).map(|_| Nspawn)
    }
}

impl Runtime for Nspawn {
    fn name(&self) -> &'static str {
        "nspawn"
    }

    fn version(&self) -> String {
        host::version_of(&["systemd-nspawn", "--version"]).unwrap_or_default()
    }

    fn start(&self, name: &str, rootfs: &Path) -> Result<Started> {
        let mut cgroup = OwnCgroup::create(&format!("scbench-{name}"))?;
        let fds = cgroup.procs_fds();
        let mut command = Command::new("systemd-nspawn");
        command
            .args(["--quiet", "--boot", "--directory"])
            .arg(rootfs)
            .args(["--machine", name, "--register=no", "--keep-unit"])
            .args(["--private-network", "--console=passive"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only write(2) on fds opened before the fork; no allocation.
        unsafe {
            command.pre_exec(move || {
                for &fd in &fds {
                    if libc::write(fd, b"0".as_ptr() as *const libc::c_void, 1) != 1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = command.spawn().context("cannot run systemd-nspawn")?;
        cgroup.close_procs();
        Ok(Started {
            name: name.to_string(),
            child: Some(child),
            keep: Some(Box::new(cgroup)),
        })
    }

    fn init_pid(&self, c: &Started) -> Result<i32> {
        let nspawn = self.monitor_pid(c)?;
        host::poll(TIMEOUT, || host::ns_init_below(nspawn))
            .with_context(|| format!("no PID 1 below systemd-nspawn {nspawn}"))
    }

    fn exec_true(&self, _: &Started) -> Option<Result<()>> {
        None
    }

    fn stop(&self, c: &mut Started) -> Result<()> {
        let child = c.child.as_mut().context("nspawn was not started")?;
        // SIGTERM to nspawn is its orderly halt: it sends SIGRTMIN+3 to the container's init.
        kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM)?;
        let status = child.wait()?;
        if !status.success() {
            bail!("systemd-nspawn for {} ended with {status}", c.name);
        }
        Ok(())
    }

    fn monitor_pid(&self, c: &Started) -> Result<i32> {
        c.child
            .as_ref()
            .map(|ch| ch.id() as i32)
            .context("nspawn was not started")
    }

    fn destroy(&self, c: &mut Started) {
        if let Some(child) = c.child.as_mut() {
            if child.try_wait().ok().flatten().is_none() {
                // Killing PID 1 ends the whole PID namespace; nspawn then exits by itself.
                if let Some(init) = host::ns_init_below(child.id() as i32) {
                    let _ = kill(Pid::from_raw(init), Signal::SIGKILL);
                }
                let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            }
            let _ = child.wait();
        }
        c.keep = None;
    }
}

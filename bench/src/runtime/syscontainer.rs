//! syscontainer itself, driven through its CLI as a user would.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use super::{Runtime, Started};

pub struct Syscontainer {
    binary: PathBuf,
    store: PathBuf,
    daemon_config: PathBuf,
    /// Prefix of each container's cgroup parent, which is relative, so containers land
    /// below the benchmark's own cgroup.
    cgroup_parent: String,
}

impl Syscontainer {
    /// A private store under `work`, with an empty daemon config so that no installed hook
    /// spec takes part in the measurement.
    pub fn new(bin_dir: &Path, work: &Path) -> Result<Syscontainer> {
        let binary = bin_dir.join("syscontainer");
        if !binary.exists() {
            bail!("no syscontainer binary at {}", binary.display());
        }
        let daemon_config = work.join("daemon.json");
        std::fs::write(&daemon_config, "{}\n")
            .with_context(|| format!("cannot write {}", daemon_config.display()))?;
        Ok(Syscontainer {
            binary,
            store: work.join("store"),
            daemon_config,
            cgroup_parent: format!("scbench-{}", std::process::id()),
        })
    }

    /// The CLI with this peer's store and config.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.binary);
        c.arg("--root")
            .arg(&self.store)
            .arg("--daemon-config")
            .arg(&self.daemon_config)
            .args(["--log-level", "warn"])
            .stdin(Stdio::null());
        c
    }

    fn ok(&self, args: &[&str]) -> Result<String> {
        let out = self
            .command()
            .args(args)
            .output()
            .context("cannot run syscontainer")?;
        if !out.status.success() {
            bail!(
                "syscontainer {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn inspect_pid(&self, name: &str, field: &str) -> Result<i32> {
        let text = self.ok(&["inspect", "-f", &format!("{{{{.State.{field}}}}}"), name])?;
        text.parse()
            .with_context(|| format!("inspect {field} of {name}: {text:?}"))
    }

    /// The cgroup parent (below the benchmark's own) of one container: one per container,
    /// as LXC's `lxc.payload.NAME` and nspawn's own cgroup are, so that N containers are N
    /// groups to the CPU scheduler as theirs are, not one group sharing one weight.
    fn parent_of(&self, name: &str) -> String {
        format!("{}-{name}", self.cgroup_parent)
    }

    pub fn store(&self) -> &Path {
        &self.store
    }

    /// Start with extra `run` options (volumes, limits) for suites that need them.
    pub fn start_with(&self, name: &str, rootfs: &Path, extra: &[&str]) -> Result<Started> {
        let rootfs = rootfs.to_str().context("rootfs path is not UTF-8")?;
        let parent = self.parent_of(name);
        let mut args = vec!["run", "-tid", "--name", name, "--cgroup-parent"];
        args.push(&parent);
        args.extend_from_slice(extra);
        args.extend_from_slice(&[
            "--system-container",
            "--external-rootfs",
            rootfs,
            "none",
            "init",
        ]);
        self.ok(&args)?;
        Ok(Started {
            name: name.to_string(),
            child: None,
            keep: None,
        })
    }

    /// Remove the (empty) cgroup parents this peer's containers were placed under.
    pub fn remove_cgroup_parent(&self) {
        let prefix = format!("{}-", self.cgroup_parent);
        for dir in syscontainer_tests::own_cgroup_dirs() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    syscontainer_tests::remove_cgroup_tree(&e.path());
                }
            }
        }
    }
}

impl Runtime for Syscontainer {
    fn name(&self) -> &'static str {
        "syscontainer"
    }

    fn version(&self) -> String {
        self.ok(&["version"])
            .ok()
            .and_then(|v| {
                v.lines()
                    .find_map(|l| l.strip_prefix("Version:"))
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_default()
    }

    fn start(&self, name: &str, rootfs: &Path) -> Result<Started> {
        self.start_with(name, rootfs, &[])
    }

    fn init_pid(&self, c: &Started) -> Result<i32> {
        match self.inspect_pid(&c.name, "Pid")? {
            0 => bail!("{} has no PID 1", c.name),
            pid => Ok(pid),
        }
    }

    fn exec_true(&self, c: &Started) -> Option<Result<()>> {
        Some(
            self.command()
                .args(["exec", &c.name, "/bin/true"])
                .stdout(Stdio::null())
                .status()
                .context("cannot run syscontainer exec")
                .and_then(|s| {
                    if s.success() {
                        Ok(())
                    } else {
                        bail!("syscontainer exec {} /bin/true: {s}", c.name)
                    }
                }),
        )
    }

    fn stop(&self, c: &mut Started) -> Result<()> {
        self.ok(&["stop", "-t", "60", &c.name]).map(drop)
    }

    fn monitor_pid(&self, c: &Started) -> Result<i32> {
        self.inspect_pid(&c.name, "MonitorPid")
    }

    fn destroy(&self, c: &mut Started) {
        let _ = self.ok(&["rm", "-f", &c.name]);
        let parent = self.parent_of(&c.name);
        for dir in syscontainer_tests::own_cgroup_dirs() {
            syscontainer_tests::remove_cgroup_tree(&dir.join(&parent));
        }
    }
}

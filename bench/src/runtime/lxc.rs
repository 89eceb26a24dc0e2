//! LXC 5, through its command-line tools, with a private lxcpath.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::{Runtime, Started, TIMEOUT};
use crate::host;

pub struct Lxc {
    lxcpath: PathBuf,
}

impl Lxc {
    /// `None` when LXC is not installed.
    pub fn new(work: &Path) -> Option<Lxc> {
        host::command_line(&["lxc-start", "--version"])?;
        Some(Lxc {
            lxcpath: work.join("lxc"),
        })
    }

    fn tool(&self, tool: &str, name: &str, rest: &[&str]) -> Vec<String> {
        let mut argv = vec![
            tool.to_string(),
            "-P".to_string(),
            self.lxcpath.display().to_string(),
            "-n".to_string(),
            name.to_string(),
        ];
        argv.extend(rest.iter().map(|s| s.to_string()));
        argv
    }

    fn run(&self, tool: &str, name: &str, rest: &[&str]) -> Result<()> {
        let argv = self.tool(tool, name, rest);
        host::run(&argv.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// The `lxc-device` command line for a container (for the hot-add comparison).
    pub fn device_argv(&self, name: &str, rest: &[&str]) -> Vec<String> {
        self.tool("lxc-device", name, rest)
    }

    /// Remove the empty `lxc.pivot` cgroups LXC's monitors leave below ours (each moves
    /// itself there on exit so that its container's cgroups can go). An LXC container still
    /// running elsewhere keeps its pivot busy, and rmdir then leaves it alone.
    pub fn remove_pivot(&self) {
        for dir in syscontainer_tests::own_cgroup_dirs() {
            let _ = std::fs::remove_dir(dir.join("lxc.pivot"));
        }
    }

    /// Run a command in the container with `lxc-attach`.
    pub fn attach(&self, name: &str, argv: &[&str]) -> Result<()> {
        let mut rest = vec!["--"];
        rest.extend_from_slice(argv);
        self.run("lxc-attach", name, &rest)
    }
}

/// The configuration of a systemd container as LXC's own templates make it, with the same
/// empty private network as syscontainer's default, and below the caller's cgroup.
fn config(name: &str, rootfs: &Path) -> String {
    format!(
        "lxc.include = /usr/share/lxc/config/common.conf\n\
         lxc.arch = linux64\n\
         lxc.rootfs.path = dir:{}\n\
         lxc.uts.name = {name}\n\
         lxc.net.0.type = empty\n\
         lxc.apparmor.profile = unconfined\n\
         lxc.init.cmd = /sbin/init\n\
         lxc.signal.halt = SIGRTMIN+3\n\
         lxc.cgroup.relative = 1\n",
        rootfs.display()
    )
}

impl Runtime for Lxc {
    fn name(&self) -> &'static str {
        "lxc"
    }

    fn version(&self) -> String {
        host::version_of(&["lxc-start", "--version"]).unwrap_or_default()
    }

    fn start(&self, name: &str, rootfs: &Path) -> Result<Started> {
        let dir = self.lxcpath.join(name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::write(dir.join("config"), config(name, rootfs))
            .with_context(|| format!("cannot write {}/config", dir.display()))?;
        self.run("lxc-start", name, &["-d"])?;
        Ok(Started {
            name: name.to_string(),
            child: None,
            keep: None,
        })
    }

    fn init_pid(&self, c: &Started) -> Result<i32> {
        let argv = self.tool("lxc-info", &c.name, &["-p", "-H"]);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        host::poll(TIMEOUT, || host::command_line(&argv)?.parse().ok())
            .with_context(|| format!("lxc-info found no PID 1 for {}", c.name))
    }

    fn exec_true(&self, c: &Started) -> Option<Result<()>> {
        Some(self.attach(&c.name, &["/bin/true"]))
    }

    fn stop(&self, c: &mut Started) -> Result<()> {
        self.run("lxc-stop", &c.name, &["-t", "60"])
    }

    fn monitor_pid(&self, c: &Started) -> Result<i32> {
        let init = self.init_pid(c)?;
        match host::parent_of(init) {
            Some(pid) if pid > 1 => Ok(pid),
            _ => bail!("no LXC monitor above PID {init}"),
        }
    }

    fn destroy(&self, c: &mut Started) {
        let _ = self.run("lxc-stop", &c.name, &["-k"]);
        let _ = std::fs::remove_dir_all(self.lxcpath.join(&c.name));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn config_halts_systemd_and_stays_private() {
        let text = super::config("b1", std::path::Path::new("/r/b1"));
        assert!(text.contains("lxc.rootfs.path = dir:/r/b1\n"));
        assert!(text.contains("lxc.signal.halt = SIGRTMIN+3\n"));
        assert!(text.contains("lxc.net.0.type = empty\n"));
    }
}

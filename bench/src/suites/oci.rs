//! The OCI runtimes containerd drives, side by side on one busybox bundle: syscontainer-oci
//! and Debian's runc, each called the way containerd's shim calls it. create → start →
//! delete of a container running `/bin/true`, and `exec /bin/true` into a running one.
//! Runs interleave the two runtimes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use syscontainer_tests::containerd::busybox_rootfs;
use syscontainer_tests::{own_cgroup_dirs, remove_cgroup_tree};

use super::Bench;
use crate::results::{Metric, Results};

pub const OURS: &str = "syscontainer-oci";
pub const RUNC: &str = "runc";
const RUNC_PATH: &str = "/usr/sbin/runc";

/// One runtime binary with a state root of its own.
struct OciRuntime {
    name: &'static str,
    binary: PathBuf,
    root: PathBuf,
}

impl OciRuntime {
    /// The runtime's JSON error log, as the shim passes it with `--log`.
    fn log(&self) -> PathBuf {
        self.root.with_extension("log.json")
    }

    /// `RT --root R --log L --log-format json ARGS` with every stdio stream on /dev/null:
    /// `create` hands its stdio to the parked container process, so a pipe would stay open
    /// until the container ends.
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.binary);
        c.arg("--root")
            .arg(&self.root)
            .arg("--log")
            .arg(self.log())
            .args(["--log-format", "json"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Result<()> {
        let status = self
            .command(args)
            .status()
            .with_context(|| format!("spawn {}", self.binary.display()))?;
        if !status.success() {
            let log = std::fs::read_to_string(self.log()).unwrap_or_default();
            bail!(
                "{} {} failed ({status}): {}",
                self.name,
                args.join(" "),
                log.lines().last().unwrap_or("no log")
            );
        }
        Ok(())
    }

    fn create_and_start(&self, bundle: &Path, id: &str) -> Result<()> {
        self.run(&["create", "--bundle", &bundle.display().to_string(), id])?;
        self.run(&["start", id])
    }

    fn delete(&self, id: &str) -> Result<()> {
        self.run(&["delete", "--force", id])
    }
}

/// The containers a suite made, force-deleted with their cgroups when dropped.
struct Cleanup<'a> {
    runtimes: &'a [OciRuntime],
    ids: Vec<String>,
    cgroup_parent: String,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for rt in self.runtimes {
            for id in &self.ids {
                let _ = rt.command(&["delete", "--force", id]).status();
            }
        }
        reap_children();
        for dir in own_cgroup_dirs() {
            remove_cgroup_tree(&dir.join(&self.cgroup_parent));
        }
    }
}

/// The runtimes leave the container's init to the caller, as the shim (a subreaper) expects.
fn reap_children() {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}

/// `config.json` for the bundle: runc's default spec with our command, no terminal, no
/// ambient capabilities (containerd's specs have none; runc's default lists some that are
/// not inheritable, which runc only warns about), and a relative cgroup path under this
/// process's cgroups.
fn bundle_spec(runc_default: &str, args: &[&str], cgroups_path: &str) -> Result<Value> {
    let mut spec: Value = serde_json::from_str(runc_default).context("parse `runc spec` output")?;
    spec["process"]["terminal"] = json!(false);
    spec["process"]["args"] = json!(args);
    spec["linux"]["cgroupsPath"] = json!(cgroups_path);
    if let Some(caps) = spec["process"]["capabilities"].as_object_mut() {
        caps.remove("ambient");
    }
    Ok(spec)
}

/// A bundle directory with a busybox rootfs and a config.json running `args`.
fn make_bundle(dir: &Path, args: &[&str], cgroups_path: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    busybox_rootfs(&dir.join("rootfs"));
    let out = Command::new(RUNC_PATH)
        .args(["spec", "--bundle"])
        .arg(dir)
        .output()
        .context("runc spec")?;
    if !out.status.success() {
        bail!("runc spec: {}", String::from_utf8_lossy(&out.stderr));
    }
    let default = std::fs::read_to_string(dir.join("config.json"))?;
    let spec = bundle_spec(&default, args, cgroups_path)?;
    std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&spec)?)?;
    Ok(dir.to_path_buf())
}

pub fn run(bench: &mut Bench) -> Result<()> {
    let ours = bench.bin_dir.join("syscontainer-oci");
    if !ours.exists() {
        bail!("{} is missing: build the workspace first", ours.display());
    }
    if !Path::new(RUNC_PATH).exists() {
        bench
            .results
            .note("runc is not installed: no OCI runtime comparison");
        return Ok(());
    }
    nix::sys::prctl::set_child_subreaper(true).context("become a subreaper")?;
    let work = bench.work.join("oci");
    let runtimes = [
        OciRuntime {
            name: OURS,
            binary: ours,
            root: work.join("root-ours"),
        },
        OciRuntime {
            name: RUNC,
            binary: RUNC_PATH.into(),
            root: work.join("root-runc"),
        },
    ];
    let cgroup_parent = bench.name("oci");
    let mut cleanup = Cleanup {
        runtimes: &runtimes,
        ids: Vec::new(),
        cgroup_parent: cgroup_parent.clone(),
    };
    let mut found = Results::default();
    lifecycle(bench, &runtimes, &work, &mut cleanup, &mut found)?;
    exec(bench, &runtimes, &work, &mut cleanup, &mut found)?;
    drop(cleanup);
    let _ = std::fs::remove_dir_all(&work);
    bench.results.merge(found);
    Ok(())
}

fn lifecycle(
    bench: &Bench,
    runtimes: &[OciRuntime],
    work: &Path,
    cleanup: &mut Cleanup,
    found: &mut Results,
) -> Result<()> {
    for i in 0..bench.exec_runs {
        for rt in runtimes {
            let id = format!("{}-life-{i}", cleanup.cgroup_parent);
            cleanup.ids.push(id.clone());
            let bundle = make_bundle(
                &work.join(&id),
                &["/bin/true"],
                &format!("{}/{id}", cleanup.cgroup_parent),
            )?;
            let t0 = Instant::now();
            rt.create_and_start(&bundle, &id)?;
            rt.delete(&id)?;
            found.add(
                Metric::OciLifecycle,
                rt.name,
                None,
                None,
                t0.elapsed().as_secs_f64() * 1e3,
            );
            reap_children();
            let _ = std::fs::remove_dir_all(&bundle);
        }
    }
    Ok(())
}

fn exec(
    bench: &Bench,
    runtimes: &[OciRuntime],
    work: &Path,
    cleanup: &mut Cleanup,
    found: &mut Results,
) -> Result<()> {
    let mut running = Vec::new();
    for rt in runtimes {
        let id = format!("{}-exec-{}", cleanup.cgroup_parent, rt.name);
        cleanup.ids.push(id.clone());
        let bundle = make_bundle(
            &work.join(&id),
            &["/bin/sleep", "1000000"],
            &format!("{}/{id}", cleanup.cgroup_parent),
        )?;
        rt.create_and_start(&bundle, &id)?;
        running.push((rt, id));
    }
    for _ in 0..bench.exec_runs {
        for (rt, id) in &running {
            let t0 = Instant::now();
            rt.run(&["exec", id, "/bin/true"])?;
            found.add(
                Metric::OciExec,
                rt.name,
                None,
                None,
                t0.elapsed().as_secs_f64() * 1e3,
            );
        }
    }
    for (rt, id) in &running {
        rt.delete(id)?;
    }
    reap_children();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_spec_sets_command_terminal_and_cgroup() {
        let default = r#"{"process": {"terminal": true, "args": ["sh"],
            "capabilities": {"bounding": ["CAP_KILL"], "ambient": ["CAP_KILL"]}}, "linux": {}}"#;
        let spec = bundle_spec(default, &["/bin/true"], "p/c").unwrap();
        assert_eq!(
            spec["process"]["capabilities"],
            json!({"bounding": ["CAP_KILL"]})
        );
        assert_eq!(spec["process"]["terminal"], false);
        assert_eq!(spec["process"]["args"], json!(["/bin/true"]));
        assert_eq!(spec["linux"]["cgroupsPath"], "p/c");
    }

    #[test]
    fn bundle_spec_rejects_what_is_not_json() {
        assert!(bundle_spec("not json", &["/bin/true"], "p").is_err());
    }
}

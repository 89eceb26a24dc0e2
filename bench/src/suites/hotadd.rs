//! Hot-add latency: `syscontainer-tools` on a booted syscontainer container against
//! `lxc-device add` on a booted LXC container, for the operations LXC has (a block device,
//! a host NIC moved in); the operations it lacks are reported for syscontainer alone.
//! Each add is undone after it (not timed), so every call does the same work.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};

use super::{Bench, Running};
use crate::host;
use crate::results::{Metric, Results};
use crate::runtime::{Lxc, Runtime, TIMEOUT};

pub const TOOLS: &str = "syscontainer-tools";
pub const LXC_DEVICE: &str = "lxc-device";

/// Host-side fixtures (a loop device, a bridge, stand-in NICs) removed on drop.
#[derive(Default)]
struct Fixtures {
    loop_device: Option<String>,
    links: Vec<String>,
}

impl Drop for Fixtures {
    fn drop(&mut self) {
        for link in &self.links {
            let _ = host::run(&["ip", "link", "del", link]);
        }
        if let Some(dev) = &self.loop_device {
            let _ = host::run(&["losetup", "-d", dev]);
        }
    }
}

fn timed(samples: &mut Results, subject: &str, peer: &str, argv: &[&str]) -> Result<()> {
    let t0 = Instant::now();
    host::run(argv)?;
    samples.add(
        Metric::Hotadd,
        peer,
        Some(subject),
        None,
        t0.elapsed().as_secs_f64() * 1e3,
    );
    Ok(())
}

pub fn run(bench: &mut Bench) -> Result<()> {
    let tools = bench.bin_dir.join("syscontainer-tools");
    let tools = tools.to_str().context("bin dir is not UTF-8")?.to_string();
    let store = bench.syscontainer.store().display().to_string();
    let tag = std::process::id() % 10_000;
    let bridge = format!("scbbr{tag}");
    let host_dir = bench.work.join("hotadd-dir");
    std::fs::create_dir_all(&host_dir)?;
    let mut fixtures = Fixtures::default();
    let loop_device = fixtures.create(bench, &bridge)?;

    let rootfs = bench.rootfs_copy();
    let sc_name = bench.name("hotadd");
    let sc = Running::new(
        &bench.syscontainer,
        bench.syscontainer.start(&sc_name, &rootfs.path())?,
    );
    host::wait_booted(bench.syscontainer.init_pid(&sc.started)?, TIMEOUT)?;

    let mut found = Results::default();
    let lxc_rootfs = bench.lxc.as_ref().map(|_| bench.rootfs_copy());
    let lxc = match (&bench.lxc, &lxc_rootfs) {
        (Some(lxc), Some(copy)) => usable_lxc(bench, lxc, copy.path(), &loop_device, &mut found)?,
        _ => None,
    };

    let round = Round {
        tools: vec![tools, "--root".into(), store],
        sc_name: &sc_name,
        lxc: lxc.as_ref().map(|(lxc, _, name)| (*lxc, name.as_str())),
        loop_device: &loop_device,
        tag,
        bridge: &bridge,
        host_dir: &host_dir,
    };
    let iterations = if bench.smoke { 2 } else { 20 };
    for _ in 0..iterations {
        round.block_device(&mut found)?;
        round.host_nic(&mut found, &mut fixtures)?;
        round.veth_and_route(&mut found)?;
        round.bind_path(&mut found)?;
    }
    if lxc.is_some() {
        found.note(
            "lxc-device has no veth-on-a-bridge, route or path operation: those rows are \
             syscontainer-tools alone",
        );
    }
    drop(lxc);
    drop(sc);
    drop(lxc_rootfs);
    drop(rootfs);
    drop(fixtures);
    bench.results.merge(found);
    Ok(())
}

impl Fixtures {
    /// A 64 MiB loop device (returned) and a bridge `bridge` with 10.250.0.1/24, up.
    fn create(&mut self, bench: &Bench, bridge: &str) -> Result<String> {
        let image = bench.work.join("hotadd.img");
        std::fs::File::create(&image)?.set_len(64 << 20)?;
        let loop_device = first_line(Command::new("losetup").args(["-f", "--show"]).arg(&image))?;
        self.loop_device = Some(loop_device.clone());
        host::run(&["ip", "link", "add", bridge, "type", "bridge"])?;
        self.links.push(bridge.to_string());
        host::run(&["ip", "addr", "add", "10.250.0.1/24", "dev", bridge])?;
        host::run(&["ip", "link", "set", bridge, "up"])?;
        Ok(loop_device)
    }
}

/// One round of timed hot-adds, each undone after it (not timed).
struct Round<'a> {
    /// `syscontainer-tools --root STORE`.
    tools: Vec<String>,
    sc_name: &'a str,
    /// The LXC container's runtime and name, when `lxc-device` works here.
    lxc: Option<(&'a Lxc, &'a str)>,
    loop_device: &'a str,
    /// Makes the NIC names of this run unique.
    tag: u32,
    bridge: &'a str,
    host_dir: &'a std::path::Path,
}

impl Round<'_> {
    fn tools_cmd(&self, rest: &[&str]) -> Vec<String> {
        let mut argv = self.tools.clone();
        argv.extend(rest.iter().map(|s| s.to_string()));
        argv
    }

    fn block_device(&self, found: &mut Results) -> Result<()> {
        let disk = format!("{}:/dev/benchdisk", self.loop_device);
        let add = self.tools_cmd(&["add-device", self.sc_name, &disk]);
        timed(found, "add-device (loop)", TOOLS, &as_str(&add))?;
        host::run(&as_str(&self.tools_cmd(&[
            "remove-device",
            self.sc_name,
            &disk,
        ])))?;
        if let Some((lxc, name)) = self.lxc {
            let add = lxc.device_argv(name, &["add", self.loop_device, "/dev/benchdisk"]);
            timed(found, "add-device (loop)", LXC_DEVICE, &as_str(&add))?;
            lxc.attach(name, &["rm", "-f", "/dev/benchdisk"])?;
        }
        Ok(())
    }

    fn host_nic(&self, found: &mut Results, fixtures: &mut Fixtures) -> Result<()> {
        let tag = self.tag;
        let (nic, nic_peer) = (format!("scbn{tag}a"), format!("scbn{tag}b"));
        let eth = format!("{nic}:eth5");
        host::run(&[
            "ip", "link", "add", &nic, "type", "veth", "peer", "name", &nic_peer,
        ])?;
        fixtures.links.push(nic.clone());
        let add = self.tools_cmd(&["add-nic", "--type", "eth", "--name", &eth, self.sc_name]);
        timed(found, "add-nic (host NIC)", TOOLS, &as_str(&add))?;
        host::run(&as_str(&self.tools_cmd(&[
            "remove-nic",
            "--type",
            "eth",
            "--name",
            "eth5",
            self.sc_name,
        ])))?;
        if let Some((lxc, name)) = self.lxc {
            let add = lxc.device_argv(name, &["add", &nic, "eth5"]);
            timed(found, "add-nic (host NIC)", LXC_DEVICE, &as_str(&add))?;
            let _ = host::run(&as_str(&lxc.device_argv(name, &["del", "eth5"])));
        }
        let _ = host::run(&["ip", "link", "del", &nic]);
        fixtures.links.retain(|l| l != &nic);
        Ok(())
    }

    fn veth_and_route(&self, found: &mut Results) -> Result<()> {
        let veth = format!("scbv{}:eth6", self.tag);
        let route = r#"[{"dest":"10.251.0.0/16","gw":"10.250.0.1"}]"#;
        let add = self.tools_cmd(&[
            "add-nic",
            "--name",
            &veth,
            "--ip",
            "10.250.0.2/24",
            "--bridge",
            self.bridge,
            self.sc_name,
        ]);
        timed(found, "add-nic (veth on a bridge)", TOOLS, &as_str(&add))?;
        let add = self.tools_cmd(&["add-route", self.sc_name, route]);
        timed(found, "add-route", TOOLS, &as_str(&add))?;
        host::run(&as_str(&self.tools_cmd(&[
            "remove-route",
            self.sc_name,
            route,
        ])))?;
        host::run(&as_str(&self.tools_cmd(&[
            "remove-nic",
            "--name",
            "eth6",
            self.sc_name,
        ])))?;
        Ok(())
    }

    fn bind_path(&self, found: &mut Results) -> Result<()> {
        let path = format!("{}:/mnt/bench:ro", self.host_dir.display());
        let path_key = format!("{}:/mnt/bench", self.host_dir.display());
        let add = self.tools_cmd(&["add-path", self.sc_name, &path]);
        timed(found, "add-path (bind, ro)", TOOLS, &as_str(&add))?;
        host::run(&as_str(&self.tools_cmd(&[
            "remove-path",
            self.sc_name,
            &path_key,
        ])))?;
        Ok(())
    }
}

/// Boot the LXC container and check that `lxc-device` works on this host at all.
fn usable_lxc<'a>(
    bench: &Bench,
    lxc: &'a Lxc,
    rootfs: PathBuf,
    loop_device: &str,
    found: &mut Results,
) -> Result<Option<(&'a Lxc, Running<'a>, String)>> {
    let name = bench.name("hotadd-lxc");
    let running = Running::new(lxc, lxc.start(&name, &rootfs)?);
    host::wait_booted(lxc.init_pid(&running.started)?, TIMEOUT)?;
    let probe = lxc.device_argv(&name, &["add", loop_device, "/dev/benchprobe"]);
    let probe: Vec<&str> = probe.iter().map(String::as_str).collect();
    if let Err(e) = host::run(&probe) {
        found.note(format!(
            "lxc-device does not work on this host, so hot-add has no LXC column: {}",
            e.to_string().lines().next().unwrap_or("")
        ));
        return Ok(None);
    }
    lxc.attach(&name, &["rm", "-f", "/dev/benchprobe"])?;
    Ok(Some((lxc, running, name)))
}

fn as_str(argv: &[String]) -> Vec<&str> {
    argv.iter().map(String::as_str).collect()
}

fn first_line(command: &mut Command) -> Result<String> {
    let out = command.output().context("cannot run losetup")?;
    anyhow::ensure!(
        out.status.success(),
        "losetup failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

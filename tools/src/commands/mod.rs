//! One file per resource type, each with the clap arguments of its commands and their
//! `run`: parse the values, call [`sctools::ops`], print its lines.

mod device;
mod nic;
mod path;
mod route;

use std::path::Path;

use anyhow::Result;
use clap::Subcommand;
use sctools::ops::Target;

#[derive(Subcommand)]
pub enum Command {
    /// Add host devices to a container: HOSTDEV[:CTRDEV][:rwm]...
    AddDevice(device::AddDevice),
    /// Remove devices added with add-device: HOSTDEV[:CTRDEV]...
    RemoveDevice(device::RemoveDevice),
    /// List the added devices (JSON).
    ListDevice(device::ListDevice),
    /// Change the throttles of added devices.
    UpdateDevice(device::UpdateDevice),
    /// Give a network interface to a container.
    AddNic(nic::AddNic),
    /// Take a network interface away (an eth NIC goes back to the host).
    RemoveNic(nic::RemoveNic),
    /// Change ip, mac, mtu or qlen of an added network interface.
    UpdateNic(nic::UpdateNic),
    /// List the added network interfaces (JSON).
    ListNic(nic::ListNic),
    /// Add routes: '[{"dest","src","gw","dev"}]' (dest empty or "default": default route).
    AddRoute(route::AddRoute),
    /// Remove routes added with add-route.
    RemoveRoute(route::RemoveRoute),
    /// List the added routes (JSON).
    ListRoute(route::ListRoute),
    /// Bind-mount host paths into a container: HOST:CTR[:ro|rw]...
    AddPath(path::AddPath),
    /// Unmount paths added with add-path: HOST:CTR...
    RemovePath(path::RemovePath),
    /// List the added paths (JSON).
    ListPath(path::ListPath),
}

impl Command {
    pub fn run(self, root: &Path) -> Result<()> {
        match self {
            Command::AddDevice(a) => a.run(root),
            Command::RemoveDevice(a) => a.run(root),
            Command::ListDevice(a) => a.run(root),
            Command::UpdateDevice(a) => a.run(root),
            Command::AddNic(a) => a.run(root),
            Command::RemoveNic(a) => a.run(root),
            Command::UpdateNic(a) => a.run(root),
            Command::ListNic(a) => a.run(root),
            Command::AddRoute(a) => a.run(root),
            Command::RemoveRoute(a) => a.run(root),
            Command::ListRoute(a) => a.run(root),
            Command::AddPath(a) => a.run(root),
            Command::RemovePath(a) => a.run(root),
            Command::ListPath(a) => a.run(root),
        }
    }
}

/// The container a command acts on; live unless it only records (`--update-config-only`)
/// or only reads.
fn open(root: &Path, container: &str, live: bool) -> Result<Target> {
    Ok(Target::open(root, container, live)?)
}

/// Record a done hot-add (or removal) in the store's event log, naming what changed.
fn emit(target: &Target, action: &str, what: &[String]) {
    let mut attrs = vec![];
    if !what.is_empty() {
        attrs.push(("resource", what.join(" ")));
    }
    syscontainer::events::record(
        target.store.root(),
        action,
        &target.id,
        &target.name,
        &attrs,
    );
}

fn print(lines: Vec<String>) {
    for l in lines {
        println!("{l}");
    }
}

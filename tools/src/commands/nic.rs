//! add-nic, remove-nic, update-nic, list-nic.

use std::path::Path;

use anyhow::Result;
use clap::Args;
use sctools::ops::nic;
use sctools::record::NicKind;

use super::{emit, open};

#[derive(Args)]
pub struct AddNic {
    /// veth (a pair, host end on --bridge) or eth (a host NIC moved in).
    #[arg(long = "type", default_value = "veth")]
    kind: String,
    /// [HOSTNAME:]CONTAINERNAME.
    #[arg(long)]
    name: String,
    /// CIDR address(es), comma-separated; IPv4 and IPv6.
    #[arg(long)]
    ip: Option<String>,
    #[arg(long)]
    mac: Option<String>,
    #[arg(long)]
    bridge: Option<String>,
    #[arg(long, default_value_t = 1500)]
    mtu: u32,
    #[arg(long, default_value_t = 1000)]
    qlen: u32,
    #[arg(long)]
    update_config_only: bool,
    container: String,
}

impl AddNic {
    pub fn run(self, root: &Path) -> Result<()> {
        let req = nic::AddNic {
            kind: self.kind.parse::<NicKind>()?,
            name: self.name,
            ip: self.ip,
            mac: self.mac,
            bridge: self.bridge,
            mtu: self.mtu,
            qlen: self.qlen,
        };
        let target = open(root, &self.container, !self.update_config_only)?;
        println!("{}", nic::add(&target, &req)?);
        emit(&target, "add-nic", std::slice::from_ref(&req.name));
        Ok(())
    }
}

#[derive(Args)]
pub struct RemoveNic {
    #[arg(long = "type")]
    kind: Option<String>,
    #[arg(long)]
    name: String,
    #[arg(long)]
    update_config_only: bool,
    container: String,
}

impl RemoveNic {
    pub fn run(self, root: &Path) -> Result<()> {
        let target = open(root, &self.container, !self.update_config_only)?;
        println!(
            "{}",
            nic::remove(&target, self.kind.as_deref(), &self.name)?
        );
        emit(&target, "remove-nic", std::slice::from_ref(&self.name));
        Ok(())
    }
}

#[derive(Args)]
pub struct UpdateNic {
    #[arg(long)]
    name: String,
    #[arg(long)]
    ip: Option<String>,
    #[arg(long)]
    mac: Option<String>,
    #[arg(long)]
    mtu: Option<u32>,
    #[arg(long)]
    qlen: Option<u32>,
    /// Move the veth's host end to this bridge on the host.
    #[arg(long)]
    bridge: Option<String>,
    #[arg(long)]
    update_config_only: bool,
    container: String,
}

impl UpdateNic {
    pub fn run(self, root: &Path) -> Result<()> {
        let req = nic::UpdateNic {
            name: self.name,
            ip: self.ip,
            mac: self.mac,
            mtu: self.mtu,
            qlen: self.qlen,
            bridge: self.bridge,
        };
        let target = open(root, &self.container, !self.update_config_only)?;
        println!("{}", nic::update(&target, &req)?);
        emit(&target, "update-nic", std::slice::from_ref(&req.name));
        Ok(())
    }
}

#[derive(Args)]
pub struct ListNic {
    #[arg(long)]
    pretty: bool,
    /// A JSON object: only interfaces whose fields equal these.
    #[arg(long)]
    filter: Option<String>,
    container: String,
}

impl ListNic {
    pub fn run(self, root: &Path) -> Result<()> {
        let target = open(root, &self.container, false)?;
        println!(
            "{}",
            nic::list(&target, self.pretty, self.filter.as_deref())?
        );
        Ok(())
    }
}

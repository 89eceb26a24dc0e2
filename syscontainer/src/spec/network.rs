//! `--network NAME` and its options: checked at create (the networks exist and have
//! plugins for `-p`, `--ip`, `--mac-address`) and recorded for the monitor, which
//! attaches the container at every boot (`crate::cni`).

use oci_spec::runtime::Spec;

use super::error::{conflict, Result, SpecError};
use super::Plan;
use crate::cni::{self, CniRequest};
use crate::options::{ContainerOptions, NetMode};

pub(super) fn apply(plan: &Plan, _spec: &mut Spec) -> Result<()> {
    let opts = plan.opts;
    let cni = &opts.network.cni;
    if opts.network.net.mode != NetMode::Cni {
        let mode = if opts.network.net.mode == NetMode::Host {
            "host"
        } else {
            "none"
        };
        let needs_cni = |option: &'static str, value: String| {
            conflict(
                option,
                value,
                format!("needs --network NAME (a CNI network), not {mode}"),
            )
        };
        if let Some(p) = cni.publish.first() {
            return Err(needs_cni(
                "--publish",
                format!("{}:{}", p.host_port, p.container_port),
            ));
        }
        if let Some(ip) = cni.ip {
            return Err(needs_cni("--ip", ip.to_string()));
        }
        if let Some(mac) = cni.mac_address {
            return Err(needs_cni("--mac-address", mac.to_string()));
        }
        return Ok(());
    }
    let networks = opts.network.net.networks.join(",");
    if let Some(port) = crate::options::duplicate_publish(&cni.publish) {
        return Err(conflict(
            "--publish",
            port,
            "the host port is published twice",
        ));
    }
    if opts.network.net.networks.len() > 1 {
        if let Some(ip) = cni.ip {
            return Err(conflict(
                "--ip",
                ip.to_string(),
                format!("names one address but --network {networks} names several networks"),
            ));
        }
        if let Some(mac) = cni.mac_address {
            return Err(conflict(
                "--mac-address",
                mac.to_string(),
                format!("names one interface but --network {networks} names several networks"),
            ));
        }
    }
    let Some(request) = request(opts) else {
        return Ok(());
    };
    request.validate().map_err(|e| match e {
        cni::CniError::NoNetwork { name, dir } => conflict(
            "--network",
            name,
            format!(
                "no CNI network of that name in {} (see --cni-conf-dir)",
                dir.display()
            ),
        ),
        other => SpecError::Conflict {
            option: "--network",
            value: networks.clone(),
            reason: other.to_string(),
        },
    })
}

/// The record of what to attach, for a container on CNI networks.
pub(super) fn request(opts: &ContainerOptions) -> Option<CniRequest> {
    if opts.network.net.mode != NetMode::Cni {
        return None;
    }
    let cni = &opts.network.cni;
    Some(CniRequest {
        networks: opts.network.net.networks.clone(),
        conf_dir: cni
            .cni_conf_dir
            .clone()
            .unwrap_or_else(|| cni::DEFAULT_CONF_DIR.into()),
        bin_dirs: cni::bin_dirs(cni.cni_bin_dir.as_deref()),
        port_mappings: cni.publish.clone(),
        ip: cni.ip,
        mac: cni.mac_address.map(|m| m.to_string()),
    })
}

//! User, groups and capabilities of a container process, applied right before exec (the
//! work is `exec_stage::identity`'s, shared with the exec stage).

use std::collections::HashSet;

use exec_stage::identity::CapSets;
use oci_spec::runtime::{Capability, LinuxCapabilities};

use crate::capabilities::{self, HostCap};

fn to_host(set: &Option<HashSet<Capability>>) -> HashSet<HostCap> {
    set.as_ref()
        .map(|s| {
            s.iter()
                .copied()
                .filter_map(capabilities::to_host)
                .collect()
        })
        .unwrap_or_default()
}

/// The spec's capability sets in the host's terms (those the host does not know dropped).
pub fn cap_sets(c: &LinuxCapabilities) -> CapSets {
    CapSets {
        bounding: to_host(c.bounding()),
        effective: to_host(c.effective()),
        permitted: to_host(c.permitted()),
        inheritable: to_host(c.inheritable()),
        ambient: to_host(c.ambient()),
    }
}

/// Switch to uid/gid with the spec's capability sets: see [`exec_stage::identity::apply`].
pub fn apply(
    uid: u32,
    gid: u32,
    additional_gids: &[u32],
    capabilities: Option<&LinuxCapabilities>,
    no_new_privileges: bool,
) -> Result<(), String> {
    exec_stage::identity::apply(
        uid,
        gid,
        additional_gids,
        capabilities.map(cap_sets),
        no_new_privileges,
    )
}

//! User, groups and capabilities of a container process, applied right before exec.

use std::collections::HashSet;

use caps::{CapSet, Capability};

/// The five capability sets of a process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapSets {
    pub bounding: HashSet<Capability>,
    pub effective: HashSet<Capability>,
    pub permitted: HashSet<Capability>,
    pub inheritable: HashSet<Capability>,
    pub ambient: HashSet<Capability>,
}

/// Switch to uid/gid with the given capability sets (none at all when `None`). The bounding
/// set is trimmed first (it needs CAP_SETPCAP, which we have as root), then the ids change
/// with `PR_SET_KEEPCAPS` so the permitted set survives, then the sets are written.
pub fn apply(
    uid: u32,
    gid: u32,
    additional_gids: &[u32],
    capabilities: Option<CapSets>,
    no_new_privileges: bool,
) -> Result<(), String> {
    let sets = capabilities.unwrap_or_default();
    // A runtime can only pass on what it holds: on hosts (or nested containers) whose
    // bounding set lacks some capabilities, the container gets the intersection, as with
    // LXC and systemd-nspawn, instead of failing to start.
    let held = caps::read(None, CapSet::Permitted)
        .map_err(|e| format!("read permitted capabilities: {e}"))?;
    let held_only = |set: HashSet<Capability>| -> HashSet<Capability> {
        set.intersection(&held).copied().collect()
    };
    let (effective, permitted, inheritable) = (
        held_only(sets.effective),
        held_only(sets.permitted),
        held_only(sets.inheritable),
    );
    // The kernel raises an ambient capability only if it is both permitted and
    // inheritable; runc skips the others (`runc spec` lists ambient ones without an
    // inheritable set), and so do we instead of failing the start.
    let ambient: HashSet<Capability> = sets
        .ambient
        .into_iter()
        .filter(|c| permitted.contains(c) && inheritable.contains(c))
        .collect();
    for cap in caps::all() {
        if !sets.bounding.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap)
                .map_err(|e| format!("drop {cap} from the bounding set: {e}"))?;
        }
    }
    if no_new_privileges {
        // SAFETY: plain prctl.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(format!(
                "set no_new_privs: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    // SAFETY: plain prctl.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    let groups: Vec<nix::unistd::Gid> = additional_gids
        .iter()
        .map(|g| nix::unistd::Gid::from_raw(*g))
        .collect();
    nix::unistd::setgroups(&groups).map_err(|e| format!("setgroups: {e}"))?;
    let g = nix::unistd::Gid::from_raw(gid);
    nix::unistd::setresgid(g, g, g).map_err(|e| format!("setgid {gid}: {e}"))?;
    let u = nix::unistd::Uid::from_raw(uid);
    nix::unistd::setresuid(u, u, u).map_err(|e| format!("setuid {uid}: {e}"))?;
    // SAFETY: plain prctl.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    // Effective must stay a subset of permitted at every step: shrink it first.
    caps::set(None, CapSet::Effective, &effective)
        .map_err(|e| format!("set effective capabilities: {e}"))?;
    caps::set(None, CapSet::Inheritable, &inheritable)
        .map_err(|e| format!("set inheritable capabilities: {e}"))?;
    caps::set(None, CapSet::Permitted, &permitted)
        .map_err(|e| format!("set permitted capabilities: {e}"))?;
    if !ambient.is_empty() {
        caps::set(None, CapSet::Ambient, &ambient)
            .map_err(|e| format!("set ambient capabilities: {e}"))?;
    }
    Ok(())
}

/// A capability set as a bit mask (bit n: the capability with index n).
pub fn to_mask(set: &HashSet<Capability>) -> u64 {
    set.iter().fold(0, |mask, c| mask | c.bitmask())
}

/// The capabilities of a bit mask that this crate knows.
pub fn from_mask(mask: u64) -> HashSet<Capability> {
    caps::all()
        .into_iter()
        .filter(|c| mask & c.bitmask() != 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_round_trip() {
        let set: HashSet<Capability> = [Capability::CAP_SYS_ADMIN, Capability::CAP_CHOWN].into();
        assert_eq!(from_mask(to_mask(&set)), set);
        assert_eq!(from_mask(to_mask(&caps::all())), caps::all());
        assert!(from_mask(0).is_empty());
    }
}

//! Conversions between the two capability enums in play: `oci-spec` names them for the
//! spec (`SysAdmin`, displayed `SYS_ADMIN`), `caps` names them for the syscalls
//! (`CAP_SYS_ADMIN`). Both spellings meet at the kernel name without its `CAP_` prefix.

use oci_spec::runtime::Capability as SpecCap;

pub use caps::Capability as HostCap;

/// The spec name of a host capability; `None` for capabilities newer than `oci-spec` knows.
pub fn to_spec(cap: HostCap) -> Option<SpecCap> {
    let name = cap.to_string();
    name.strip_prefix("CAP_")?.parse().ok()
}

/// The host capability a spec entry names; `None` for capabilities this `caps` lacks.
pub fn to_host(cap: SpecCap) -> Option<HostCap> {
    format!("CAP_{cap}").parse().ok()
}

/// Every capability the running kernel and both crates know, in spec form.
pub fn all_spec() -> Vec<SpecCap> {
    caps::all().into_iter().filter_map(to_spec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(to_spec(HostCap::CAP_SYS_ADMIN), Some(SpecCap::SysAdmin));
        assert_eq!(
            to_host(SpecCap::NetBindService),
            Some(HostCap::CAP_NET_BIND_SERVICE)
        );
        for cap in caps::all() {
            if let Some(spec) = to_spec(cap) {
                assert_eq!(to_host(spec), Some(cap), "{cap} does not round-trip");
            }
        }
    }

    #[test]
    fn all_spec_covers_the_classic_set() {
        let all = all_spec();
        for cap in [
            SpecCap::Chown,
            SpecCap::SysAdmin,
            SpecCap::SysBoot,
            SpecCap::Setpcap,
            SpecCap::AuditRead,
        ] {
            assert!(all.contains(&cap), "{cap} missing");
        }
    }
}

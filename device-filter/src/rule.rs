//! Device rules and their meaning, independent of BPF.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};
use std::str::FromStr;

use crate::Error;

/// The kind of device a rule applies to (OCI `type`: `a`, `b` or `c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    /// Block and character devices (`a`).
    All,
    /// Block devices only (`b`).
    Block,
    /// Character devices only (`c`).
    Char,
}

impl DeviceKind {
    /// Whether a rule of this kind applies to a device of type `device`.
    pub fn matches(self, device: DeviceType) -> bool {
        match self {
            DeviceKind::All => true,
            DeviceKind::Block => device == DeviceType::Block,
            DeviceKind::Char => device == DeviceType::Char,
        }
    }
}

impl FromStr for DeviceKind {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self, Error> {
        match value {
            "a" => Ok(DeviceKind::All),
            "b" => Ok(DeviceKind::Block),
            "c" => Ok(DeviceKind::Char),
            _ => Err(Error::InvalidKind {
                value: value.to_owned(),
            }),
        }
    }
}

/// The type of one concrete device being opened or created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceType {
    Block,
    Char,
}

impl DeviceType {
    /// The kernel's `BPF_DEVCG_DEV_*` value, the low 16 bits of `bpf_cgroup_dev_ctx.access_type`.
    pub const fn bpf_code(self) -> u32 {
        match self {
            DeviceType::Block => 1,
            DeviceType::Char => 2,
        }
    }
}

/// A set of device accesses. The bit values are the kernel's `BPF_DEVCG_ACC_*`, which the
/// kernel passes in the high 16 bits of `bpf_cgroup_dev_ctx.access_type`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Access(u8);

impl Access {
    pub const NONE: Access = Access(0);
    pub const MKNOD: Access = Access(1);
    pub const READ: Access = Access(2);
    pub const WRITE: Access = Access(4);
    /// `rwm`.
    pub const ALL: Access = Access(7);

    /// The set with these `BPF_DEVCG_ACC_*` bits, or `None` if a bit is not one of them.
    pub const fn from_bits(bits: u8) -> Option<Access> {
        if bits & !Access::ALL.0 == 0 {
            Some(Access(bits))
        } else {
            None
        }
    }

    pub const fn bits(self) -> u8 {
        self.0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub const fn contains(self, other: Access) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn intersects(self, other: Access) -> bool {
        self.0 & other.0 != 0
    }
}

impl BitOr for Access {
    type Output = Access;

    fn bitor(self, other: Access) -> Access {
        Access(self.0 | other.0)
    }
}

impl BitOrAssign for Access {
    fn bitor_assign(&mut self, other: Access) {
        self.0 |= other.0;
    }
}

/// Parses the OCI/cgroup v1 spelling: any of `r`, `w`, `m`, each at most once (`""` is empty).
impl FromStr for Access {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self, Error> {
        let mut access = Access::NONE;
        for letter in value.chars() {
            let bit = match letter {
                'r' => Access::READ,
                'w' => Access::WRITE,
                'm' => Access::MKNOD,
                _ => {
                    return Err(Error::InvalidAccess {
                        value: value.to_owned(),
                    })
                }
            };
            if access.contains(bit) {
                return Err(Error::InvalidAccess {
                    value: value.to_owned(),
                });
            }
            access |= bit;
        }
        Ok(access)
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (bit, letter) in [
            (Access::READ, 'r'),
            (Access::WRITE, 'w'),
            (Access::MKNOD, 'm'),
        ] {
            if self.contains(bit) {
                write!(f, "{letter}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Access({self})")
    }
}

/// One device rule, as in an OCI `linux.resources.devices` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rule {
    /// `true` allows the accesses, `false` denies them.
    pub allow: bool,
    pub kind: DeviceKind,
    /// `None` matches every major number.
    pub major: Option<u32>,
    /// `None` matches every minor number.
    pub minor: Option<u32>,
    pub access: Access,
}

impl Rule {
    pub const fn allow(
        kind: DeviceKind,
        major: Option<u32>,
        minor: Option<u32>,
        access: Access,
    ) -> Rule {
        Rule {
            allow: true,
            kind,
            major,
            minor,
            access,
        }
    }

    pub const fn deny(
        kind: DeviceKind,
        major: Option<u32>,
        minor: Option<u32>,
        access: Access,
    ) -> Rule {
        Rule {
            allow: false,
            kind,
            major,
            minor,
            access,
        }
    }

    /// Whether the rule names this device (its kind, major and minor), whatever the access.
    pub fn matches_device(&self, device: DeviceType, major: u32, minor: u32) -> bool {
        self.kind.matches(device)
            && self.major.map_or(true, |m| m == major)
            && self.minor.map_or(true, |m| m == minor)
    }

    /// Whether the rule names every device and every access, so that no rule before it in the
    /// list can change any decision.
    pub fn covers_everything(&self) -> bool {
        self.kind == DeviceKind::All
            && self.major.is_none()
            && self.minor.is_none()
            && self.access == Access::ALL
    }
}

/// The reference meaning of a rule list, which [`crate::compile`] implements in BPF.
///
/// Each requested access bit is decided on its own by the **last** rule in the list that names
/// the device and contains that bit; a bit that no rule decides is denied. The request is allowed
/// only if every requested bit is allowed. For a request of one bit (the usual case: `mknod`, or
/// an `open` for reading only) this is simply "the last matching rule wins, default deny". For an
/// `open(O_RDWR)` it means a later `deny ... w` is not bypassed by an earlier `allow ... rwm`,
/// and `allow r` plus `allow w` together allow `rw`.
///
/// A request with no access bit, which the kernel makes for `access(F_OK)` on a device node
/// (systemd's `ConditionPathExists=/dev/console`, for one), is decided by the last rule that
/// names the device, whatever its bits; as with the v1 devices controller, which passes it when
/// an allow entry names the device. Rules with no access bit name nothing.
///
/// An empty rule list denies everything.
pub fn decide(rules: &[Rule], device: DeviceType, major: u32, minor: u32, access: Access) -> bool {
    if access.is_empty() {
        return rules
            .iter()
            .rev()
            .find(|r| !r.access.is_empty() && r.matches_device(device, major, minor))
            .is_some_and(|r| r.allow);
    }
    let mut undecided = access;
    for rule in rules.iter().rev() {
        if !rule.matches_device(device, major, minor) || !undecided.intersects(rule.access) {
            continue;
        }
        if !rule.allow {
            return false;
        }
        undecided = Access(undecided.0 & !rule.access.0);
        if undecided.is_empty() {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: DeviceType = DeviceType::Char;
    const B: DeviceType = DeviceType::Block;

    fn access(s: &str) -> Access {
        s.parse().unwrap()
    }

    #[test]
    fn access_parses_and_prints_the_oci_letters() {
        assert_eq!(access("rwm"), Access::ALL);
        assert_eq!(access("mr"), Access::READ | Access::MKNOD);
        assert_eq!(access(""), Access::NONE);
        assert_eq!(access("mwr").to_string(), "rwm");
        assert!("rx".parse::<Access>().is_err());
        assert!("rr".parse::<Access>().is_err());
        assert_eq!(Access::from_bits(8), None);
    }

    #[test]
    fn kind_parses_the_oci_letters() {
        assert_eq!("a".parse::<DeviceKind>().unwrap(), DeviceKind::All);
        assert_eq!("b".parse::<DeviceKind>().unwrap(), DeviceKind::Block);
        assert_eq!("c".parse::<DeviceKind>().unwrap(), DeviceKind::Char);
        let err = "x".parse::<DeviceKind>().unwrap_err().to_string();
        assert!(err.contains("\"x\""), "{err}");
    }

    #[test]
    fn empty_list_denies_everything() {
        assert!(!decide(&[], C, 1, 3, Access::READ));
        assert!(!decide(&[], B, 7, 0, Access::MKNOD));
        assert!(!decide(&[], C, 5, 1, Access::NONE));
    }

    #[test]
    fn a_request_without_access_bits_follows_the_last_rule_naming_the_device() {
        let rules = [
            Rule::deny(DeviceKind::All, None, None, Access::ALL),
            Rule::allow(DeviceKind::Char, None, None, access("m")),
            Rule::deny(DeviceKind::Char, Some(1), Some(5), access("w")),
        ];
        assert!(decide(&rules, C, 136, 0, Access::NONE));
        assert!(!decide(&rules, C, 1, 5, Access::NONE));
        assert!(!decide(&rules, B, 7, 0, Access::NONE));
        let empty_access = [Rule::allow(DeviceKind::All, None, None, Access::NONE)];
        assert!(!decide(&empty_access, C, 1, 3, Access::NONE));
    }

    #[test]
    fn one_allow_rule_allows_only_its_device_and_access() {
        let rules = [Rule::allow(
            DeviceKind::Char,
            Some(1),
            Some(3),
            access("rw"),
        )];
        assert!(decide(&rules, C, 1, 3, access("r")));
        assert!(decide(&rules, C, 1, 3, access("rw")));
        assert!(!decide(&rules, C, 1, 3, access("m")));
        assert!(!decide(&rules, C, 1, 5, access("r")));
        assert!(!decide(&rules, B, 1, 3, access("r")));
        assert!(decide(&rules, C, 1, 3, Access::NONE));
        assert!(!decide(&rules, C, 1, 5, Access::NONE));
    }

    #[test]
    fn the_last_matching_rule_wins() {
        let deny_then_allow = [
            Rule::deny(DeviceKind::Char, Some(1), Some(5), Access::ALL),
            Rule::allow(DeviceKind::Char, None, None, Access::ALL),
        ];
        assert!(decide(&deny_then_allow, C, 1, 5, access("r")));
        let allow_then_deny = [
            Rule::allow(DeviceKind::Char, None, None, Access::ALL),
            Rule::deny(DeviceKind::Char, Some(1), Some(5), Access::ALL),
        ];
        assert!(!decide(&allow_then_deny, C, 1, 5, access("r")));
        assert!(decide(&allow_then_deny, C, 1, 3, access("r")));
        assert!(!decide(&allow_then_deny, B, 1, 3, access("r")));
    }

    #[test]
    fn access_bits_are_decided_one_by_one() {
        let partial_deny = [
            Rule::allow(DeviceKind::All, None, None, Access::ALL),
            Rule::deny(DeviceKind::Char, Some(1), Some(5), access("w")),
        ];
        assert!(decide(&partial_deny, C, 1, 5, access("r")));
        assert!(!decide(&partial_deny, C, 1, 5, access("w")));
        assert!(!decide(&partial_deny, C, 1, 5, access("rw")));
        let split_allow = [
            Rule::allow(DeviceKind::Char, Some(1), Some(3), access("r")),
            Rule::allow(DeviceKind::Char, Some(1), Some(3), access("w")),
        ];
        assert!(decide(&split_allow, C, 1, 3, access("rw")));
        assert!(!decide(&split_allow, C, 1, 3, access("rwm")));
    }

    #[test]
    fn wildcards_match_any_number() {
        let pts = [Rule::allow(DeviceKind::Char, Some(136), None, access("rw"))];
        assert!(decide(&pts, C, 136, 0, access("r")));
        assert!(decide(&pts, C, 136, 99, access("w")));
        assert!(!decide(&pts, C, 137, 0, access("r")));
        let any_major = [Rule::allow(DeviceKind::Block, None, Some(0), access("m"))];
        assert!(decide(&any_major, B, 254, 0, access("m")));
        assert!(!decide(&any_major, B, 254, 1, access("m")));
    }
}

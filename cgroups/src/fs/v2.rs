//! What only cgroup v2 has: `io.max` and `io.bfq.weight` lines, and device access as a
//! `BPF_PROG_TYPE_CGROUP_DEVICE` program attached to the cgroup (the
//! `syscontainer-device-filter` crate builds, loads and replaces it).

use std::path::Path;

use syscontainer_device_filter as filter;

use crate::error::{CgroupError, Result};
use crate::manager::{DeviceKind, DeviceRule, ThrottleKind};

/// v2 file and line for a throttle (`max` clears a limit, `default` a weight).
pub fn throttle_line(
    kind: ThrottleKind,
    major: u32,
    minor: u32,
    rate: u64,
) -> (&'static str, String) {
    let v = if rate == 0 {
        "max".to_string()
    } else {
        rate.to_string()
    };
    match kind {
        ThrottleKind::ReadBps => ("io.max", format!("{major}:{minor} rbps={v}")),
        ThrottleKind::WriteBps => ("io.max", format!("{major}:{minor} wbps={v}")),
        ThrottleKind::ReadIops => ("io.max", format!("{major}:{minor} riops={v}")),
        ThrottleKind::WriteIops => ("io.max", format!("{major}:{minor} wiops={v}")),
        ThrottleKind::Weight => (
            "io.bfq.weight",
            format!(
                "{major}:{minor} {}",
                if rate == 0 {
                    "default".into()
                } else {
                    rate.to_string()
                }
            ),
        ),
    }
}

/// Install the container's whole device rule list (OCI order: the last matching rule
/// decides, nothing listed is denied) as the device filter of its cgroup2 directory `dir`.
/// A filter of ours attached before is replaced atomically; programs of others stay. The
/// filter also runs for every cgroup below `dir`, so systemd's units inside are filtered too.
pub fn apply_device_rules(dir: &Path, rules: &[(bool, DeviceRule)]) -> Result<()> {
    let rules = filter_rules(rules)?;
    filter::DeviceCgroup::open(dir)?.apply(&rules)?;
    Ok(())
}

/// The device filter's rules for a list of (allow, rule).
pub fn filter_rules(rules: &[(bool, DeviceRule)]) -> Result<Vec<filter::Rule>> {
    rules
        .iter()
        .map(|(allow, rule)| filter_rule(*allow, rule))
        .collect()
}

fn filter_rule(allow: bool, rule: &DeviceRule) -> Result<filter::Rule> {
    let kind = match rule.kind {
        DeviceKind::All => filter::DeviceKind::All,
        DeviceKind::Block => filter::DeviceKind::Block,
        DeviceKind::Char => filter::DeviceKind::Char,
    };
    let number = |n: Option<i64>| {
        n.map(|n| {
            u32::try_from(n).map_err(|_| {
                CgroupError::Unsupported(format!("device rule {rule}: number {n} is out of range"))
            })
        })
        .transpose()
    };
    Ok(filter::Rule {
        allow,
        kind,
        major: number(rule.major)?,
        minor: number(rule.minor)?,
        access: rule.access.parse()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(kind: DeviceKind, major: Option<i64>, minor: Option<i64>, access: &str) -> DeviceRule {
        DeviceRule {
            kind,
            major,
            minor,
            access: access.into(),
        }
    }

    #[test]
    fn device_rules_become_filter_rules_in_order() {
        use filter::{decide, DeviceType};
        let rules = [
            (false, rule(DeviceKind::All, None, None, "rwm")),
            (true, rule(DeviceKind::Block, None, None, "m")),
            (true, rule(DeviceKind::Char, Some(136), None, "rwm")),
            (true, rule(DeviceKind::Block, Some(7), Some(3), "rw")),
        ];
        let out = filter_rules(&rules).unwrap();
        assert_eq!(out.len(), 4);
        assert!(!out[0].allow && out[0].access == filter::Access::ALL);
        assert_eq!(out[2].major, Some(136));
        assert_eq!(out[2].minor, None);
        let read = filter::Access::READ;
        assert!(decide(&out, DeviceType::Block, 7, 3, read));
        assert!(!decide(&out, DeviceType::Block, 7, 4, read));
        assert!(decide(&out, DeviceType::Block, 7, 4, filter::Access::MKNOD));
        assert!(decide(&out, DeviceType::Char, 136, 9, read));
    }

    #[test]
    fn bad_device_rules_are_refused_with_their_value() {
        let big = [(true, rule(DeviceKind::Char, Some(1 << 40), None, "r"))];
        let err = filter_rules(&big).unwrap_err().to_string();
        assert!(err.contains("1099511627776"), "{err}");
        let letters = [(true, rule(DeviceKind::Char, Some(1), Some(3), "rx"))];
        let err = filter_rules(&letters).unwrap_err().to_string();
        assert!(err.contains("\"rx\""), "{err}");
    }

    #[test]
    fn throttle_lines() {
        assert_eq!(
            throttle_line(ThrottleKind::WriteIops, 7, 3, 0),
            ("io.max", "7:3 wiops=max".into())
        );
        assert_eq!(
            throttle_line(ThrottleKind::Weight, 8, 0, 300),
            ("io.bfq.weight", "8:0 300".into())
        );
    }
}

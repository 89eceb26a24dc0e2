//! What only cgroup v2 has: `io.max` and `io.bfq.weight` lines, the v2 values of the v1-style
//! OCI options (`cpu.weight`, `memory.swap.max`, `io.weight`), and device access as a
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

/// `cpu.weight` (1..=10000) of a v1 `cpu.shares` (2..=262144), mapped linearly as crun
/// does (runc used the same line until 1.3): the default 1024 shares give weight 39, not
/// the v2 default 100, which keeps containers of mixed shares in the same ratio.
pub fn cpu_weight_of_shares(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// `io.weight` (1..=10000) of a v1 `blkio.weight` (10..=1000), as runc and crun map it,
/// for hosts without the bfq scheduler's `io.bfq.weight` (which takes the v1 value).
pub fn io_weight_of_blkio_weight(weight: u64) -> u64 {
    let weight = weight.clamp(10, 1000);
    1 + ((weight - 10) * 9999) / 990
}

/// The `memory.swap.max` value of OCI's `swap` (memory plus swap, as v1's memsw) given the
/// memory limit (`-1`: unlimited): v2 limits swap alone, so it gets their difference.
pub fn swap_max(memory: i64, memory_and_swap: i64) -> std::result::Result<String, String> {
    if memory_and_swap == -1 || memory == -1 {
        return Ok("max".into());
    }
    if memory_and_swap < memory {
        return Err(format!(
            "--memory-swap {memory_and_swap} is below --memory {memory}: it counts memory plus swap"
        ));
    }
    Ok((memory_and_swap - memory).to_string())
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
    fn shares_map_to_weights_as_crun_maps_them() {
        assert_eq!(cpu_weight_of_shares(2), 1);
        assert_eq!(cpu_weight_of_shares(1024), 39);
        assert_eq!(cpu_weight_of_shares(512), 20);
        assert_eq!(cpu_weight_of_shares(262_144), 10_000);
        assert_eq!(cpu_weight_of_shares(1), 1, "below the v1 minimum");
        assert_eq!(
            cpu_weight_of_shares(1 << 30),
            10_000,
            "above the v1 maximum"
        );
    }

    #[test]
    fn blkio_weights_map_to_io_weights() {
        assert_eq!(io_weight_of_blkio_weight(10), 1);
        assert_eq!(io_weight_of_blkio_weight(500), 4950);
        assert_eq!(io_weight_of_blkio_weight(1000), 10_000);
    }

    #[test]
    fn swap_max_is_swap_alone() {
        const M: i64 = 1 << 20;
        assert_eq!(swap_max(256 * M, 512 * M).unwrap(), (256 * M).to_string());
        assert_eq!(swap_max(256 * M, 256 * M).unwrap(), "0");
        assert_eq!(swap_max(256 * M, -1).unwrap(), "max");
        assert_eq!(swap_max(-1, 512 * M).unwrap(), "max");
        let err = swap_max(512 * M, 256 * M).unwrap_err();
        assert!(err.contains("below --memory"), "{err}");
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

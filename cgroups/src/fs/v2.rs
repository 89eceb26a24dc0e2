//! What only cgroup v2 has: `io.max` and `io.bfq.weight` lines. Device access on v2 is a BPF
//! program attached to the cgroup; until that exists, device rules are not enforced there.

use crate::manager::{DeviceRule, ThrottleKind};

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

/// Device rules on a host without a v1 devices controller: the slot for the BPF device
/// filter. Skipped with a warning for now (the mknod-less /dev still limits what the
/// container can open).
pub fn apply_device_rules(_rules: &[(bool, DeviceRule)]) {
    tracing::warn!("no devices cgroup controller: device rules are not enforced on this host");
}

#[cfg(test)]
mod tests {
    use super::*;

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

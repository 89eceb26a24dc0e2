//! The scope's own limits as systemd unit properties.
//!
//! systemd owns the attributes of a delegated unit's own cgroup: whenever it realizes the
//! unit's cgroup again (`systemctl daemon-reload`, a change to a sibling in the slice) it
//! writes the unit's properties there, and its defaults (`max`, weight 100, …) for those
//! never set. The limits the cgroupfs driver writes in the scope's files are therefore
//! handed to systemd too, read back from those files so that what systemd re-applies is
//! exactly what is in effect.

use syscontainer_systemd_client::ScopeProperty;

use crate::error::{CgroupError, Result};
use crate::stats::parse_cpu_list;

/// systemd's "infinity".
const UNLIMITED: u64 = u64::MAX;
const USEC_PER_SEC: u64 = 1_000_000;

fn malformed(file: &'static str, reason: &'static str, line: &str) -> CgroupError {
    CgroupError::Parse {
        file,
        reason,
        line: line.to_string(),
    }
}

/// `max` or a number, as `memory.max` and `pids.max` hold them.
fn limit(file: &'static str, text: &str) -> Result<u64> {
    match text {
        "max" => Ok(UNLIMITED),
        n => n
            .parse()
            .map_err(|_| malformed(file, "not a number or max", text)),
    }
}

/// `cpu.max` (`QUOTA PERIOD`, quota `max` for none) as CPUQuotaPerSecUSec and
/// CPUQuotaPeriodUSec. systemd writes back `per_sec × period / 10⁶`, rounded down, so the
/// quota per second is rounded up: with a period of at most one second that gives back the
/// same quota.
fn cpu_max(text: &str) -> Result<[ScopeProperty; 2]> {
    const FILE: &str = "cpu.max";
    let (quota, period) = text
        .split_once(' ')
        .ok_or_else(|| malformed(FILE, "not QUOTA PERIOD", text))?;
    let period: u64 = period
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| malformed(FILE, "period is not a positive number", text))?;
    let per_sec = match quota {
        "max" => UNLIMITED,
        q => {
            let q: u64 = q
                .parse()
                .map_err(|_| malformed(FILE, "quota is not a number or max", text))?;
            q.checked_mul(USEC_PER_SEC)
                .map(|scaled| scaled.div_ceil(period))
                .ok_or_else(|| malformed(FILE, "quota is out of range", text))?
        }
    };
    Ok([
        ScopeProperty::CpuQuotaPeriodUSec(period),
        ScopeProperty::CpuQuotaPerSecUSec(per_sec),
    ])
}

/// A CPU or node list (`0-2,5`) as systemd's bit mask: bit N of byte N / 8.
fn mask(file: &'static str, text: &str) -> Result<Vec<u8>> {
    let members = parse_cpu_list(text).map_err(|_| malformed(file, "not a CPU list", text))?;
    let mut bytes = vec![0u8; members.iter().max().map_or(0, |m| *m as usize / 8 + 1)];
    for m in members {
        bytes[m as usize / 8] |= 1 << (m % 8);
    }
    Ok(bytes)
}

/// The `default N` line of `io.weight`.
fn io_weight(text: &str) -> Result<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("default "))
        .and_then(|w| w.trim().parse().ok())
        .ok_or_else(|| malformed("io.weight", "no default weight", text))
}

/// A property holding a byte or task limit.
type LimitProperty = fn(u64) -> ScopeProperty;

/// A file of the scope's directory for [`unit_properties_of_files`]: trimmed, `None` when
/// absent.
pub fn read_scope_file(dir: &std::path::Path, file: &'static str) -> Result<Option<String>> {
    let path = dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CgroupError::Read { path, source }),
    }
}

/// The properties that make systemd keep what the scope's cgroup v2 files hold. `read`
/// returns a file's trimmed content, `None` for a file that does not exist (its controller
/// is not enabled for the scope). An empty cpuset is left out: unset, systemd writes it
/// empty too.
pub fn unit_properties_of_files(
    read: impl Fn(&'static str) -> Result<Option<String>>,
) -> Result<Vec<ScopeProperty>> {
    let mut properties = Vec::new();
    let limits: [(&'static str, LimitProperty); 5] = [
        ("memory.max", ScopeProperty::MemoryMax),
        ("memory.high", ScopeProperty::MemoryHigh),
        ("memory.low", ScopeProperty::MemoryLow),
        ("memory.swap.max", ScopeProperty::MemorySwapMax),
        ("pids.max", ScopeProperty::TasksMax),
    ];
    for (file, property) in limits {
        if let Some(text) = read(file)? {
            properties.push(property(limit(file, &text)?));
        }
    }
    if let Some(text) = read("cpu.weight")? {
        let weight = text
            .parse()
            .map_err(|_| malformed("cpu.weight", "not a number", &text))?;
        properties.push(ScopeProperty::CpuWeight(weight));
    }
    if let Some(text) = read("cpu.max")? {
        properties.extend(cpu_max(&text)?);
    }
    for (file, property) in [
        (
            "cpuset.cpus",
            ScopeProperty::AllowedCpus as fn(Vec<u8>) -> ScopeProperty,
        ),
        ("cpuset.mems", ScopeProperty::AllowedMemoryNodes),
    ] {
        if let Some(text) = read(file)?.filter(|t| !t.is_empty()) {
            properties.push(property(mask(file, &text)?));
        }
    }
    if let Some(text) = read("io.weight")? {
        properties.push(ScopeProperty::IoWeight(io_weight(&text)?));
    }
    Ok(properties)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(files: &[(&'static str, &str)]) -> Result<Vec<ScopeProperty>> {
        unit_properties_of_files(|name| {
            Ok(files
                .iter()
                .find(|(f, _)| *f == name)
                .map(|(_, text)| text.to_string()))
        })
    }

    #[test]
    fn a_limited_scope_maps_every_file_it_has() {
        let properties = from(&[
            ("memory.max", "134217728"),
            ("memory.high", "max"),
            ("memory.low", "0"),
            ("memory.swap.max", "67108864"),
            ("pids.max", "50"),
            ("cpu.weight", "39"),
            ("cpu.max", "50000 100000"),
            ("cpuset.cpus", "0-2,5,9"),
            ("cpuset.mems", "0"),
            ("io.weight", "default 200\n8:0 300"),
        ])
        .unwrap();
        assert_eq!(
            properties,
            vec![
                ScopeProperty::MemoryMax(128 << 20),
                ScopeProperty::MemoryHigh(u64::MAX),
                ScopeProperty::MemoryLow(0),
                ScopeProperty::MemorySwapMax(64 << 20),
                ScopeProperty::TasksMax(50),
                ScopeProperty::CpuWeight(39),
                ScopeProperty::CpuQuotaPeriodUSec(100_000),
                ScopeProperty::CpuQuotaPerSecUSec(500_000),
                ScopeProperty::AllowedCpus(vec![0b0010_0111, 0b0000_0010]),
                ScopeProperty::AllowedMemoryNodes(vec![1]),
                ScopeProperty::IoWeight(200),
            ]
        );
    }

    #[test]
    fn absent_files_and_an_empty_cpuset_set_nothing() {
        assert_eq!(from(&[]).unwrap(), vec![]);
        assert_eq!(
            from(&[("cpuset.cpus", ""), ("pids.max", "max")]).unwrap(),
            vec![ScopeProperty::TasksMax(u64::MAX)]
        );
    }

    #[test]
    fn the_quota_systemd_writes_back_is_the_one_read() {
        for (quota, period) in [
            (50_000u64, 100_000u64),
            (12_345, 7_777),
            (1_000, 1_000_000),
            (33_333, 100_000),
        ] {
            let [_, ScopeProperty::CpuQuotaPerSecUSec(per_sec)] =
                cpu_max(&format!("{quota} {period}")).unwrap()
            else {
                panic!("no quota per second")
            };
            // systemd: MAX(per_sec × period / USEC_PER_SEC, USEC_PER_MSEC).
            assert_eq!(
                (per_sec * period / USEC_PER_SEC).max(1_000),
                quota,
                "{quota} {period}"
            );
        }
        assert_eq!(
            cpu_max("max 100000").unwrap()[1],
            ScopeProperty::CpuQuotaPerSecUSec(u64::MAX)
        );
    }

    #[test]
    fn malformed_files_are_refused_naming_file_and_value() {
        for (file, text) in [
            ("memory.max", "lots"),
            ("cpu.max", "50000"),
            ("cpu.max", "50000 0"),
            ("cpu.weight", "heavy"),
            ("cpuset.cpus", "0-"),
            ("io.weight", "8:0 100"),
        ] {
            let err = from(&[(file, text)]).unwrap_err().to_string();
            assert!(err.contains(file) && err.contains(text), "{err}");
        }
    }
}

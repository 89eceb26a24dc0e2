//! The grammar of the general option values (sizes, CPU lists, signals, mounts, names, …).
//!
//! Each parser takes the raw string a user typed and returns a typed value or an
//! [`OptionError`] naming the bad value. They are pure: no file system, no host state,
//! except where the option's meaning needs it (`--env-file` reads its file).

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A bad option value: says which value and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value {value:?}: {reason}")]
pub struct OptionError {
    pub value: String,
    pub reason: String,
}

impl OptionError {
    pub fn new(value: impl Into<String>, reason: impl Into<String>) -> Self {
        OptionError {
            value: value.into(),
            reason: reason.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, OptionError>;

/// `NUMBER[UNIT]` with UNIT one of b, k, m, g, t, p (optionally followed by `b`,
/// case-insensitive, powers of 1024). Decimals are allowed with a unit: `1.5g`.
/// The arithmetic is exact integer arithmetic (no floating point), so every value up to
/// `u64::MAX` is represented exactly and anything larger is an overflow error.
pub fn parse_bytes(s: &str) -> Result<u64> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(split);
    if number.is_empty() {
        return Err(OptionError::new(
            s,
            "expected a number with an optional unit (b, k, m, g, t, p)",
        ));
    }
    let multiplier: u64 = match unit {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        "p" | "pb" | "pib" => 1 << 50,
        other => return Err(OptionError::new(s, format!("unknown unit {other:?}"))),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return Err(OptionError::new(s, "not a number"));
    }
    let too_large = || OptionError::new(s, "too large: more than 2^64-1 bytes");
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        // Only digits are left, so a parse error is an overflow.
        whole.parse().map_err(|_| too_large())?
    };
    let mut bytes = whole.checked_mul(multiplier).ok_or_else(too_large)?;
    let fraction = fraction.trim_end_matches('0');
    if !fraction.is_empty() {
        // No real size needs more than 18 decimals, and 18 keep the product in a u128.
        if fraction.len() > 18 {
            return Err(OptionError::new(s, "too many decimals"));
        }
        let numerator: u128 = fraction
            .parse()
            .map_err(|_| OptionError::new(s, "not a number"))?;
        let denominator: u128 = 10u128.pow(fraction.len() as u32);
        let scaled = numerator * u128::from(multiplier);
        if !scaled.is_multiple_of(denominator) {
            return Err(OptionError::new(s, "not a whole number of bytes"));
        }
        let extra = u64::try_from(scaled / denominator).map_err(|_| too_large())?;
        bytes = bytes.checked_add(extra).ok_or_else(too_large)?;
    }
    Ok(bytes)
}

/// `--memory`: at least 4 MiB, as in docker and isula.
pub fn parse_memory_limit(s: &str) -> Result<u64> {
    let bytes = parse_bytes(s)?;
    if bytes < 4 << 20 {
        return Err(OptionError::new(s, "minimum memory limit is 4M"));
    }
    Ok(bytes)
}

/// `--shm-size`: bytes, more than 0 (a tmpfs `size=0` would be an unlimited `/dev/shm`).
pub fn parse_shm_size(s: &str) -> Result<u64> {
    let bytes = parse_bytes(s)?;
    if bytes == 0 {
        return Err(OptionError::new(
            s,
            "the size of /dev/shm must be more than 0 (0 would mean unlimited)",
        ));
    }
    Ok(bytes)
}

/// `--memory-reservation` must not exceed `--memory`, as in docker.
pub fn check_memory_reservation(
    memory: Option<u64>,
    reservation: Option<u64>,
) -> std::result::Result<(), String> {
    match (memory, reservation) {
        (Some(m), Some(r)) if r > m => Err(format!(
            "minimum memory limit can not be less than memory reservation limit (--memory {m}, --memory-reservation {r})"
        )),
        _ => Ok(()),
    }
}

/// `--memory-swap`: bytes, or -1 for unlimited swap.
pub fn parse_memory_swap(s: &str) -> Result<i64> {
    if s.trim() == "-1" {
        return Ok(-1);
    }
    let bytes = parse_bytes(s)?;
    i64::try_from(bytes).map_err(|_| OptionError::new(s, "too large"))
}

/// `--cpus`: a positive decimal number of CPUs, e.g. `1.5`.
pub fn parse_cpus(s: &str) -> Result<f64> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| OptionError::new(s, "expected a decimal number of CPUs, e.g. 1.5"))?;
    if !v.is_finite() || v <= 0.0 {
        return Err(OptionError::new(s, "must be greater than 0"));
    }
    if v > 1024.0 {
        return Err(OptionError::new(s, "more CPUs than any host has"));
    }
    Ok(v)
}

/// `--cpu-quota`: CFS quota in microseconds, -1 (no quota) or at least 1000 (the
/// kernel's minimum). Shared by `create`/`run` and `update`.
pub fn parse_cpu_quota(s: &str) -> Result<i64> {
    let v = parse_int_in::<i64>(s, -1, i64::MAX)?;
    if v != -1 && v < 1000 {
        return Err(OptionError::new(
            s,
            "must be -1 or at least 1000 microseconds",
        ));
    }
    Ok(v)
}

/// A CPU or memory-node list: `0-3,5,7-8`.
pub fn parse_cpu_list(s: &str) -> Result<String> {
    let t = s.trim();
    if t.is_empty() {
        return Err(OptionError::new(s, "empty list"));
    }
    for part in t.split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((lo, hi)) => (lo, hi),
            None => (part, part),
        };
        let lo: u32 = lo
            .parse()
            .map_err(|_| OptionError::new(s, format!("{part:?} is not N or N-M")))?;
        let hi: u32 = hi
            .parse()
            .map_err(|_| OptionError::new(s, format!("{part:?} is not N or N-M")))?;
        if lo > hi {
            return Err(OptionError::new(s, format!("range {part:?} is reversed")));
        }
    }
    Ok(t.to_string())
}

/// The numbers of a list in [`parse_cpu_list`]'s grammar, ascending and without repeats.
pub fn cpu_list_members(s: &str) -> Result<Vec<u32>> {
    parse_cpu_list(s)?;
    let mut out = Vec::new();
    for part in s.trim().split(',') {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let (lo, hi): (u32, u32) = (
            lo.parse().map_err(|_| OptionError::new(s, "not a list"))?,
            hi.parse().map_err(|_| OptionError::new(s, "not a list"))?,
        );
        if hi - lo > 1 << 16 {
            return Err(OptionError::new(s, format!("range {part:?} is too long")));
        }
        out.extend(lo..=hi);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Every CPU (or memory node) of `requested` must be in `available` (the host's
/// `online` list), or the kernel refuses the cpuset only when the container starts.
/// `what` names the kind (`cpu`, `memory node`).
pub fn check_cpu_list_available(requested: &str, available: &str, what: &str) -> Result<()> {
    let online = cpu_list_members(available).map_err(|e| {
        OptionError::new(requested, format!("host list {available:?}: {}", e.reason))
    })?;
    let missing: Vec<String> = cpu_list_members(requested)?
        .into_iter()
        .filter(|n| online.binary_search(n).is_err())
        .map(|n| n.to_string())
        .collect();
    if !missing.is_empty() {
        let shown = if missing.len() > 8 {
            format!("{},…", missing[..8].join(","))
        } else {
            missing.join(",")
        };
        return Err(OptionError::new(
            requested,
            format!(
                "{what} {shown} not online on this host (online: {})",
                available.trim()
            ),
        ));
    }
    Ok(())
}

/// An integer in an inclusive range.
pub fn parse_int_in<T>(s: &str, min: T, max: T) -> Result<T>
where
    T: FromStr + PartialOrd + fmt::Display + Copy,
{
    let v: T = s
        .trim()
        .parse()
        .map_err(|_| OptionError::new(s, "not an integer"))?;
    if v < min || v > max {
        return Err(OptionError::new(
            s,
            format!("must be between {min} and {max}"),
        ));
    }
    Ok(v)
}

/// What happens when PID 1 ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case", tag = "name")]
pub enum RestartPolicy {
    /// Never restart.
    #[default]
    No,
    /// Restart only when the container rebooted itself (`reboot` inside).
    OnReboot,
    /// Restart after any end but a user's stop or an in-container poweroff.
    Always,
    /// Like `always`; kept distinct for isula/docker compatibility.
    UnlessStopped,
    /// Restart after a non-zero exit or a fatal signal, at most `max_retries` times.
    OnFailure { max_retries: Option<u32> },
}

impl FromStr for RestartPolicy {
    type Err = OptionError;

    fn from_str(s: &str) -> Result<Self> {
        let (name, count) = match s.split_once(':') {
            Some((n, c)) => (n, Some(c)),
            None => (s, None),
        };
        let policy = match name {
            "no" => RestartPolicy::No,
            "on-reboot" => RestartPolicy::OnReboot,
            "always" => RestartPolicy::Always,
            "unless-stopped" => RestartPolicy::UnlessStopped,
            "on-failure" => {
                let max_retries = count
                    .map(|c| {
                        c.parse::<u32>().map_err(|_| {
                            OptionError::new(
                                s,
                                "retry count after on-failure: must be a non-negative integer",
                            )
                        })
                    })
                    .transpose()?;
                return Ok(RestartPolicy::OnFailure { max_retries });
            }
            _ => {
                return Err(OptionError::new(
                    s,
                    "expected no, on-reboot, always, unless-stopped or on-failure[:N]",
                ))
            }
        };
        if count.is_some() {
            return Err(OptionError::new(s, "only on-failure takes a retry count"));
        }
        Ok(policy)
    }
}

impl fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestartPolicy::No => write!(f, "no"),
            RestartPolicy::OnReboot => write!(f, "on-reboot"),
            RestartPolicy::Always => write!(f, "always"),
            RestartPolicy::UnlessStopped => write!(f, "unless-stopped"),
            RestartPolicy::OnFailure { max_retries: None } => write!(f, "on-failure"),
            RestartPolicy::OnFailure {
                max_retries: Some(n),
            } => write!(f, "on-failure:{n}"),
        }
    }
}

pub fn parse_restart_policy(s: &str) -> Result<RestartPolicy> {
    s.parse()
}

/// The first and last real-time signals as glibc, systemd, Docker and runc number them:
/// glibc keeps the kernel's 32 and 33 for its threads. musl keeps 34 as well (its SIGRTMIN
/// is 35), and the CLI may be linked with either, so `SIGRTMIN+4` is not taken from libc:
/// it must be the number systemd (built against glibc) reads as poweroff.
pub const SIGRTMIN: i32 = 34;
pub const SIGRTMAX: i32 = 64;

/// A signal by name (`TERM`, `SIGTERM`, `SIGRTMIN+3`, `RTMAX-1`) or number.
pub fn parse_signal(s: &str) -> Result<i32> {
    let t = s.trim();
    if let Ok(n) = t.parse::<i32>() {
        if (1..=SIGRTMAX).contains(&n) {
            return Ok(n);
        }
        return Err(OptionError::new(
            s,
            format!("signal number must be 1..{SIGRTMAX}"),
        ));
    }
    let upper = t.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let rt = |base: i32, rest: &str| -> Result<i32> {
        let offset: i32 = match rest {
            "" => 0,
            r => r
                .parse()
                .map_err(|_| OptionError::new(s, "bad real-time signal offset"))?,
        };
        let n = base + offset;
        if !(SIGRTMIN..=SIGRTMAX).contains(&n) {
            return Err(OptionError::new(s, "real-time signal out of range"));
        }
        Ok(n)
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return rt(SIGRTMIN, rest);
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return rt(SIGRTMAX, rest);
    }
    let signal: nix::sys::signal::Signal = format!("SIG{name}")
        .parse()
        .map_err(|_| OptionError::new(s, "unknown signal"))?;
    Ok(signal as i32)
}

/// A name for a signal number, `SIGRTMIN+3` style for real-time ones, and the number itself
/// for those without a name (32 and 33, which glibc keeps for itself), so that
/// [`parse_signal`] reads back every name this gives.
pub fn signal_name(n: i32) -> String {
    if (SIGRTMIN..=SIGRTMAX).contains(&n) {
        return format!("SIGRTMIN+{}", n - SIGRTMIN);
    }
    match nix::sys::signal::Signal::try_from(n) {
        Ok(sig) => sig.as_str().to_string(),
        Err(_) => n.to_string(),
    }
}

/// `KEY=VALUE`, or `KEY` alone meaning "take it from the caller's environment".
pub fn parse_env(s: &str) -> Result<(String, String)> {
    let (key, value) = match s.split_once('=') {
        Some((k, v)) => (k, Some(v.to_string())),
        None => (s, None),
    };
    validate_env_key(key).map_err(|reason| OptionError::new(s, reason))?;
    let value = match value {
        Some(v) => v,
        None => std::env::var(key).unwrap_or_default(),
    };
    Ok((key.to_string(), value))
}

fn validate_env_key(key: &str) -> std::result::Result<(), String> {
    if key.is_empty() {
        return Err("empty variable name".into());
    }
    if key.contains(['\0', '=']) || key.chars().any(char::is_whitespace) {
        return Err(format!(
            "variable name {key:?} contains '=', NUL or white space"
        ));
    }
    Ok(())
}

/// An env file: `KEY=VALUE` or `KEY` lines; blank lines and `#` comments skipped.
pub fn parse_env_file_content(content: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (n, line) in content.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let pair = parse_env(line)
            .map_err(|e| OptionError::new(e.value, format!("line {}: {}", n + 1, e.reason)))?;
        out.push(pair);
    }
    Ok(out)
}

/// `KEY=VALUE` for labels and annotations; the key must be non-empty.
pub fn parse_key_value(s: &str) -> Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(OptionError::new(s, "expected KEY=VALUE")),
    }
}

/// An absolute path with no `..` component.
pub fn parse_abs_path(s: &str) -> Result<PathBuf> {
    let p = Path::new(s);
    if !p.is_absolute() {
        return Err(OptionError::new(s, "path must be absolute"));
    }
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(OptionError::new(s, "path must not contain '..'"));
    }
    Ok(p.to_path_buf())
}

/// A mount that the user asked for with `-v`, `--mount` or `--tmpfs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountRequest {
    pub kind: MountKind,
    /// Host path for binds; unused for tmpfs.
    pub source: Option<PathBuf>,
    pub destination: PathBuf,
    pub readonly: bool,
    /// Extra mount options (tmpfs size/mode, bind propagation).
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Bind,
    Tmpfs,
}

const PROPAGATIONS: &[&str] = &[
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];

/// `-v HOST:CTR[:OPTS]` with OPTS a comma list of ro, rw and a propagation mode.
pub fn parse_volume(s: &str) -> Result<MountRequest> {
    let parts: Vec<&str> = s.split(':').collect();
    let (source, destination, opts) = match parts.as_slice() {
        [src, dst] => (*src, *dst, ""),
        [src, dst, opts] => (*src, *dst, *opts),
        _ => {
            return Err(OptionError::new(
                s,
                "expected HOST-PATH:CONTAINER-PATH[:ro|rw]",
            ))
        }
    };
    let source = parse_abs_path(source)
        .map_err(|e| OptionError::new(s, format!("host path: {}", e.reason)))?;
    let destination = parse_abs_path(destination)
        .map_err(|e| OptionError::new(s, format!("container path: {}", e.reason)))?;
    let mut readonly = false;
    let mut options = Vec::new();
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" => readonly = true,
            "rw" => readonly = false,
            p if PROPAGATIONS.contains(&p) => options.push(p.to_string()),
            other => {
                return Err(OptionError::new(
                    s,
                    format!("unknown volume option {other:?}"),
                ))
            }
        }
    }
    Ok(MountRequest {
        kind: MountKind::Bind,
        source: Some(source),
        destination,
        readonly,
        options,
    })
}

/// `--mount type=bind|tmpfs,source=..,target=..[,readonly][,bind-propagation=..]
/// [,tmpfs-size=..][,tmpfs-mode=..]`.
pub fn parse_mount<'a>(s: &'a str) -> Result<MountRequest> {
    let mut kind = None;
    let mut source = None;
    let mut destination = None;
    let mut readonly = false;
    let mut options = Vec::new();
    for field in s.split(',') {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (field, None),
        };
        let need = |v: Option<&'a str>| -> Result<&'a str> {
            v.filter(|v| !v.is_empty())
                .ok_or_else(|| OptionError::new(s, format!("{key} needs a value")))
        };
        match key {
            "type" => {
                kind = Some(match need(value)? {
                    "bind" => MountKind::Bind,
                    "tmpfs" => MountKind::Tmpfs,
                    other => {
                        return Err(OptionError::new(
                            s,
                            format!("unsupported mount type {other:?} (bind or tmpfs)"),
                        ))
                    }
                })
            }
            "source" | "src" => source = Some(need(value)?.to_string()),
            "target" | "destination" | "dst" => destination = Some(need(value)?.to_string()),
            "readonly" | "ro" => {
                readonly = match value {
                    None | Some("true") | Some("1") => true,
                    Some("false") | Some("0") => false,
                    Some(v) => {
                        return Err(OptionError::new(
                            s,
                            format!("readonly={v} is not a boolean"),
                        ))
                    }
                }
            }
            "bind-propagation" => {
                let p = need(value)?;
                if !PROPAGATIONS.contains(&p) {
                    return Err(OptionError::new(
                        s,
                        format!("unknown bind-propagation {p:?}"),
                    ));
                }
                options.push(p.to_string());
            }
            "tmpfs-size" => {
                let size = parse_bytes(need(value)?)?;
                options.push(format!("size={size}"));
            }
            "tmpfs-mode" => {
                let mode = need(value)?;
                u32::from_str_radix(mode, 8).map_err(|_| {
                    OptionError::new(s, format!("tmpfs-mode {mode:?} is not octal"))
                })?;
                options.push(format!("mode={mode}"));
            }
            other => {
                return Err(OptionError::new(
                    s,
                    format!("unknown mount field {other:?}"),
                ))
            }
        }
    }
    let kind = kind.ok_or_else(|| OptionError::new(s, "missing type=bind|tmpfs"))?;
    let destination = destination.ok_or_else(|| OptionError::new(s, "missing target="))?;
    let destination = parse_abs_path(&destination)
        .map_err(|e| OptionError::new(s, format!("target: {}", e.reason)))?;
    let source = match (kind, source) {
        (MountKind::Bind, Some(src)) => Some(
            parse_abs_path(&src)
                .map_err(|e| OptionError::new(s, format!("source: {}", e.reason)))?,
        ),
        (MountKind::Bind, None) => return Err(OptionError::new(s, "bind mount needs source=")),
        (MountKind::Tmpfs, Some(_)) => return Err(OptionError::new(s, "tmpfs takes no source")),
        (MountKind::Tmpfs, None) => None,
    };
    if kind == MountKind::Bind
        && options
            .iter()
            .any(|o| o.starts_with("size=") || o.starts_with("mode="))
    {
        return Err(OptionError::new(
            s,
            "tmpfs-size and tmpfs-mode apply to tmpfs mounts only",
        ));
    }
    Ok(MountRequest {
        kind,
        source,
        destination,
        readonly,
        options,
    })
}

const TMPFS_OPTIONS: &[&str] = &[
    "ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "noatime", "relatime",
];

/// `--tmpfs /path[:opt,opt,...]` with opts among ro, rw, (no)suid, (no)dev, (no)exec,
/// size=BYTES, mode=OCTAL, uid=N, gid=N.
pub fn parse_tmpfs(s: &str) -> Result<MountRequest> {
    let (path, opts) = match s.split_once(':') {
        Some((p, o)) => (p, o),
        None => (s, ""),
    };
    let destination = parse_abs_path(path)?;
    let mut readonly = false;
    let mut options = Vec::new();
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        match opt.split_once('=') {
            Some(("size", v)) => {
                options.push(format!("size={}", parse_bytes(v)?));
            }
            Some(("mode", v)) => {
                u32::from_str_radix(v, 8)
                    .map_err(|_| OptionError::new(s, format!("mode {v:?} is not octal")))?;
                options.push(opt.to_string());
            }
            Some(("uid" | "gid", v)) => {
                v.parse::<u32>()
                    .map_err(|_| OptionError::new(s, format!("{opt:?} needs a numeric id")))?;
                options.push(opt.to_string());
            }
            None if opt == "ro" => readonly = true,
            None if TMPFS_OPTIONS.contains(&opt) => options.push(opt.to_string()),
            _ => return Err(OptionError::new(s, format!("unknown tmpfs option {opt:?}"))),
        }
    }
    Ok(MountRequest {
        kind: MountKind::Tmpfs,
        source: None,
        destination,
        readonly,
        options,
    })
}

/// `-u USER[:GROUP]`: names or numeric ids, resolved inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSpec {
    pub user: String,
    pub group: Option<String>,
}

pub fn parse_user(s: &str) -> Result<UserSpec> {
    let (user, group) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let valid = |name: &str| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '$'))
    };
    if !valid(user) || group.is_some_and(|g| !valid(g)) {
        return Err(OptionError::new(
            s,
            "expected USER[:GROUP] (names or numeric ids)",
        ));
    }
    Ok(UserSpec {
        user: user.to_string(),
        group: group.map(str::to_string),
    })
}

/// A capability name, with or without the `CAP_` prefix, or `ALL`.
pub fn parse_capability(s: &str) -> Result<CapabilityName> {
    let upper = s.trim().to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(CapabilityName::All);
    }
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    caps::Capability::from_str(&full)
        .map(CapabilityName::One)
        .map_err(|_| OptionError::new(s, "unknown capability"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapabilityName {
    All,
    One(caps::Capability),
}

/// Container names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 128 characters.
pub fn parse_name(s: &str) -> Result<String> {
    let mut chars = s.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        return Err(OptionError::new(
            s,
            "names match [a-zA-Z0-9][a-zA-Z0-9_.-]*",
        ));
    }
    if s.len() > 128 {
        return Err(OptionError::new(s, "names are at most 128 characters"));
    }
    Ok(s.to_string())
}

/// Host names: RFC 1123 labels, at most 64 characters in all.
pub fn parse_hostname(s: &str) -> Result<String> {
    if s.is_empty() || s.len() > 64 {
        return Err(OptionError::new(s, "host names are 1 to 64 characters"));
    }
    for label in s.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            return Err(OptionError::new(
                s,
                format!("label {label:?} is not a valid host name part"),
            ));
        }
    }
    Ok(s.to_string())
}

/// `--cgroup-parent`: a cgroup path. Absolute paths start at the hierarchy roots;
/// relative ones start at the cgroup of the process running `syscontainer`.
pub fn parse_cgroup_parent(s: &str) -> Result<String> {
    if s.is_empty() {
        return Err(OptionError::new(s, "empty cgroup path"));
    }
    let body = s.trim_start_matches('/');
    for part in body.split('/').filter(|p| !p.is_empty()) {
        if part == "." || part == ".." {
            return Err(OptionError::new(
                s,
                "cgroup path must not contain '.' or '..'",
            ));
        }
        if !part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':' | '@'))
        {
            return Err(OptionError::new(
                s,
                format!("cgroup path element {part:?} has characters outside [a-zA-Z0-9_.:@-]"),
            ));
        }
    }
    Ok(s.to_string())
}

/// Network mode: a private empty namespace (`none`, the default), the host's, or a
/// private namespace attached to CNI networks (`--network NAME`, see `network.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NetMode {
    #[default]
    None,
    Host,
    Cni,
}

pub fn parse_net_mode(s: &str) -> Result<NetMode> {
    match s {
        "none" | "private" => Ok(NetMode::None),
        "host" => Ok(NetMode::Host),
        _ => Err(OptionError::new(s, "expected none or host")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_units() {
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert_eq!(parse_bytes("4k").unwrap(), 4096);
        assert_eq!(parse_bytes("512M").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_bytes("2GB").unwrap(), 2 << 30);
        assert_eq!(parse_bytes("1t").unwrap(), 1 << 40);
    }

    #[test]
    fn bytes_errors_name_the_value() {
        for bad in [
            "",
            "m",
            "12x",
            "1..5m",
            "-1",
            "0.5",
            "99999999999999999999p",
        ] {
            let e = parse_bytes(bad).unwrap_err();
            assert_eq!(e.value, bad);
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn bytes_are_exact_integers() {
        // 2^53 + 1 is the first integer an f64 cannot hold.
        assert_eq!(parse_bytes("9007199254740993").unwrap(), (1 << 53) + 1);
        assert_eq!(parse_bytes("18446744073709551615").unwrap(), u64::MAX);
        assert_eq!(parse_bytes("8191p").unwrap(), 8191 << 50);
        assert_eq!(parse_bytes("0.5k").unwrap(), 512);
        assert_eq!(parse_bytes(".5k").unwrap(), 512);
        assert_eq!(parse_bytes("1.25k").unwrap(), 1280);
        assert_eq!(parse_bytes("3.0").unwrap(), 3);
        assert_eq!(parse_bytes("1.000000000000000000000").unwrap(), 1);
        for too_large in ["18446744073709551616", "16384p", "16384.5p"] {
            let e = parse_bytes(too_large).unwrap_err();
            assert_eq!(e.value, too_large);
            assert!(e.reason.contains("too large"), "{too_large}: {e}");
        }
        for bad in [".", "1.2.3", "1.1b", "1.0000000000000000001g", "1.5.k"] {
            let e = parse_bytes(bad).unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn shm_size_must_be_positive() {
        assert_eq!(parse_shm_size("16m").unwrap(), 16 << 20);
        for zero in ["0", "0k", "0.0m"] {
            let e = parse_shm_size(zero).unwrap_err().to_string();
            assert!(
                e.contains(&format!("{zero:?}")) && e.contains("more than 0"),
                "{e}"
            );
            assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn cpu_quota_minimum_is_shared() {
        assert_eq!(parse_cpu_quota("-1").unwrap(), -1);
        assert_eq!(parse_cpu_quota("1000").unwrap(), 1000);
        for bad in ["1", "999", "0", "-2", "x"] {
            let e = parse_cpu_quota(bad).unwrap_err();
            assert_eq!(e.value, bad);
        }
    }

    #[test]
    fn memory_reservation_not_above_memory() {
        assert!(check_memory_reservation(Some(512 << 20), Some(256 << 20)).is_ok());
        assert!(check_memory_reservation(Some(512 << 20), Some(512 << 20)).is_ok());
        assert!(check_memory_reservation(None, Some(1 << 30)).is_ok());
        assert!(check_memory_reservation(Some(1 << 30), None).is_ok());
        let e = check_memory_reservation(Some(512 << 20), Some(1 << 30)).unwrap_err();
        assert!(
            e.starts_with("minimum memory limit can not be less than memory reservation limit")
                && e.contains("536870912")
                && e.contains("1073741824"),
            "{e}"
        );
    }

    #[test]
    fn cpu_lists_against_the_host() {
        assert_eq!(cpu_list_members("3,0-2,2").unwrap(), vec![0, 1, 2, 3]);
        assert!(check_cpu_list_available("0-1", "0-3", "cpu").is_ok());
        assert!(check_cpu_list_available("2,0", "0,2-3", "cpu").is_ok());
        let e = check_cpu_list_available("1-2,99", "0-1", "cpu").unwrap_err();
        assert_eq!(e.value, "1-2,99");
        assert!(
            e.reason.contains("cpu 2,99 not online") && e.reason.contains("0-1"),
            "{e}"
        );
        let e = check_cpu_list_available("1", "0", "memory node").unwrap_err();
        assert!(e.reason.contains("memory node 1"), "{e}");
        assert!(check_cpu_list_available("0-4294967295", "0-1", "cpu").is_err());
        for bad in ["0-", "3-1", "a"] {
            assert_eq!(
                check_cpu_list_available(bad, "0-3", "cpu")
                    .unwrap_err()
                    .value,
                bad
            );
        }
    }

    #[test]
    fn memory_minimum() {
        assert!(parse_memory_limit("4m").is_ok());
        assert!(parse_memory_limit("1m")
            .unwrap_err()
            .reason
            .contains("minimum"));
        assert_eq!(parse_memory_swap("-1").unwrap(), -1);
        assert_eq!(parse_memory_swap("1g").unwrap(), 1 << 30);
        assert!(parse_memory_swap("-2").is_err());
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus("1.5").unwrap(), 1.5);
        for bad in ["0", "-1", "abc", "NaN", "inf", "5000"] {
            assert!(parse_cpus(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,5").unwrap(), "0-3,5");
        for bad in ["", "a", "3-1", "1,,2", "1-", "-1"] {
            assert!(parse_cpu_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn restart_policies() {
        assert_eq!(parse_restart_policy("no").unwrap(), RestartPolicy::No);
        assert_eq!(
            parse_restart_policy("on-reboot").unwrap(),
            RestartPolicy::OnReboot
        );
        assert_eq!(
            parse_restart_policy("on-failure:3").unwrap(),
            RestartPolicy::OnFailure {
                max_retries: Some(3)
            }
        );
        assert_eq!(
            parse_restart_policy("on-failure").unwrap(),
            RestartPolicy::OnFailure { max_retries: None }
        );
        for bad in ["", "sometimes", "always:3", "on-failure:x", "on-failure:-1"] {
            assert!(parse_restart_policy(bad).is_err(), "{bad}");
        }
        for p in [
            "no",
            "on-reboot",
            "always",
            "unless-stopped",
            "on-failure",
            "on-failure:2",
        ] {
            assert_eq!(parse_restart_policy(p).unwrap().to_string(), p);
        }
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("TERM").unwrap(), libc::SIGTERM);
        assert_eq!(parse_signal("SIGKILL").unwrap(), libc::SIGKILL);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("SIGRTMIN+3").unwrap(), 37);
        assert_eq!(parse_signal("rtmin+3").unwrap(), 37);
        assert_eq!(parse_signal("RTMAX").unwrap(), 64);
        for bad in ["", "FOO", "0", "65", "RTMIN+99", "RTMIN+x"] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
        assert_eq!(signal_name(37), "SIGRTMIN+3");
        assert_eq!(signal_name(libc::SIGTERM), "SIGTERM");
    }

    /// The real-time numbers are glibc's whatever libc this is built with (musl's SIGRTMIN
    /// is 35): SIGRTMIN+4 must be the signal systemd reads as poweroff.
    #[test]
    fn real_time_signals_are_numbered_as_glibc_and_systemd_number_them() {
        #[cfg(target_env = "gnu")]
        assert_eq!((SIGRTMIN, SIGRTMAX), (libc::SIGRTMIN(), libc::SIGRTMAX()));
        assert_eq!(parse_signal("SIGRTMIN+4").unwrap(), 38);
    }

    /// Found by the `restart_signal` fuzz target: `--stop-signal 33` was accepted but named
    /// "signal 33" in the spec's stop-signal annotation and in `inspect`, which no parser reads.
    #[test]
    fn every_accepted_signal_number_has_a_name_that_parses_back() {
        for n in 1..=SIGRTMAX {
            let name = signal_name(n);
            assert_eq!(parse_signal(&name).unwrap(), n, "{name}");
        }
        assert_eq!(signal_name(33), "33");
    }

    #[test]
    fn env() {
        assert_eq!(parse_env("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert_eq!(parse_env("EMPTY=").unwrap(), ("EMPTY".into(), "".into()));
        assert!(parse_env("=x").is_err());
        assert!(parse_env("A B=x").is_err());
        let file = "# comment\n\nA=1\n  B=two words\n";
        assert_eq!(
            parse_env_file_content(file).unwrap(),
            vec![("A".into(), "1".into()), ("B".into(), "two words".into())]
        );
        let e = parse_env_file_content("A=1\n=bad\n").unwrap_err();
        assert!(e.reason.contains("line 2"), "{e}");
    }

    #[test]
    fn volumes() {
        let v = parse_volume("/srv/data:/data:ro").unwrap();
        assert_eq!(v.source.as_deref(), Some(Path::new("/srv/data")));
        assert_eq!(v.destination, Path::new("/data"));
        assert!(v.readonly);
        assert!(!parse_volume("/a:/b").unwrap().readonly);
        assert_eq!(
            parse_volume("/a:/b:rw,rslave").unwrap().options,
            vec!["rslave"]
        );
        for bad in [
            "/a",
            "a:/b",
            "/a:b",
            "/a:/b:xx",
            "/a:/b:ro:extra",
            "/a/../b:/c",
        ] {
            assert!(parse_volume(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mounts() {
        let m = parse_mount("type=bind,source=/a,target=/b,readonly").unwrap();
        assert_eq!(m.kind, MountKind::Bind);
        assert!(m.readonly);
        let t = parse_mount("type=tmpfs,dst=/cache,tmpfs-size=64m,tmpfs-mode=1777").unwrap();
        assert_eq!(
            t.options,
            vec![format!("size={}", 64 << 20), "mode=1777".into()]
        );
        for bad in [
            "type=volume,target=/x",
            "source=/a,target=/b",
            "type=bind,target=/b",
            "type=bind,source=/a",
            "type=tmpfs,source=/a,target=/b",
            "type=tmpfs,target=rel",
            "type=bind,source=/a,target=/b,colour=red",
            "type=tmpfs,target=/b,tmpfs-mode=999",
            "type=bind,source=/a,target=/b,tmpfs-size=1m",
            "type=bind,source=/a,target=/b,readonly=maybe",
        ] {
            assert!(parse_mount(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tmpfs() {
        let t = parse_tmpfs("/run/x:size=1m,mode=700,noexec").unwrap();
        assert_eq!(t.options, vec!["size=1048576", "mode=700", "noexec"]);
        assert!(parse_tmpfs("/x:ro").unwrap().readonly);
        for bad in ["x", "/x:size=big", "/x:mode=9", "/x:bogus", "/x:uid=root"] {
            assert!(parse_tmpfs(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn users() {
        assert_eq!(
            parse_user("www:adm").unwrap(),
            UserSpec {
                user: "www".into(),
                group: Some("adm".into())
            }
        );
        assert_eq!(parse_user("1000").unwrap().group, None);
        for bad in ["", ":x", "a:", "a b", "a:b:c"] {
            assert!(parse_user(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn capabilities() {
        assert_eq!(
            parse_capability("net_admin").unwrap(),
            CapabilityName::One(caps::Capability::CAP_NET_ADMIN)
        );
        assert_eq!(
            parse_capability("CAP_SYS_TIME").unwrap(),
            CapabilityName::One(caps::Capability::CAP_SYS_TIME)
        );
        assert_eq!(parse_capability("all").unwrap(), CapabilityName::All);
        assert!(parse_capability("CAP_FLY").is_err());
    }

    #[test]
    fn names_and_hosts() {
        assert!(parse_name("web1").is_ok());
        assert!(parse_name("web_1.a-b").is_ok());
        for bad in ["", "-x", "a b", "a/b", &"x".repeat(129)] {
            assert!(parse_name(bad).is_err(), "{bad}");
        }
        assert!(parse_hostname("web1.example").is_ok());
        for bad in ["", "-a", "a-", "a..b", "a_b", &"h".repeat(65)] {
            assert!(parse_hostname(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cgroup_parents() {
        assert!(parse_cgroup_parent("/syscontainer").is_ok());
        assert!(parse_cgroup_parent("tests/run-1").is_ok());
        for bad in ["", "/a/../b", "a/./b", "a b", "a/b\n"] {
            assert!(parse_cgroup_parent(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ints_and_net() {
        assert_eq!(parse_int_in::<i64>("5", 1, 10).unwrap(), 5);
        assert!(parse_int_in::<i64>("11", 1, 10).is_err());
        assert!(parse_int_in::<i64>("x", 1, 10).is_err());
        assert_eq!(parse_net_mode("host").unwrap(), NetMode::Host);
        assert!(parse_net_mode("bridge").is_err());
        assert!(parse_key_value("a=b").is_ok());
        assert!(parse_key_value("=b").is_err());
        assert!(parse_abs_path("rel").is_err());
    }
}

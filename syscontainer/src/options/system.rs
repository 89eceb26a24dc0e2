//! The grammar of the system-container option values (openEuler's system-container guide):
//! `--ns-change-opt`, `--sysctl`, `--host-channel`, `--env-target-file`, `--files-limit`,
//! `--dns*`, `--add-host`, `--ulimit`, `--device`, the blkio throttles, `--hugetlb-limit`,
//! `--oom-score-adj`, `--security-opt`. Pure parsers and renderers, unit-tested below.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use oci_spec::runtime::PosixRlimitType;

use super::values::{parse_abs_path, parse_bytes, OptionError, Result};

/// `--ns-change-opt net|ipc|net,ipc`: which parts of `/proc/sys` stay writable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NsChangeOpt {
    pub net: bool,
    pub ipc: bool,
}

pub fn parse_ns_change_opt(s: &str) -> Result<NsChangeOpt> {
    let mut opt = NsChangeOpt::default();
    for part in s.split(',') {
        match part.trim() {
            "net" => opt.net = true,
            "ipc" => opt.ipc = true,
            _ => return Err(OptionError::new(s, "expected net, ipc or net,ipc")),
        }
    }
    Ok(opt)
}

/// The IPC sysctls that an IPC namespace owns.
pub const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

impl NsChangeOpt {
    /// Paths under the container's `/proc/sys` made writable again after `/proc/sys` is
    /// made read-only.
    pub fn writable_paths(&self) -> Vec<String> {
        let mut paths = Vec::new();
        if self.net {
            paths.push("/proc/sys/net".to_string());
        }
        if self.ipc {
            paths.extend(IPC_SYSCTLS.iter().map(|k| sysctl_path(k)));
            paths.push("/proc/sys/fs/mqueue".to_string());
        }
        paths
    }
}

/// `/proc/sys/...` path of a dotted sysctl key.
pub fn sysctl_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

/// `kernel.pid_max` belongs to the PID namespace only since Linux 6.14; before, a
/// write from inside the container changes the host's value.
pub const PID_MAX_NAMESPACED_SINCE: (u32, u32) = (6, 14);

/// `(major, minor)` of a kernel release string such as `6.18.44-fc-v1147`.
pub fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.trim().split(['.', '-', '+']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()?
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()?;
    Some((major, minor))
}

/// The running kernel's release (`uname -r`).
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// `--sysctl` on the running kernel; see [`parse_sysctl_for_kernel`].
pub fn parse_sysctl(s: &str) -> Result<(String, String)> {
    parse_sysctl_for_kernel(s, &kernel_release())
}

/// `--sysctl KEY=VALUE`, restricted to namespaced keys: the IPC ones, `kernel.pid_max`
/// (on kernels `release` ≥ 6.14, where it is per PID namespace), `net.*` and
/// `fs.mqueue.*`. Anything else would change the host.
pub fn parse_sysctl_for_kernel(s: &str, release: &str) -> Result<(String, String)> {
    let (key, value) = parse_sysctl_key_value(s)?;
    if key == "kernel.pid_max" {
        let (major, minor) = PID_MAX_NAMESPACED_SINCE;
        match kernel_version(release) {
            Some(v) if v >= PID_MAX_NAMESPACED_SINCE => {}
            Some((a, b)) => {
                return Err(OptionError::new(
                    s,
                    format!("kernel.pid_max is namespaced only since linux {major}.{minor}; on this kernel ({a}.{b}) it would change the host's value"),
                ))
            }
            None => {
                return Err(OptionError::new(
                    s,
                    format!("kernel.pid_max is namespaced only since linux {major}.{minor}, and the kernel release {release:?} cannot be read"),
                ))
            }
        }
    }
    Ok((key, value))
}

fn parse_sysctl_key_value(s: &str) -> Result<(String, String)> {
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| OptionError::new(s, "expected KEY=VALUE"))?;
    let key = key.trim();
    if key.is_empty()
        || value.is_empty()
        || key.contains("..")
        || key.contains('/')
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Err(OptionError::new(
            s,
            "expected KEY=VALUE with a dotted sysctl key",
        ));
    }
    let allowed = IPC_SYSCTLS.contains(&key)
        || key == "kernel.pid_max"
        || key.starts_with("net.")
        || key.starts_with("fs.mqueue.");
    if !allowed {
        return Err(OptionError::new(
            s,
            format!("sysctl {key} is not namespaced; allowed: kernel.{{msgmax,msgmnb,msgmni,sem,shmall,shmmax,shmmni,shm_rmid_forced,pid_max}}, net.*, fs.mqueue.*"),
        ));
    }
    Ok((key.to_string(), value.to_string()))
}

/// `--host-channel HOST:CTR[:rw|ro[:SIZE]]`: a tmpfs shared between host and container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostChannel {
    pub host: PathBuf,
    pub container: PathBuf,
    pub readonly: bool,
    pub size: u64,
}

pub const HOST_CHANNEL_DEFAULT_SIZE: u64 = 64 << 20;
pub const HOST_CHANNEL_MIN_SIZE: u64 = 4 << 10;

/// Parse `--host-channel`; `host_memory` bounds the size to half of it.
pub fn parse_host_channel(s: &str, host_memory: u64) -> Result<HostChannel> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() < 2 || parts.len() > 4 {
        return Err(OptionError::new(
            s,
            "expected HOST:CONTAINER[:rw|ro[:SIZE]]",
        ));
    }
    let host = parse_abs_path(parts[0]).map_err(|e| OptionError::new(s, e.reason))?;
    let container = parse_abs_path(parts[1]).map_err(|e| OptionError::new(s, e.reason))?;
    if container == Path::new("/") {
        return Err(OptionError::new(s, "the container path cannot be /"));
    }
    let readonly = match parts.get(2) {
        None | Some(&"rw") => false,
        Some(&"ro") => true,
        Some(other) => {
            return Err(OptionError::new(
                s,
                format!("mode {other:?} is not rw or ro"),
            ))
        }
    };
    let size = match parts.get(3) {
        None => HOST_CHANNEL_DEFAULT_SIZE,
        Some(size) => parse_bytes(size).map_err(|e| OptionError::new(s, e.reason))?,
    };
    if size < HOST_CHANNEL_MIN_SIZE {
        return Err(OptionError::new(s, "size must be at least 4K"));
    }
    if size > host_memory / 2 {
        return Err(OptionError::new(
            s,
            format!(
                "size must be at most half of the host memory ({} bytes)",
                host_memory / 2
            ),
        ));
    }
    Ok(HostChannel {
        host,
        container,
        readonly,
        size,
    })
}

/// Largest `--env-target-file` the runtime reads or writes.
pub const ENV_TARGET_FILE_MAX: u64 = 10 << 20;

/// The new content of an `--env-target-file`: the existing `KEY=VALUE` lines are kept
/// (comments and blank lines too), keys set with `-e` replace them, new keys are appended.
pub fn render_env_target_file(existing: &str, env: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut written = std::collections::HashSet::new();
    for line in existing.lines() {
        let key = line.split_once('=').map(|(k, _)| k.trim());
        match key.and_then(|k| env.iter().rev().find(|(ek, _)| ek == k)) {
            Some((k, v)) if !line.trim_start().starts_with('#') => {
                if written.insert(k.clone()) {
                    out.push_str(&format!("{k}={v}\n"));
                }
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for (k, v) in env {
        if !written.contains(k) {
            let last = env
                .iter()
                .rev()
                .find(|(ek, _)| ek == k)
                .map(|(_, v)| v)
                .unwrap_or(v);
            out.push_str(&format!("{k}={last}\n"));
            written.insert(k.clone());
        }
    }
    out
}

/// `--files-limit`: `None` means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilesLimit(pub Option<u64>);

/// `--files-limit N`: `-1` or `0` mean no limit; otherwise 1..=2^31-1 open files.
pub fn parse_files_limit(s: &str) -> Result<FilesLimit> {
    parse_files_limit_value(s).map(FilesLimit)
}

fn parse_files_limit_value(s: &str) -> Result<Option<u64>> {
    let n: i64 = s
        .trim()
        .parse()
        .map_err(|_| OptionError::new(s, "expected an integer (-1 or 0 for no limit)"))?;
    match n {
        -1 | 0 => Ok(None),
        n if n > 0 && n <= i32::MAX as i64 => Ok(Some(n as u64)),
        _ => Err(OptionError::new(
            s,
            "expected -1, 0 or a positive number of files",
        )),
    }
}

pub fn parse_ip(s: &str) -> Result<IpAddr> {
    s.trim()
        .parse()
        .map_err(|_| OptionError::new(s, "not an IPv4 or IPv6 address"))
}

/// `--add-host HOST:IP` (the IP may be IPv6, so split at the first colon).
pub fn parse_add_host(s: &str) -> Result<(String, IpAddr)> {
    let (host, ip) = s
        .split_once(':')
        .ok_or_else(|| OptionError::new(s, "expected HOST:IP"))?;
    if host.is_empty()
        || host.len() > 253
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
    {
        return Err(OptionError::new(s, format!("{host:?} is not a host name")));
    }
    let ip = parse_ip(ip).map_err(|e| OptionError::new(s, e.reason))?;
    Ok((host.to_string(), ip))
}

/// `--dns-search DOMAIN` and `--dns-option OPT`: one word, printable.
pub fn parse_resolv_word(s: &str) -> Result<String> {
    if s.is_empty() || s.len() > 253 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(OptionError::new(s, "expected one word without spaces"));
    }
    Ok(s.to_string())
}

/// The container's `/etc/resolv.conf`: the host's, with the DNS options replacing their
/// counterparts when given.
pub fn render_resolv_conf(
    host: &str,
    servers: &[IpAddr],
    search: &[String],
    options: &[String],
) -> String {
    let mut out = String::new();
    for line in host.lines() {
        let word = line.split_whitespace().next().unwrap_or("");
        let replaced = (word == "nameserver" && !servers.is_empty())
            || ((word == "search" || word == "domain") && !search.is_empty())
            || (word == "options" && !options.is_empty());
        if !replaced {
            out.push_str(line);
            out.push('\n');
        }
    }
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// `--ulimit NAME=SOFT[:HARD]` (NAME as in docker: nofile, nproc, core, …; -1 = unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ulimit {
    pub kind: PosixRlimitType,
    pub soft: u64,
    pub hard: u64,
}

/// The names `--ulimit` takes and the limit each one sets.
const ULIMITS: &[(&str, PosixRlimitType)] = &[
    ("as", PosixRlimitType::RlimitAs),
    ("core", PosixRlimitType::RlimitCore),
    ("cpu", PosixRlimitType::RlimitCpu),
    ("data", PosixRlimitType::RlimitData),
    ("fsize", PosixRlimitType::RlimitFsize),
    ("locks", PosixRlimitType::RlimitLocks),
    ("memlock", PosixRlimitType::RlimitMemlock),
    ("msgqueue", PosixRlimitType::RlimitMsgqueue),
    ("nice", PosixRlimitType::RlimitNice),
    ("nofile", PosixRlimitType::RlimitNofile),
    ("nproc", PosixRlimitType::RlimitNproc),
    ("rss", PosixRlimitType::RlimitRss),
    ("rtprio", PosixRlimitType::RlimitRtprio),
    ("rttime", PosixRlimitType::RlimitRttime),
    ("sigpending", PosixRlimitType::RlimitSigpending),
    ("stack", PosixRlimitType::RlimitStack),
];

pub fn parse_ulimit(s: &str) -> Result<Ulimit> {
    let (name, values) = s
        .split_once('=')
        .ok_or_else(|| OptionError::new(s, "expected NAME=SOFT[:HARD]"))?;
    let Some(&(_, kind)) = ULIMITS.iter().find(|(n, _)| *n == name) else {
        let names: Vec<&str> = ULIMITS.iter().map(|(n, _)| *n).collect();
        return Err(OptionError::new(
            s,
            format!("unknown limit {name:?}; one of {}", names.join(", ")),
        ));
    };
    let number = |v: &str| -> Result<u64> {
        if v == "-1" || v == "unlimited" {
            return Ok(u64::MAX);
        }
        v.parse()
            .map_err(|_| OptionError::new(s, format!("{v:?} is not a number")))
    };
    let (soft, hard) = match values.split_once(':') {
        Some((soft, hard)) => (number(soft)?, number(hard)?),
        None => (number(values)?, number(values)?),
    };
    if soft > hard {
        return Err(OptionError::new(s, "the soft limit exceeds the hard limit"));
    }
    Ok(Ulimit { kind, soft, hard })
}

/// `--device HOST[:CONTAINER][:PERMISSIONS]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRequest {
    pub host: PathBuf,
    pub container: PathBuf,
    pub permissions: String,
}

/// A non-empty set of r, w and m, each at most once (the devices cgroup's access string).
fn is_permissions(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| "rwm".contains(c))
        && s.chars().enumerate().all(|(i, c)| !s[..i].contains(c))
}

pub fn parse_device(s: &str) -> Result<DeviceRequest> {
    let parts: Vec<&str> = s.split(':').collect();
    let (host, container, permissions) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, p] if !p.starts_with('/') => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] => (*h, *c, *p),
        _ => {
            return Err(OptionError::new(
                s,
                "expected HOST[:CONTAINER][:PERMISSIONS]",
            ))
        }
    };
    if !is_permissions(permissions) {
        return Err(OptionError::new(
            s,
            format!("permissions {permissions:?} are not a set of r, w and m (each at most once)"),
        ));
    }
    Ok(DeviceRequest {
        host: parse_abs_path(host).map_err(|e| OptionError::new(s, e.reason))?,
        container: parse_abs_path(container).map_err(|e| OptionError::new(s, e.reason))?,
        permissions: permissions.to_string(),
    })
}

/// `--device-read-bps /dev/sda:1mb` and friends: a device path and a rate (bytes for
/// the bps options, a plain number for the iops ones).
pub fn parse_device_rate(s: &str, bytes: bool) -> Result<(PathBuf, u64)> {
    let (dev, rate) = s
        .rsplit_once(':')
        .ok_or_else(|| OptionError::new(s, "expected DEVICE:RATE"))?;
    let dev = parse_abs_path(dev).map_err(|e| OptionError::new(s, e.reason))?;
    let rate = if bytes {
        parse_bytes(rate).map_err(|e| OptionError::new(s, e.reason))?
    } else {
        rate.parse()
            .map_err(|_| OptionError::new(s, format!("{rate:?} is not a number of operations")))?
    };
    Ok((dev, rate))
}

/// `--blkio-weight N`: 10..=1000 (0 = unset).
pub fn parse_blkio_weight(s: &str) -> Result<u16> {
    match s.trim().parse::<u16>() {
        Ok(0) => Ok(0),
        Ok(w) if (10..=1000).contains(&w) => Ok(w),
        _ => Err(OptionError::new(s, "expected a weight between 10 and 1000")),
    }
}

/// `--blkio-weight-device DEVICE:WEIGHT`.
pub fn parse_blkio_weight_device(s: &str) -> Result<(PathBuf, u16)> {
    let (dev, weight) = s
        .rsplit_once(':')
        .ok_or_else(|| OptionError::new(s, "expected DEVICE:WEIGHT"))?;
    let dev = parse_abs_path(dev).map_err(|e| OptionError::new(s, e.reason))?;
    let weight = parse_blkio_weight(weight).map_err(|e| OptionError::new(s, e.reason))?;
    Ok((dev, weight))
}

/// `--hugetlb-limit [PAGESIZE:]LIMIT`, e.g. `2MB:64m`; the page size defaults to 2MB.
pub fn parse_hugetlb_limit(s: &str) -> Result<(String, u64)> {
    let (page, limit) = match s.split_once(':') {
        Some((p, l)) => (p, l),
        None => ("2MB", s),
    };
    let page_bytes = parse_bytes(page).map_err(|e| OptionError::new(s, e.reason))?;
    if !page_bytes.is_power_of_two() || page_bytes < 4096 {
        return Err(OptionError::new(
            s,
            format!("page size {page:?} is not a power of two of at least 4K"),
        ));
    }
    let limit = parse_bytes(limit).map_err(|e| OptionError::new(s, e.reason))?;
    let page_size = match page_bytes {
        b if b >= 1 << 30 => format!("{}GB", b >> 30),
        b if b >= 1 << 20 => format!("{}MB", b >> 20),
        b => format!("{}KB", b >> 10),
    };
    Ok((page_size, limit))
}

/// `--oom-score-adj N`: -1000..=1000.
pub fn parse_oom_score_adj(s: &str) -> Result<i32> {
    match s.trim().parse::<i32>() {
        Ok(n) if (-1000..=1000).contains(&n) => Ok(n),
        _ => Err(OptionError::new(
            s,
            "expected an integer between -1000 and 1000",
        )),
    }
}

/// `--security-opt no-new-privileges[:true|false]|seccomp=unconfined|seccomp=FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityOpt {
    NoNewPrivileges(bool),
    SeccompUnconfined,
    SeccompProfile(PathBuf),
}

pub fn parse_security_opt(s: &str) -> Result<SecurityOpt> {
    match s {
        "no-new-privileges" | "no-new-privileges:true" | "no-new-privileges=true" => {
            Ok(SecurityOpt::NoNewPrivileges(true))
        }
        "no-new-privileges:false" | "no-new-privileges=false" => {
            Ok(SecurityOpt::NoNewPrivileges(false))
        }
        "seccomp=unconfined" | "seccomp:unconfined" => Ok(SecurityOpt::SeccompUnconfined),
        _ => match s
            .strip_prefix("seccomp=")
            .or_else(|| s.strip_prefix("seccomp:"))
        {
            Some(file) => Ok(SecurityOpt::SeccompProfile(
                parse_abs_path(file).map_err(|e| OptionError::new(s, e.reason))?,
            )),
            None => Err(OptionError::new(
                s,
                "expected no-new-privileges, seccomp=unconfined or seccomp=/abs/profile.json",
            )),
        },
    }
}

/// The longest module name the kernel takes: `MODULE_NAME_LEN` (64 - sizeof(long))
/// less the terminating NUL.
pub const KERNEL_MODULE_NAME_MAX: usize = 55;

/// `-e KERNEL_MODULES=a,b`: a comma-separated list (empty entries skipped) of module
/// names of at most [`KERNEL_MODULE_NAME_MAX`] characters matching `[A-Za-z0-9_-]+`.
/// The CLI checks it at create and the prestart hook loads what it returns.
pub fn parse_kernel_modules(value: &str) -> Result<Vec<String>> {
    value
        .split(',')
        .filter(|m| !m.is_empty())
        .map(|m| {
            if !m
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                Err(OptionError::new(
                    value,
                    format!("module name {m:?} must match [A-Za-z0-9_-]+"),
                ))
            } else if m.len() > KERNEL_MODULE_NAME_MAX {
                Err(OptionError::new(
                    value,
                    format!("module name {m:?} is longer than {KERNEL_MODULE_NAME_MAX} characters"),
                ))
            } else {
                Ok(m.to_string())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn ns_change_opt() {
        assert_eq!(
            parse_ns_change_opt("net").unwrap(),
            NsChangeOpt {
                net: true,
                ipc: false
            }
        );
        assert_eq!(
            parse_ns_change_opt("net,ipc").unwrap(),
            NsChangeOpt {
                net: true,
                ipc: true
            }
        );
        assert!(parse_ns_change_opt("pid")
            .unwrap_err()
            .to_string()
            .contains("\"pid\""));
        assert!(parse_ns_change_opt("").is_err());
        let paths = parse_ns_change_opt("ipc").unwrap().writable_paths();
        assert!(paths.contains(&"/proc/sys/kernel/shmmax".to_string()));
        assert!(paths.contains(&"/proc/sys/fs/mqueue".to_string()));
        assert!(!paths.contains(&"/proc/sys/net".to_string()));
    }

    #[test]
    fn sysctl_whitelist() {
        assert_eq!(
            parse_sysctl("kernel.shmmax=1000").unwrap(),
            ("kernel.shmmax".into(), "1000".into())
        );
        assert!(parse_sysctl("net.ipv4.ip_forward=1").is_ok());
        assert!(parse_sysctl("fs.mqueue.msg_max=20").is_ok());
        for release in ["6.14.0", "6.18.44-fc-v1147", "7.0-rc1", "10.1"] {
            assert_eq!(
                parse_sysctl_for_kernel("kernel.pid_max=5000", release).unwrap(),
                ("kernel.pid_max".into(), "5000".into()),
                "{release}"
            );
        }
        for release in ["6.13.7", "5.15.0-91-generic", "4.19", "", "linux"] {
            let e = parse_sysctl_for_kernel("kernel.pid_max=5000", release)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("\"kernel.pid_max=5000\"") && e.contains("6.14") && !e.contains('\n'),
                "{release}: {e}"
            );
        }
        // Other keys do not depend on the kernel.
        assert!(parse_sysctl_for_kernel("kernel.shmmax=1000", "4.19").is_ok());
        for bad in [
            "kernel.hostname=x",
            "vm.swappiness=1",
            "fs.file-max=1",
            "net.ipv4.ip_forward",
            "=1",
            "net/../vm=1",
            "net.x=",
        ] {
            let e = parse_sysctl(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn kernel_versions() {
        assert_eq!(kernel_version("6.18.44-fc-v1147"), Some((6, 18)));
        assert_eq!(kernel_version("6.14.0"), Some((6, 14)));
        assert_eq!(kernel_version("5.15.0-91-generic"), Some((5, 15)));
        assert_eq!(kernel_version("7.0-rc1"), Some((7, 0)));
        assert_eq!(kernel_version("6.9+"), Some((6, 9)));
        assert_eq!(kernel_version("6"), None);
        assert_eq!(kernel_version(""), None);
        assert_eq!(kernel_version("x.y"), None);
        // Numeric, not string, order: 6.9 < 6.14.
        assert!(kernel_version("6.9.1").unwrap() < PID_MAX_NAMESPACED_SINCE);
        assert!(kernel_version("6.100").unwrap() >= PID_MAX_NAMESPACED_SINCE);
    }

    #[test]
    fn host_channel() {
        let c = parse_host_channel("/run/hc:/mnt/hc", 8 * GIB).unwrap();
        assert_eq!((c.readonly, c.size), (false, 64 << 20));
        let c = parse_host_channel("/run/hc:/mnt/hc:ro:32M", 8 * GIB).unwrap();
        assert_eq!((c.readonly, c.size), (true, 32 << 20));
        for bad in [
            "/run/hc",
            "run/hc:/mnt",
            "/run/hc:mnt",
            "/run/hc:/mnt:rx",
            "/run/hc:/mnt:rw:1k",
            "/run/hc:/mnt:rw:5g",
            "/run/hc:/",
            "/a:/b:rw:1m:x",
        ] {
            let e = parse_host_channel(bad, 8 * GIB).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
        assert!(parse_host_channel("/a:/b:rw:4k", 8 * GIB).is_ok());
    }

    #[test]
    fn env_target_file_keeps_and_overrides() {
        let existing = "# env\nA=1\nB=2\n\nC=3\n";
        let env = vec![
            ("B".to_string(), "20".to_string()),
            ("D".to_string(), "4".to_string()),
        ];
        assert_eq!(
            render_env_target_file(existing, &env),
            "# env\nA=1\nB=20\n\nC=3\nD=4\n"
        );
        let twice = vec![
            ("X".to_string(), "1".to_string()),
            ("X".to_string(), "2".to_string()),
        ];
        assert_eq!(render_env_target_file("", &twice), "X=2\n");
    }

    #[test]
    fn files_limit() {
        assert_eq!(parse_files_limit("-1").unwrap(), FilesLimit(None));
        assert_eq!(parse_files_limit("0").unwrap(), FilesLimit(None));
        assert_eq!(parse_files_limit("1024").unwrap(), FilesLimit(Some(1024)));
        for bad in ["-2", "many", "99999999999"] {
            assert!(parse_files_limit(bad)
                .unwrap_err()
                .to_string()
                .contains(bad));
        }
    }

    #[test]
    fn dns_and_hosts() {
        assert_eq!(parse_add_host("db:10.0.0.2").unwrap().0, "db");
        assert_eq!(
            parse_add_host("db6:fe80::1").unwrap().1,
            "fe80::1".parse::<IpAddr>().unwrap()
        );
        for bad in ["db", "db:10.0.0", ":1.2.3.4", "a b:1.2.3.4"] {
            assert!(parse_add_host(bad).unwrap_err().to_string().contains(bad));
        }
        assert!(parse_ip("8.8.8.8").is_ok());
        assert!(parse_ip("8.8.8").unwrap_err().to_string().contains("8.8.8"));
        let host = "domain lan\nnameserver 1.1.1.1\noptions rotate\n";
        let out = render_resolv_conf(
            host,
            &["9.9.9.9".parse().unwrap()],
            &["example.org".into()],
            &[],
        );
        assert_eq!(
            out,
            "options rotate\nnameserver 9.9.9.9\nsearch example.org\n"
        );
        assert_eq!(render_resolv_conf(host, &[], &[], &[]), host);
    }

    #[test]
    fn ulimits() {
        let u = parse_ulimit("nofile=1024:2048").unwrap();
        assert_eq!(
            (u.kind, u.soft, u.hard),
            (PosixRlimitType::RlimitNofile, 1024, 2048)
        );
        assert_eq!(
            parse_ulimit("rttime=5").unwrap().kind,
            PosixRlimitType::RlimitRttime
        );
        assert_eq!(parse_ulimit("core=-1").unwrap().hard, u64::MAX);
        for bad in ["nofile", "files=1", "nofile=2:1", "nofile=x"] {
            assert!(parse_ulimit(bad).unwrap_err().to_string().contains(bad));
        }
    }

    #[test]
    fn devices_and_rates() {
        let d = parse_device("/dev/loop3").unwrap();
        assert_eq!(
            (d.container.as_path(), d.permissions.as_str()),
            (Path::new("/dev/loop3"), "rwm")
        );
        let d = parse_device("/dev/loop3:/dev/xvdb:r").unwrap();
        assert_eq!(
            (d.container.as_path(), d.permissions.as_str()),
            (Path::new("/dev/xvdb"), "r")
        );
        assert_eq!(parse_device("/dev/loop3:rw").unwrap().permissions, "rw");
        assert_eq!(
            parse_device("/dev/loop3:/dev/x:mwr").unwrap().permissions,
            "mwr"
        );
        for bad in [
            "dev/loop3",
            "/dev/loop3:/dev/x:rwx",
            "/a:/b:r:x",
            "/dev/loop3:rrw",
            "/dev/loop3:/dev/x:rwmm",
            "/dev/loop3:/dev/x:",
        ] {
            assert!(
                parse_device(bad).unwrap_err().to_string().contains(bad),
                "{bad}"
            );
        }
        // One byte grammar for rates everywhere: decimals with a unit are whole bytes.
        assert_eq!(parse_device_rate("/dev/sda:1.5m", true).unwrap().1, 3 << 19);
        assert_eq!(parse_device_rate("/dev/sda:1mb", true).unwrap().1, 1 << 20);
        assert_eq!(parse_device_rate("/dev/sda:300", false).unwrap().1, 300);
        assert!(parse_device_rate("/dev/sda:1mb", false).is_err());
        assert!(parse_device_rate("/dev/sda", true).is_err());
        assert_eq!(parse_blkio_weight("500").unwrap(), 500);
        assert!(parse_blkio_weight("5")
            .unwrap_err()
            .to_string()
            .contains("\"5\""));
        assert_eq!(parse_blkio_weight_device("/dev/sda:300").unwrap().1, 300);
        assert!(parse_blkio_weight_device("/dev/sda:3000").is_err());
    }

    #[test]
    fn user_remap() {
        assert_eq!(
            parse_user_remap("100000:100000:65535").unwrap(),
            UserRemap {
                uid: 100000,
                gid: 100000,
                size: 65535
            }
        );
        for bad in [
            "100000:100000",
            "1:1:0",
            "1:1:65536",
            "0:0:100",
            "x:1:1",
            "4294967290:1:100",
            "1:4294967295:1",
        ] {
            assert!(
                parse_user_remap(bad).unwrap_err().to_string().contains(bad),
                "{bad}"
            );
        }
    }

    #[test]
    fn hugetlb_oom_security_modules() {
        assert_eq!(
            parse_hugetlb_limit("2MB:64m").unwrap(),
            ("2MB".into(), 64 << 20)
        );
        assert_eq!(parse_hugetlb_limit("1g").unwrap(), ("2MB".into(), 1 << 30));
        assert_eq!(parse_hugetlb_limit("1GB:2g").unwrap().0, "1GB");
        assert!(parse_hugetlb_limit("3MB:1g").is_err());
        assert_eq!(parse_oom_score_adj("-500").unwrap(), -500);
        assert!(parse_oom_score_adj("1001")
            .unwrap_err()
            .to_string()
            .contains("1001"));
        assert_eq!(
            parse_security_opt("no-new-privileges").unwrap(),
            SecurityOpt::NoNewPrivileges(true)
        );
        assert_eq!(
            parse_security_opt("seccomp=unconfined").unwrap(),
            SecurityOpt::SeccompUnconfined
        );
        assert!(parse_security_opt("apparmor=x")
            .unwrap_err()
            .to_string()
            .contains("apparmor=x"));
        assert!(parse_security_opt("seccomp=rel.json").is_err());
        assert_eq!(
            parse_kernel_modules("ext4,nf_nat").unwrap(),
            vec!["ext4", "nf_nat"]
        );
        assert_eq!(
            parse_kernel_modules("ext4,,fuse,").unwrap(),
            vec!["ext4", "fuse"]
        );
        let longest = "m".repeat(KERNEL_MODULE_NAME_MAX);
        assert_eq!(
            parse_kernel_modules(&longest).unwrap(),
            vec![longest.clone()]
        );
        let too_long = format!("ext4,{longest}x");
        assert!(parse_kernel_modules(&too_long)
            .unwrap_err()
            .reason
            .contains("longer than 55"));
        // Comma-separated only: a space is not a separator, so it is refused as a name.
        for bad in ["ext4,../x", "ext4 fuse", "ext4,nf.nat"] {
            assert!(
                parse_kernel_modules(bad)
                    .unwrap_err()
                    .to_string()
                    .contains(bad),
                "{bad}"
            );
        }
    }
}

/// `--user-remap UID:GID:OFFSET`: container ids 0..OFFSET map to host UID.. and GID...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRemap {
    pub uid: u32,
    pub gid: u32,
    pub size: u32,
}

pub fn parse_user_remap(s: &str) -> Result<UserRemap> {
    let parts: Vec<&str> = s.split(':').collect();
    let [uid, gid, size] = parts.as_slice() else {
        return Err(OptionError::new(s, "expected UID:GID:OFFSET"));
    };
    let number = |v: &str, what: &str| -> Result<u64> {
        v.parse::<u32>()
            .map(u64::from)
            .map_err(|_| OptionError::new(s, format!("{what} {v:?} is not a number")))
    };
    let (uid, gid, size) = (
        number(uid, "uid")?,
        number(gid, "gid")?,
        number(size, "offset")?,
    );
    if !(1..=65535).contains(&size) {
        return Err(OptionError::new(s, "offset must be between 1 and 65535"));
    }
    if uid == 0 || gid == 0 {
        return Err(OptionError::new(
            s,
            "uid and gid must not be 0 (that is no remapping)",
        ));
    }
    if uid + size >= 1 << 32 || gid + size >= 1 << 32 {
        return Err(OptionError::new(
            s,
            "uid + offset and gid + offset must stay below 2^32",
        ));
    }
    Ok(UserRemap {
        uid: uid as u32,
        gid: gid as u32,
        size: size as u32,
    })
}

/// MemTotal of the host in bytes (for bounds such as the host channel's size).
pub fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(u64::MAX)
}

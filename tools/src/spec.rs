//! The grammar of every command-line value: device, path, NIC, route and throttle
//! arguments. Pure functions, so every error message is tested without root.

use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};

use crate::error::{invalid, Error, Result};
use crate::record::{Route, ThrottleKind};

/// Maximum bind mounts per container.
pub const MAX_BINDS: usize = 128;

/// `HOSTDEV[:CTRDEV][:rwm]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceArg {
    pub host: PathBuf,
    pub ctr: PathBuf,
    pub permissions: String,
}

/// syscontainer's `--device` grammar, with the container path normalised as every
/// container path of the tools is.
pub fn device_arg(s: &str) -> Result<DeviceArg> {
    let d = syscontainer::options::parse_device(s)
        .map_err(|e| Error::Invalid(format!("invalid device {s:?}: {}", e.reason)))?;
    let ctr = container_path(&d.container.to_string_lossy())
        .map_err(|e| Error::Invalid(format!("invalid device {s:?}: {e}")))?;
    Ok(DeviceArg {
        host: d.host,
        ctr,
        permissions: d.permissions,
    })
}

fn check_abs(what: &str, p: &str) -> Result<PathBuf> {
    if p.is_empty() {
        return invalid(format!("{what} path is empty"));
    }
    if !p.starts_with('/') {
        return invalid(format!("{what} path {p:?} must be absolute"));
    }
    Ok(PathBuf::from(p))
}

/// A path inside the container: absolute, without `..`, normalised, not `/` itself.
pub fn container_path(p: &str) -> Result<PathBuf> {
    if !p.starts_with('/') {
        return invalid(format!("container path {p:?} must be absolute"));
    }
    if p.contains('\0') {
        return invalid(format!("container path {p:?} contains a NUL byte"));
    }
    let mut out = PathBuf::from("/");
    for c in Path::new(p).components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => out.push(n),
            Component::ParentDir | Component::Prefix(_) => {
                return invalid(format!("container path {p:?} must not contain \"..\""))
            }
        }
    }
    if out == Path::new("/") {
        return invalid(format!("container path {p:?} is the container's root"));
    }
    Ok(out)
}

/// `HOST:CTR[:OPTIONS]` for add-path, options `ro` or `rw` (comma-separated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathArg {
    pub host: PathBuf,
    pub ctr: PathBuf,
    pub readonly: bool,
}

pub fn parse_path(s: &str) -> Result<PathArg> {
    let parts: Vec<&str> = s.split(':').collect();
    let (host, ctr, opts) = match parts.as_slice() {
        [h, c] => (*h, *c, ""),
        [h, c, o] => (*h, *c, *o),
        _ => {
            return invalid(format!(
                "invalid path {s:?}: expected HOSTPATH:CONTAINERPATH[:ro|rw]"
            ))
        }
    };
    let host =
        check_abs("host", host).map_err(|e| Error::Invalid(format!("invalid path {s:?}: {e}")))?;
    let ctr =
        container_path(ctr).map_err(|e| Error::Invalid(format!("invalid path {s:?}: {e}")))?;
    let mut readonly = false;
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => readonly = true,
            "rw" => readonly = false,
            other => {
                return invalid(format!(
                    "invalid path {s:?}: unknown mount option {other:?} (use ro or rw)"
                ))
            }
        }
    }
    Ok(PathArg {
        host,
        ctr,
        readonly,
    })
}

/// `DEVICE:VALUE` for the throttle options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleArg {
    pub device: PathBuf,
    pub rate: u64,
}

pub fn parse_throttle(kind: ThrottleKind, s: &str) -> Result<ThrottleArg> {
    let opt = kind.option();
    let Some((dev, value)) = s.rsplit_once(':') else {
        return invalid(format!("invalid {opt} {s:?}: expected DEVICE:VALUE"));
    };
    let device = check_abs("device", dev)
        .map_err(|e| Error::Invalid(format!("invalid {opt} {s:?}: {e}")))?;
    let rate = match kind {
        ThrottleKind::ReadBps | ThrottleKind::WriteBps => syscontainer::options::parse_bytes(value)
            .map_err(|e| Error::Invalid(format!("invalid {opt} {s:?}: {}", e.reason)))?,
        ThrottleKind::ReadIops | ThrottleKind::WriteIops => value.parse().map_err(|_| {
            Error::Invalid(format!("invalid {opt} {s:?}: {value:?} is not a number"))
        })?,
        ThrottleKind::Weight => {
            let w: u64 = value.parse().map_err(|_| {
                Error::Invalid(format!("invalid {opt} {s:?}: {value:?} is not a number"))
            })?;
            if !(10..=1000).contains(&w) {
                return invalid(format!(
                    "invalid {opt} {s:?}: weight {w} must be between 10 and 1000"
                ));
            }
            w
        }
    };
    Ok(ThrottleArg { device, rate })
}

/// A network interface name as the kernel accepts it.
pub fn check_ifname(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 15 {
        return invalid(format!(
            "invalid network interface name {name:?}: must be 1 to 15 characters"
        ));
    }
    if name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        return invalid(format!(
            "invalid network interface name {name:?}: no '/', ':' or whitespace allowed"
        ));
    }
    Ok(())
}

/// `--name [HOST:]CTR`.
pub fn parse_nic_name(s: &str) -> Result<(Option<String>, String)> {
    let (host, ctr) = match s.split_once(':') {
        Some((h, c)) => (Some(h.to_string()), c.to_string()),
        None => (None, s.to_string()),
    };
    if let Some(h) = &host {
        check_ifname(h)?;
    }
    check_ifname(&ctr)?;
    Ok((host, ctr))
}

/// `ADDR/PREFIX` (a bare address means a host prefix).
pub fn parse_cidr(s: &str) -> Result<(IpAddr, u8)> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| Error::Invalid(format!("invalid ip {s:?}")))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix =
        match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| {
                Error::Invalid(format!("invalid ip {s:?}: bad prefix length {p:?}"))
            })?,
        };
    Ok((ip, prefix))
}

/// `--ip`: one or more comma-separated CIDR addresses, normalised.
pub fn parse_ips(s: &str) -> Result<Vec<(IpAddr, u8)>> {
    let list: Vec<&str> = s
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .collect();
    list.into_iter().map(parse_cidr).collect()
}

pub fn format_ips(ips: &[(IpAddr, u8)]) -> String {
    ips.iter()
        .map(|(a, p)| format!("{a}/{p}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `--mac`: six colon-separated hex bytes, unicast.
pub fn parse_mac(s: &str) -> Result<[u8; 6]> {
    let parts: Vec<&str> = s.split(':').collect();
    let bad = || {
        Error::Invalid(format!(
            "invalid mac {s:?}: expected six hex bytes like 02:42:ac:11:00:02"
        ))
    };
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut mac = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.len() != 2 {
            return Err(bad());
        }
        mac[i] = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    if mac[0] & 1 == 1 {
        return invalid(format!("invalid mac {s:?}: a multicast address"));
    }
    if mac == [0; 6] {
        return invalid(format!("invalid mac {s:?}: all zero"));
    }
    Ok(mac)
}

pub fn format_mac(mac: &[u8]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub fn check_mtu(mtu: u32) -> Result<u32> {
    if (68..=65535).contains(&mtu) {
        Ok(mtu)
    } else {
        invalid(format!("invalid mtu {mtu}: must be between 68 and 65535"))
    }
}

pub fn check_qlen(qlen: u32) -> Result<u32> {
    if qlen <= 100_000 {
        Ok(qlen)
    } else {
        invalid(format!("invalid qlen {qlen}: must be at most 100000"))
    }
}

/// A route resolved to addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    /// `None`: the default route.
    pub dest: Option<(IpAddr, u8)>,
    pub src: Option<IpAddr>,
    pub gw: Option<IpAddr>,
    pub dev: Option<String>,
    pub ipv6: bool,
}

/// Check and resolve one route; also normalises the record form (`dest` of a default
/// route becomes `default`).
pub fn check_route(r: &Route) -> Result<(Route, RouteSpec)> {
    let bad = |why: String| Error::Invalid(format!("invalid route {}: {why}", route_json(r)));
    let dest = match r.dest.trim() {
        "" | "default" => None,
        d => Some(parse_cidr(d).map_err(|e| bad(e.to_string()))?),
    };
    let ip = |what: &str, s: &str| -> Result<Option<IpAddr>> {
        if s.trim().is_empty() {
            return Ok(None);
        }
        s.trim()
            .parse::<IpAddr>()
            .map(Some)
            .map_err(|_| bad(format!("{what} {s:?} is not an ip address")))
    };
    let src = ip("src", &r.src)?;
    let gw = ip("gw", &r.gw)?;
    let dev = match r.dev.trim() {
        "" => None,
        d => {
            check_ifname(d).map_err(|e| bad(e.to_string()))?;
            Some(d.to_string())
        }
    };
    if gw.is_none() && dev.is_none() {
        return Err(bad("give gw or dev".into()));
    }
    let families: Vec<bool> = dest
        .map(|d| d.0.is_ipv6())
        .into_iter()
        .chain(src.map(|a| a.is_ipv6()))
        .chain(gw.map(|a| a.is_ipv6()))
        .collect();
    if families.windows(2).any(|w| w[0] != w[1]) {
        return Err(bad("mixes ipv4 and ipv6 addresses".into()));
    }
    let ipv6 = families.first().copied().unwrap_or(false);
    let norm = Route {
        dest: match dest {
            None => "default".into(),
            Some((a, p)) => format!("{}/{p}", network(a, p)),
        },
        src: src.map(|a| a.to_string()).unwrap_or_default(),
        gw: gw.map(|a| a.to_string()).unwrap_or_default(),
        dev: dev.clone().unwrap_or_default(),
    };
    let dest = dest.map(|(a, p)| (network(a, p), p));
    Ok((
        norm,
        RouteSpec {
            dest,
            src,
            gw,
            dev,
            ipv6,
        },
    ))
}

/// The network address of `addr/prefix` (host bits cleared), as the kernel requires.
pub fn network(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            IpAddr::V4((bits & mask).into())
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            IpAddr::V6((bits & mask).into())
        }
    }
}

fn route_json(r: &Route) -> String {
    serde_json::to_string(r).unwrap_or_default()
}

/// The JSON array of add-route / remove-route.
pub fn parse_routes(json: &str) -> Result<Vec<(Route, RouteSpec)>> {
    let routes: Vec<Route> = serde_json::from_str(json).map_err(|e| {
        Error::Invalid(format!(
            "invalid routes {json:?}: {e} (expected [{{\"dest\",\"src\",\"gw\",\"dev\"}}])"
        ))
    })?;
    if routes.is_empty() {
        return invalid(format!("invalid routes {json:?}: no route given"));
    }
    routes.iter().map(check_route).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err<T: std::fmt::Debug>(r: Result<T>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn device_arguments() {
        assert_eq!(
            device_arg("/dev/loop3").unwrap(),
            DeviceArg {
                host: "/dev/loop3".into(),
                ctr: "/dev/loop3".into(),
                permissions: "rwm".into()
            }
        );
        let d = device_arg("/dev/loop3:/dev/disk//data:rw").unwrap();
        assert_eq!(d.ctr, Path::new("/dev/disk/data"));
        assert_eq!(d.permissions, "rw");
        assert_eq!(device_arg("/dev/loop3:r").unwrap().permissions, "r");
        assert_eq!(device_arg("/dev/loop3:/dev/x").unwrap().permissions, "rwm");
        assert!(err(device_arg("loop3")).contains("invalid device \"loop3\""));
        assert!(err(device_arg("/dev/a:/dev/b:rwx")).contains("permissions \"rwx\""));
        assert!(err(device_arg("/dev/a:/dev/../etc/x")).contains(".."));
        assert!(err(device_arg("/dev/a:/")).contains("the container's root"));
        assert!(err(device_arg("/dev/a:b:c:d")).contains("\"/dev/a:b:c:d\""));
    }

    #[test]
    fn container_paths_are_normalised() {
        assert_eq!(
            container_path("/mnt//x/./y/").unwrap(),
            Path::new("/mnt/x/y")
        );
        assert!(err(container_path("mnt")).contains("must be absolute"));
        assert!(err(container_path("/")).contains("the container's root"));
        assert!(err(container_path("/a/../../etc")).contains(".."));
    }

    #[test]
    fn path_arguments() {
        let p = parse_path("/srv/data:/mnt/data:ro").unwrap();
        assert!(p.readonly);
        assert_eq!(p.host, Path::new("/srv/data"));
        assert!(!parse_path("/srv/data:/mnt/data").unwrap().readonly);
        assert!(!parse_path("/srv/data:/mnt/data:ro,rw").unwrap().readonly);
        assert!(err(parse_path("/srv/data")).contains("HOSTPATH:CONTAINERPATH"));
        assert!(err(parse_path("srv:/mnt")).contains("\"srv\" must be absolute"));
        assert!(err(parse_path("/srv:/mnt:rx")).contains("unknown mount option \"rx\""));
    }

    #[test]
    fn sizes_and_throttles() {
        assert_eq!(
            parse_throttle(ThrottleKind::WriteBps, "/dev/loop0:1.5m")
                .unwrap()
                .rate,
            3 << 19
        );
        assert!(err(parse_throttle(ThrottleKind::ReadBps, "/dev/loop0:1xb"))
            .contains("unknown unit \"xb\""));
        assert_eq!(
            parse_throttle(ThrottleKind::ReadBps, "/dev/loop0:1mb").unwrap(),
            ThrottleArg {
                device: "/dev/loop0".into(),
                rate: 1 << 20
            }
        );
        assert_eq!(
            parse_throttle(ThrottleKind::WriteIops, "/dev/loop0:300")
                .unwrap()
                .rate,
            300
        );
        assert!(
            err(parse_throttle(ThrottleKind::WriteIops, "/dev/loop0:3k"))
                .contains("\"3k\" is not a number")
        );
        assert!(err(parse_throttle(ThrottleKind::Weight, "/dev/loop0:5")).contains("weight 5"));
        assert!(
            err(parse_throttle(ThrottleKind::ReadBps, "1mb")).contains("--device-read-bps \"1mb\"")
        );
    }

    #[test]
    fn nic_arguments() {
        assert_eq!(parse_nic_name("eth1").unwrap(), (None, "eth1".into()));
        assert_eq!(
            parse_nic_name("vh1:eth1").unwrap(),
            (Some("vh1".into()), "eth1".into())
        );
        assert!(err(parse_nic_name("averyveryverylongname")).contains("\"averyveryverylongname\""));
        assert!(err(parse_nic_name("a/b")).contains("\"a/b\""));
        assert_eq!(
            parse_ips("10.0.0.2/24, fd00::2/64").unwrap(),
            vec![
                ("10.0.0.2".parse().unwrap(), 24),
                ("fd00::2".parse().unwrap(), 64)
            ]
        );
        assert_eq!(parse_cidr("10.0.0.2").unwrap().1, 32);
        assert!(err(parse_cidr("10.0.0.300/24")).contains("\"10.0.0.300/24\""));
        assert!(err(parse_cidr("10.0.0.3/33")).contains("bad prefix length \"33\""));
        assert_eq!(format_ips(&parse_ips("fd00::2/64").unwrap()), "fd00::2/64");
        assert_eq!(parse_mac("02:AA:00:00:00:01").unwrap()[1], 0xaa);
        assert!(err(parse_mac("01:00:00:00:00:01")).contains("multicast"));
        assert!(err(parse_mac("zz:00:00:00:00:01")).contains("\"zz:00:00:00:00:01\""));
        assert_eq!(format_mac(&[2, 0xab, 0, 0, 0, 1]), "02:ab:00:00:00:01");
        assert!(err(check_mtu(20)).contains("mtu 20"));
        assert!(check_mtu(1500).is_ok());
        assert!(err(check_qlen(1_000_000)).contains("qlen 1000000"));
    }

    #[test]
    fn routes() {
        let r =
            parse_routes(r#"[{"dest":"10.9.0.5/16","gw":"10.0.0.1"},{"dest":"","dev":"eth1"}]"#)
                .unwrap();
        assert_eq!(r[0].0.dest, "10.9.0.0/16");
        assert_eq!(r[0].1.dest, Some(("10.9.0.0".parse().unwrap(), 16)));
        assert_eq!(r[1].0.dest, "default");
        assert_eq!(r[1].1.dest, None);
        let v6 = parse_routes(r#"[{"dest":"default","gw":"fd00::1"}]"#).unwrap();
        assert!(v6[0].1.ipv6);
        assert!(err(parse_routes(r#"[{"dest":"10.0.0.0/8"}]"#)).contains("give gw or dev"));
        assert!(
            err(parse_routes(r#"[{"dest":"10.0.0.0/8","gw":"fd00::1"}]"#))
                .contains("mixes ipv4 and ipv6")
        );
        assert!(err(parse_routes(r#"[{"dest":"10.0.0.0/8","gw":"nope"}]"#)).contains("gw \"nope\""));
        assert!(err(parse_routes(r#"[{"dest":"10.0.0.0/8","via":"x"}]"#)).contains("unknown field"));
        assert!(err(parse_routes("[]")).contains("no route given"));
        assert!(err(parse_routes("{")).contains("invalid routes \"{\""));
    }
}

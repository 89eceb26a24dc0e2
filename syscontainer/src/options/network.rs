//! The grammar of the network options: `--network`, `-p/--publish`, `--ip`,
//! `--mac-address`, and the CNI directories (`--cni-conf-dir`, `--cni-bin-dir`).

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use clap::Args;
use serde::{Deserialize, Serialize};

use super::values::{NetMode, OptionError, Result};

/// The value of `--network`: `none`, `host`, or CNI network names (`a` or `a,b`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkChoice {
    pub mode: NetMode,
    /// The CNI networks to attach, in order (eth0, eth1, …); empty unless `mode` is Cni.
    pub networks: Vec<String>,
}

/// `--network none|host|NAME[,NAME…]`.
pub fn parse_network(s: &str) -> Result<NetworkChoice> {
    match s {
        "none" | "private" => Ok(NetworkChoice::default()),
        "host" => Ok(NetworkChoice {
            mode: NetMode::Host,
            networks: Vec::new(),
        }),
        _ => {
            let mut networks: Vec<String> = Vec::new();
            for name in s.split(',') {
                check_network_name(name).map_err(|reason| OptionError::new(s, reason))?;
                if networks.iter().any(|n| n == name) {
                    return Err(OptionError::new(s, format!("network {name:?} named twice")));
                }
                networks.push(name.to_string());
            }
            Ok(NetworkChoice {
                mode: NetMode::Cni,
                networks,
            })
        }
    }
}

/// A CNI network name as libcni accepts it, and never `none` or `host`.
fn check_network_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("expected none, host or CNI network names separated by commas".into());
    }
    if matches!(name, "none" | "host" | "private") {
        return Err(format!("{name} cannot be combined with other networks"));
    }
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(format!(
            "network name {name:?} must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// One `-p/--publish`: in the form CNI's portmap takes as `runtimeConfig.portMappings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
    /// Empty: every host address.
    #[serde(default, rename = "hostIP", skip_serializing_if = "String::is_empty")]
    pub host_ip: String,
}

/// `-p [IP:]HOST:CTR[/tcp|udp]` (an IPv6 IP in brackets: `[::1]:8080:80`).
pub fn parse_publish(s: &str) -> Result<PortMapping> {
    let bad = |reason: &str| OptionError::new(s, reason);
    let (ports, protocol) = match s.rsplit_once('/') {
        Some((p, "tcp")) => (p, Protocol::Tcp),
        Some((p, "udp")) => (p, Protocol::Udp),
        Some(_) => return Err(bad("protocol must be tcp or udp")),
        None => (s, Protocol::Tcp),
    };
    let (host_ip, rest) =
        split_host_ip(ports).ok_or_else(|| bad("expected [IP:]HOST:CTR[/tcp|udp]"))?;
    let (host, ctr) = rest
        .split_once(':')
        .ok_or_else(|| bad("expected [IP:]HOST:CTR[/tcp|udp]"))?;
    let port = |p: &str, which: &str| match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(bad(&format!(
            "{which} port {p:?} is not a number in 1-65535"
        ))),
    };
    let host_ip = match host_ip {
        Some(ip) => ip
            .parse::<IpAddr>()
            .map_err(|_| bad(&format!("{ip:?} is not an IP address")))?
            .to_string(),
        None => String::new(),
    };
    Ok(PortMapping {
        host_port: port(host, "host")?,
        container_port: port(ctr, "container")?,
        protocol,
        host_ip,
    })
}

/// The first host port published twice (same address, or one of them on every address,
/// and the same protocol), as `[IP:]PORT/PROTO`.
pub fn duplicate_publish(ports: &[PortMapping]) -> Option<String> {
    ports.iter().enumerate().find_map(|(i, p)| {
        ports[..i]
            .iter()
            .any(|q| {
                q.host_port == p.host_port
                    && q.protocol == p.protocol
                    && (q.host_ip == p.host_ip || q.host_ip.is_empty() || p.host_ip.is_empty())
            })
            .then(|| match p.host_ip.as_str() {
                "" => format!("{}/{}", p.host_port, p.protocol),
                ip => format!("{ip}:{}/{}", p.host_port, p.protocol),
            })
    })
}

/// Split an optional leading IP (`1.2.3.4:` or `[::1]:`) from `HOST:CTR`.
fn split_host_ip(s: &str) -> Option<(Option<&str>, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (ip, rest) = rest.split_once("]:")?;
        return Some((Some(ip), rest));
    }
    match s.matches(':').count() {
        1 => Some((None, s)),
        2 => {
            let (ip, rest) = s.split_once(':')?;
            Some((Some(ip), rest))
        }
        _ => None,
    }
}

/// A MAC address `xx:xx:xx:xx:xx:xx` that may be given to one interface: unicast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacAddress(pub [u8; 6]);

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

pub fn parse_mac_address(s: &str) -> Result<MacAddress> {
    let bad = || OptionError::new(s, "expected a MAC address xx:xx:xx:xx:xx:xx");
    let mut bytes = [0u8; 6];
    let mut parts = s.split(':');
    for b in bytes.iter_mut() {
        let part = parts.next().ok_or_else(bad)?;
        if part.len() != 2 {
            return Err(bad());
        }
        *b = u8::from_str_radix(part, 16).map_err(|_| bad())?;
    }
    if parts.next().is_some() {
        return Err(bad());
    }
    if bytes[0] & 1 == 1 {
        return Err(OptionError::new(
            s,
            "a multicast MAC address cannot name one interface",
        ));
    }
    if bytes == [0; 6] {
        return Err(OptionError::new(
            s,
            "the all-zero MAC address cannot name an interface",
        ));
    }
    Ok(MacAddress(bytes))
}

/// `--ip`: an address the container's first CNI network gives it (host-local's `ips`).
pub fn parse_container_ip(s: &str) -> Result<IpAddr> {
    let ip: IpAddr = s
        .parse()
        .map_err(|_| OptionError::new(s, "not an IPv4 or IPv6 address"))?;
    if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() {
        return Err(OptionError::new(s, "not an address one interface can have"));
    }
    Ok(ip)
}

/// Options that attach a container through CNI (`--network NAME`).
#[derive(Debug, Clone, Default, Args)]
pub struct CniArgs {
    /// Publish a container port on the host through CNI's portmap: [IP:]HOST:CTR[/tcp|udp].
    #[arg(short = 'p', long = "publish", value_name = "[IP:]HOST:CTR[/PROTO]", value_parser = parse_publish)]
    pub publish: Vec<PortMapping>,
    /// Address on the first CNI network (needs an IPAM that takes the `ips` capability).
    #[arg(long, value_name = "ADDR", value_parser = parse_container_ip)]
    pub ip: Option<IpAddr>,
    /// MAC address of the first CNI network's interface (the `mac` capability).
    #[arg(long = "mac-address", value_name = "MAC", value_parser = parse_mac_address)]
    pub mac_address: Option<MacAddress>,
    /// Directory of CNI network configurations (default /etc/cni/net.d, or daemon.json's cni-conf-dir).
    #[arg(long, value_name = "DIR")]
    pub cni_conf_dir: Option<PathBuf>,
    /// Directory of CNI plugins (default /usr/lib/cni then /opt/cni/bin, or daemon.json's cni-bin-dir).
    #[arg(long, value_name = "DIR")]
    pub cni_bin_dir: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_values() {
        assert_eq!(parse_network("none").unwrap().mode, NetMode::None);
        assert_eq!(parse_network("host").unwrap().mode, NetMode::Host);
        let two = parse_network("syscontainer,back-end_2").unwrap();
        assert_eq!(two.mode, NetMode::Cni);
        assert_eq!(two.networks, vec!["syscontainer", "back-end_2"]);
        for bad in ["", "a,,b", "a,host", "-x", "a b", "a,a", "x/y"] {
            let e = parse_network(bad).unwrap_err();
            assert_eq!(e.value, bad);
        }
    }

    #[test]
    fn publish_values() {
        let p = parse_publish("8080:80").unwrap();
        assert_eq!(
            (p.host_port, p.container_port, p.protocol),
            (8080, 80, Protocol::Tcp)
        );
        assert!(p.host_ip.is_empty());
        let p = parse_publish("127.0.0.1:53:5353/udp").unwrap();
        assert_eq!(p.host_ip, "127.0.0.1");
        assert_eq!(p.protocol, Protocol::Udp);
        assert_eq!(parse_publish("[::1]:8080:80").unwrap().host_ip, "::1");
        let json = serde_json::to_value(parse_publish("1.2.3.4:1:2/tcp").unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"hostPort": 1, "containerPort": 2, "protocol": "tcp", "hostIP": "1.2.3.4"})
        );
        for bad in [
            "80",
            "0:80",
            "80:70000",
            "a:80",
            "80:80/sctp",
            "x.y:80:80",
            "1:2:3:4",
        ] {
            let e = parse_publish(bad).unwrap_err();
            assert_eq!(e.value, bad, "{bad}");
        }
    }

    #[test]
    fn a_host_port_is_published_once() {
        let ports = |list: &[&str]| -> Vec<PortMapping> {
            list.iter().map(|s| parse_publish(s).unwrap()).collect()
        };
        assert_eq!(
            duplicate_publish(&ports(&["80:80", "81:80", "80:80/udp"])),
            None
        );
        assert_eq!(
            duplicate_publish(&ports(&["1.2.3.4:80:80", "1.2.3.5:80:81"])),
            None
        );
        assert_eq!(
            duplicate_publish(&ports(&["80:80", "8080:80", "80:81"])).as_deref(),
            Some("80/tcp")
        );
        assert_eq!(
            duplicate_publish(&ports(&["80:80", "127.0.0.1:80:81"])).as_deref(),
            Some("127.0.0.1:80/tcp")
        );
    }

    #[test]
    fn mac_and_ip_values() {
        let mac = parse_mac_address("02:42:AC:11:00:02").unwrap();
        assert_eq!(mac.to_string(), "02:42:ac:11:00:02");
        for bad in [
            "02:42:ac:11:00",
            "02:42:ac:11:00:02:03",
            "0g:42:ac:11:00:02",
            "01:00:5e:00:00:01",
            "00:00:00:00:00:00",
            "2:42:ac:11:00:02",
        ] {
            assert_eq!(parse_mac_address(bad).unwrap_err().value, bad);
        }
        assert_eq!(
            parse_container_ip("10.1.2.3").unwrap().to_string(),
            "10.1.2.3"
        );
        for bad in ["10.1.2", "0.0.0.0", "127.0.0.1", "224.0.0.1", "10.1.2.3/24"] {
            assert_eq!(parse_container_ip(bad).unwrap_err().value, bad);
        }
    }
}

//! The per-container record of hot-added resources: `<store>/<id>/device_hook.json`,
//! with the top-level fields of the reference `device_hook.json`. It is read and written
//! only under the container's lock ([`syscontainer::store::Store::lock`]) and replaced
//! atomically (write, fsync, rename), so concurrent tool calls serialize and lose nothing.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use syscontainer_cgroups::{DeviceKind, DeviceRule};

use crate::error::Result;

pub const RECORD_FILE: &str = "device_hook.json";

/// Everything added to one container.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    #[serde(rename = "deviceToAdd", default)]
    pub devices: Vec<Device>,
    #[serde(rename = "bindToAdd", default)]
    pub binds: Vec<Bind>,
    #[serde(rename = "networkInterfaces", default)]
    pub nics: Vec<Nic>,
    #[serde(rename = "networkRoute", default)]
    pub routes: Vec<Route>,
    #[serde(rename = "readBps", default)]
    pub read_bps: Vec<Throttle>,
    #[serde(rename = "writeBps", default)]
    pub write_bps: Vec<Throttle>,
    #[serde(rename = "readIops", default)]
    pub read_iops: Vec<Throttle>,
    #[serde(rename = "writeIops", default)]
    pub write_iops: Vec<Throttle>,
    #[serde(rename = "blkioWeight", default)]
    pub blkio_weight: Vec<Throttle>,
}

/// A device node made inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// `b` or `c`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Path inside the container.
    #[serde(rename = "Path")]
    pub path: String,
    #[serde(rename = "PathOnHost")]
    pub path_on_host: String,
    #[serde(rename = "Major")]
    pub major: u32,
    #[serde(rename = "Minor")]
    pub minor: u32,
    /// Device cgroup access, a subset of `rwm`.
    #[serde(rename = "Permissions")]
    pub permissions: String,
    /// Permission bits of the node (as on the host).
    #[serde(rename = "FileMode")]
    pub file_mode: u32,
    #[serde(rename = "UID")]
    pub uid: u32,
    #[serde(rename = "GID")]
    pub gid: u32,
    /// For a partition added by `--follow-partition`: the whole disk's host path.
    #[serde(rename = "Parent", default, skip_serializing_if = "String::is_empty")]
    pub parent: String,
}

impl Device {
    pub fn rule(&self) -> DeviceRule {
        DeviceRule {
            kind: if self.kind == "b" {
                DeviceKind::Block
            } else {
                DeviceKind::Char
            },
            major: Some(self.major.into()),
            minor: Some(self.minor.into()),
            access: self.permissions.clone(),
        }
    }
}

/// A host path bind-mounted into the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    #[serde(rename = "HostPath")]
    pub host_path: String,
    #[serde(rename = "ContainerPath")]
    pub container_path: String,
    /// `rw` or `ro`.
    #[serde(rename = "MountOption")]
    pub mount_option: String,
    #[serde(rename = "IsDir")]
    pub is_dir: bool,
}

impl Bind {
    pub fn readonly(&self) -> bool {
        self.mount_option.split(',').any(|o| o == "ro")
    }
}

/// How a network interface reaches the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NicKind {
    /// A new veth pair; the host end stays on the host (optionally on a bridge).
    Veth,
    /// A host NIC moved into the container and given back at stop.
    Eth,
}

impl NicKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NicKind::Veth => "veth",
            NicKind::Eth => "eth",
        }
    }
}

impl std::fmt::Display for NicKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for NicKind {
    type Err = crate::error::Error;

    fn from_str(s: &str) -> Result<NicKind> {
        match s {
            "veth" => Ok(NicKind::Veth),
            "eth" => Ok(NicKind::Eth),
            other => Err(crate::error::Error::Invalid(format!(
                "invalid nic type {other:?}: use veth or eth"
            ))),
        }
    }
}

/// A network interface given to the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nic {
    #[serde(rename = "Type")]
    pub kind: NicKind,
    /// veth: the host end; eth: the NIC's name on the host (given back under it).
    #[serde(rename = "HostNicName")]
    pub host_nic_name: String,
    #[serde(rename = "CtrNicName")]
    pub ctr_nic_name: String,
    /// Addresses in CIDR notation, comma-separated (IPv4 and IPv6).
    #[serde(rename = "Ip", default)]
    pub ip: String,
    #[serde(rename = "Mac", default)]
    pub mac: String,
    #[serde(rename = "Mtu")]
    pub mtu: u32,
    #[serde(rename = "Qlen")]
    pub qlen: u32,
    /// veth only: the bridge the host end is attached to.
    #[serde(rename = "Bridge", default)]
    pub bridge: String,
    /// eth only: the NIC's MTU on the host before it was moved in (restored on return).
    #[serde(rename = "HostMtu", default, skip_serializing_if = "Option::is_none")]
    pub host_mtu: Option<u32>,
    /// eth only: its MAC on the host, restored on return if `--mac` changed it.
    #[serde(rename = "HostMac", default, skip_serializing_if = "String::is_empty")]
    pub host_mac: String,
}

impl Nic {
    pub fn ips(&self) -> impl Iterator<Item = &str> {
        self.ip.split(',').map(str::trim).filter(|s| !s.is_empty())
    }
}

/// A route in the container's network namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Route {
    #[serde(default)]
    pub dest: String,
    #[serde(default)]
    pub src: String,
    #[serde(default)]
    pub gw: String,
    #[serde(default)]
    pub dev: String,
}

/// A blkio throttle (bytes/s or IO/s) or weight for one block device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttle {
    #[serde(rename = "Path")]
    pub path: String,
    #[serde(rename = "Major")]
    pub major: u32,
    #[serde(rename = "Minor")]
    pub minor: u32,
    #[serde(rename = "Rate")]
    pub rate: u64,
}

pub use syscontainer_cgroups::ThrottleKind;

/// The record field that lists throttles of this kind.
pub fn record_field(kind: ThrottleKind) -> &'static str {
    match kind {
        ThrottleKind::ReadBps => "readBps",
        ThrottleKind::WriteBps => "writeBps",
        ThrottleKind::ReadIops => "readIops",
        ThrottleKind::WriteIops => "writeIops",
        ThrottleKind::Weight => "blkioWeight",
    }
}

impl Record {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(RECORD_FILE)
    }

    /// Read the record of a container directory; none yet means empty.
    pub fn load(dir: &Path) -> Result<Record> {
        let path = Self::path(dir);
        if !path.exists() {
            return Ok(Record::default());
        }
        Ok(syscontainer::store::read_json(&path)?)
    }

    /// Replace the record atomically. The caller holds the container lock.
    pub fn save(&self, dir: &Path) -> Result<()> {
        Ok(syscontainer::store::write_json(&Self::path(dir), self)?)
    }

    pub fn throttles(&self, kind: ThrottleKind) -> &Vec<Throttle> {
        match kind {
            ThrottleKind::ReadBps => &self.read_bps,
            ThrottleKind::WriteBps => &self.write_bps,
            ThrottleKind::ReadIops => &self.read_iops,
            ThrottleKind::WriteIops => &self.write_iops,
            ThrottleKind::Weight => &self.blkio_weight,
        }
    }

    pub fn throttles_mut(&mut self, kind: ThrottleKind) -> &mut Vec<Throttle> {
        match kind {
            ThrottleKind::ReadBps => &mut self.read_bps,
            ThrottleKind::WriteBps => &mut self.write_bps,
            ThrottleKind::ReadIops => &mut self.read_iops,
            ThrottleKind::WriteIops => &mut self.write_iops,
            ThrottleKind::Weight => &mut self.blkio_weight,
        }
    }

    /// Set (or with rate 0, drop) one throttle; returns the previous value.
    pub fn set_throttle(&mut self, kind: ThrottleKind, t: Throttle) -> Option<Throttle> {
        let list = self.throttles_mut(kind);
        let old = list
            .iter()
            .position(|x| x.major == t.major && x.minor == t.minor)
            .map(|i| list.remove(i));
        if t.rate != 0 {
            list.push(t);
        }
        old
    }

    pub fn nic_by_ctr_name(&self, name: &str) -> Option<&Nic> {
        self.nics.iter().find(|n| n.ctr_nic_name == name)
    }

    pub fn has_eth(&self) -> bool {
        self.nics.iter().any(|n| n.kind == NicKind::Eth)
    }
}

/// Why `nic` cannot be given to this container, given its own record and the records of
/// every other container (`others`: name, record). `None` if it can.
pub fn nic_conflict(nic: &Nic, own: &Record, others: &[(String, Record)]) -> Option<String> {
    if own.nic_by_ctr_name(&nic.ctr_nic_name).is_some() {
        return Some(format!(
            "network interface {} is already added to this container",
            nic.ctr_nic_name
        ));
    }
    let mut all: Vec<(&str, &Nic)> = own.nics.iter().map(|n| ("this container", n)).collect();
    for (name, rec) in others {
        all.extend(rec.nics.iter().map(|n| (name.as_str(), n)));
    }
    let ips: Vec<&str> = nic.ips().map(ip_only).collect();
    for (owner, other) in all {
        if other.host_nic_name == nic.host_nic_name {
            return Some(format!(
                "host network interface {} is already used by {owner}",
                nic.host_nic_name
            ));
        }
        if !nic.mac.is_empty() && other.mac.eq_ignore_ascii_case(&nic.mac) {
            return Some(format!("mac {} is already used by {owner}", nic.mac));
        }
        if let Some(ip) = other.ips().map(ip_only).find(|ip| ips.contains(ip)) {
            return Some(format!("ip {ip} is already used by {owner}"));
        }
    }
    None
}

fn ip_only(cidr: &str) -> &str {
    cidr.split('/').next().unwrap_or(cidr)
}

/// Whether a NIC matches a `--filter` JSON object: every given field equal.
pub fn nic_matches(nic: &Nic, filter: &serde_json::Map<String, serde_json::Value>) -> bool {
    let value = serde_json::to_value(nic).unwrap_or_default();
    filter.iter().all(|(k, want)| {
        value
            .as_object()
            .and_then(|o| {
                o.iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v)
            })
            .is_some_and(|v| {
                v == want || v.as_str().zip(want.as_str()).is_some_and(|(a, b)| a == b)
            })
    })
}

/// Whether a route matches a `--filter` JSON object.
pub fn route_matches(route: &Route, filter: &serde_json::Map<String, serde_json::Value>) -> bool {
    let value = serde_json::to_value(route).unwrap_or_default();
    filter
        .iter()
        .all(|(k, want)| value.get(k.to_ascii_lowercase()).is_some_and(|v| v == want))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nic(host: &str, ctr: &str, ip: &str, mac: &str) -> Nic {
        Nic {
            kind: NicKind::Veth,
            host_nic_name: host.into(),
            ctr_nic_name: ctr.into(),
            ip: ip.into(),
            mac: mac.into(),
            mtu: 1500,
            qlen: 1000,
            bridge: String::new(),
            host_mtu: None,
            host_mac: String::new(),
        }
    }

    #[test]
    fn field_names_follow_the_reference() {
        let mut r = Record::default();
        r.binds.push(Bind {
            host_path: "/srv".into(),
            container_path: "/mnt".into(),
            mount_option: "ro".into(),
            is_dir: true,
        });
        let v = serde_json::to_value(&r).unwrap();
        for key in [
            "deviceToAdd",
            "bindToAdd",
            "networkInterfaces",
            "networkRoute",
            "readBps",
            "writeBps",
            "readIops",
            "writeIops",
            "blkioWeight",
        ] {
            assert!(v.get(key).is_some(), "{key} missing in {v}");
        }
        assert_eq!(v["bindToAdd"][0]["ContainerPath"], "/mnt");
        let back: Record = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
        // An older or foreign record with missing lists still loads.
        let sparse: Record = serde_json::from_str(r#"{"bindToAdd":[]}"#).unwrap();
        assert_eq!(sparse, Record::default());
    }

    #[test]
    fn nic_kinds_parse_and_print_lower_case() {
        for kind in [NicKind::Veth, NicKind::Eth] {
            assert_eq!(kind.as_str().parse::<NicKind>().unwrap(), kind);
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::from(kind.as_str())
            );
        }
        let e = "wifi".parse::<NicKind>().unwrap_err().to_string();
        assert_eq!(e, "invalid nic type \"wifi\": use veth or eth");
        assert!(serde_json::from_str::<NicKind>("\"Veth\"").is_err());
    }

    #[test]
    fn save_and_load_round_trip() {
        let dir = std::env::temp_dir().join(format!("sct-record-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(Record::load(&dir).unwrap(), Record::default());
        let mut r = Record::default();
        r.routes.push(Route {
            dest: "10.1.0.0/16".into(),
            gw: "10.0.0.1".into(),
            ..Default::default()
        });
        r.save(&dir).unwrap();
        assert_eq!(Record::load(&dir).unwrap(), r);
        std::fs::write(Record::path(&dir), b"{broken").unwrap();
        assert!(Record::load(&dir).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn throttles_replace_and_clear() {
        let mut r = Record::default();
        let t = |rate| Throttle {
            path: "/dev/loop0".into(),
            major: 7,
            minor: 0,
            rate,
        };
        assert_eq!(r.set_throttle(ThrottleKind::ReadBps, t(100)), None);
        assert_eq!(r.set_throttle(ThrottleKind::ReadBps, t(200)), Some(t(100)));
        assert_eq!(r.read_bps, vec![t(200)]);
        assert_eq!(r.set_throttle(ThrottleKind::ReadBps, t(0)), Some(t(200)));
        assert!(r.read_bps.is_empty());
    }

    #[test]
    fn nic_conflicts_name_the_value_and_owner() {
        let own = Record {
            nics: vec![nic("vh1", "eth1", "10.0.0.2/24", "02:00:00:00:00:01")],
            ..Default::default()
        };
        let others = vec![(
            "web2".to_string(),
            Record {
                nics: vec![nic(
                    "vh2",
                    "eth1",
                    "10.0.0.3/24,fd00::3/64",
                    "02:00:00:00:00:02",
                )],
                ..Default::default()
            },
        )];
        let fresh = nic("vh3", "eth2", "10.0.0.4/24", "02:00:00:00:00:03");
        assert_eq!(nic_conflict(&fresh, &own, &others), None);
        let dup_name = nic("vh3", "eth1", "10.0.0.4/24", "");
        assert!(nic_conflict(&dup_name, &own, &others)
            .unwrap()
            .contains("eth1 is already added"));
        let dup_host = nic("vh2", "eth2", "", "");
        assert_eq!(
            nic_conflict(&dup_host, &own, &others).unwrap(),
            "host network interface vh2 is already used by web2"
        );
        let dup_mac = nic("vh3", "eth2", "", "02:00:00:00:00:02");
        assert!(nic_conflict(&dup_mac, &own, &others)
            .unwrap()
            .starts_with("mac 02:00:00:00:00:02"));
        let dup_ip6 = nic("vh3", "eth2", "fd00::3/120", "");
        assert_eq!(
            nic_conflict(&dup_ip6, &own, &others).unwrap(),
            "ip fd00::3 is already used by web2"
        );
    }

    #[test]
    fn filters_match_given_fields_only() {
        let n = nic("vh1", "eth1", "10.0.0.2/24", "");
        let f = |s: &str| serde_json::from_str::<serde_json::Map<_, _>>(s).unwrap();
        assert!(nic_matches(&n, &f(r#"{"CtrNicName":"eth1"}"#)));
        assert!(nic_matches(&n, &f(r#"{"ctrnicname":"eth1","Mtu":1500}"#)));
        assert!(!nic_matches(&n, &f(r#"{"CtrNicName":"eth2"}"#)));
        assert!(!nic_matches(&n, &f(r#"{"Nope":"x"}"#)));
        let r = Route {
            dest: "default".into(),
            gw: "10.0.0.1".into(),
            ..Default::default()
        };
        assert!(route_matches(&r, &f(r#"{"gw":"10.0.0.1"}"#)));
        assert!(!route_matches(&r, &f(r#"{"dev":"eth9"}"#)));
    }
}

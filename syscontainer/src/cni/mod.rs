//! CNI networking (`--network NAME`), as podman and iSulad do it: the container's
//! network namespace is attached to each named network by running the network's CNI
//! plugins (ADD) before PID 1 runs, and detached (DEL) when PID 1 has ended, by the
//! monitor or, if the monitor died, by `stop`/`rm -f`.
//!
//! The namespace is pinned by a bind mount (`/run/syscontainer/netns/<id>`) from ADD
//! to DEL, so that DEL always finds it, even after a crash, and the plugins can remove
//! what they made inside and for it (the bridge plugin's masquerade rules need the
//! interface's addresses). What was added is recorded in the bundle (`network.json`)
//! before each ADD, so that a DEL can follow whatever happened afterwards.

pub mod conf;
pub mod plugin;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::options::PortMapping;
use crate::store::Store;

pub use conf::NetworkList;
pub use plugin::{Invocation, Summary};

pub const DEFAULT_CONF_DIR: &str = "/etc/cni/net.d";
pub const DEFAULT_BIN_DIRS: [&str; 2] = ["/usr/lib/cni", "/opt/cni/bin"];
const NETNS_DIR: &str = "/run/syscontainer/netns";
const RECORD: &str = "network.json";

#[derive(Debug, thiserror::Error)]
pub enum CniError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no CNI network named {name:?} in {dir}")]
    NoNetwork { name: String, dir: PathBuf },
    #[error("CNI configuration {file}: {reason}")]
    BadConfig { file: PathBuf, reason: String },
    #[error("CNI plugin {kind:?} not found in {dirs}")]
    NoPlugin { kind: String, dirs: String },
    #[error("CNI plugin {kind} {command} (network {network}): {reason}")]
    Plugin {
        kind: String,
        command: String,
        network: String,
        reason: String,
    },
    #[error("CNI network {network} ({file}): {option} needs a plugin with the {capability:?} capability")]
    Unsupported {
        network: String,
        file: PathBuf,
        option: &'static str,
        capability: &'static str,
    },
    #[error("network record {path}: {reason}")]
    Record { path: PathBuf, reason: String },
}

/// What `--network NAME…`, `-p`, `--ip` and `--mac-address` asked for, kept in the
/// container's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CniRequest {
    pub networks: Vec<String>,
    pub conf_dir: PathBuf,
    pub bin_dirs: Vec<PathBuf>,
    #[serde(default)]
    pub port_mappings: Vec<PortMapping>,
    #[serde(default)]
    pub ip: Option<IpAddr>,
    #[serde(default)]
    pub mac: Option<String>,
}

impl CniRequest {
    /// The `runtimeConfig` of the network at `index`: ports on every network (portmap
    /// publishes on each that has it), the address and MAC on the first only.
    fn runtime_config(&self, index: usize) -> Map<String, Value> {
        let mut rc = Map::new();
        if !self.port_mappings.is_empty() {
            rc.insert("portMappings".into(), serde_json::json!(self.port_mappings));
        }
        if index == 0 {
            if let Some(ip) = self.ip {
                rc.insert("ips".into(), serde_json::json!([ip.to_string()]));
            }
            if let Some(mac) = &self.mac {
                rc.insert("mac".into(), Value::String(mac.clone()));
            }
        }
        rc
    }

    /// Check at create that each network exists and that the options have a plugin to
    /// honour them (libcni would drop them silently).
    pub fn validate(&self) -> Result<(), CniError> {
        for (index, name) in self.networks.iter().enumerate() {
            let list = conf::load(&self.conf_dir, name)?;
            let rc = self.runtime_config(index);
            for (key, option) in [
                ("portMappings", "--publish"),
                ("ips", "--ip"),
                ("mac", "--mac-address"),
            ] {
                if rc.contains_key(key) && !list.has_capability(key) {
                    return Err(CniError::Unsupported {
                        network: list.name.clone(),
                        file: list.file.clone(),
                        option,
                        capability: key,
                    });
                }
            }
        }
        Ok(())
    }
}

/// One network the container was attached to (or was being attached to).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attached {
    pub list: NetworkListRecord,
    pub invocation: Invocation,
    /// None while the ADD runs (or if it failed).
    pub result: Option<Value>,
}

/// A [`NetworkList`] as recorded, so that DEL uses the configuration ADD used even if
/// the file changed since.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkListRecord {
    pub name: String,
    pub cni_version: String,
    pub plugins: Vec<Map<String, Value>>,
    pub file: PathBuf,
}

impl From<&NetworkList> for NetworkListRecord {
    fn from(l: &NetworkList) -> Self {
        NetworkListRecord {
            name: l.name.clone(),
            cni_version: l.cni_version.clone(),
            plugins: l.plugins.clone(),
            file: l.file.clone(),
        }
    }
}

impl From<&NetworkListRecord> for NetworkList {
    fn from(l: &NetworkListRecord) -> Self {
        NetworkList {
            name: l.name.clone(),
            cni_version: l.cni_version.clone(),
            plugins: l.plugins.clone(),
            file: l.file.clone(),
        }
    }
}

/// `network.json` in the bundle: the pinned namespace and the networks added to it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Record {
    pub netns: PathBuf,
    pub networks: Vec<Attached>,
}

fn record_path(store: &Store, id: &str) -> PathBuf {
    store.dir(id).join(RECORD)
}

fn save(store: &Store, id: &str, record: &Record) -> Result<(), CniError> {
    let path = record_path(store, id);
    crate::store::write_json(&path, record).map_err(|e| CniError::Record {
        path,
        reason: e.to_string(),
    })
}

/// The container's attachments, if it has any.
pub fn load_record(store: &Store, id: &str) -> Option<Record> {
    let text = std::fs::read_to_string(record_path(store, id)).ok()?;
    serde_json::from_str(&text).ok()
}

fn netns_path(id: &str) -> PathBuf {
    PathBuf::from(NETNS_DIR).join(id)
}

/// Keep `pid`'s network namespace alive at a path of its own until [`unpin`].
fn pin(id: &str, pid: i32) -> Result<PathBuf, CniError> {
    let path = netns_path(id);
    let io = |op: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| CniError::Io { op, path, source }
    };
    std::fs::create_dir_all(NETNS_DIR).map_err(io("create", Path::new(NETNS_DIR)))?;
    unpin(&path);
    std::fs::File::create(&path).map_err(io("create", &path))?;
    let source = PathBuf::from(format!("/proc/{pid}/ns/net"));
    nix::mount::mount(
        Some(&source),
        &path,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| {
        let _ = std::fs::remove_file(&path);
        CniError::Io {
            op: "pin network namespace on",
            path: path.clone(),
            source: e.into(),
        }
    })?;
    Ok(path)
}

fn unpin(path: &Path) {
    // Unmounted until nothing is left: a path can be mounted more than once.
    while nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH).is_ok() {}
    let _ = std::fs::remove_file(path);
}

/// ADD: attach the namespace of `pid` (the container's PID 1, not yet running the
/// user's init) to every requested network, recording each before it is added. On
/// failure everything added is deleted again and the error returned.
pub fn attach(store: &Store, id: &str, request: &CniRequest, pid: i32) -> Result<(), CniError> {
    // A previous boot whose DEL never ran (a host crash): its record is dropped even if
    // a plugin fails, so that the container can still start.
    if let Err(e) = detach(store, id) {
        tracing::warn!("detaching the previous boot: {e}");
    }
    let netns = pin(id, pid)?;
    let mut record = Record {
        netns: netns.clone(),
        networks: Vec::new(),
    };
    let result = add_all(store, id, request, &mut record);
    if let Err(e) = result {
        if let Err(undo) = detach(store, id) {
            tracing::warn!("undoing a failed CNI ADD: {undo}");
        }
        return Err(e);
    }
    Ok(())
}

fn add_all(
    store: &Store,
    id: &str,
    request: &CniRequest,
    record: &mut Record,
) -> Result<(), CniError> {
    for (index, name) in request.networks.iter().enumerate() {
        let list = conf::load(&request.conf_dir, name)?;
        let invocation = Invocation {
            container_id: id.to_string(),
            netns: record.netns.clone(),
            ifname: format!("eth{index}"),
            bin_dirs: request.bin_dirs.clone(),
            runtime_config: request.runtime_config(index),
        };
        record.networks.push(Attached {
            list: (&list).into(),
            invocation: invocation.clone(),
            result: None,
        });
        save(store, id, record)?;
        let mut partial = None;
        let added = plugin::add(&list, &invocation, &mut partial);
        if let Some(last) = record.networks.last_mut() {
            last.result = partial;
        }
        save(store, id, record)?;
        added?;
    }
    Ok(())
}

/// DEL: detach the container from every recorded network (last first), unpin its
/// namespace and drop the record. Nothing recorded: nothing to do. Every network is
/// deleted even if one fails; the first failure is returned.
pub fn detach(store: &Store, id: &str) -> Result<(), CniError> {
    let path = record_path(store, id);
    if !path.exists() {
        if netns_path(id).exists() {
            unpin(&netns_path(id));
        }
        return Ok(());
    }
    let record = load_record(store, id).ok_or_else(|| CniError::Record {
        path: path.clone(),
        reason: "unreadable".into(),
    });
    let mut first_error = None;
    if let Ok(record) = &record {
        for attached in record.networks.iter().rev() {
            let list = NetworkList::from(&attached.list);
            if let Err(e) = plugin::del(&list, &attached.invocation, attached.result.as_ref()) {
                first_error.get_or_insert(e);
            }
        }
    }
    unpin(&netns_path(id));
    let _ = std::fs::remove_file(&path);
    match (record, first_error) {
        (Err(e), _) | (Ok(_), Some(e)) => Err(e),
        _ => Ok(()),
    }
}

/// What `inspect` shows for each attached network, in attachment order.
pub fn summaries(store: &Store, id: &str) -> Vec<(String, Summary)> {
    let Some(record) = load_record(store, id) else {
        return Vec::new();
    };
    record
        .networks
        .iter()
        .filter_map(|a| {
            let result = a.result.as_ref()?;
            Some((
                a.list.name.clone(),
                plugin::summarize(result, &a.invocation.ifname),
            ))
        })
        .collect()
}

/// `inspect`'s `NetworkSettings` as docker and isula show them: the first network's
/// address, prefix, gateway and MAC at the top, every network under `Networks`, the
/// published ports under `Ports` (while attached).
pub fn network_settings(store: &Store, config: &crate::config::ContainerConfig) -> Value {
    let attached = summaries(store, &config.id);
    let record = load_record(store, &config.id);
    let mut networks = Map::new();
    for (name, s) in &attached {
        networks.insert(name.clone(), endpoint(s));
    }
    let mut ports = Map::new();
    if record.is_some() {
        for p in config.cni.iter().flat_map(|r| &r.port_mappings) {
            let key = format!("{}/{}", p.container_port, p.protocol);
            let host_ip = if p.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &p.host_ip
            };
            let binding =
                serde_json::json!({"HostIp": host_ip, "HostPort": p.host_port.to_string()});
            match ports.get_mut(&key) {
                Some(Value::Array(list)) => list.push(binding),
                _ => {
                    ports.insert(key, Value::Array(vec![binding]));
                }
            }
        }
    }
    let mut settings = match attached.first() {
        Some((_, s)) => endpoint(s),
        None => endpoint(&Summary::default()),
    };
    let top = settings.as_object_mut().expect("endpoint is an object");
    top.insert("Networks".into(), Value::Object(networks));
    top.insert("Ports".into(), Value::Object(ports));
    top.insert(
        "SandboxKey".into(),
        Value::String(
            record
                .map(|r| r.netns.display().to_string())
                .unwrap_or_default(),
        ),
    );
    Value::Object(top.clone())
}

/// One network's fields as docker names them (the first IPv4 and IPv6 address).
fn endpoint(s: &Summary) -> Value {
    let split = |want_v6: bool| {
        s.addresses.iter().find_map(|a| {
            let (ip, prefix) = a.split_once('/').unwrap_or((a, "0"));
            let parsed: IpAddr = ip.parse().ok()?;
            (parsed.is_ipv6() == want_v6)
                .then(|| (ip.to_string(), prefix.parse::<u8>().unwrap_or(0)))
        })
    };
    let (v4, v4_prefix) = split(false).unwrap_or_default();
    let (v6, v6_prefix) = split(true).unwrap_or_default();
    serde_json::json!({
        "IPAddress": v4,
        "IPPrefixLen": v4_prefix,
        "GlobalIPv6Address": v6,
        "GlobalIPv6PrefixLen": v6_prefix,
        "Gateway": s.gateway,
        "MacAddress": s.mac_address,
        "Interface": s.interface,
    })
}

/// The plugin directories: the given one, else the defaults that exist (libcni looks in
/// each in turn).
pub fn bin_dirs(given: Option<&Path>) -> Vec<PathBuf> {
    match given {
        Some(d) => vec![d.to_path_buf()],
        None => DEFAULT_BIN_DIRS.iter().map(PathBuf::from).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> CniRequest {
        CniRequest {
            networks: vec!["a".into(), "b".into()],
            conf_dir: "/x".into(),
            bin_dirs: bin_dirs(None),
            port_mappings: vec![crate::options::parse_publish("8080:80").unwrap()],
            ip: Some("10.1.0.9".parse().unwrap()),
            mac: Some("02:00:00:00:00:09".into()),
        }
    }

    #[test]
    fn the_address_and_mac_go_to_the_first_network_ports_to_all() {
        let r = request();
        let first = r.runtime_config(0);
        assert_eq!(first["ips"], serde_json::json!(["10.1.0.9"]));
        assert_eq!(first["mac"], "02:00:00:00:00:09");
        assert_eq!(first["portMappings"][0]["containerPort"], 80);
        let second = r.runtime_config(1);
        assert!(second.get("ips").is_none() && second.get("mac").is_none());
        assert!(second.contains_key("portMappings"));
    }

    #[test]
    fn options_without_a_plugin_to_honour_them_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.conflist"),
            r#"{"cniVersion":"1.0.0","name":"a","plugins":[{"type":"bridge","capabilities":{"mac":true,"ips":true}}]}"#,
        )
        .unwrap();
        let mut r = request();
        r.conf_dir = dir.path().to_path_buf();
        r.networks = vec!["a".into()];
        let e = r.validate().unwrap_err().to_string();
        assert!(e.contains("--publish") && e.contains("portMappings"), "{e}");
        r.port_mappings.clear();
        r.validate().unwrap();
        r.networks = vec!["missing".into()];
        assert!(r
            .validate()
            .unwrap_err()
            .to_string()
            .contains("\"missing\""));
    }

    #[test]
    fn daemon_json_names_the_cni_directories_as_isulad_does() {
        let daemon: crate::container::DaemonConfig =
            serde_json::from_str(r#"{"cni-conf-dir": "/etc/x", "cni-bin-dir": "/opt/y"}"#).unwrap();
        assert_eq!(daemon.cni_conf_dir.as_deref(), Some(Path::new("/etc/x")));
        assert_eq!(daemon.cni_bin_dir.as_deref(), Some(Path::new("/opt/y")));
        assert!(daemon.ignored.is_empty());
    }

    #[test]
    fn detach_without_a_record_does_nothing() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::open(root.path()).unwrap();
        detach(&store, &"0".repeat(64)).unwrap();
        assert!(summaries(&store, &"0".repeat(64)).is_empty());
    }
}

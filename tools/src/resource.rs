//! The hot-add resource types behind one trait. The hook ([`crate::apply`]) walks
//! [`all`] at prestart and poststop, so a type listed there is re-applied after every
//! restart; the unit test below fails if a record field is missing from [`all`].

use crate::error::{Error, Result};
use crate::net::{Net, Ns};
use crate::ops::{Live, Undo};
use crate::record::{self, Record};

/// A running (or starting) container as the resources see it.
pub struct Env<'a> {
    pub live: &'a Live,
    /// The host and the container's network namespace, joined when a resource needs it.
    pub net: Option<(&'a Net, &'a Ns)>,
}

impl<'a> Env<'a> {
    pub fn net(&self) -> Result<(&'a Net, &'a Ns)> {
        self.net
            .ok_or_else(|| Error::Failed("the container's network namespace was not joined".into()))
    }
}

/// What the poststop hook has: the host, and the pinned namespace if one was joined.
pub struct Poststop<'a> {
    pub net: &'a Net,
    pub pinned: Option<&'a Ns>,
}

/// One recorded hot-added resource (a device, throttle, path, NIC or route).
pub trait Resource {
    /// How messages name it, e.g. `device /dev/loop3`.
    fn describe(&self) -> String;
    /// Check a recorded entry before it is applied (a hand-edited record may be wrong).
    fn validate(&self) -> Result<()>;
    /// Whether it lives in the container's network namespace.
    fn in_netns(&self) -> bool {
        false
    }
    /// Whether the container's network namespace must outlive its processes for it
    /// (a host NIC that [`Resource::give_back`] returns after the stop).
    fn pins_netns(&self) -> bool {
        false
    }
    /// Put it into the running container, registering how to take it out again.
    fn add<'a>(&'a self, env: &Env<'a>, undo: &mut Undo<'a>) -> Result<()>;
    /// Take it out of the running container, registering how to put it back.
    fn remove<'a>(&'a self, env: &Env<'a>, undo: &mut Undo<'a>) -> Result<()>;
    /// Re-create it in a starting container (prestart); by default the same as `add`.
    fn reapply<'a>(&'a self, env: &Env<'a>, undo: &mut Undo<'a>) -> Result<()> {
        self.add(env, undo)
    }
    /// The device cgroup rule it needs while it is in the container (a device), so that the
    /// whole list can be rebuilt into the cgroup v2 device filter.
    fn device_rule(&self) -> Option<syscontainer_cgroups::DeviceRule> {
        None
    }
    /// After the container stopped (poststop): return what the host lent it.
    fn give_back(&self, _at: &Poststop) -> Result<()> {
        Ok(())
    }
    /// Enter it into the record, replacing an entry for the same thing.
    fn record(&self, rec: &mut Record);
}

/// Every resource of a record, by the record field that lists it, in the order they are
/// applied (devices before their throttles, NICs before the routes through them).
pub fn all(rec: &Record) -> Vec<(&'static str, Vec<Box<dyn Resource>>)> {
    fn boxed<T: Resource + Clone + 'static>(list: &[T]) -> Vec<Box<dyn Resource>> {
        list.iter()
            .map(|x| Box::new(x.clone()) as Box<dyn Resource>)
            .collect()
    }
    let mut out = vec![("deviceToAdd", boxed(&rec.devices))];
    for kind in crate::record::ThrottleKind::ALL {
        let list: Vec<Box<dyn Resource>> = rec
            .throttles(kind)
            .iter()
            .map(|t| Box::new(crate::ops::device::Throttled::new(kind, t.clone())) as _)
            .collect();
        out.push((record::record_field(kind), list));
    }
    out.push(("bindToAdd", boxed(&rec.binds)));
    out.push(("networkInterfaces", boxed(&rec.nics)));
    out.push(("networkRoute", boxed(&rec.routes)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// A record with one entry in every list, as an older syscontainer-tools wrote it.
    const FIXTURE: &str = r#"{
      "deviceToAdd":[{"Type":"b","Path":"/dev/data","PathOnHost":"/dev/loop3","Major":7,
        "Minor":3,"Permissions":"rwm","FileMode":432,"UID":0,"GID":6}],
      "bindToAdd":[{"HostPath":"/srv","ContainerPath":"/mnt/srv","MountOption":"ro","IsDir":true}],
      "networkInterfaces":[
        {"Type":"veth","HostNicName":"sc1234ab","CtrNicName":"eth1","Ip":"10.0.0.2/24",
         "Mac":"02:00:00:00:00:01","Mtu":1500,"Qlen":1000,"Bridge":"br0"},
        {"Type":"eth","HostNicName":"enp3s0","CtrNicName":"eth2","Ip":"","Mac":"",
         "Mtu":9000,"Qlen":1000,"Bridge":"","HostMtu":1500,"HostMac":"52:54:00:00:00:09"}],
      "networkRoute":[{"dest":"10.1.0.0/16","src":"","gw":"10.0.0.1","dev":""}],
      "readBps":[{"Path":"/dev/loop3","Major":7,"Minor":3,"Rate":1048576}],
      "writeBps":[{"Path":"/dev/loop3","Major":7,"Minor":3,"Rate":2097152}],
      "readIops":[{"Path":"/dev/loop3","Major":7,"Minor":3,"Rate":100}],
      "writeIops":[{"Path":"/dev/loop3","Major":7,"Minor":3,"Rate":200}],
      "blkioWeight":[{"Path":"/dev/loop3","Major":7,"Minor":3,"Rate":300}]
    }"#;

    #[test]
    fn every_record_field_is_a_registered_resource() {
        let fields: BTreeSet<String> = serde_json::to_value(Record::default())
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let registered: BTreeSet<String> = all(&Record::default())
            .into_iter()
            .map(|(field, _)| field.to_string())
            .collect();
        assert_eq!(fields, registered, "a record field is not in resource::all");
    }

    #[test]
    fn every_entry_of_a_record_is_walked_and_valid() {
        let rec: Record = serde_json::from_str(FIXTURE).unwrap();
        let json: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
        for (field, list) in all(&rec) {
            let want = json[field].as_array().map_or(0, Vec::len);
            assert_eq!(list.len(), want, "{field}");
            for r in &list {
                r.validate()
                    .unwrap_or_else(|e| panic!("{}: {e}", r.describe()));
            }
        }
    }

    #[test]
    fn an_existing_record_loads_and_saves_unchanged() {
        let rec: Record = serde_json::from_str(FIXTURE).unwrap();
        assert_eq!(rec.nics[0].kind, crate::record::NicKind::Veth);
        assert_eq!(rec.nics[1].kind, crate::record::NicKind::Eth);
        let json: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
        assert_eq!(serde_json::to_value(&rec).unwrap(), json);
    }

    #[test]
    fn recording_a_walked_entry_rebuilds_the_record() {
        let rec: Record = serde_json::from_str(FIXTURE).unwrap();
        let mut again = Record::default();
        for (_, list) in all(&rec) {
            for r in list {
                r.record(&mut again);
            }
        }
        assert_eq!(again, rec);
    }

    #[test]
    fn only_network_resources_join_the_namespace() {
        let rec: Record = serde_json::from_str(FIXTURE).unwrap();
        for (field, list) in all(&rec) {
            for r in list {
                let net = matches!(field, "networkInterfaces" | "networkRoute");
                assert_eq!(r.in_netns(), net, "{}", r.describe());
            }
        }
    }
}

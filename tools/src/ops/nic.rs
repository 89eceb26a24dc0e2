//! add-nic, remove-nic, update-nic, list-nic, and the pinned network namespace that
//! lets a moved physical NIC be returned after the container's processes are gone.

use std::path::{Path, PathBuf};

use super::{read_record, to_json, transact, transact_locked, Target, Undo};
use crate::error::{Error, Result};
use crate::net::{Net, Ns};
use crate::record::{nic_conflict, Nic, NicKind, Record};
use crate::resource::{Env, Poststop, Resource};
use crate::spec::{self, check_mtu, check_qlen, format_ips, parse_ips, parse_mac};
use rtnetlink::LinkUnspec;

/// Where the container's network namespace is pinned while it holds a physical NIC.
pub const PIN_DIR: &str = "/run/syscontainer-tools";

pub fn pin_path(id: &str) -> PathBuf {
    Path::new(PIN_DIR).join(id).join("netns")
}

/// Bind-mount `/proc/PID/ns/net` so that the namespace (and the NICs in it) outlives
/// PID 1 until the poststop hook has given the NICs back.
pub fn pin_netns(id: &str, pid: i32) -> Result<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let pin = pin_path(id);
    let src = PathBuf::from(format!("/proc/{pid}/ns/net"));
    let want = std::fs::metadata(&src)
        .map_err(|e| Error::Failed(format!("network namespace of pid {pid}: {e}")))?;
    if let Ok(have) = std::fs::metadata(&pin) {
        if have.ino() == want.ino() && have.dev() == want.dev() {
            return Ok(pin);
        }
        unpin_netns(id);
    }
    let dir = pin.parent().unwrap_or(Path::new(PIN_DIR));
    std::fs::create_dir_all(dir).map_err(crate::error::io_err("create", dir))?;
    std::fs::write(&pin, b"").map_err(crate::error::io_err("create", &pin))?;
    nix::mount::mount(
        Some(&src),
        &pin,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| Error::Failed(format!("pin network namespace on {}: {e}", pin.display())))?;
    Ok(pin)
}

pub fn unpin_netns(id: &str) {
    let pin = pin_path(id);
    let _ = nix::mount::umount2(&pin, nix::mount::MntFlags::MNT_DETACH);
    let _ = std::fs::remove_file(&pin);
    if let Some(dir) = pin.parent() {
        let _ = std::fs::remove_dir(dir);
    }
}

/// Whether the container runs `syscontainer-hooks` at poststop. Only then is its network
/// namespace pinned for a physical NIC: without the hook nobody would release the pin, and
/// the kernel itself returns a physical NIC to the host when the namespace dies.
pub fn poststop_hook_wired(target: &Target) -> bool {
    let Ok(spec) = target.store.load_spec(&target.id) else {
        return false;
    };
    spec.hooks()
        .as_ref()
        .and_then(|h| h.poststop().as_ref())
        .is_some_and(|hooks| {
            hooks.iter().any(|h| {
                h.path()
                    .file_name()
                    .is_some_and(|n| n == "syscontainer-hooks")
            })
        })
}

/// A random locally administered unicast MAC, so that a NIC keeps its MAC across restarts.
pub fn random_mac() -> [u8; 6] {
    let mut mac = [0u8; 6];
    // SAFETY: getrandom into our own buffer; a short read leaves zeros, still valid.
    unsafe { libc::getrandom(mac.as_mut_ptr().cast(), mac.len(), 0) };
    mac[0] = (mac[0] & 0xfe) | 0x02;
    mac
}

/// A host-side veth name for a container: `sc` + 6 id digits + 5 random hex digits.
pub fn veth_name(id: &str) -> String {
    let r = random_mac();
    format!(
        "sc{}{:02x}{:02x}{:x}",
        &id[..6.min(id.len())],
        r[3],
        r[4],
        r[5] & 0xf
    )
}

fn refuse_existing(net: &Net, ns: &Ns, name: &str, place: &str) -> Result<()> {
    if net.link(ns, name)?.is_some() {
        return Err(Error::Conflict(format!(
            "network interface {name} already exists {place}"
        )));
    }
    Ok(())
}

/// A recorded optional text field: empty means not given.
fn non_empty(field: &str) -> Option<&str> {
    (!field.is_empty()).then_some(field)
}

/// Give a recorded NIC to the container, with undo.
pub fn apply_nic<'a>(net: &'a Net, ctr: &'a Ns, nic: &Nic, undo: &mut Undo<'a>) -> Result<()> {
    refuse_existing(net, ctr, &nic.ctr_nic_name, "in the container")?;
    let mac = non_empty(&nic.mac).map(parse_mac).transpose()?;
    let ips = parse_ips(&nic.ip)?;
    match nic.kind {
        NicKind::Veth => {
            refuse_existing(net, &net.host, &nic.host_nic_name, "on the host")?;
            let bridge = non_empty(&nic.bridge)
                .map(|b| {
                    net.require_link(&net.host, b, "on the host")
                        .map(|l| l.index)
                })
                .transpose()?;
            net.create_veth(
                ctr,
                &nic.host_nic_name,
                &nic.ctr_nic_name,
                nic.mtu,
                nic.qlen,
                mac.as_ref().map(|m| &m[..]),
                bridge,
            )?;
            let host_name = nic.host_nic_name.clone();
            undo.push(format!("delete {host_name}"), move || {
                match net.link(&net.host, &host_name)? {
                    Some(l) => net.delete(&net.host, l.index, &host_name),
                    None => Ok(()),
                }
            });
            let host_end = net.require_link(&net.host, &nic.host_nic_name, "on the host")?;
            net.set_up(&net.host, host_end.index, true, &nic.host_nic_name)?;
        }
        NicKind::Eth => {
            let link = net.require_link(&net.host, &nic.host_nic_name, "on the host")?;
            net.move_link(
                &net.host,
                link.index,
                ctr,
                &nic.ctr_nic_name,
                &nic.host_nic_name,
            )?;
            // Back under its name, with the MTU and MAC it had on the host (the
            // configure step below changes them).
            let back = nic.clone();
            undo.push(format!("give {} back", nic.host_nic_name), move || {
                give_back(net, ctr, &back)
            });
            let l = net.require_link(ctr, &nic.ctr_nic_name, "in the container")?;
            net.configure(
                ctr,
                l.index,
                nic.mtu,
                Some(nic.qlen),
                mac.as_ref().map(|m| &m[..]),
                &nic.ctr_nic_name,
            )?;
        }
    }
    let l = net.require_link(ctr, &nic.ctr_nic_name, "in the container")?;
    for (ip, prefix) in ips {
        net.add_address(ctr, l.index, ip, prefix, &nic.ctr_nic_name)?;
    }
    net.set_up(ctr, l.index, true, &nic.ctr_nic_name)?;
    Ok(())
}

/// Move a physical NIC from the container back to the host under its recorded name,
/// with the MTU (and MAC) it had there.
pub fn give_back(net: &Net, ctr: &Ns, nic: &Nic) -> Result<()> {
    let l = net.require_link(ctr, &nic.ctr_nic_name, "in the container")?;
    net.move_link(
        ctr,
        l.index,
        &net.host,
        &nic.host_nic_name,
        &nic.ctr_nic_name,
    )?;
    let back = net.require_link(&net.host, &nic.host_nic_name, "on the host")?;
    let mac = parse_mac(&nic.host_mac).ok();
    let mtu = nic.host_mtu.unwrap_or(back.mtu);
    if mtu != back.mtu || mac.is_some_and(|m| m[..] != back.mac[..]) {
        net.configure(
            &net.host,
            back.index,
            mtu,
            None,
            mac.as_ref().map(|m| &m[..]),
            &nic.host_nic_name,
        )?;
    }
    Ok(())
}

/// Take a NIC away from the container: a veth pair is deleted, a physical NIC goes
/// back to the host under its recorded name. With undo.
pub fn unapply_nic<'a>(net: &'a Net, ctr: &'a Ns, nic: &'a Nic, undo: &mut Undo<'a>) -> Result<()> {
    match nic.kind {
        NicKind::Eth => {
            give_back(net, ctr, nic)?;
            undo.push(format!("move {} back in", nic.host_nic_name), move || {
                apply_nic(net, ctr, nic, &mut Undo::default())
            });
        }
        NicKind::Veth => {
            if let Some(l) = net.link(ctr, &nic.ctr_nic_name)? {
                net.delete(ctr, l.index, &nic.ctr_nic_name)?;
            } else if let Some(l) = net.link(&net.host, &nic.host_nic_name)? {
                net.delete(&net.host, l.index, &nic.host_nic_name)?;
            }
            undo.push(format!("re-create {}", nic.ctr_nic_name), move || {
                apply_nic(net, ctr, nic, &mut Undo::default())
            });
        }
    }
    Ok(())
}

impl Resource for Nic {
    fn describe(&self) -> String {
        format!("network interface {}", self.ctr_nic_name)
    }

    fn validate(&self) -> Result<()> {
        spec::check_ifname(&self.host_nic_name)?;
        spec::check_ifname(&self.ctr_nic_name)?;
        if !self.bridge.is_empty() {
            spec::check_ifname(&self.bridge)?;
        }
        parse_ips(&self.ip)?;
        if !self.mac.is_empty() {
            parse_mac(&self.mac)?;
        }
        check_mtu(self.mtu)?;
        check_qlen(self.qlen)?;
        Ok(())
    }

    fn in_netns(&self) -> bool {
        true
    }

    fn pins_netns(&self) -> bool {
        self.kind == NicKind::Eth
    }

    fn add<'a>(&'a self, env: &Env<'a>, undo: &mut Undo<'a>) -> Result<()> {
        let (net, ctr) = env.net()?;
        apply_nic(net, ctr, self, undo)
    }

    fn remove<'a>(&'a self, env: &Env<'a>, undo: &mut Undo<'a>) -> Result<()> {
        let (net, ctr) = env.net()?;
        unapply_nic(net, ctr, self, undo)
    }

    fn reapply<'a>(&'a self, env: &Env<'a>, undo: &mut Undo<'a>) -> Result<()> {
        let (net, _) = env.net()?;
        if self.kind == NicKind::Veth {
            // A host end left by a container that died without its poststop.
            if let Ok(Some(l)) = net.link(&net.host, &self.host_nic_name) {
                let _ = net.delete(&net.host, l.index, &self.host_nic_name);
            }
        }
        self.add(env, undo)
    }

    /// A host NIC goes back to the host from the pinned namespace; the host end of a
    /// veth pair is deleted.
    fn give_back(&self, at: &Poststop) -> Result<()> {
        let net = at.net;
        match (self.kind, at.pinned) {
            (NicKind::Eth, None) => Ok(()),
            (NicKind::Eth, Some(pinned)) => {
                let r = net.link(pinned, &self.ctr_nic_name).and_then(|l| match l {
                    Some(_) => {
                        tracing::info!(
                            "giving {} back to the host as {}",
                            self.ctr_nic_name,
                            self.host_nic_name
                        );
                        give_back(net, pinned, self)
                    }
                    None => {
                        tracing::info!("{} is not in the pinned namespace", self.ctr_nic_name);
                        Ok(())
                    }
                });
                r.map_err(|e| Error::Failed(format!("give {} back: {e}", self.host_nic_name)))
            }
            (NicKind::Veth, _) => match net.link(&net.host, &self.host_nic_name) {
                Ok(Some(l)) => net.delete(&net.host, l.index, &self.host_nic_name),
                _ => Ok(()),
            },
        }
    }

    fn record(&self, rec: &mut Record) {
        rec.nics.retain(|n| n.ctr_nic_name != self.ctr_nic_name);
        rec.nics.push(self.clone());
    }
}

/// Options of add-nic.
pub struct AddNic {
    pub kind: NicKind,
    pub name: String,
    pub ip: Option<String>,
    pub mac: Option<String>,
    pub bridge: Option<String>,
    pub mtu: u32,
    pub qlen: u32,
}

/// Check the options and build the record entry.
pub fn nic_from(target: &Target, req: &AddNic) -> Result<Nic> {
    let (host, ctr) = spec::parse_nic_name(&req.name)?;
    let kind = req.kind;
    let ips = parse_ips(req.ip.as_deref().unwrap_or(""))?;
    let mac = match (&req.mac, kind) {
        (Some(m), _) => spec::format_mac(&parse_mac(m)?),
        (None, NicKind::Veth) => spec::format_mac(&random_mac()),
        (None, _) => String::new(),
    };
    let bridge = req.bridge.clone().unwrap_or_default();
    if !bridge.is_empty() {
        if kind == NicKind::Eth {
            return Err(Error::Invalid(format!(
                "invalid bridge {bridge:?}: only a veth nic can be put on a bridge"
            )));
        }
        spec::check_ifname(&bridge)?;
    }
    let host = match (host, kind) {
        (Some(h), _) => h,
        (None, NicKind::Veth) => veth_name(&target.id),
        (None, _) => ctr.clone(),
    };
    Ok(Nic {
        kind,
        host_nic_name: host,
        ctr_nic_name: ctr,
        ip: format_ips(&ips),
        mac,
        mtu: check_mtu(req.mtu)?,
        qlen: check_qlen(req.qlen)?,
        bridge,
        host_mtu: None,
        host_mac: String::new(),
    })
}

pub fn add(target: &Target, req: &AddNic) -> Result<String> {
    let mut nic = nic_from(target, req)?;
    let (net, ctr) = super::live_net(target)?.unzip();
    if let (Some(net), NicKind::Eth) = (&net, nic.kind) {
        // Remember how the host had it, to give it back that way.
        if let Some(l) = net.link(&net.host, &nic.host_nic_name)? {
            nic.host_mtu = Some(l.mtu);
            nic.host_mac = spec::format_mac(&l.mac);
        }
    }
    let (_locks, others) = target.lock_all()?;
    transact_locked(target, |rec, undo| {
        if let Some(why) = nic_conflict(&nic, rec, &others) {
            return Err(Error::Conflict(why));
        }
        if let (Some(net), Some(ctr), Some(live)) = (&net, &ctr, &target.live) {
            if nic.kind == NicKind::Eth && poststop_hook_wired(target) {
                pin_netns(&target.id, live.pid)?;
                if !rec.has_eth() {
                    let id = target.id.clone();
                    undo.push("unpin network namespace", move || {
                        unpin_netns(&id);
                        Ok(())
                    });
                }
            }
            apply_nic(net, ctr, &nic, undo)?;
        }
        sclog::crash_point("add-nic:after-apply");
        nic.record(rec);
        Ok(format!(
            "Add network interface ({}) to container ({},{}) done",
            nic.host_nic_name, target.name, nic.ctr_nic_name
        ))
    })
}

pub fn remove(target: &Target, kind: Option<&str>, name: &str) -> Result<String> {
    let (_, ctr_name) = spec::parse_nic_name(name)?;
    let (net, ctr) = super::live_net(target)?.unzip();
    let rec_now = super::read_record(target)?;
    let Some(nic) = rec_now.nic_by_ctr_name(&ctr_name).cloned() else {
        return Err(Error::Invalid(format!(
            "network interface {ctr_name} is not added to container {}",
            target.name
        )));
    };
    if let Some(k) = kind {
        if k != nic.kind.as_str() {
            return Err(Error::Invalid(format!(
                "network interface {ctr_name} is of type {}, not {k}",
                nic.kind
            )));
        }
    }
    if nic.kind == NicKind::Eth && target.live.is_none() && target.running {
        // Dropping the entry (and the namespace pin) would leave the host NIC inside
        // with nothing left to give it back at stop.
        return Err(Error::Invalid(format!(
            "network interface {ctr_name} is host nic {} inside running container {}: \
             remove it without --update-config-only so that it goes back to the host",
            nic.host_nic_name, target.name
        )));
    }
    transact(target, |rec, undo| {
        let Some(pos) = rec.nics.iter().position(|n| *n == nic) else {
            return Err(Error::Invalid(format!(
                "network interface {ctr_name} was changed concurrently: try again"
            )));
        };
        rec.nics.remove(pos);
        if let (Some(net), Some(ctr)) = (&net, &ctr) {
            unapply_nic(net, ctr, &nic, undo)?;
        }
        if !rec.has_eth() {
            unpin_netns(&target.id);
        }
        sclog::crash_point("remove-nic:after-apply");
        Ok(format!(
            "Remove network interface ({}) from container ({},{}) done",
            nic.host_nic_name, target.name, nic.ctr_nic_name
        ))
    })
}

/// Options of update-nic: what is given changes.
pub struct UpdateNic {
    pub name: String,
    pub ip: Option<String>,
    pub mac: Option<String>,
    pub mtu: Option<u32>,
    pub qlen: Option<u32>,
    /// Move a veth's host end to this bridge.
    pub bridge: Option<String>,
}

/// The checked values of an update-nic request.
struct NicChange {
    ips: Option<Vec<(std::net::IpAddr, u8)>>,
    mac: Option<[u8; 6]>,
    mtu: Option<u32>,
    qlen: Option<u32>,
    bridge: Option<String>,
}

impl NicChange {
    fn parse(req: &UpdateNic) -> Result<NicChange> {
        let change = NicChange {
            ips: req.ip.as_deref().map(parse_ips).transpose()?,
            mac: req.mac.as_deref().map(parse_mac).transpose()?,
            mtu: req.mtu.map(check_mtu).transpose()?,
            qlen: req.qlen.map(check_qlen).transpose()?,
            bridge: req.bridge.clone(),
        };
        if change.bridge.as_deref() == Some("") {
            return Err(Error::Invalid("update-nic: --bridge needs a name".into()));
        }
        if change.ips.is_none()
            && change.mac.is_none()
            && change.mtu.is_none()
            && change.qlen.is_none()
            && change.bridge.is_none()
        {
            return Err(Error::Invalid(
                "update-nic: give at least one of --ip, --mac, --mtu, --qlen, --bridge".into(),
            ));
        }
        Ok(change)
    }

    /// The record entry after the change.
    fn applied_to(&self, old: &Nic) -> Result<Nic> {
        let mut new = old.clone();
        if let Some(ips) = &self.ips {
            new.ip = format_ips(ips);
        }
        if let Some(m) = &self.mac {
            new.mac = spec::format_mac(m);
        }
        if let Some(b) = &self.bridge {
            if old.kind != NicKind::Veth {
                return Err(Error::Invalid(format!(
                    "update-nic --bridge: {} is not a veth (only a veth's host end is on a bridge)",
                    old.ctr_nic_name
                )));
            }
            new.bridge = b.clone();
        }
        new.mtu = self.mtu.unwrap_or(old.mtu);
        new.qlen = self.qlen.unwrap_or(old.qlen);
        Ok(new)
    }
}

pub fn update(target: &Target, req: &UpdateNic) -> Result<String> {
    let (_, ctr_name) = spec::parse_nic_name(&req.name)?;
    let change = NicChange::parse(req)?;
    let (net, ctr) = super::live_net(target)?.unzip();
    let (_locks, others) = target.lock_all()?;
    transact_locked(target, |rec, undo| {
        let Some(pos) = rec.nics.iter().position(|n| n.ctr_nic_name == ctr_name) else {
            return Err(Error::Invalid(format!(
                "network interface {ctr_name} is not added to container {}",
                target.name
            )));
        };
        let old = rec.nics[pos].clone();
        let new = change.applied_to(&old)?;
        let mut probe = new.clone();
        probe.host_nic_name = String::new();
        probe.ctr_nic_name = String::new();
        if probe.mac == old.mac {
            probe.mac = String::new();
        }
        let mut rest = rec.clone();
        rest.nics.remove(pos);
        if let Some(why) = nic_conflict(&probe, &rest, &others) {
            return Err(Error::Conflict(why));
        }
        if let (Some(net), Some(ctr)) = (&net, &ctr) {
            reconfigure_live(net, ctr, &old, &new, &change, undo)?;
            if change.bridge.is_some() {
                move_host_end(net, &old, &new.bridge, undo)?;
            }
        }
        rec.nics[pos] = new;
        Ok(format!(
            "Update network interface ({}) of container ({},{}) done",
            old.host_nic_name, target.name, ctr_name
        ))
    })
}

/// Apply the MTU, queue length, MAC and addresses of `new` to the container's end, with undo.
fn reconfigure_live<'a>(
    net: &'a Net,
    ctr: &'a Ns,
    old: &Nic,
    new: &Nic,
    change: &NicChange,
    undo: &mut Undo<'a>,
) -> Result<()> {
    let ctr_name = &old.ctr_nic_name;
    let l = net.require_link(ctr, ctr_name, "in the container")?;
    let newmac = change.mac.map(|m| m.to_vec());
    net.configure(
        ctr,
        l.index,
        new.mtu,
        Some(new.qlen),
        newmac.as_deref(),
        ctr_name,
    )?;
    let old_mac = spec::parse_mac(&old.mac).ok();
    let (o_mtu, o_qlen, n) = (old.mtu, old.qlen, ctr_name.clone());
    undo.push("restore settings", move || {
        net.configure(
            ctr,
            l.index,
            o_mtu,
            Some(o_qlen),
            old_mac.as_ref().map(|m| &m[..]),
            &n,
        )
    });
    if change.ips.is_some() {
        for (ip, _) in parse_ips(&old.ip)? {
            net.del_address(ctr, l.index, ip, ctr_name)?;
            let (n, old_ip) = (ctr_name.clone(), old.ip.clone());
            undo.push("restore ips", move || {
                for (ip, p) in parse_ips(&old_ip)? {
                    if net.add_address(ctr, l.index, ip, p, &n).is_err() {
                        continue;
                    }
                }
                Ok(())
            });
        }
        for (ip, p) in parse_ips(&new.ip)? {
            net.add_address(ctr, l.index, ip, p, ctr_name)?;
            let n = ctr_name.clone();
            undo.push("remove new ip", move || {
                net.del_address(ctr, l.index, ip, &n)
            });
        }
    }
    Ok(())
}

/// Put a veth's host end on `bridge`; the undo puts it back on its old bridge (or none).
fn move_host_end<'a>(net: &'a Net, old: &Nic, bridge: &str, undo: &mut Undo<'a>) -> Result<()> {
    let host_end = net.require_link(&net.host, &old.host_nic_name, "on the host")?;
    let to = net.require_link(&net.host, bridge, "on the host")?;
    let back_to = match non_empty(&old.bridge) {
        Some(b) => net.link(&net.host, b)?.map(|l| l.index),
        None => None,
    };
    let msg = LinkUnspec::new_with_index(host_end.index)
        .controller(to.index)
        .build();
    net.set(
        &net.host,
        msg,
        &format!("move {} to bridge {bridge}", old.host_nic_name),
    )?;
    let name = old.host_nic_name.clone();
    undo.push(format!("put {name} back on its bridge"), move || {
        let b = LinkUnspec::new_with_index(host_end.index);
        let msg = match back_to {
            Some(index) => b.controller(index),
            None => b.nocontroller(),
        };
        net.set(&net.host, msg.build(), &format!("put {name} back"))
    });
    Ok(())
}

pub fn list(target: &Target, pretty: bool, filter: Option<&str>) -> Result<String> {
    let filter = parse_filter(filter)?;
    let rec = read_record(target)?;
    let nics: Vec<&Nic> = rec
        .nics
        .iter()
        .filter(|n| crate::record::nic_matches(n, &filter))
        .collect();
    Ok(to_json(&nics, pretty))
}

pub fn parse_filter(filter: Option<&str>) -> Result<serde_json::Map<String, serde_json::Value>> {
    match filter {
        None => Ok(Default::default()),
        Some(f) => serde_json::from_str(f).map_err(|e| {
            Error::Invalid(format!(
                "invalid filter {f:?}: {e} (expected a JSON object)"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(bridge: Option<&str>) -> UpdateNic {
        UpdateNic {
            name: "eth1".into(),
            ip: None,
            mac: None,
            mtu: None,
            qlen: None,
            bridge: bridge.map(str::to_string),
        }
    }

    fn nic(kind: NicKind) -> Nic {
        Nic {
            kind,
            host_nic_name: "veth0".into(),
            ctr_nic_name: "eth1".into(),
            ip: "10.0.0.2/24".into(),
            mac: String::new(),
            mtu: 1500,
            qlen: 1000,
            bridge: "br0".into(),
            host_mtu: None,
            host_mac: String::new(),
        }
    }

    #[test]
    fn bridge_alone_is_an_update_of_a_veth_only() {
        let change = NicChange::parse(&request(Some("br1"))).unwrap();
        let new = change.applied_to(&nic(NicKind::Veth)).unwrap();
        assert_eq!(new.bridge, "br1");
        assert_eq!((new.mtu, new.ip.as_str()), (1500, "10.0.0.2/24"));
        let err = change.applied_to(&nic(NicKind::Eth)).unwrap_err();
        assert!(err.to_string().contains("not a veth"), "{err}");
        assert!(NicChange::parse(&request(Some(""))).is_err());
        let err = NicChange::parse(&request(None)).err().unwrap();
        assert!(err.to_string().contains("--bridge"), "{err}");
    }
}

//! NICs, addresses and routes over rtnetlink.
//!
//! One current-thread tokio runtime drives a netlink connection in the host's network
//! namespace and, per container, one opened inside the container's namespace (the socket
//! is created while this thread has joined that namespace, then the thread returns).
//! A veth pair is created with its container end directly in the container's namespace
//! under its final name, so nothing half-made is ever visible on the host.

use std::fs::File;
use std::net::IpAddr;
use std::os::fd::AsRawFd;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkMessage,
};
use rtnetlink::packet_route::route::RouteScope;
use rtnetlink::{Handle, LinkMessageBuilder, LinkUnspec, RouteMessageBuilder};

use crate::error::{Error, Result};
use crate::spec::RouteSpec;

/// What we need to know about a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub mac: Vec<u8>,
    pub mtu: u32,
    pub up: bool,
    pub controller: Option<u32>,
}

impl Link {
    fn from_message(m: &LinkMessage) -> Link {
        let mut link = Link {
            index: m.header.index,
            name: String::new(),
            mac: Vec::new(),
            mtu: 0,
            up: m.header.flags.contains(LinkFlags::Up),
            controller: None,
        };
        for a in &m.attributes {
            match a {
                LinkAttribute::IfName(n) => link.name = n.clone(),
                LinkAttribute::Address(a) => link.mac = a.clone(),
                LinkAttribute::Mtu(m) => link.mtu = *m,
                LinkAttribute::Controller(c) => link.controller = Some(*c),
                _ => {}
            }
        }
        link
    }
}

/// A netlink connection bound to one network namespace.
pub struct Ns {
    handle: Handle,
    /// The namespace itself (to move links into it).
    pub file: File,
}

pub struct Net {
    rt: tokio::runtime::Runtime,
    pub host: Ns,
}

fn nl(what: impl std::fmt::Display) -> impl FnOnce(rtnetlink::Error) -> Error {
    move |e| {
        let detail = match &e {
            rtnetlink::Error::NetlinkError(m) => m.to_io().to_string().to_lowercase(),
            other => other.to_string(),
        };
        Error::Netlink(format!("{what}: {detail}"))
    }
}

fn errno(e: &rtnetlink::Error) -> i32 {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.raw_code().abs(),
        _ => 0,
    }
}

impl Net {
    pub fn new() -> Result<Net> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(|e| Error::Failed(format!("start netlink runtime: {e}")))?;
        let file = File::open("/proc/thread-self/ns/net")
            .map_err(|e| Error::Failed(format!("open own network namespace: {e}")))?;
        let handle = connect(&rt, None)?;
        Ok(Net {
            rt,
            host: Ns { handle, file },
        })
    }

    /// A connection inside the network namespace of `pid` (or a pinned namespace file).
    pub fn join(&self, ns_path: &std::path::Path) -> Result<Ns> {
        let file = File::open(ns_path).map_err(|e| {
            Error::Failed(format!("open network namespace {}: {e}", ns_path.display()))
        })?;
        let handle = connect(&self.rt, Some(&file))?;
        Ok(Ns { handle, file })
    }

    pub fn link(&self, ns: &Ns, name: &str) -> Result<Option<Link>> {
        self.rt.block_on(async {
            let mut s = ns
                .handle
                .link()
                .get()
                .match_name(name.to_string())
                .execute();
            match s.try_next().await {
                Ok(Some(m)) => Ok(Some(Link::from_message(&m))),
                Ok(None) => Ok(None),
                Err(e) if errno(&e) == libc::ENODEV => Ok(None),
                Err(e) => Err(nl(format_args!("look up {name}"))(e)),
            }
        })
    }

    pub fn require_link(&self, ns: &Ns, name: &str, place: &str) -> Result<Link> {
        self.link(ns, name)?.ok_or_else(|| {
            Error::Invalid(format!("network interface {name} does not exist {place}"))
        })
    }

    /// Create a veth pair: `host_name` here (on `bridge` if given), `ctr_name` in `ctr`.
    #[allow(clippy::too_many_arguments)]
    pub fn create_veth(
        &self,
        ctr: &Ns,
        host_name: &str,
        ctr_name: &str,
        mtu: u32,
        qlen: u32,
        mac: Option<&[u8]>,
        bridge: Option<u32>,
    ) -> Result<()> {
        let mut peer = LinkMessageBuilder::<LinkUnspec>::new()
            .name(ctr_name.to_string())
            .mtu(mtu)
            .txqueuelen(qlen)
            .setns_by_fd(ctr.file.as_raw_fd());
        if let Some(mac) = mac {
            peer = peer.address(mac.to_vec());
        }
        let mut main = LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::Veth)
            .name(host_name.to_string())
            .mtu(mtu)
            .txqueuelen(qlen)
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())));
        if let Some(b) = bridge {
            main = main.controller(b);
        }
        let request = self.host.handle.link().add(main.build()).execute();
        self.request(
            format_args!("create veth pair {host_name}/{ctr_name}"),
            request,
        )
    }

    pub fn delete(&self, ns: &Ns, index: u32, name: &str) -> Result<()> {
        let request = ns.handle.link().del(index).execute();
        self.request(format_args!("delete {name}"), request)
    }

    pub fn set(&self, ns: &Ns, msg: LinkMessage, what: &str) -> Result<()> {
        self.request(what, ns.handle.link().set(msg).execute())
    }

    /// Runs one netlink request to its end; a failure names `what`.
    fn request<T>(
        &self,
        what: impl std::fmt::Display,
        request: impl std::future::Future<Output = std::result::Result<T, rtnetlink::Error>>,
    ) -> Result<T> {
        self.rt.block_on(request).map_err(nl(what))
    }

    pub fn set_up(&self, ns: &Ns, index: u32, up: bool, name: &str) -> Result<()> {
        let b = LinkUnspec::new_with_index(index);
        let msg = if up { b.up() } else { b.down() }.build();
        self.set(
            ns,
            msg,
            &format!("set {name} {}", if up { "up" } else { "down" }),
        )
    }

    /// Set MTU and (optionally) queue length and MAC of a link.
    pub fn configure(
        &self,
        ns: &Ns,
        index: u32,
        mtu: u32,
        qlen: Option<u32>,
        mac: Option<&[u8]>,
        name: &str,
    ) -> Result<()> {
        let mut b = LinkUnspec::new_with_index(index).mtu(mtu);
        if let Some(q) = qlen {
            b = b.txqueuelen(q);
        }
        if let Some(mac) = mac {
            b = b.address(mac.to_vec());
        }
        self.set(ns, b.build(), &format!("configure {name}"))
    }

    /// Move a link (down) from `from` into the namespace `to`, renaming it there.
    ///
    /// The new name goes in the same message as the namespace: the kernel then renames
    /// the link as part of the move, so a link in `to` that has the link's current name
    /// (say the host has an `eth1` when the container's `eth1` goes back) does not make
    /// the move fail, and nothing is ever visible in `to` under the old name.
    pub fn move_link(
        &self,
        from: &Ns,
        index: u32,
        to: &Ns,
        new_name: &str,
        what: &str,
    ) -> Result<()> {
        self.set_up(from, index, false, what)?;
        let msg = LinkUnspec::new_with_index(index)
            .setns_by_fd(to.file.as_raw_fd())
            .name(new_name.to_string())
            .build();
        self.set(from, msg, &format!("move {what} (as {new_name})"))?;
        if self.link(to, new_name)?.is_none() {
            return Err(Error::Failed(format!("{what} vanished while being moved")));
        }
        Ok(())
    }

    pub fn add_address(
        &self,
        ns: &Ns,
        index: u32,
        ip: IpAddr,
        prefix: u8,
        dev: &str,
    ) -> Result<()> {
        let request = ns.handle.address().add(index, ip, prefix).execute();
        self.request(format_args!("add ip {ip}/{prefix} to {dev}"), request)
    }

    pub fn del_address(&self, ns: &Ns, index: u32, ip: IpAddr, dev: &str) -> Result<()> {
        self.rt.block_on(async {
            let mut s = ns
                .handle
                .address()
                .get()
                .set_link_index_filter(index)
                .set_address_filter(ip)
                .execute();
            while let Some(m) = s
                .try_next()
                .await
                .map_err(nl(format_args!("list ips of {dev}")))?
            {
                ns.handle
                    .address()
                    .del(m)
                    .execute()
                    .await
                    .map_err(nl(format_args!("remove ip {ip} from {dev}")))?;
            }
            Ok(())
        })
    }

    fn route_message(
        spec: &RouteSpec,
        dev_index: Option<u32>,
        what: &str,
    ) -> Result<rtnetlink::packet_route::route::RouteMessage> {
        Self::build_route_message(spec, dev_index)
            .map_err(|e| Error::Invalid(format!("invalid route {what}: {e}")))
    }

    fn build_route_message(
        spec: &RouteSpec,
        dev_index: Option<u32>,
    ) -> std::result::Result<rtnetlink::packet_route::route::RouteMessage, String> {
        let (dest, len) = spec.dest.unwrap_or(if spec.ipv6 {
            (IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), 0)
        } else {
            (IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0)
        });
        let mut b = RouteMessageBuilder::<IpAddr>::new()
            .destination_prefix(dest, len)
            .map_err(|e| e.to_string())?;
        if let Some(gw) = spec.gw {
            b = b.gateway(gw).map_err(|e| e.to_string())?;
        } else {
            b = b.scope(RouteScope::Link);
        }
        if let Some(src) = spec.src {
            b = b.pref_source(src).map_err(|e| e.to_string())?;
        }
        if let Some(i) = dev_index {
            b = b.output_interface(i);
        }
        Ok(b.build())
    }

    pub fn add_route(
        &self,
        ns: &Ns,
        spec: &RouteSpec,
        dev_index: Option<u32>,
        what: &str,
    ) -> Result<()> {
        let msg = Self::route_message(spec, dev_index, what)?;
        let request = ns.handle.route().add(msg).execute();
        self.request(format_args!("add route {what}"), request)
    }

    /// Delete a route; a route that is already gone is not an error.
    pub fn del_route(
        &self,
        ns: &Ns,
        spec: &RouteSpec,
        dev_index: Option<u32>,
        what: &str,
    ) -> Result<()> {
        let msg = Self::route_message(spec, dev_index, what)?;
        self.rt.block_on(async {
            match ns.handle.route().del(msg).execute().await {
                Ok(()) => Ok(()),
                Err(e) if errno(&e) == libc::ESRCH => Ok(()),
                Err(e) => Err(nl(format_args!("remove route {what}"))(e)),
            }
        })
    }
}

/// A netlink connection created while this thread is in `ns` (then back home).
fn connect(rt: &tokio::runtime::Runtime, ns: Option<&File>) -> Result<Handle> {
    let _guard = rt.enter();
    let home = match ns {
        Some(target) => {
            let home = File::open("/proc/thread-self/ns/net")
                .map_err(|e| Error::Failed(format!("open own network namespace: {e}")))?;
            // SAFETY: setns on this thread with an fd we hold.
            if unsafe { libc::setns(target.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(Error::Failed(format!(
                    "join the container's network namespace: {}",
                    std::io::Error::last_os_error()
                )));
            }
            Some(home)
        }
        None => None,
    };
    let made = rtnetlink::new_connection();
    if let Some(home) = home {
        // SAFETY: as above; failing to return would leave this thread in the container.
        if unsafe { libc::setns(home.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            eprintln!("fatal: cannot return to the host network namespace");
            std::process::abort();
        }
    }
    let (conn, handle, _) = made.map_err(|e| Error::Failed(format!("open netlink socket: {e}")))?;
    rt.spawn(conn);
    Ok(handle)
}

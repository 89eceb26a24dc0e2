//! The commands: each is all-or-nothing. [`transact`] takes the container lock, loads the
//! record, runs the operation, and saves the record; if anything fails, the undo actions
//! the operation registered run in reverse order and the record is left as it was.

pub mod device;
pub mod nic;
pub mod path;
pub mod route;

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use syscontainer::container::Container;
use syscontainer::store::{Lock, Store};

use crate::error::Result;
use crate::inroot::ContainerRoot;
use crate::record::Record;
use syscontainer_cgroups::{CgroupPlacement, ContainerCgroup, DeviceRule};

/// The records of the other containers of the store, with their names.
pub type Others = Vec<(String, Record)>;

/// What the operation acts on.
pub struct Target {
    pub store: Store,
    pub id: String,
    pub name: String,
    pub dir: PathBuf,
    /// `None`: the container is not running (or `--update-config-only`): record only.
    pub live: Option<Live>,
    /// Whether its PID 1 runs (also with `--update-config-only`, where `live` is `None`).
    pub running: bool,
}

/// A running (or, in the prestart hook, starting) container.
pub struct Live {
    pub pid: i32,
    pub root: ContainerRoot,
    /// Host directory for device nodes of a user-namespaced container
    /// (`<store>/<id>/devnodes`), bind-mounted into it.
    pub stage: PathBuf,
    /// Loaded on first use: only the device operations need the cgroups (finding them
    /// reads the host's mount table) and the spec's device rules (a parse of the spec).
    placement: CgroupPlacement,
    cgroups: OnceCell<ContainerCgroup>,
    spec: (Store, String),
    spec_devices: OnceCell<Vec<(bool, DeviceRule)>>,
}

impl Live {
    fn new(store: &Store, id: &str, c: &Container, pid: i32, root: ContainerRoot) -> Live {
        Live {
            pid,
            root,
            stage: store.dir(id).join(device::STAGE_DIR),
            placement: c.config.cgroup.clone(),
            cgroups: OnceCell::new(),
            spec: (store.clone(), id.to_string()),
            spec_devices: OnceCell::new(),
        }
    }

    /// The container's cgroups.
    pub fn cgroups(&self) -> &ContainerCgroup {
        self.cgroups
            .get_or_init(|| ContainerCgroup::load(&self.placement))
    }

    /// The device rules of the container's spec (the runtime's defaults and `--device`),
    /// which the cgroup v2 device filter is rebuilt from with the hot-added devices.
    pub fn spec_devices(&self) -> Result<&[(bool, DeviceRule)]> {
        if let Some(rules) = self.spec_devices.get() {
            return Ok(rules);
        }
        let rules = device::spec_rules(&self.spec.0, &self.spec.1)?;
        Ok(self.spec_devices.get_or_init(|| rules))
    }

    /// The host uid that shows as `uid` inside (a `--user-remap` container shifts ids);
    /// an unmapped id is left as it is.
    pub fn host_uid(&self, uid: u32) -> u32 {
        let map =
            std::fs::read_to_string(format!("/proc/{}/uid_map", self.pid)).unwrap_or_default();
        device::map_id(&map, uid).unwrap_or(uid)
    }

    pub fn host_gid(&self, gid: u32) -> u32 {
        let map =
            std::fs::read_to_string(format!("/proc/{}/gid_map", self.pid)).unwrap_or_default();
        device::map_id(&map, gid).unwrap_or(gid)
    }
}

impl Target {
    /// Look a container up by name, ID or ID prefix; live if it runs and `live` is asked.
    pub fn open(root: &Path, query: &str, live: bool) -> Result<Target> {
        let store = Store::open(root)?;
        let id = store.resolve(query)?;
        let c = Container::load(&store, &id)?;
        let running = c.running_init().is_ok();
        let live = match (live, c.running_init()) {
            (true, Ok(pid)) => Some(Live::new(
                &store,
                &id,
                &c,
                pid,
                ContainerRoot::open(pid, None)?,
            )),
            _ => None,
        };
        Ok(Target {
            dir: store.dir(&id),
            name: c.config.name.clone(),
            store,
            id,
            live,
            running,
        })
    }

    /// The target of a hook: the bundle is the store directory `<root>/<id>`.
    pub fn for_hook(bundle: &Path, pid: i32, rootfs: Option<&Path>) -> Result<Target> {
        let root = bundle.parent().unwrap_or(Path::new("/"));
        let id = bundle
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let store = Store::open(root)?;
        let c = Container::load(&store, &id)?;
        let live = if pid > 0 && Path::new(&format!("/proc/{pid}")).exists() {
            Some(Live::new(
                &store,
                &id,
                &c,
                pid,
                ContainerRoot::open(pid, rootfs)?,
            ))
        } else {
            None
        };
        Ok(Target {
            dir: store.dir(&id),
            name: c.config.name.clone(),
            store,
            id,
            running: live.is_some(),
            live,
        })
    }

    /// Lock every container of the store, this one included, and read the records of the
    /// others (with their names). What the conflict check finds free in them then stays
    /// free until this command has saved its own record: two concurrent add-nic calls on
    /// two containers cannot both take the same IP, MAC or host NIC.
    ///
    /// The locks are taken in ID order. Everything else holds at most one container lock
    /// at a time (the runtime, the hook, single-container commands), so no cycle of
    /// waiters can form. A container removed meanwhile (its directory is gone) is skipped.
    pub fn lock_all(&self) -> Result<(Vec<Lock>, Others)> {
        let mut ids = self.store.ids().unwrap_or_default();
        if !ids.contains(&self.id) {
            ids.push(self.id.clone());
        }
        ids.sort();
        let mut locks = Vec::new();
        for id in &ids {
            if *id == self.id {
                locks.push(self.store.lock(id)?);
            } else if let Ok(l) = self.store.lock(id) {
                locks.push(l);
            }
        }
        Ok((locks, self.others()))
    }

    /// Records of every other container in the store, with their names (read without
    /// their locks: see [`Target::lock_all`] for a consistent view).
    pub fn others(&self) -> Others {
        let mut out = Vec::new();
        for id in self.store.ids().unwrap_or_default() {
            if id == self.id {
                continue;
            }
            let name = self
                .store
                .load_config(&id)
                .map(|c| c.name)
                .unwrap_or_else(|_| id[..12].to_string());
            if let Ok(r) = Record::load(&self.store.dir(&id)) {
                out.push((name, r));
            }
        }
        out
    }
}

type UndoAction<'a> = Box<dyn FnOnce() -> Result<()> + 'a>;

/// Undo actions, run newest first unless the operation succeeds.
#[derive(Default)]
pub struct Undo<'a> {
    actions: Vec<(String, UndoAction<'a>)>,
}

impl<'a> Undo<'a> {
    pub fn push(&mut self, what: impl Into<String>, f: impl FnOnce() -> Result<()> + 'a) {
        self.actions.push((what.into(), Box::new(f)));
    }

    pub fn run(self) {
        for (what, f) in self.actions.into_iter().rev() {
            if let Err(e) = f() {
                tracing::error!("undo {what}: {e}");
            }
        }
    }
}

/// Run `op` on the record under the container lock; save on success, undo on failure.
pub fn transact<'a, T>(
    target: &Target,
    op: impl FnOnce(&mut Record, &mut Undo<'a>) -> Result<T>,
) -> Result<T> {
    let _lock = target.store.lock(&target.id)?;
    transact_locked(target, op)
}

/// [`transact`] for a caller that holds the container lock already ([`Target::lock_all`]).
pub fn transact_locked<'a, T>(
    target: &Target,
    op: impl FnOnce(&mut Record, &mut Undo<'a>) -> Result<T>,
) -> Result<T> {
    let mut record = Record::load(&target.dir)?;
    let mut undo = Undo::default();
    let result = op(&mut record, &mut undo).and_then(|v| record.save(&target.dir).map(|()| v));
    if result.is_err() {
        undo.run();
    }
    result
}

/// Read the record under the lock (for the list commands).
/// A netlink connection on the host and one in the container's network namespace, for a
/// running container.
pub fn live_net(target: &Target) -> Result<Option<(crate::net::Net, crate::net::Ns)>> {
    match &target.live {
        Some(live) => {
            let net = crate::net::Net::new()?;
            let ns = net.join(Path::new(&format!("/proc/{}/ns/net", live.pid)))?;
            Ok(Some((net, ns)))
        }
        None => Ok(None),
    }
}

pub fn read_record(target: &Target) -> Result<Record> {
    let _lock = target.store.lock(&target.id)?;
    Record::load(&target.dir)
}

/// JSON output of the list commands.
pub fn to_json<T: serde::Serialize>(value: &T, pretty: bool) -> String {
    if pretty {
        serde_json::to_string_pretty(value).unwrap_or_default()
    } else {
        serde_json::to_string(value).unwrap_or_default()
    }
}

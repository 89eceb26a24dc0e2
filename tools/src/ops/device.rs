//! add-device, remove-device, update-device, list-device.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use syscontainer::store::Store;
use syscontainer_cgroups::DeviceRule;

use super::{read_record, to_json, transact, Live, Target, Undo};
use crate::error::{Error, Result};
use crate::record::{Device, Record, Throttle, ThrottleKind};
use crate::resource::{Env, Resource};
use crate::spec::{DeviceArg, ThrottleArg};

pub use crate::inroot::map_id;

/// Directory under `<store>/<id>/` for the nodes of a user-namespaced container.
pub const STAGE_DIR: &str = "devnodes";

/// Look a host device up: type, numbers, mode, owner.
pub fn host_device(host: &Path, ctr: &Path, permissions: &str) -> Result<Device> {
    let meta = std::fs::metadata(host).map_err(|e| {
        Error::Invalid(format!(
            "device {}: {}",
            host.display(),
            e.to_string().to_lowercase()
        ))
    })?;
    let ft = meta.file_type();
    let kind = if ft.is_block_device() {
        "b"
    } else if ft.is_char_device() {
        "c"
    } else {
        return Err(Error::Invalid(format!(
            "device {} is not a block or character device",
            host.display()
        )));
    };
    let rdev = meta.rdev();
    Ok(Device {
        kind: kind.into(),
        path: ctr.display().to_string(),
        path_on_host: host.display().to_string(),
        major: libc::major(rdev),
        minor: libc::minor(rdev),
        permissions: permissions.into(),
        file_mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        parent: String::new(),
    })
}

/// The partitions of a whole block device, from sysfs: (host path, name suffix).
pub fn partitions(disk: &Device) -> Vec<(PathBuf, String)> {
    partitions_in(Path::new("/sys"), disk)
}

/// [`partitions`] below a given sysfs mount (fixtures in tests).
pub fn partitions_in(sys: &Path, disk: &Device) -> Vec<(PathBuf, String)> {
    if disk.kind != "b" {
        return Vec::new();
    }
    let sys = sys.join(format!("dev/block/{}:{}", disk.major, disk.minor));
    let Ok(real) = std::fs::canonicalize(&sys) else {
        return Vec::new();
    };
    let disk_name = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(&real)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("partition").exists())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let suffix = name.strip_prefix(&disk_name)?.to_string();
            Some((PathBuf::from("/dev").join(&name), suffix))
        })
        .collect();
    out.sort();
    out
}

/// The device rules of a container's spec, in order: the runtime's defaults (deny all, then
/// the standard devices, console and ptys) and `--device`.
pub fn spec_rules(store: &Store, id: &str) -> Result<Vec<(bool, DeviceRule)>> {
    let spec = store.load_spec(id)?;
    Ok(spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.devices().as_ref())
        .map(|rules| rules.iter().map(DeviceRule::from_oci).collect())
        .unwrap_or_default())
}

/// Whether the spec itself allows exactly this device (a default device or `--device`).
fn spec_names(spec: &[(bool, DeviceRule)], d: &Device) -> bool {
    let rule = d.rule();
    spec.iter().any(|(allow, r)| {
        *allow && r.kind == rule.kind && r.major == rule.major && r.minor == rule.minor
    })
}

/// The container's whole device rule list: its spec's, then an allow for each hot-added
/// device (so that a later deny in the spec cannot hide one the user added).
pub fn full_rules(live: &Live, devices: &[DeviceRule]) -> Result<Vec<(bool, DeviceRule)>> {
    let mut rules = live.spec_devices()?.to_vec();
    rules.extend(devices.iter().map(|r| (true, r.clone())));
    Ok(rules)
}

/// cgroup v2 has no per-device allow: rebuild the container's device filter from its whole
/// list with the devices of `after`, and register putting back the one of `before`.
fn replace_filter<'a>(
    live: &'a Live,
    before: &[Device],
    after: &[Device],
    undo: &mut Undo<'a>,
) -> Result<()> {
    let rules =
        |list: &[Device]| full_rules(live, &list.iter().map(Device::rule).collect::<Vec<_>>());
    let old = rules(before)?;
    live.cgroups().replace_device_filter(&rules(after)?)?;
    undo.push("restore the device filter", move || {
        Ok(live.cgroups().replace_device_filter(&old)?)
    });
    Ok(())
}

/// The host-side node for a user-namespaced container.
fn staged_node(live: &Live, d: &Device) -> PathBuf {
    live.stage.join(stage_name(&d.path))
}

/// The file name of a staged node: the container path with `%` and `/` escaped
/// (`/dev/a_b` and `/dev/a/b` must not share a node).
pub fn stage_name(ctr_path: &str) -> String {
    ctr_path
        .trim_start_matches('/')
        .replace('%', "%25")
        .replace('/', "%2F")
}

/// A user-namespaced container: make the node on the host (owned by the container's
/// mapped ids) and bind it onto the container path.
fn apply_userns_device<'a>(
    live: &'a Live,
    d: &Device,
    force: bool,
    undo: &mut Undo<'a>,
) -> Result<()> {
    let path = PathBuf::from(&d.path);
    if let Some(st) = live.root.stat(&path)? {
        let fmt = st.st_mode & libc::S_IFMT;
        if !force {
            return Err(Error::Conflict(format!(
                "container path {} already exists: use --force to replace it",
                d.path
            )));
        }
        if fmt != libc::S_IFBLK && fmt != libc::S_IFCHR {
            return Err(Error::Conflict(format!(
                "container path {} exists and is not a device node: not replaced",
                d.path
            )));
        }
        live.root.unmount(&path, true)?;
        live.root.unlink(&path)?;
    }
    std::fs::create_dir_all(&live.stage).map_err(crate::error::io_err("create", &live.stage))?;
    let node = staged_node(live, d);
    let _ = std::fs::remove_file(&node);
    let type_bits = if d.kind == "b" {
        libc::S_IFBLK
    } else {
        libc::S_IFCHR
    };
    let c = std::ffi::CString::new(node.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::Invalid(format!("device path {} contains a NUL byte", d.path)))?;
    // SAFETY: mknod/chown of a NUL-terminated host path we chose (umask cleared so the
    // node gets exactly the host node's mode).
    unsafe {
        let old_mask = libc::umask(0);
        let rc = libc::mknod(
            c.as_ptr(),
            type_bits | d.file_mode,
            libc::makedev(d.major, d.minor),
        );
        libc::umask(old_mask);
        if rc != 0 || libc::chown(c.as_ptr(), live.host_uid(d.uid), live.host_gid(d.gid)) != 0 {
            let e = std::io::Error::last_os_error();
            libc::unlink(c.as_ptr());
            return Err(crate::error::io_err("make device node", &node)(e));
        }
    }
    let n = node.clone();
    undo.push(format!("remove {}", node.display()), move || {
        let _ = std::fs::remove_file(&n);
        Ok(())
    });
    live.root.bind_device_node(&node, &path)?;
    let p = path.clone();
    undo.push(format!("unmount {}", d.path), move || {
        live.root.unmount(&p, true)?;
        live.root.unlink(&p)
    });
    Ok(())
}

/// Make the node inside the container and allow it in the devices cgroup.
pub fn apply_device<'a>(
    live: &'a Live,
    d: &Device,
    force: bool,
    undo: &mut Undo<'a>,
) -> Result<()> {
    if live.root.in_userns() {
        apply_userns_device(live, d, force, undo)?;
        let rule = d.rule();
        live.cgroups().allow_device(&rule)?;
        undo.push(format!("deny {rule}"), move || {
            Ok(live.cgroups().deny_device(&rule)?)
        });
        return Ok(());
    }
    let path = PathBuf::from(&d.path);
    let parent = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let created = live.root.mkdir_p(&parent)?;
    if !created.is_empty() {
        undo.push(format!("remove directories for {}", d.path), move || {
            live.root.remove_created(&created);
            Ok(())
        });
    }
    let type_bits = if d.kind == "b" {
        libc::S_IFBLK
    } else {
        libc::S_IFCHR
    };
    let rdev = libc::makedev(d.major, d.minor);
    let mut make = true;
    if let Some(st) = live.root.stat(&path)? {
        let fmt = st.st_mode & libc::S_IFMT;
        let is_dev = fmt == libc::S_IFBLK || fmt == libc::S_IFCHR;
        if is_dev && fmt == type_bits && st.st_rdev == rdev {
            make = false;
        } else if !force {
            return Err(Error::Conflict(format!(
                "container path {} already exists: use --force to replace it",
                d.path
            )));
        } else if !is_dev {
            return Err(Error::Conflict(format!(
                "container path {} exists and is not a device node: not replaced",
                d.path
            )));
        } else {
            live.root.unlink(&path)?;
            let old = (st.st_mode, st.st_rdev, st.st_uid, st.st_gid);
            let p = path.clone();
            undo.push(format!("restore {}", d.path), move || {
                let _ = live.root.unlink(&p);
                live.root.mknod(&p, old.0, old.1, old.2, old.3)
            });
        }
    }
    if make {
        live.root.mknod(
            &path,
            type_bits | d.file_mode,
            rdev,
            live.host_uid(d.uid),
            live.host_gid(d.gid),
        )?;
        let p = path.clone();
        undo.push(format!("remove {}", d.path), move || live.root.unlink(&p));
    }
    let rule = d.rule();
    live.cgroups().allow_device(&rule)?;
    undo.push(format!("deny {rule}"), move || {
        Ok(live.cgroups().deny_device(&rule)?)
    });
    Ok(())
}

/// Remove the node (if it is still the recorded device) and deny it.
pub fn unapply_device<'a>(live: &'a Live, d: &Device, undo: &mut Undo<'a>) -> Result<()> {
    let rule = d.rule();
    live.cgroups().deny_device(&rule)?;
    let r = rule.clone();
    undo.push(format!("allow {rule}"), move || {
        Ok(live.cgroups().allow_device(&r)?)
    });
    let path = PathBuf::from(&d.path);
    if live.root.in_userns() {
        live.root.unmount(&path, true)?;
        if live.root.stat(&path)?.is_some() {
            live.root.unlink(&path)?;
        }
        let _ = std::fs::remove_file(staged_node(live, d));
        let again = d.clone();
        undo.push(format!("re-create {}", d.path), move || {
            apply_userns_device(live, &again, true, &mut Undo::default())
        });
        return Ok(());
    }
    let type_bits = if d.kind == "b" {
        libc::S_IFBLK
    } else {
        libc::S_IFCHR
    };
    let rdev = libc::makedev(d.major, d.minor);
    if let Some(st) = live.root.stat(&path)? {
        if st.st_mode & libc::S_IFMT == type_bits && st.st_rdev == rdev {
            live.root.unlink(&path)?;
            let (mode, uid, gid) = (st.st_mode, st.st_uid, st.st_gid);
            undo.push(format!("re-create {}", d.path), move || {
                live.root.mknod(&path, mode, rdev, uid, gid)
            });
        }
    }
    Ok(())
}

impl Resource for Device {
    fn describe(&self) -> String {
        format!("device {}", self.path)
    }

    fn validate(&self) -> Result<()> {
        let bad = |why: String| Error::Invalid(format!("recorded device {}: {why}", self.path));
        if self.kind != "b" && self.kind != "c" {
            return Err(bad(format!("type {:?} is neither b nor c", self.kind)));
        }
        let perms_ok = !self.permissions.is_empty()
            && self
                .permissions
                .chars()
                .all(|c| matches!(c, 'r' | 'w' | 'm'));
        if !perms_ok {
            return Err(bad(format!("permissions {:?}", self.permissions)));
        }
        crate::spec::container_path(&self.path).map_err(|e| bad(e.to_string()))?;
        Ok(())
    }

    fn add<'a>(&'a self, env: &Env<'a>, undo: &mut Undo<'a>) -> Result<()> {
        apply_device(env.live, self, false, undo)
    }

    fn remove<'a>(&'a self, env: &Env<'a>, undo: &mut Undo<'a>) -> Result<()> {
        unapply_device(env.live, self, undo)
    }

    /// A node left at the path by the previous run is replaced.
    fn reapply<'a>(&'a self, env: &Env<'a>, undo: &mut Undo<'a>) -> Result<()> {
        apply_device(env.live, self, true, undo)
    }

    fn device_rule(&self) -> Option<DeviceRule> {
        Some(self.rule())
    }

    fn record(&self, rec: &mut Record) {
        rec.devices.retain(|d| d.path != self.path);
        rec.devices.push(self.clone());
    }
}

/// A recorded throttle with the list it belongs to.
#[derive(Debug, Clone)]
pub struct Throttled {
    kind: ThrottleKind,
    throttle: Throttle,
}

impl Throttled {
    pub fn new(kind: ThrottleKind, throttle: Throttle) -> Throttled {
        Throttled { kind, throttle }
    }

    fn set<'a>(&self, env: &Env<'a>, rate: u64, old: u64, undo: &mut Undo<'a>) -> Result<()> {
        let (kind, live) = (self.kind, env.live);
        let (major, minor) = (self.throttle.major, self.throttle.minor);
        live.cgroups().set_throttle(kind, major, minor, rate)?;
        undo.push(format!("restore {}", kind.option()), move || {
            Ok(live.cgroups().set_throttle(kind, major, minor, old)?)
        });
        Ok(())
    }
}

impl Resource for Throttled {
    fn describe(&self) -> String {
        format!("{} {}", self.kind.option(), self.throttle.path)
    }

    fn validate(&self) -> Result<()> {
        if !self.throttle.path.starts_with('/') {
            return Err(Error::Invalid(format!(
                "recorded {}: device path {:?} must be absolute",
                self.kind.option(),
                self.throttle.path
            )));
        }
        Ok(())
    }

    fn add<'a>(&'a self, env: &Env<'a>, undo: &mut Undo<'a>) -> Result<()> {
        self.set(env, self.throttle.rate, 0, undo)
    }

    fn remove<'a>(&'a self, env: &Env<'a>, undo: &mut Undo<'a>) -> Result<()> {
        self.set(env, 0, self.throttle.rate, undo)
    }

    fn record(&self, rec: &mut Record) {
        rec.set_throttle(self.kind, self.throttle.clone());
    }
}

/// Set one throttle live (if running) and in the record, with undo.
fn set_throttle<'a>(
    target: &'a Target,
    rec: &mut Record,
    kind: ThrottleKind,
    t: Throttle,
    undo: &mut Undo<'a>,
) -> Result<()> {
    let old_rate = rec
        .throttles(kind)
        .iter()
        .find(|x| x.major == t.major && x.minor == t.minor)
        .map(|x| x.rate)
        .unwrap_or(0);
    if let Some(live) = &target.live {
        live.cgroups()
            .set_throttle(kind, t.major, t.minor, t.rate)?;
        let (maj, min) = (t.major, t.minor);
        undo.push(format!("restore {}", kind.option()), move || {
            Ok(live.cgroups().set_throttle(kind, maj, min, old_rate)?)
        });
    }
    rec.set_throttle(kind, t);
    Ok(())
}

fn throttle_for(arg: &ThrottleArg) -> Result<Throttle> {
    let d = host_device(&arg.device, &arg.device, "rwm")?;
    if d.kind != "b" {
        return Err(Error::Invalid(format!(
            "device {} is not a block device: it cannot be throttled",
            arg.device.display()
        )));
    }
    Ok(Throttle {
        path: arg.device.display().to_string(),
        major: d.major,
        minor: d.minor,
        rate: arg.rate,
    })
}

pub struct AddDevice {
    pub devices: Vec<DeviceArg>,
    pub throttles: Vec<(ThrottleKind, ThrottleArg)>,
    pub follow_partition: bool,
    pub force: bool,
}

pub fn add(target: &Target, req: &AddDevice) -> Result<Vec<String>> {
    // Resolve everything before touching anything.
    let mut wanted: Vec<Device> = Vec::new();
    for arg in &req.devices {
        let d = host_device(&arg.host, &arg.ctr, &arg.permissions)?;
        let parts = if req.follow_partition {
            partitions(&d)
        } else {
            Vec::new()
        };
        let disk_host = d.path_on_host.clone();
        let disk_ctr = d.path.clone();
        wanted.push(d);
        for (host, suffix) in parts {
            let ctr = PathBuf::from(format!("{disk_ctr}{suffix}"));
            let mut p = host_device(&host, &ctr, &arg.permissions)?;
            p.parent = disk_host.clone();
            wanted.push(p);
        }
    }
    let throttles: Vec<(ThrottleKind, Throttle)> = req
        .throttles
        .iter()
        .map(|(k, a)| throttle_for(a).map(|t| (*k, t)))
        .collect::<Result<_>>()?;
    transact(target, |rec, undo| {
        let before = rec.devices.clone();
        let mut lines = Vec::new();
        for (i, d) in wanted.iter().enumerate() {
            let clash = rec.devices.iter().chain(wanted[..i].iter()).find(|x| {
                x.path == d.path || (x.major == d.major && x.minor == d.minor && x.kind == d.kind)
            });
            if let Some(x) = clash {
                return Err(Error::Conflict(format!(
                    "device {} is already added to container {} as {}",
                    x.path_on_host, target.name, x.path
                )));
            }
            if let Some(live) = &target.live {
                // Removing it later would deny what the runtime gave the container.
                if live.cgroups().device_allowed(d.major, d.minor)
                    || spec_names(live.spec_devices()?, d)
                {
                    return Err(Error::Conflict(format!(
                        "device {} ({}:{}) is already available in container {}",
                        d.path_on_host, d.major, d.minor, target.name
                    )));
                }
                apply_device(live, d, req.force, undo)?;
            }
            rec.devices.push(d.clone());
            lines.push(format!(
                "Add device ({}) to container({},{}) done.",
                d.path_on_host, target.name, d.path
            ));
        }
        sclog::crash_point("add-device:after-nodes");
        if let Some(live) = &target.live {
            replace_filter(live, &before, &rec.devices, undo)?;
        }
        for (kind, t) in &throttles {
            set_throttle(target, rec, *kind, t.clone(), undo)?;
        }
        sclog::crash_point("add-device:after-apply");
        Ok(lines)
    })
}

pub fn remove(
    target: &Target,
    devices: &[DeviceArg],
    follow_partition: bool,
) -> Result<Vec<String>> {
    transact(target, |rec, undo| {
        let before = rec.devices.clone();
        let mut lines = Vec::new();
        for arg in devices {
            let host = arg.host.display().to_string();
            let ctr = arg.ctr.display().to_string();
            let Some(pos) = rec
                .devices
                .iter()
                .position(|d| d.path_on_host == host && d.path == ctr)
                .or_else(|| rec.devices.iter().position(|d| d.path == ctr))
            else {
                return Err(Error::Invalid(format!(
                    "device {host} is not added to container {} at {ctr}",
                    target.name
                )));
            };
            let d = rec.devices.remove(pos);
            let mut doomed = vec![d.clone()];
            if follow_partition {
                while let Some(p) = rec.devices.iter().position(|x| x.parent == d.path_on_host) {
                    doomed.push(rec.devices.remove(p));
                }
            }
            for x in &doomed {
                if let Some(live) = &target.live {
                    unapply_device(live, x, undo)?;
                }
                sclog::crash_point("remove-device:after-nodes");
                for kind in ThrottleKind::ALL {
                    if rec
                        .throttles(kind)
                        .iter()
                        .any(|t| t.major == x.major && t.minor == x.minor)
                    {
                        let t = Throttle {
                            path: x.path_on_host.clone(),
                            major: x.major,
                            minor: x.minor,
                            rate: 0,
                        };
                        set_throttle(target, rec, kind, t, undo)?;
                    }
                }
                lines.push(format!(
                    "Remove device ({}) from container({},{}) done.",
                    x.path_on_host, target.name, x.path
                ));
            }
        }
        if let Some(live) = &target.live {
            replace_filter(live, &before, &rec.devices, undo)?;
        }
        sclog::crash_point("remove-device:after-apply");
        Ok(lines)
    })
}

pub fn update(target: &Target, throttles: &[(ThrottleKind, ThrottleArg)]) -> Result<Vec<String>> {
    if throttles.is_empty() {
        return Err(Error::Invalid(
            "update-device: give at least one of --device-read-bps, --device-write-bps, --device-read-iops, --device-write-iops, --blkio-weight-device".into(),
        ));
    }
    let resolved: Vec<(ThrottleKind, Throttle)> = throttles
        .iter()
        .map(|(k, a)| throttle_for(a).map(|t| (*k, t)))
        .collect::<Result<_>>()?;
    transact(target, |rec, undo| {
        let mut lines = Vec::new();
        for (kind, t) in resolved {
            if !rec
                .devices
                .iter()
                .any(|d| d.major == t.major && d.minor == t.minor && d.kind == "b")
            {
                return Err(Error::Invalid(format!(
                    "device {} is not added to container {}: add it first",
                    t.path, target.name
                )));
            }
            lines.push(format!(
                "Update {} of device ({}) in container({}) to {} done.",
                kind.option().trim_start_matches("--"),
                t.path,
                target.name,
                t.rate
            ));
            set_throttle(target, rec, kind, t, undo)?;
        }
        Ok(lines)
    })
}

pub fn list(target: &Target, pretty: bool, sub_partition: bool) -> Result<String> {
    let rec = read_record(target)?;
    let devices: Vec<&Device> = rec
        .devices
        .iter()
        .filter(|d| sub_partition || d.parent.is_empty())
        .collect();
    Ok(to_json(&devices, pretty))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_node_names_are_distinct_for_distinct_paths() {
        let paths = [
            "/dev/a_b",
            "/dev/a/b",
            "/dev/a%2Fb",
            "/dev/a%b",
            "/dev/a%25b",
        ];
        let names: std::collections::HashSet<String> =
            paths.iter().map(|p| stage_name(p)).collect();
        assert_eq!(names.len(), paths.len(), "{names:?}");
        assert!(names.iter().all(|n| !n.contains('/')), "{names:?}");
        assert_eq!(stage_name("/dev/xvdb"), "dev%2Fxvdb");
    }

    #[test]
    fn ids_map_through_the_user_namespace() {
        let identity = "         0          0 4294967295\n";
        assert_eq!(map_id(identity, 6), Some(6));
        let remap = "         0     200000      65535\n";
        assert_eq!(map_id(remap, 0), Some(200_000));
        assert_eq!(map_id(remap, 6), Some(200_006));
        assert_eq!(map_id(remap, 65_535), None);
        let split = "0 100000 10\n10 300000 5\n";
        assert_eq!(map_id(split, 12), Some(300_002));
        assert_eq!(map_id("garbage\n", 0), None);
    }

    #[test]
    fn partitions_come_from_sysfs_with_their_suffix() {
        let sys = std::env::temp_dir().join(format!("sct-sysfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&sys);
        let disk_dir = sys.join("devices/virtual/block/loop3");
        for p in ["loop3p1", "loop3p2"] {
            std::fs::create_dir_all(disk_dir.join(p)).unwrap();
            std::fs::write(disk_dir.join(p).join("partition"), "1\n").unwrap();
        }
        std::fs::create_dir_all(disk_dir.join("queue")).unwrap();
        std::fs::create_dir_all(sys.join("dev/block")).unwrap();
        std::os::unix::fs::symlink(
            "../../devices/virtual/block/loop3",
            sys.join("dev/block/7:3"),
        )
        .unwrap();
        let disk = Device {
            kind: "b".into(),
            path: "/dev/xvdb".into(),
            path_on_host: "/dev/loop3".into(),
            major: 7,
            minor: 3,
            permissions: "rwm".into(),
            file_mode: 0o660,
            uid: 0,
            gid: 6,
            parent: String::new(),
        };
        assert_eq!(
            partitions_in(&sys, &disk),
            vec![
                (PathBuf::from("/dev/loop3p1"), "p1".to_string()),
                (PathBuf::from("/dev/loop3p2"), "p2".to_string())
            ]
        );
        let chr = Device {
            kind: "c".into(),
            ..disk.clone()
        };
        assert!(partitions_in(&sys, &chr).is_empty());
        let other = Device { minor: 9, ..disk };
        assert!(partitions_in(&sys, &other).is_empty());
        std::fs::remove_dir_all(&sys).unwrap();
    }
}

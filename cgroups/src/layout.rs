//! Where the host mounts its cgroup hierarchies (from mountinfo), which of the three layouts
//! that is, and where a process's cgroup is in each hierarchy (from `/proc/PID/cgroup`).

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::controller::Controller;
use crate::error::{CgroupError, Result};
use crate::read::read_string;

/// The cgroup version of one hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// The host's cgroup layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostMode {
    /// v1 hierarchies only.
    Legacy,
    /// v1 controllers plus a controller-less cgroup2 (systemd's `unified`).
    Hybrid,
    /// One cgroup2 hierarchy with every controller.
    Unified,
}

/// A mounted cgroup hierarchy: where it is mounted and which cgroup is its mount root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub mountpoint: PathBuf,
    pub root: String,
}

/// All cgroup hierarchies visible to this process: v1 ones by controller (including
/// `name=systemd`), plus the unified (v2) hierarchy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupLayout {
    pub v1: HashMap<Controller, Hierarchy>,
    pub unified: Option<Hierarchy>,
}

fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        // `\NNN` with three octal digits; compared as bytes, since what follows a
        // backslash need not start a character.
        if bytes[i] == b'\\' && i + 3 < bytes.len() {
            let oct = &bytes[i + 1..i + 4];
            if oct.iter().all(|b| (b'0'..=b'7').contains(b)) {
                let value = oct.iter().fold(0u32, |v, b| v * 8 + u32::from(b - b'0'));
                if let Ok(v) = u8::try_from(value) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl CgroupLayout {
    /// Builds the layout from `/proc/self/mountinfo` text. The first mount of a hierarchy wins.
    /// Mount options that name no known controller (`rw`, `xattr`, `name=other`) are skipped.
    pub fn parse_mountinfo(text: &str) -> Result<Self> {
        let mut layout = CgroupLayout::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (left, right) = line
                .split_once(" - ")
                .ok_or_else(|| CgroupError::parse("mountinfo", "missing ' - ' separator", line))?;
            let left: Vec<&str> = left.split_whitespace().collect();
            let right: Vec<&str> = right.split_whitespace().collect();
            if left.len() < 5 || right.len() < 3 {
                return Err(CgroupError::parse("mountinfo", "too few fields", line));
            }
            let hierarchy = Hierarchy {
                root: unescape_mountinfo(left[3]),
                mountpoint: PathBuf::from(unescape_mountinfo(left[4])),
            };
            match right[0] {
                "cgroup2" => {
                    layout.unified.get_or_insert(hierarchy);
                }
                "cgroup" => {
                    for controller in right[2]
                        .split(',')
                        .filter(|o| !o.is_empty())
                        .filter_map(Controller::from_name)
                    {
                        layout
                            .v1
                            .entry(controller)
                            .or_insert_with(|| hierarchy.clone());
                    }
                }
                _ => {}
            }
        }
        Ok(layout)
    }

    pub fn from_system() -> Result<Self> {
        Self::parse_mountinfo(&read_string(Path::new("/proc/self/mountinfo"))?)
    }

    /// Legacy, hybrid or unified, by which hierarchies are mounted.
    pub fn mode(&self) -> HostMode {
        let has_v1_controller = self.v1.keys().any(|c| *c != Controller::Systemd);
        match (has_v1_controller, &self.unified) {
            (false, Some(_)) => HostMode::Unified,
            (true, Some(_)) => HostMode::Hybrid,
            _ => HostMode::Legacy,
        }
    }

    /// The directory of `proc`'s cgroup for a v1 controller, if that hierarchy is mounted.
    pub fn v1_dir(&self, controller: Controller, proc: &ProcessCgroups) -> Option<CgroupDir> {
        let hierarchy = self.v1.get(&controller)?;
        let path = proc.v1.get(&controller)?;
        CgroupDir::new(hierarchy, path)
    }

    pub fn v2_dir(&self, proc: &ProcessCgroups) -> Option<CgroupDir> {
        CgroupDir::new(self.unified.as_ref()?, proc.unified.as_deref()?)
    }

    /// The v1 directory of `controller` if mounted, else the unified directory.
    pub fn dir(
        &self,
        controller: Controller,
        proc: &ProcessCgroups,
    ) -> Option<(Version, CgroupDir)> {
        if let Some(dir) = self.v1_dir(controller, proc) {
            return Some((Version::V1, dir));
        }
        self.v2_dir(proc).map(|d| (Version::V2, d))
    }
}

/// Parsed `/proc/PID/cgroup`: v1 controller → path, and the v2 path. Controllers this crate
/// does not know are skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessCgroups {
    pub v1: HashMap<Controller, String>,
    pub unified: Option<String>,
}

impl ProcessCgroups {
    pub fn parse(text: &str) -> Result<Self> {
        let mut cgroups = ProcessCgroups::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let mut parts = line.splitn(3, ':');
            let (Some(id), Some(controllers), Some(path)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(CgroupError::parse(
                    "cgroup",
                    "expected ID:CONTROLLERS:PATH",
                    line,
                ));
            };
            if id.parse::<u32>().is_err() || !path.starts_with('/') {
                return Err(CgroupError::parse(
                    "cgroup",
                    "expected ID:CONTROLLERS:/PATH",
                    line,
                ));
            }
            if id == "0" && controllers.is_empty() {
                cgroups.unified = Some(path.to_string());
            } else {
                for controller in controllers.split(',').filter_map(Controller::from_name) {
                    cgroups.v1.insert(controller, path.to_string());
                }
            }
        }
        Ok(cgroups)
    }

    pub fn read(pid: i32) -> Result<Self> {
        Self::parse(&read_string(Path::new(&format!("/proc/{pid}/cgroup")))?)
    }

    /// The cgroups of the container whose init this is: a systemd init moves itself into
    /// `init.scope` below the container's cgroup, which holds only PID 1, while the
    /// container's usage (and its own limits) are one level up. Like lxcfs, a trailing
    /// `/init.scope` is dropped.
    pub fn of_container_init(mut self) -> Self {
        fn prune(path: &mut String) {
            if let Some(parent) = path.strip_suffix("/init.scope") {
                *path = if parent.is_empty() {
                    "/".to_string()
                } else {
                    parent.to_string()
                };
            }
        }
        self.v1.values_mut().for_each(prune);
        if let Some(path) = self.unified.as_mut() {
            prune(path);
        }
        self
    }
}

/// One cgroup directory: the hierarchy mount point and the cgroup path below the mount root.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CgroupDir {
    pub mountpoint: PathBuf,
    /// Normal components only (never `..`).
    pub relative: PathBuf,
}

impl CgroupDir {
    /// Maps a cgroup path as seen in `/proc/PID/cgroup` into a directory under the hierarchy's
    /// mount point. Paths outside the mount root (another cgroup namespace) map to the root.
    pub fn new(hierarchy: &Hierarchy, cgroup_path: &str) -> Option<Self> {
        let root = Path::new(&hierarchy.root);
        let path = Path::new(cgroup_path);
        let below = path.strip_prefix(root).unwrap_or(Path::new(""));
        let mut relative = PathBuf::new();
        for component in below.components() {
            match component {
                Component::Normal(c) => relative.push(c),
                Component::RootDir | Component::CurDir => {}
                Component::ParentDir | Component::Prefix(_) => return None,
            }
        }
        Some(CgroupDir {
            mountpoint: hierarchy.mountpoint.clone(),
            relative,
        })
    }

    pub fn path(&self) -> PathBuf {
        self.mountpoint.join(&self.relative)
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    /// This cgroup and each ancestor up to and including the mount root, deepest first.
    pub fn self_and_ancestors(&self) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        let mut relative = self.relative.clone();
        loop {
            dirs.push(self.mountpoint.join(&relative));
            if !relative.pop() {
                break;
            }
        }
        dirs
    }

    pub(crate) fn read(&self, name: &str) -> Result<String> {
        read_string(&self.file(name))
    }

    /// Reads an optional file: `Ok(None)` if it does not exist.
    pub(crate) fn read_optional(&self, name: &str) -> Result<Option<String>> {
        crate::read::optional(self.read(name))
    }

    /// [`CgroupDir::read_optional`] through `files`.
    pub(crate) fn read_optional_with(
        &self,
        name: &str,
        files: &impl crate::read::FileReader,
    ) -> Result<Option<String>> {
        crate::read::optional(files.read_string(&self.file(name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `mountinfo` fuzz target: a backslash followed by a multi-byte character
    /// panicked on a slice inside that character.
    #[test]
    fn unescape_takes_only_three_octal_digits_and_any_utf8_after_a_backslash() {
        assert_eq!(unescape_mountinfo("/a\\040b"), "/a b");
        assert_eq!(unescape_mountinfo("/a\\é1"), "/a\\é1");
        assert_eq!(unescape_mountinfo("/a\\+12"), "/a\\+12");
        assert_eq!(unescape_mountinfo("/a\\777"), "/a\\777");
        let text = "24 1 0:22 / /sys/f\\é:60 rw - cgroup2 cgroup2 rw\n";
        assert!(CgroupLayout::parse_mountinfo(text).is_ok());
    }

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
50 31 0:32 /sub /mnt/mem\\040x rw,relatime - cgroup cgroup rw,memory
";

    #[test]
    fn layout_from_hybrid_mountinfo() {
        let layout = CgroupLayout::parse_mountinfo(MOUNTINFO).unwrap();
        assert_eq!(
            layout.v1[&Controller::Cpu].mountpoint,
            Path::new("/sys/fs/cgroup/cpu")
        );
        assert_eq!(
            layout.v1[&Controller::Cpuacct].mountpoint,
            Path::new("/sys/fs/cgroup/cpuacct")
        );
        assert_eq!(
            layout.v1[&Controller::Memory].mountpoint,
            Path::new("/sys/fs/cgroup/memory")
        );
        assert!(layout.v1.contains_key(&Controller::Systemd));
        assert_eq!(layout.v1.len(), 4, "xattr, rw are no controllers");
        assert_eq!(
            layout.unified.as_ref().unwrap().mountpoint,
            Path::new("/sys/fs/cgroup/unified")
        );
        assert!(CgroupLayout::parse_mountinfo("garbage line\n").is_err());
        assert_eq!(unescape_mountinfo("/mnt/mem\\040x"), "/mnt/mem x");
    }

    #[test]
    fn host_modes() {
        assert_eq!(
            CgroupLayout::parse_mountinfo(MOUNTINFO).unwrap().mode(),
            HostMode::Hybrid
        );
        let v2 = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            CgroupLayout::parse_mountinfo(v2).unwrap().mode(),
            HostMode::Unified
        );
        let v1 = "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
        assert_eq!(
            CgroupLayout::parse_mountinfo(v1).unwrap().mode(),
            HostMode::Legacy
        );
    }

    #[test]
    fn process_cgroups_use_each_controllers_own_path() {
        let layout = CgroupLayout::parse_mountinfo(MOUNTINFO).unwrap();
        let proc = ProcessCgroups::parse(
            "9:name=systemd:/sys\n4:memory:/mem/c1\n2:cpuacct:/acct/c1\n1:cpu:/cpu/c1\n0::/uni/c1\n",
        )
        .unwrap();
        assert_eq!(
            layout.v1_dir(Controller::Memory, &proc).unwrap().path(),
            Path::new("/sys/fs/cgroup/memory/mem/c1")
        );
        assert_eq!(
            layout.v1_dir(Controller::Cpuacct, &proc).unwrap().path(),
            Path::new("/sys/fs/cgroup/cpuacct/acct/c1")
        );
        let (version, dir) = layout.dir(Controller::Pids, &proc).unwrap();
        assert_eq!(version, Version::V2);
        assert_eq!(dir.path(), Path::new("/sys/fs/cgroup/unified/uni/c1"));
        assert!(ProcessCgroups::parse("x:memory:/a\n").is_err());
        assert!(ProcessCgroups::parse("4:memory\n").is_err());
        assert!(ProcessCgroups::parse("4:memory:relative\n").is_err());
    }

    #[test]
    fn proc_cgroup_paths_may_contain_colons_and_shared_hierarchies() {
        let map = ProcessCgroups::parse(
            "9:name=systemd:/\n4:memory:/process_api/8a34\n2:cpu,cpuacct:/x:y\n0::/init.scope\n",
        )
        .unwrap();
        assert_eq!(map.v1[&Controller::Systemd], "/");
        assert_eq!(map.v1[&Controller::Memory], "/process_api/8a34");
        assert_eq!(map.v1[&Controller::Cpu], "/x:y");
        assert_eq!(map.v1[&Controller::Cpuacct], "/x:y");
        assert_eq!(map.unified.as_deref(), Some("/init.scope"));
    }

    #[test]
    fn cgroup_dir_rejects_parent_components_and_strips_root() {
        let h = Hierarchy {
            mountpoint: "/m".into(),
            root: "/sub".into(),
        };
        assert_eq!(
            CgroupDir::new(&h, "/sub/a").unwrap().path(),
            Path::new("/m/a")
        );
        assert!(CgroupDir::new(&h, "/sub/../x").is_none());
        let d = CgroupDir::new(&h, "/sub/a/b").unwrap();
        assert_eq!(
            d.self_and_ancestors(),
            vec![PathBuf::from("/m/a/b"), "/m/a".into(), "/m".into()]
        );
    }

    #[test]
    fn container_init_drops_systemds_init_scope() {
        let c = ProcessCgroups::parse(
            "4:memory:/ctr/init.scope\n3:cpuset:/ctr\n2:pids:/init.scope\n1:cpu:/a/init.scope.x\n0::/ctr/init.scope\n",
        )
        .unwrap()
        .of_container_init();
        assert_eq!(c.v1[&Controller::Memory], "/ctr");
        assert_eq!(c.v1[&Controller::Cpuset], "/ctr");
        assert_eq!(c.v1[&Controller::Pids], "/");
        assert_eq!(c.v1[&Controller::Cpu], "/a/init.scope.x");
        assert_eq!(c.unified.as_deref(), Some("/ctr"));
    }
}

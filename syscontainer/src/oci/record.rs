//! The OCI runtime's state directory and its record.
//!
//! ```text
//! <root>/                 --root (default /run/syscontainer-oci), mode 0700
//!   <id>/                 one per container; made by `create`, removed by `delete`
//!     state.json          the Record (written atomically, under `lock`)
//!     config.json         the spec as the container got it (bundle's + completions)
//!     exec.fifo           while "created": the init blocks writing it until `start`
//!     lock                flock held by every read-modify-write of state.json
//! ```
//!
//! A separate root from the isula store (`/var/lib/syscontainer`): containerd owns
//! these containers' lifecycle (it reaps the init, it deletes them), and the isula CLI's
//! monitor, restart policy and console would contradict it. The records are written by
//! the same helpers ([`crate::store::write_json`], [`crate::store::Lock`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{io_error, OciError, Result};
use crate::cgroups::CgroupPlacement;
use crate::state::{OciStatus, ProcessId};
use crate::store::{read_json, write_json, Lock, StoreError};

pub const DEFAULT_ROOT: &str = "/run/syscontainer-oci";
pub const RECORD_FILE: &str = "state.json";
pub const SPEC_FILE: &str = "config.json";
pub const EXEC_FIFO: &str = "exec.fifo";
const LOCK_FILE: &str = "lock";

/// What `start`, `pause` and `resume` last made of the container; whether its init still
/// lives decides the rest ([`Record::status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Created,
    Running,
    Paused,
}

/// One container's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub init: ProcessId,
    /// RFC 3339, when `create` finished.
    pub created: String,
    pub phase: Phase,
    pub owner: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub cgroup: CgroupPlacement,
    /// The cgroup directories `create` made, parents first: what `delete` removes.
    #[serde(default)]
    pub created_cgroups: Vec<PathBuf>,
    /// The `system.container` annotation was set: systemd semantics.
    #[serde(default)]
    pub system_container: bool,
}

impl Record {
    /// The OCI status: stopped once the init is gone (a zombie counts as gone).
    pub fn status(&self) -> OciStatus {
        self.status_with(self.init.is_alive())
    }

    fn status_with(&self, alive: bool) -> OciStatus {
        match (alive, self.phase) {
            (false, _) => OciStatus::Stopped,
            (true, Phase::Created) => OciStatus::Created,
            (true, Phase::Running) => OciStatus::Running,
            (true, Phase::Paused) => OciStatus::Paused,
        }
    }

    /// The `state` output.
    pub fn state_json(&self, oci_version: &str) -> StateJson {
        self.state_json_with(oci_version, self.status())
    }

    fn state_json_with(&self, oci_version: &str, status: OciStatus) -> StateJson {
        StateJson {
            oci_version: oci_version.to_string(),
            id: self.id.clone(),
            pid: if status == OciStatus::Stopped {
                0
            } else {
                self.init.pid
            },
            status,
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            owner: self.owner.clone(),
            annotations: self.annotations.clone(),
        }
    }
}

/// runc's `state` JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateJson {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: OciStatus,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub annotations: BTreeMap<String, String>,
}

/// runc's rule for IDs: they name a directory, so no `/` and not `.` or `..`.
pub fn validate_id(id: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.');
    if id.is_empty() || id.len() > 1024 || id == "." || id == ".." || !id.chars().all(ok_char) {
        return Err(OciError::BadId(id.to_string()));
    }
    Ok(())
}

/// The `--root` directory.
#[derive(Debug, Clone)]
pub struct OciRoot {
    root: PathBuf,
}

impl OciRoot {
    /// The root, made (mode 0700) if it does not exist yet.
    pub fn open(root: &Path) -> Result<OciRoot> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(io_error("create", root))?;
        Ok(OciRoot {
            root: root.to_path_buf(),
        })
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    pub fn fifo(&self, id: &str) -> PathBuf {
        self.dir(id).join(EXEC_FIFO)
    }

    /// Make the state directory of a new container; an existing one is an error.
    pub fn make_dir(&self, id: &str) -> Result<PathBuf> {
        use std::os::unix::fs::DirBuilderExt;
        validate_id(id)?;
        let dir = self.dir(id);
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(OciError::Exists(id.to_string()))
            }
            Err(e) => Err(io_error("create", &dir)(e)),
        }
    }

    pub fn lock(&self, id: &str) -> Result<Lock> {
        validate_id(id)?;
        if !self.dir(id).is_dir() {
            return Err(OciError::NotFound(id.to_string()));
        }
        Ok(Lock::acquire(&self.dir(id).join(LOCK_FILE))?)
    }

    /// The record; `NotFound` for an unknown ID or one whose `create` has not finished.
    pub fn load(&self, id: &str) -> Result<Record> {
        validate_id(id)?;
        read_json(&self.dir(id).join(RECORD_FILE)).map_err(|e| match e {
            StoreError::NotFound(_) => OciError::NotFound(id.to_string()),
            other => other.into(),
        })
    }

    pub fn save(&self, record: &Record) -> Result<()> {
        Ok(write_json(&self.dir(&record.id).join(RECORD_FILE), record)?)
    }

    pub fn load_spec(&self, id: &str) -> Result<oci_spec::runtime::Spec> {
        Ok(read_json(&self.dir(id).join(SPEC_FILE))?)
    }

    pub fn save_spec(&self, id: &str, spec: &oci_spec::runtime::Spec) -> Result<()> {
        Ok(write_json(&self.dir(id).join(SPEC_FILE), spec)?)
    }

    /// Remove a container's state directory.
    pub fn remove(&self, id: &str) -> Result<()> {
        validate_id(id)?;
        let dir = self.dir(id);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error("remove", &dir)(e)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(phase: Phase) -> Record {
        Record {
            id: "c1".into(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            init: ProcessId {
                pid: 42,
                start_time: 7,
            },
            created: "2026-12-03T17:00:00.000000000Z".into(),
            phase,
            owner: "root".into(),
            annotations: BTreeMap::from([("a".into(), "b".into())]),
            cgroup: CgroupPlacement::default(),
            created_cgroups: vec![],
            system_container: false,
        }
    }

    #[test]
    fn status_follows_the_phase_while_the_init_lives() {
        assert_eq!(record(Phase::Created).status_with(true), OciStatus::Created);
        assert_eq!(record(Phase::Running).status_with(true), OciStatus::Running);
        assert_eq!(record(Phase::Paused).status_with(true), OciStatus::Paused);
        assert_eq!(
            record(Phase::Running).status_with(false),
            OciStatus::Stopped
        );
    }

    #[test]
    fn state_json_has_runcs_fields() {
        let json = serde_json::to_value(
            record(Phase::Running).state_json_with("1.0.2", OciStatus::Running),
        )
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "ociVersion": "1.0.2", "id": "c1", "pid": 42, "status": "running",
                "bundle": "/b", "rootfs": "/b/rootfs",
                "created": "2026-12-03T17:00:00.000000000Z", "owner": "root",
                "annotations": {"a": "b"}
            })
        );
        let stopped = record(Phase::Running).state_json_with("1.0.2", OciStatus::Stopped);
        assert_eq!(stopped.pid, 0);
    }

    #[test]
    fn ids_that_are_not_plain_names_are_refused() {
        for good in ["abc", "a.b-c_d+e", "0123456789abcdef"] {
            validate_id(good).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "é"] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_unknown_id_does_not_exist() {
        let dir = tempfile::tempdir().unwrap();
        let root = OciRoot::open(&dir.path().join("new/root")).unwrap();
        let err = root.load("nope").unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
        root.make_dir("c1").unwrap();
        assert!(matches!(root.make_dir("c1"), Err(OciError::Exists(_))));
        assert!(matches!(root.load("c1"), Err(OciError::NotFound(_))));
        root.remove("c1").unwrap();
        root.remove("c1").unwrap();
    }
}

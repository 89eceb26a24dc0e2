//! Shared logic of `lxcfs-toolkit` and `lxcfs-hook`: finding containers in the syscontainer
//! store, and attaching or removing views in their mount namespaces.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::mounts::{self, MountError, Outcome};

pub const DEFAULT_STORE: &str = "/var/lib/syscontainer";
pub const DEFAULT_MOUNTPOINT: &str = "/var/lib/lxcfs";

#[derive(Debug, thiserror::Error)]
pub enum ToolkitError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("malformed state {path}: {source}")]
    State {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("no container matches {0:?}")]
    NotFound(String),
    #[error("container id prefix {0:?} is ambiguous")]
    Ambiguous(String),
    #[error("container {id} is {status}, not running")]
    NotRunning { id: String, status: String },
    #[error("state has no usable pid ({0})")]
    BadPid(i64),
    #[error(transparent)]
    Mount(#[from] MountError),
}

pub type Result<T> = std::result::Result<T, ToolkitError>;

/// The fields of a container's `state.json` the toolkit uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ContainerState {
    pub id: String,
    #[serde(default)]
    pub pid: i64,
    #[serde(default)]
    pub status: String,
}

impl ContainerState {
    pub fn init_pid(&self) -> Result<i32> {
        i32::try_from(self.pid)
            .ok()
            .filter(|p| *p > 0)
            .ok_or(ToolkitError::BadPid(self.pid))
    }
}

fn read_state(path: &Path) -> Result<ContainerState> {
    let text = std::fs::read_to_string(path).map_err(|source| ToolkitError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| ToolkitError::State {
        path: path.display().to_string(),
        source,
    })
}

/// Containers selected by `selector`: `all` = every running container; otherwise an ID or a
/// unique ID prefix (which must be running).
pub fn find_containers(store: &Path, selector: &str) -> Result<Vec<ContainerState>> {
    let entries = std::fs::read_dir(store).map_err(|source| ToolkitError::Io {
        path: store.to_path_buf(),
        source,
    })?;
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().join("state.json").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    if selector == "all" {
        let mut running = Vec::new();
        for name in names {
            match read_state(&store.join(&name).join("state.json")) {
                Ok(state) if state.status == "running" => running.push(state),
                Ok(_) => {}
                Err(e) => tracing::warn!("skipping {name}: {e}"),
            }
        }
        return Ok(running);
    }
    let chosen = if names.iter().any(|n| n == selector) {
        selector.to_string()
    } else {
        let matches: Vec<&String> = names.iter().filter(|n| n.starts_with(selector)).collect();
        match matches.as_slice() {
            [one] => (*one).clone(),
            [] => return Err(ToolkitError::NotFound(selector.to_string())),
            _ => return Err(ToolkitError::Ambiguous(selector.to_string())),
        }
    };
    let state = read_state(&store.join(&chosen).join("state.json"))?;
    if state.status != "running" {
        return Err(ToolkitError::NotRunning {
            id: state.id,
            status: state.status,
        });
    }
    Ok(vec![state])
}

/// The OCI state a hook receives on stdin. Our runtime sets `root` to the rootfs host path.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HookState {
    #[serde(default)]
    pub id: String,
    pub pid: i64,
    #[serde(default)]
    pub root: Option<PathBuf>,
    #[serde(default)]
    pub bundle: Option<PathBuf>,
}

impl HookState {
    pub fn parse(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|source| ToolkitError::State {
            path: "<stdin>".into(),
            source,
        })
    }

    /// The rootfs on the host: `root`, else `root.path` of the bundle's config.json.
    pub fn rootfs(&self) -> Result<PathBuf> {
        if let Some(root) = &self.root {
            return Ok(root.clone());
        }
        let bundle = self
            .bundle
            .clone()
            .ok_or_else(|| ToolkitError::NotFound("root or bundle in hook state".into()))?;
        let config = bundle.join("config.json");
        let text = std::fs::read_to_string(&config).map_err(|source| ToolkitError::Io {
            path: config.clone(),
            source,
        })?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| ToolkitError::State {
                path: config.display().to_string(),
                source,
            })?;
        let root = value["root"]["path"]
            .as_str()
            .ok_or_else(|| ToolkitError::NotFound(format!("root.path in {}", config.display())))?;
        Ok(bundle.join(root))
    }
}

/// Prestart hook: bind-mount the views onto `<rootfs>/proc/...` inside the container's mount
/// namespace (before pivot_root, so the rootfs host path is visible there).
pub fn prestart(state: &HookState, mountpoint: &Path) -> Result<Vec<Outcome>> {
    let pid = ContainerState {
        id: state.id.clone(),
        pid: state.pid,
        status: String::new(),
    }
    .init_pid()?;
    let rootfs = state.rootfs()?;
    mounts::check_lxcfs(mountpoint)?;
    let trees = mounts::open_view_trees(mountpoint)?;
    Ok(mounts::in_mount_namespace(pid, || {
        mounts::attach_views(&rootfs, &trees)
    })?)
}

/// Re-attaches the views in a running container (after the daemon restarted).
pub fn remount(pid: i32, mountpoint: &Path) -> Result<Vec<Outcome>> {
    mounts::check_lxcfs(mountpoint)?;
    let trees = mounts::open_view_trees(mountpoint)?;
    Ok(mounts::in_mount_namespace(pid, || {
        mounts::attach_views(Path::new("/"), &trees)
    })?)
}

/// Removes the views from a running container.
pub fn umount(pid: i32) -> Result<Vec<Outcome>> {
    Ok(mounts::in_mount_namespace(pid, || {
        mounts::detach_views(Path::new("/"))
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (id, status) in [
            ("abc123", "running"),
            ("abd456", "stopped"),
            ("xyz", "running"),
        ] {
            std::fs::create_dir(dir.path().join(id)).unwrap();
            std::fs::write(
                dir.path().join(id).join("state.json"),
                format!(r#"{{"id":"{id}","pid":42,"status":"{status}","rootfs":"/r","extra":1}}"#),
            )
            .unwrap();
        }
        std::fs::create_dir(dir.path().join("broken")).unwrap();
        std::fs::write(dir.path().join("broken/state.json"), "{").unwrap();
        dir
    }

    #[test]
    fn selects_by_all_id_and_unique_prefix() {
        let store = store();
        let all: Vec<String> = find_containers(store.path(), "all")
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(all, ["abc123", "xyz"]);
        assert_eq!(
            find_containers(store.path(), "abc").unwrap()[0].id,
            "abc123"
        );
        assert!(matches!(
            find_containers(store.path(), "ab"),
            Err(ToolkitError::Ambiguous(_))
        ));
        assert!(matches!(
            find_containers(store.path(), "q"),
            Err(ToolkitError::NotFound(_))
        ));
        assert!(matches!(
            find_containers(store.path(), "abd"),
            Err(ToolkitError::NotRunning { .. })
        ));
        assert!(matches!(
            find_containers(store.path(), "broken"),
            Err(ToolkitError::State { .. })
        ));
    }

    #[test]
    fn hook_state_and_pids() {
        let state = HookState::parse(
            r#"{"ociVersion":"1.0.2","id":"c","status":"creating","pid":7,"bundle":"/b","root":"/r","annotations":{}}"#,
        )
        .unwrap();
        assert_eq!(state.rootfs().unwrap(), Path::new("/r"));
        assert!(HookState::parse("{}").is_err());
        let bundle = tempfile::tempdir().unwrap();
        std::fs::write(
            bundle.path().join("config.json"),
            r#"{"root":{"path":"rootfs"}}"#,
        )
        .unwrap();
        let state = HookState::parse(&format!(
            r#"{{"pid":7,"bundle":"{}"}}"#,
            bundle.path().display()
        ))
        .unwrap();
        assert_eq!(state.rootfs().unwrap(), bundle.path().join("rootfs"));
        let bad = ContainerState {
            id: "x".into(),
            pid: 0,
            status: "running".into(),
        };
        assert!(bad.init_pid().is_err());
    }
}

//! Shared logic of `lxcfs-toolkit` and `lxcfs-hook`: finding containers in the syscontainer
//! store, and attaching or removing views in their mount namespaces.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::mounts::{self, ContainerRoot, InitProcess, MountError, Outcome};

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
    #[error("container {0} has no init process recorded")]
    NoInit(String),
    #[error("state has no usable pid ({0})")]
    BadPid(i64),
    #[error(transparent)]
    Mount(#[from] MountError),
}

pub type Result<T> = std::result::Result<T, ToolkitError>;

/// The fields of syscontainer's `<store>/<id>/state.json` the toolkit uses (the file is
/// written by `syscontainer/src/state.rs`; other fields are ignored). The ID is not in the
/// file: it is the directory name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct StateFile {
    /// `created`, `starting`, `running`, `paused` or `exited`.
    #[serde(default)]
    status: String,
    /// PID 1 of the container as seen from the host, with its start time.
    #[serde(default)]
    init: Option<InitRecord>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
struct InitRecord {
    pid: i64,
    /// Field 22 of `/proc/PID/stat` (clock ticks since boot).
    start_time: u64,
}

/// The name a container was given, from `<store>/<id>/container.json`.
#[derive(Debug, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    name: String,
}

/// A container of the store, as far as the toolkit cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub id: String,
    pub status: String,
    pub init: Option<InitProcess>,
}

/// Statuses in which PID 1 has pivoted into the rootfs and views can be (re)attached. A
/// paused container is frozen, but mounting into its namespace does not need it to run.
const LIVE_STATUSES: [&str; 2] = ["running", "paused"];

impl Container {
    fn load(store: &Path, id: &str) -> Result<Container> {
        let state: StateFile = read_json(&store.join(id).join("state.json"))?;
        let init = match state.init {
            Some(record) => Some(InitProcess {
                pid: valid_pid(record.pid)?,
                start_time: Some(record.start_time),
            }),
            None => None,
        };
        Ok(Container {
            id: id.to_string(),
            status: state.status,
            init,
        })
    }

    pub fn is_live(&self) -> bool {
        LIVE_STATUSES.contains(&self.status.as_str())
    }

    /// The recorded init, pid and start time.
    pub fn init(&self) -> Result<InitProcess> {
        self.init
            .ok_or_else(|| ToolkitError::NoInit(self.id.clone()))
    }
}

fn valid_pid(pid: i64) -> Result<i32> {
    i32::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .ok_or(ToolkitError::BadPid(pid))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| ToolkitError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| ToolkitError::State {
        path: path.display().to_string(),
        source,
    })
}

/// Container directories of the store: those holding a `state.json` (temporary `.new-*` and
/// `.rm-*` directories of syscontainer are hidden names and skipped).
fn container_ids(store: &Path) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(store).map_err(|source| ToolkitError::Io {
        path: store.to_path_buf(),
        source,
    })?;
    let mut ids: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .filter(|n| store.join(n).join("state.json").is_file())
        .collect();
    ids.sort();
    Ok(ids)
}

/// Containers selected by `selector`: `all` = every running (or paused) container;
/// otherwise a full ID, a name or a unique ID prefix, in that order (as syscontainer
/// resolves them), which must be running or paused.
pub fn find_containers(store: &Path, selector: &str) -> Result<Vec<Container>> {
    let ids = match container_ids(store) {
        // No store yet: no containers, which is not an error for `all`.
        Err(ToolkitError::Io { source, .. })
            if selector == "all" && source.kind() == std::io::ErrorKind::NotFound =>
        {
            return Ok(Vec::new())
        }
        other => other?,
    };
    if selector == "all" {
        let mut live = Vec::new();
        for id in ids {
            match Container::load(store, &id) {
                Ok(container) if container.is_live() => live.push(container),
                Ok(_) => {}
                Err(e) => tracing::warn!("skipping {id}: {e}"),
            }
        }
        return Ok(live);
    }
    if selector.is_empty() {
        return Err(ToolkitError::NotFound(selector.to_string()));
    }
    let by_name = || {
        ids.iter().find(|id| {
            read_json::<ConfigFile>(&store.join(id).join("container.json"))
                .is_ok_and(|c| c.name == selector)
        })
    };
    let chosen = if ids.iter().any(|id| id == selector) {
        selector.to_string()
    } else if let Some(id) = by_name() {
        id.clone()
    } else {
        let matches: Vec<&String> = ids.iter().filter(|n| n.starts_with(selector)).collect();
        match matches.as_slice() {
            [one] => (*one).clone(),
            [] => return Err(ToolkitError::NotFound(selector.to_string())),
            _ => return Err(ToolkitError::Ambiguous(selector.to_string())),
        }
    };
    let container = Container::load(store, &chosen)?;
    if !container.is_live() {
        return Err(ToolkitError::NotRunning {
            id: container.id,
            status: container.status,
        });
    }
    Ok(vec![container])
}

/// The OCI state a hook receives on stdin. Our runtime sets `root` to the rootfs host path.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HookState {
    #[serde(default)]
    pub id: String,
    /// `creating` or `created` at prestart.
    #[serde(default)]
    pub status: String,
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

    /// Where the container's root is in its mount namespace when the hook runs. Prestart
    /// hooks (`creating`/`created`) run before pivot_root, with the rootfs at its host path;
    /// a hook run later (`running`) finds it as the init's root directory.
    pub fn container_root(&self) -> Result<ContainerRoot> {
        match self.status.as_str() {
            "running" | "paused" => Ok(ContainerRoot::ProcessRoot),
            _ => Ok(ContainerRoot::HostPath(self.rootfs()?)),
        }
    }
}

/// Prestart hook: bind-mount the views over the container's `/proc` files inside its mount
/// namespace. The start time is not checked: the runtime handed us a pid it holds.
pub fn prestart(state: &HookState, mountpoint: &Path) -> Result<Vec<Outcome>> {
    let init = InitProcess {
        pid: valid_pid(state.pid)?,
        start_time: None,
    };
    let root = state.container_root()?;
    mounts::check_lxcfs(mountpoint)?;
    let trees = mounts::open_view_trees(mountpoint)?;
    Ok(mounts::in_container(init, &root, |root| {
        mounts::attach_views(root, &trees)
    })?)
}

/// Re-attaches the views in a running container (after the daemon restarted), replacing
/// dead or live lxcfs mounts.
pub fn remount(container: &Container, mountpoint: &Path) -> Result<Vec<Outcome>> {
    let init = container.init()?;
    mounts::check_lxcfs(mountpoint)?;
    let trees = mounts::open_view_trees(mountpoint)?;
    Ok(mounts::in_container(
        init,
        &ContainerRoot::ProcessRoot,
        |root| mounts::attach_views(root, &trees),
    )?)
}

/// Removes the views from a running container.
pub fn umount(container: &Container) -> Result<Vec<Outcome>> {
    let init = container.init()?;
    Ok(mounts::in_container(
        init,
        &ContainerRoot::ProcessRoot,
        mounts::detach_views,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID_A: &str = "abc1230000000000000000000000000000000000000000000000000000000000";
    const ID_B: &str = "abd4560000000000000000000000000000000000000000000000000000000000";
    const ID_C: &str = "ffff000000000000000000000000000000000000000000000000000000000000";
    const ID_P: &str = "eeee000000000000000000000000000000000000000000000000000000000000";

    /// A state.json as syscontainer writes it (syscontainer/src/state.rs).
    fn state_json(status: &str, init: Option<(i64, u64)>) -> String {
        let init = match init {
            Some((pid, start)) => format!(r#"{{"pid":{pid},"start_time":{start}}}"#),
            None => "null".into(),
        };
        format!(
            r#"{{"status":"{status}","init":{init},"monitor":{{"pid":41,"start_time":7}},
"started_at":"2026-11-22T08:02:47Z","finished_at":null,"exec_ns":1,"exit":null,
"restart_count":0,"stop_requested":false,"ready":true,"created_cgroups":[],"error":null}}"#
        )
    }

    fn store() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (id, name, status, init) in [
            (ID_A, "web", "running", Some((42, 1000))),
            (ID_B, "db", "exited", None),
            (ID_C, "ab", "running", Some((43, 2000))),
            (ID_P, "frozen", "paused", Some((44, 3000))),
        ] {
            std::fs::create_dir(dir.path().join(id)).unwrap();
            std::fs::write(
                dir.path().join(id).join("state.json"),
                state_json(status, init),
            )
            .unwrap();
            std::fs::write(
                dir.path().join(id).join("container.json"),
                format!(r#"{{"id":"{id}","name":"{name}","rootfs":"/r"}}"#),
            )
            .unwrap();
        }
        std::fs::create_dir(dir.path().join("broken")).unwrap();
        std::fs::write(dir.path().join("broken/state.json"), "{").unwrap();
        std::fs::create_dir(dir.path().join(".new-x")).unwrap();
        std::fs::write(
            dir.path().join(".new-x/state.json"),
            state_json("running", Some((45, 1))),
        )
        .unwrap();
        dir
    }

    #[test]
    fn reads_syscontainer_state_files() {
        let store = store();
        let all = find_containers(store.path(), "all").unwrap();
        let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, [ID_A, ID_P, ID_C], "running and paused, sorted by id");
        assert_eq!(
            all[0],
            Container {
                id: ID_A.into(),
                status: "running".into(),
                init: Some(InitProcess {
                    pid: 42,
                    start_time: Some(1000)
                }),
            }
        );
        assert_eq!(all[1].status, "paused");
    }

    #[test]
    fn selects_by_id_name_and_unique_prefix() {
        let store = store();
        let pick = |s: &str| find_containers(store.path(), s).map(|v| v[0].id.clone());
        assert_eq!(pick(ID_A).unwrap(), ID_A);
        assert_eq!(pick("web").unwrap(), ID_A, "by name");
        assert_eq!(pick("abc").unwrap(), ID_A, "by unique prefix");
        // A name wins over an ID prefix, as in syscontainer.
        assert_eq!(pick("ab").unwrap(), ID_C);
        assert!(matches!(pick("a"), Err(ToolkitError::Ambiguous(_))));
        assert!(matches!(pick("q"), Err(ToolkitError::NotFound(_))));
        assert!(matches!(pick(""), Err(ToolkitError::NotFound(_))));
        assert!(matches!(
            pick("db"),
            Err(ToolkitError::NotRunning { ref status, .. }) if status == "exited"
        ));
        assert!(matches!(pick("broken"), Err(ToolkitError::State { .. })));
        assert!(matches!(pick(".new-x"), Err(ToolkitError::NotFound(_))));
        let missing = store.path().join("missing");
        assert!(find_containers(&missing, "all").unwrap().is_empty());
        assert!(matches!(
            find_containers(&missing, "web"),
            Err(ToolkitError::Io { .. })
        ));
    }

    #[test]
    fn bad_or_missing_init() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(ID_A)).unwrap();
        let state = dir.path().join(ID_A).join("state.json");
        std::fs::write(&state, state_json("running", Some((0, 5)))).unwrap();
        assert!(matches!(
            find_containers(dir.path(), ID_A),
            Err(ToolkitError::BadPid(0))
        ));
        std::fs::write(&state, state_json("running", None)).unwrap();
        let found = find_containers(dir.path(), ID_A).unwrap();
        assert!(matches!(found[0].init(), Err(ToolkitError::NoInit(_))));
    }

    #[test]
    fn hook_state_root_before_and_after_pivot() {
        let state = HookState::parse(
            r#"{"ociVersion":"1.0.2","id":"c","status":"created","pid":7,"bundle":"/b","root":"/r","annotations":{}}"#,
        )
        .unwrap();
        assert_eq!(state.rootfs().unwrap(), Path::new("/r"));
        assert_eq!(
            state.container_root().unwrap(),
            ContainerRoot::HostPath("/r".into())
        );
        let running = HookState::parse(r#"{"id":"c","status":"running","pid":7}"#).unwrap();
        assert_eq!(
            running.container_root().unwrap(),
            ContainerRoot::ProcessRoot
        );
        assert!(HookState::parse("{}").is_err());
        let bundle = tempfile::tempdir().unwrap();
        std::fs::write(
            bundle.path().join("config.json"),
            r#"{"root":{"path":"rootfs"}}"#,
        )
        .unwrap();
        let state = HookState::parse(&format!(
            r#"{{"pid":7,"status":"creating","bundle":"{}"}}"#,
            bundle.path().display()
        ))
        .unwrap();
        assert_eq!(state.rootfs().unwrap(), bundle.path().join("rootfs"));
        assert!(valid_pid(0).is_err());
        assert!(valid_pid(i64::from(i32::MAX) + 1).is_err());
    }
}

//! The on-disk container store.
//!
//! ```text
//! <root>/                    (default /var/lib/syscontainer, mode 0700)
//!   .lock                    flock: held while names are assigned or containers removed
//!   <id>/                    one bundle per container (64 hex digits)
//!     config.json            OCI runtime spec
//!     container.json         ContainerConfig
//!     state.json             State
//!     lock                   flock: held for every read-modify-write of state.json
//!     console.log            console output of PID 1
//!     monitor.log            the monitor's own log
//!     hostname, hosts, resolv.conf   files bind-mounted into the container
//! ```
//!
//! A container directory appears by `rename(2)` of a fully written temporary directory,
//! and every file is replaced by write-fsync-rename, so a killed process never leaves a
//! half-written record.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::ContainerConfig;
use crate::state::State;

pub const DEFAULT_ROOT: &str = "/var/lib/syscontainer";
/// Sockets and per-run files: removed by the kernel at host reboot, like the processes.
pub const RUN_DIR: &str = "/run/syscontainer";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such container: {0}")]
    NotFound(String),
    #[error("{query:?} matches more than one container: {ids}")]
    Ambiguous { query: String, ids: String },
    #[error("the name {0:?} is already in use")]
    NameInUse(String),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("corrupt record {path}: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

pub type Result<T> = std::result::Result<T, StoreError>;

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Write a file so that readers see the old or the new content, never a mix, and make
/// the new content durable (the directory is synced after the rename).
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    write_atomic_unsynced(path, data)?;
    if let Ok(d) = File::open(path.parent().unwrap_or(Path::new("."))) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// [`write_atomic`] without the directory sync: readers, and a crash, see the old or the
/// new content, never a mix (the file is synced before the rename), but a crash may keep
/// the old one until the directory is synced ([`Store::sync_dir`]).
pub fn write_atomic_unsynced(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err("create", &tmp))?;
    f.write_all(data).map_err(io_err("write", &tmp))?;
    f.sync_all().map_err(io_err("fsync", &tmp))?;
    fs::rename(&tmp, path).map_err(io_err("rename", path))?;
    Ok(())
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    write_atomic(path, &to_json(path, value)?)
}

fn to_json<T: Serialize>(path: &Path, value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(value).map_err(|source| StoreError::Corrupt {
        path: path.to_path_buf(),
        source,
    })
}

/// Write a new file in a directory nobody reads yet (a container's temporary directory,
/// which appears by one rename), without a temporary name of its own: the directory's
/// rename is what makes the whole record appear at once. Writeback of its data starts
/// now; the caller fsyncs the returned file once every file is written, so that one
/// journal commit covers them all instead of one commit per file.
fn write_new(path: &Path, data: &[u8]) -> Result<(PathBuf, File)> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err("create", path))?;
    f.write_all(data).map_err(io_err("write", path))?;
    // SAFETY: sync_file_range on a descriptor we own; it only starts writeback.
    unsafe { libc::sync_file_range(f.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
    Ok((path.to_path_buf(), f))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync", dir))
}

pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let data = fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            StoreError::NotFound(path.display().to_string())
        } else {
            StoreError::Io {
                op: "read",
                path: path.to_path_buf(),
                source: e,
            }
        }
    })?;
    serde_json::from_slice(&data).map_err(|source| StoreError::Corrupt {
        path: path.to_path_buf(),
        source,
    })
}

/// An exclusive `flock`, released on drop (and by the kernel if the holder dies).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    pub fn acquire(path: &Path) -> Result<Lock> {
        Self::take(path, true).map(|l| l.expect("a blocking flock always ends with the lock"))
    }

    /// The lock if nobody holds it now; `None` if somebody does.
    pub fn try_acquire(path: &Path) -> Result<Option<Lock>> {
        Self::take(path, false)
    }

    fn take(path: &Path, wait: bool) -> Result<Option<Lock>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(io_err("open lock", path))?;
        let operation = if wait {
            libc::LOCK_EX
        } else {
            libc::LOCK_EX | libc::LOCK_NB
        };
        loop {
            // SAFETY: flock on a file descriptor we own.
            let rc = unsafe { libc::flock(file.as_raw_fd(), operation) };
            if rc == 0 {
                break;
            }
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::WouldBlock {
                return Ok(None);
            }
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(StoreError::Io {
                    op: "flock",
                    path: path.to_path_buf(),
                    source: err,
                });
            }
        }
        Ok(Some(Lock { _file: file }))
    }
}

impl std::os::fd::AsFd for Lock {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self._file.as_fd()
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn open(root: &Path) -> Result<Store> {
        fs::create_dir_all(root).map_err(io_err("create", root))?;
        fs::set_permissions(root, fs::Permissions::from_mode(0o700))
            .map_err(io_err("chmod", root))?;
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Directory for sockets of a running container; distinct per store root so that
    /// two stores (tests) never collide.
    pub fn run_dir(&self, id: &str) -> PathBuf {
        PathBuf::from(RUN_DIR).join(&id[..32])
    }

    pub fn lock_store(&self) -> Result<Lock> {
        Lock::acquire(&self.root.join(".lock"))
    }

    /// The lock a container's monitor holds for its whole life, from before it is spawned
    /// (`start` takes it and the monitor inherits it): `None` while a monitor lives, even
    /// one that has not recorded itself yet.
    pub fn try_lock_monitor(&self, id: &str) -> Result<Option<Lock>> {
        Lock::try_acquire(&self.dir(id).join("monitor.lock")).map_err(|e| {
            if self.dir(id).is_dir() {
                e
            } else {
                StoreError::NotFound(id.to_string())
            }
        })
    }

    pub fn lock(&self, id: &str) -> Result<Lock> {
        // Removed by a concurrent `rm` since it was looked up: say so, not "open lock".
        Lock::acquire(&self.dir(id).join("lock")).map_err(|e| {
            if self.dir(id).is_dir() {
                e
            } else {
                StoreError::NotFound(id.to_string())
            }
        })
    }

    pub fn ids(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(io_err("read", &self.root))? {
            let entry = entry.map_err(io_err("read", &self.root))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_id(&name) && entry.path().join("container.json").is_file() {
                ids.push(name);
            }
        }
        ids.sort();
        Ok(ids)
    }

    pub fn load_config(&self, id: &str) -> Result<ContainerConfig> {
        read_json(&self.dir(id).join("container.json"))
    }

    pub fn save_config(&self, config: &ContainerConfig) -> Result<()> {
        let written = write_json(&self.dir(&config.id).join("container.json"), config);
        self.gone_if_removed(&config.id, written)
    }

    /// `rm` takes a container's directory away by renaming it under the store lock, not
    /// under the container's lock, so a writer holding the container's lock can find the
    /// directory gone between opening its temporary file and renaming it into place. That
    /// is a container removed meanwhile: say so, not "rename …: no such file".
    fn gone_if_removed<T>(&self, id: &str, result: Result<T>) -> Result<T> {
        match result {
            Err(StoreError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound && !self.dir(id).is_dir() =>
            {
                Err(StoreError::NotFound(id.to_string()))
            }
            other => other,
        }
    }

    pub fn load_spec(&self, id: &str) -> Result<oci_spec::runtime::Spec> {
        read_json(&self.dir(id).join("config.json"))
    }

    pub fn save_spec(&self, id: &str, spec: &oci_spec::runtime::Spec) -> Result<()> {
        self.gone_if_removed(id, write_json(&self.dir(id).join("config.json"), spec))
    }

    pub fn load_state(&self, id: &str) -> Result<State> {
        read_json(&self.dir(id).join("state.json"))
    }

    /// Replace state.json; the caller holds [`Store::lock`].
    pub fn save_state(&self, id: &str, state: &State) -> Result<()> {
        self.gone_if_removed(id, write_json(&self.dir(id).join("state.json"), state))
    }

    /// Read, change and write state.json under the container lock.
    pub fn update_state<R>(&self, id: &str, change: impl FnOnce(&mut State) -> R) -> Result<R> {
        let _lock = self.lock(id)?;
        let mut state = self.load_state(id)?;
        let r = change(&mut state);
        self.save_state(id, &state)?;
        Ok(r)
    }

    /// [`Store::update_state`] whose new record is visible at once and atomic, but durable
    /// only once [`Store::sync_dir`] returns: for a writer that syncs later, off its path.
    pub fn update_state_unsynced<R>(
        &self,
        id: &str,
        change: impl FnOnce(&mut State) -> R,
    ) -> Result<R> {
        let _lock = self.lock(id)?;
        let path = self.dir(id).join("state.json");
        let mut state: State = read_json(&path)?;
        let r = change(&mut state);
        let written = write_atomic_unsynced(&path, &to_json(&path, &state)?);
        self.gone_if_removed(id, written)?;
        Ok(r)
    }

    /// Make every record renamed into a container's directory so far durable. A directory
    /// that is gone was removed meanwhile (a concurrent `rm`, a `--rm` monitor): no record
    /// of it is left to make durable.
    pub fn sync_dir(&self, id: &str) -> Result<()> {
        match sync_dir(&self.dir(id)) {
            Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Ok(())
            }
            synced => synced,
        }
    }

    /// Find a container by full ID, name, or unique ID prefix (in that order).
    pub fn resolve(&self, query: &str) -> Result<String> {
        if query.is_empty() {
            return Err(StoreError::NotFound(query.to_string()));
        }
        let ids = self.ids()?;
        if ids.iter().any(|id| id == query) {
            return Ok(query.to_string());
        }
        for id in &ids {
            if let Ok(cfg) = self.load_config(id) {
                if cfg.name == query {
                    return Ok(id.clone());
                }
            }
        }
        let matches: Vec<&String> = ids.iter().filter(|id| id.starts_with(query)).collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(StoreError::NotFound(query.to_string())),
            many => Err(StoreError::Ambiguous {
                query: query.to_string(),
                ids: many
                    .iter()
                    .map(|id| &id[..12])
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Whether a name is taken; the caller holds [`Store::lock_store`].
    pub fn name_in_use(&self, name: &str, except_id: Option<&str>) -> Result<bool> {
        for id in self.ids()? {
            if Some(id.as_str()) == except_id {
                continue;
            }
            if self.load_config(&id).is_ok_and(|c| c.name == name) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Create a container directory with all its records, atomically: it either appears
    /// complete or not at all. Fails if the name is taken.
    pub fn insert(
        &self,
        config: &ContainerConfig,
        spec: &oci_spec::runtime::Spec,
        extra_files: &[(&str, Vec<u8>)],
    ) -> Result<()> {
        let _lock = self.lock_store()?;
        if self.name_in_use(&config.name, None)? {
            return Err(StoreError::NameInUse(config.name.clone()));
        }
        let tmp = self.root.join(format!(".new-{}", config.id));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir(&tmp).map_err(io_err("create", &tmp))?;
        let written = (|| {
            let config_json = tmp.join("config.json");
            let container_json = tmp.join("container.json");
            let state_json = tmp.join("state.json");
            let mut files = vec![
                write_new(&config_json, &to_json(&config_json, spec)?)?,
                write_new(&container_json, &to_json(&container_json, config)?)?,
                write_new(&state_json, &to_json(&state_json, &State::default())?)?,
            ];
            for (name, data) in extra_files {
                files.push(write_new(&tmp.join(name), data)?);
            }
            // Every file is on disk with its name before the directory appears.
            for (path, f) in &files {
                f.sync_all().map_err(io_err("fsync", path))?;
            }
            sync_dir(&tmp)?;
            sclog::crash_point("create:after-files");
            let dest = self.dir(&config.id);
            fs::rename(&tmp, &dest).map_err(io_err("rename", &dest))?;
            sclog::crash_point("create:after-rename");
            let _ = sync_dir(&self.root);
            Ok(())
        })();
        if written.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        written
    }

    /// Remove a container's records. The rootfs is not inside and is never touched.
    pub fn remove(&self, id: &str) -> Result<()> {
        let _lock = self.lock_store()?;
        let dir = self.dir(id);
        // Rename first so that a half-finished removal never looks like a container.
        let doomed = self.root.join(format!(".rm-{id}"));
        // Under the store lock a missing directory means another removal came first.
        fs::rename(&dir, &doomed).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StoreError::NotFound(id.to_string()),
            _ => io_err("rename", &dir)(e),
        })?;
        sclog::crash_point("rm:after-rename");
        fs::remove_dir_all(&doomed).map_err(io_err("remove", &doomed))?;
        let _ = fs::remove_dir_all(self.run_dir(id));
        Ok(())
    }

    /// Remove leftovers of creations and removals that were interrupted. Skipped while
    /// another process holds the store lock: its `.new-` directory is work in progress.
    pub fn sweep(&self) {
        let Ok(Some(_lock)) = Lock::try_acquire(&self.root.join(".lock")) else {
            return;
        };
        if let Ok(entries) = fs::read_dir(&self.root) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(".new-") || name.starts_with(".rm-") {
                    let _ = fs::remove_dir_all(e.path());
                }
            }
        }
    }
}

pub fn is_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// A new random 64-hex-digit container ID.
pub fn new_id() -> String {
    let mut bytes = [0u8; 32];
    // getrandom(2) never fails for 32 bytes once the pool is initialised.
    let mut filled = 0;
    while filled < bytes.len() {
        // SAFETY: writing into our own buffer.
        let n = unsafe {
            libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0)
        };
        if n > 0 {
            filled += n as usize;
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{NetMode, RestartPolicy};

    fn config(id: &str, name: &str) -> ContainerConfig {
        ContainerConfig {
            id: id.into(),
            name: name.into(),
            created: "now".into(),
            image: "none".into(),
            rootfs: "/srv/r".into(),
            system_container: true,
            command: vec!["init".into()],
            restart: RestartPolicy::No,
            auto_remove: false,
            stop_signal: None,
            stop_timeout: 10,
            tty: true,
            open_stdin: true,
            labels: Default::default(),
            net: NetMode::None,
            cni: None,
            cgroup: Default::default(),
            writable_proc_paths: Vec::new(),
            host_channel: None,
            env_target_file: None,
            rootfs_device: None,
            user_remap: None,
            entrypoint: None,
            healthcheck: None,
            log_rotation: Default::default(),
        }
    }

    #[test]
    fn a_record_written_after_a_concurrent_rm_moved_the_directory_says_no_such_container() {
        let dir = tempdir();
        let store = Store::open(dir.path()).unwrap();
        let id = new_id();
        let spec = oci_spec::runtime::Spec::default();
        store.insert(&config(&id, "web1"), &spec, &[]).unwrap();
        let state = store.load_state(&id).unwrap();
        // What `rm` does first, under the store lock only: the writer below may hold the
        // container lock all along.
        let doomed = dir.path().join(format!(".rm-{id}"));
        fs::rename(store.dir(&id), &doomed).unwrap();
        let gone = |r: Result<()>| matches!(r, Err(StoreError::NotFound(ref n)) if *n == id);
        assert!(gone(store.save_state(&id, &state)));
        assert!(gone(store.save_spec(&id, &spec)));
        assert!(gone(store.save_config(&config(&id, "web1"))));
        assert!(gone(store.update_state_unsynced(&id, |_| ())));
        // Another failure of the same write is not taken for a removal.
        fs::rename(&doomed, store.dir(&id)).unwrap();
        fs::create_dir(store.dir(&id).join("state.json.d")).unwrap();
        let blocked = write_json(&store.dir(&id).join("state.json.d"), &state);
        assert!(matches!(
            store.gone_if_removed(&id, blocked),
            Err(StoreError::Io { .. })
        ));
    }

    #[test]
    fn insert_resolve_remove() {
        let dir = tempdir();
        let store = Store::open(dir.path()).unwrap();
        let spec = oci_spec::runtime::Spec::default();
        let a = format!("abc{}", "0".repeat(61));
        let b = format!("abd{}", "1".repeat(61));
        store
            .insert(
                &config(&a, "web1"),
                &spec,
                &[("hostname", b"web1\n".to_vec())],
            )
            .unwrap();
        store.insert(&config(&b, "web2"), &spec, &[]).unwrap();
        assert!(matches!(
            store.insert(&config(&new_id(), "web1"), &spec, &[]),
            Err(StoreError::NameInUse(_))
        ));
        assert_eq!(store.resolve("web1").unwrap(), a);
        assert_eq!(store.resolve("abd").unwrap(), b);
        assert_eq!(store.resolve(&a).unwrap(), a);
        assert!(matches!(
            store.resolve("ab"),
            Err(StoreError::Ambiguous { .. })
        ));
        assert!(matches!(store.resolve("zzz"), Err(StoreError::NotFound(_))));
        assert_eq!(fs::read(store.dir(&a).join("hostname")).unwrap(), b"web1\n");
        store.update_state(&a, |s| s.restart_count = 7).unwrap();
        assert_eq!(store.load_state(&a).unwrap().restart_count, 7);
        store.remove(&a).unwrap();
        assert_eq!(store.ids().unwrap(), vec![b.clone()]);
        // A second removal (two `rm -f` racing) finds it gone, as a lookup would.
        assert!(matches!(store.remove(&a), Err(StoreError::NotFound(_))));
        // A stop's sync of a directory that a racing `rm` removed has nothing left to do.
        store.sync_dir(&a).unwrap();
        store.sync_dir(&b).unwrap();
    }

    #[test]
    fn insert_writes_exactly_the_records_and_no_temporary_files() {
        let dir = tempdir();
        let store = Store::open(dir.path()).unwrap();
        let id = new_id();
        let spec = oci_spec::runtime::Spec::default();
        store
            .insert(&config(&id, "one"), &spec, &[("hosts", b"h\n".to_vec())])
            .unwrap();
        let mut names: Vec<String> = fs::read_dir(store.dir(&id))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["config.json", "container.json", "hosts", "state.json"]
        );
        let root: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != ".lock")
            .collect();
        assert_eq!(root, std::slice::from_ref(&id));
        assert_eq!(store.load_config(&id).unwrap().name, "one");
        assert_eq!(store.load_state(&id).unwrap().restart_count, 0);
        let mode = fs::metadata(store.dir(&id).join("hosts"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn ids_are_unique_hex() {
        let a = new_id();
        assert!(is_id(&a));
        assert_ne!(a, new_id());
        assert!(!is_id("xyz"));
    }

    /// Removed when dropped, also when the test fails.
    fn tempdir() -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix("sc-store-")
            .tempdir()
            .unwrap()
    }
}

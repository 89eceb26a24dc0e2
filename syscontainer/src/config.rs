//! What the runtime records about a container besides its OCI spec.
//!
//! `config.json` in the bundle is the OCI runtime spec (what to run and how);
//! `container.json` is this type: the manager's view (name, policies, cgroup placement);
//! `state.json` is [`crate::state::State`]: what is happening now.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::options::{NetMode, RestartPolicy};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerConfig {
    pub id: String,
    pub name: String,
    /// RFC 3339 time of `create`.
    pub created: String,
    /// The positional image argument: `none` for an external rootfs.
    pub image: String,
    /// The rootfs directory on the host, used in place.
    pub rootfs: PathBuf,
    pub system_container: bool,
    /// The command as the user gave it (`init` for a system container).
    pub command: Vec<String>,
    pub restart: RestartPolicy,
    pub auto_remove: bool,
    /// Signal for `stop`; None means SIGRTMIN+4 (poweroff) for a systemd PID 1, else SIGTERM.
    pub stop_signal: Option<i32>,
    pub stop_timeout: u64,
    pub tty: bool,
    pub open_stdin: bool,
    pub labels: BTreeMap<String, String>,
    pub net: NetMode,
    pub cgroup: CgroupPlacement,
    /// Paths under `/proc/sys` made writable again (`--ns-change-opt`).
    #[serde(default)]
    pub writable_proc_paths: Vec<String>,
    /// The tmpfs shared with the host (`--host-channel`), mounted from start to `rm`.
    #[serde(default)]
    pub host_channel: Option<crate::options::HostChannel>,
    /// The block device holding the rootfs (`--external-rootfs /dev/…`); `rootfs` is then
    /// where the runtime mounts it from start to stop.
    #[serde(default)]
    pub rootfs_device: Option<PathBuf>,
    /// The user namespace mapping (`--user-remap`).
    #[serde(default)]
    pub user_remap: Option<crate::options::UserRemap>,
    /// File in the rootfs that receives the environment at every start.
    #[serde(default)]
    pub env_target_file: Option<PathBuf>,
    /// The CNI networks to attach at every boot (`--network NAME`), with `-p`, `--ip`, `--mac-address`.
    #[serde(default)]
    pub cni: Option<crate::cni::CniRequest>,
    /// `--entrypoint`: the program that replaced the command's first word.
    #[serde(default)]
    pub entrypoint: Option<String>,
    /// The health check the monitor runs (`--health-cmd` and the rest).
    #[serde(default)]
    pub healthcheck: Option<crate::options::HealthCheck>,
    /// How the monitor rotates `console.log` (`--log-opt max-size=…,max-file=…`).
    #[serde(default)]
    pub log_rotation: crate::options::LogRotation,
}

pub use syscontainer_cgroups::CgroupPlacement;

impl ContainerConfig {
    /// The first 12 hex digits: the short ID shown by `ps` (the whole ID of a damaged
    /// `container.json` whose ID is shorter, or not ASCII).
    pub fn short_id(&self) -> &str {
        self.id.get(..12).unwrap_or(&self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A damaged `container.json` with a short or non-ASCII ID made `ps` panic on a slice.
    #[test]
    fn short_id_of_a_damaged_record_does_not_panic() {
        let real = include_str!("../../fuzz/corpus/config_json/container.json");
        let mut config: ContainerConfig = serde_json::from_str(real).unwrap();
        assert_eq!(config.short_id(), &config.id[..12]);
        // Shorter than 12 bytes, or byte 12 inside a character: the whole ID.
        for id in ["", "abc", "0123456789aé"] {
            config.id = id.to_string();
            assert_eq!(config.short_id(), id);
        }
        config.id = "ééééééé".to_string();
        assert_eq!(config.short_id(), "éééééé");
    }
}

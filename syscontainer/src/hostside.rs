//! What a container keeps on the host side of its rootfs between start and `rm`: the
//! `--host-channel` tmpfs, and the `--env-target-file` written into the rootfs at every
//! start.

use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::config::ContainerConfig;
use crate::error::{io_error, Error, Result};
use crate::fsutil::secure_join;
use crate::sysopts::{render_env_target_file, HostChannel, ENV_TARGET_FILE_MAX};

/// Whether `path` is itself a mount point (listed in our mountinfo).
fn is_mount_point(path: &Path) -> bool {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let wanted = path.to_string_lossy();
    text.lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .any(|m| m.replace("\\040", " ") == wanted)
}

/// Mount the host channel tmpfs if it is not mounted yet (first start).
pub fn mount_host_channel(hc: &HostChannel) -> Result<()> {
    if is_mount_point(&hc.host) {
        return Ok(());
    }
    std::fs::create_dir_all(&hc.host).map_err(io_error("create", &hc.host))?;
    let options = format!("size={},mode=1777", hc.size);
    mount(
        Some("tmpfs"),
        &hc.host,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(options.as_str()),
    )
    .map_err(|e| {
        let _ = std::fs::remove_dir(&hc.host);
        Error::Io {
            op: "mount host channel on",
            path: hc.host.clone(),
            source: e.into(),
        }
    })
}

/// Unmount and remove the host channel (at `rm`).
pub fn release_host_channel(hc: &HostChannel) {
    if is_mount_point(&hc.host) {
        if let Err(e) = umount2(&hc.host, MntFlags::MNT_DETACH) {
            tracing::warn!("unmount host channel {}: {e}", hc.host.display());
        }
    }
    let _ = std::fs::remove_dir(&hc.host);
}

/// Write the container's environment into `file` inside `rootfs`, keeping the keys the
/// file already has unless the environment sets them. The path is resolved inside the
/// rootfs, so a symlink there cannot redirect the write to the host.
pub fn write_env_target_file(rootfs: &Path, file: &Path, env: &[String]) -> Result<()> {
    let target = secure_join(rootfs, file)
        .map_err(|e| Error::Invalid(format!("--env-target-file {}: {e}", file.display())))?;
    let existing = match std::fs::symlink_metadata(&target) {
        Ok(meta) if !meta.is_file() => {
            return Err(Error::Invalid(format!(
                "--env-target-file {}: not a regular file",
                file.display()
            )));
        }
        Ok(meta) if meta.len() > ENV_TARGET_FILE_MAX => {
            return Err(Error::Invalid(format!(
                "--env-target-file {}: larger than 10 MB",
                file.display()
            )));
        }
        Ok(_) => std::fs::read_to_string(&target).map_err(io_error("read", &target))?,
        Err(_) => String::new(),
    };
    let pairs: Vec<(String, String)> = env
        .iter()
        .filter_map(|e| {
            e.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let content = render_env_target_file(&existing, &pairs);
    if content.len() as u64 > ENV_TARGET_FILE_MAX {
        return Err(Error::Invalid(format!(
            "--env-target-file {}: would exceed 10 MB",
            file.display()
        )));
    }
    if !target.parent().is_some_and(|p| p.is_dir()) {
        return Err(Error::Invalid(format!(
            "--env-target-file {}: its directory does not exist in the rootfs",
            file.display()
        )));
    }
    crate::store::write_atomic(&target, content.as_bytes())?;
    Ok(())
}

/// Host-side preparation before each boot.
pub fn prepare(config: &ContainerConfig, env: &[String]) -> Result<()> {
    if let Some(hc) = &config.host_channel {
        mount_host_channel(hc)?;
    }
    if let Some(file) = &config.env_target_file {
        write_env_target_file(&config.rootfs, file, env)?;
    }
    Ok(())
}

/// Host-side release at `rm` (and `--rm`).
pub fn release(config: &ContainerConfig) {
    if let Some(hc) = &config.host_channel {
        release_host_channel(hc);
    }
}

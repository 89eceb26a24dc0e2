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

/// Where a block-device rootfs is mounted while its container runs. Deliberately outside
/// the store and the run directory, which are removed recursively.
pub fn rootfs_mount_point(id: &str) -> std::path::PathBuf {
    Path::new("/run/syscontainer-rootfs").join(&id[..32])
}

/// Mount a block device holding a root file system at `target`, trying each block file
/// system type the kernel knows (as mount(8) does without -t).
pub fn mount_block_rootfs(device: &Path, target: &Path) -> Result<()> {
    if is_mount_point(target) {
        return Ok(());
    }
    std::fs::create_dir_all(target).map_err(io_error("create", target))?;
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    let mut last = None;
    for fstype in filesystems
        .lines()
        .filter(|l| !l.starts_with("nodev"))
        .map(str::trim)
    {
        match mount(
            Some(device),
            target,
            Some(fstype),
            MsFlags::MS_NODEV,
            None::<&str>,
        ) {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    let _ = std::fs::remove_dir(target);
    Err(Error::Invalid(format!(
        "--external-rootfs {}: cannot mount it: {}",
        device.display(),
        last.map(|e| e.desc().to_lowercase())
            .unwrap_or_else(|| "no block file system type known".into())
    )))
}

/// Unmount a block-device rootfs (at stop); the device itself is left alone.
pub fn unmount_block_rootfs(target: &Path) {
    if is_mount_point(target) {
        if let Err(e) = umount2(target, MntFlags::empty()) {
            tracing::warn!("unmount rootfs {}: {e}; detaching it", target.display());
            let _ = umount2(target, MntFlags::MNT_DETACH);
        }
    }
    let _ = std::fs::remove_dir(target);
}

/// Host-side work after the container's PID 1 is gone for good (not for a reboot).
pub fn stopped(config: &ContainerConfig) {
    if config.rootfs_device.is_some() {
        unmount_block_rootfs(&config.rootfs);
    }
}

/// Host-side preparation before each boot.
pub fn prepare(config: &ContainerConfig, env: &[String]) -> Result<()> {
    if let Some(device) = &config.rootfs_device {
        mount_block_rootfs(device, &config.rootfs)?;
    }
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
    stopped(config);
    if let Some(hc) = &config.host_channel {
        release_host_channel(hc);
    }
}

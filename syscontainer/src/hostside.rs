//! What a container keeps on the host side of its rootfs between start and `rm`: the
//! `--host-channel` tmpfs, and the `--env-target-file` written into the rootfs at every
//! start.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::config::ContainerConfig;
use crate::error::{io_error, Error, Result};
use crate::fsutil::{open_read_at, replace_at, resolve_parent_in_root, stat_at};
use crate::options::{render_env_target_file, HostChannel, ENV_TARGET_FILE_MAX};

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
/// file already has unless the environment sets them. Host root does this in a tree the
/// container controls, so every step is contained: the directory is resolved inside the
/// rootfs ([`resolve_parent_in_root`]), and the file is read with `O_NOFOLLOW` and
/// replaced by a fresh `O_EXCL` temporary file renamed over it, keeping its mode and
/// owner (a new file gets 0644, owned by the container's root: `owner`).
pub fn write_env_target_file(
    rootfs: &Path,
    file: &Path,
    env: &[String],
    owner: (u32, u32),
) -> Result<()> {
    use std::io::Read;
    use std::os::fd::AsFd;
    let invalid =
        |what: String| Error::Invalid(format!("--env-target-file {}: {what}", file.display()));
    let (dir, name) = resolve_parent_in_root(rootfs, file).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => {
            invalid("its directory does not exist in the rootfs".into())
        }
        _ => invalid(e.to_string().to_lowercase()),
    })?;
    let (existing, mode, owner) = match stat_at(dir.as_fd(), &name) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => (String::new(), 0o644, owner),
        Err(e) => return Err(invalid(e.to_string().to_lowercase())),
        Ok(st) if st.st_mode & libc::S_IFMT != libc::S_IFREG => {
            return Err(invalid("not a regular file".into()));
        }
        Ok(st) if st.st_size as u64 > ENV_TARGET_FILE_MAX => {
            return Err(invalid("larger than 10 MB".into()));
        }
        Ok(st) => {
            let mut f = open_read_at(dir.as_fd(), &name)
                .map_err(|e| invalid(e.to_string().to_lowercase()))?;
            let meta = f
                .metadata()
                .map_err(|e| invalid(e.to_string().to_lowercase()))?;
            if !meta.is_file() || meta.ino() != st.st_ino || meta.dev() != st.st_dev {
                return Err(invalid("changed while being read".into()));
            }
            let mut text = String::new();
            (&mut f)
                .take(ENV_TARGET_FILE_MAX + 1)
                .read_to_string(&mut text)
                .map_err(|e| invalid(e.to_string().to_lowercase()))?;
            (text, meta.mode(), (meta.uid(), meta.gid()))
        }
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
        return Err(invalid("would exceed 10 MB".into()));
    }
    replace_at(dir.as_fd(), &name, content.as_bytes(), mode, owner)
        .map_err(|e| invalid(format!("write: {}", e.to_string().to_lowercase())))
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
        let owner = config.user_remap.map_or((0, 0), |r| (r.uid, r.gid));
        write_env_target_file(&config.rootfs, file, env, owner)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};
    use std::path::PathBuf;

    /// A rootfs-like tree and a "host" directory beside it, removed on drop.
    struct Trees {
        base: PathBuf,
    }

    impl Trees {
        fn new(tag: &str) -> Trees {
            let base =
                std::env::temp_dir().join(format!("sc-envfile-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&base);
            std::fs::create_dir_all(base.join("rootfs/etc/default")).unwrap();
            std::fs::create_dir_all(base.join("host")).unwrap();
            Trees { base }
        }
        fn rootfs(&self) -> PathBuf {
            self.base.join("rootfs")
        }
        fn host(&self, name: &str) -> PathBuf {
            self.base.join("host").join(name)
        }
    }

    impl Drop for Trees {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.base);
        }
    }

    fn me() -> (u32, u32) {
        (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        )
    }

    fn env() -> Vec<String> {
        vec!["container=syscontainer".into(), "A=1".into()]
    }

    #[test]
    fn planted_links_never_reach_a_host_file() {
        let t = Trees::new("links");
        let dir = t.rootfs().join("etc/default");
        // At the target: followed, but inside the rootfs.
        std::fs::write(t.host("target"), "host secret\n").unwrap();
        symlink(t.host("target"), dir.join("app")).unwrap();
        // At every temporary name this process would try first (and the older
        // `.NAME.tmpPID`), beside the file and beside where its link leads.
        std::fs::write(t.host("tmp"), "host secret\n").unwrap();
        let pid = std::process::id();
        let suffixes = std::iter::once(String::new()).chain((0..3).map(|a| format!(".{a}")));
        let beside_link = t.rootfs().join(t.host("").strip_prefix("/").unwrap());
        std::fs::create_dir_all(&beside_link).unwrap();
        for suffix in suffixes {
            symlink(t.host("tmp"), dir.join(format!(".app.tmp{pid}{suffix}"))).unwrap();
            symlink(
                t.host("tmp"),
                beside_link.join(format!(".target.tmp{pid}{suffix}")),
            )
            .unwrap();
        }
        write_env_target_file(&t.rootfs(), Path::new("/etc/default/app"), &env(), me()).unwrap();
        assert_eq!(
            std::fs::read_to_string(t.host("target")).unwrap(),
            "host secret\n"
        );
        assert_eq!(
            std::fs::read_to_string(t.host("tmp")).unwrap(),
            "host secret\n"
        );
        let inside = t.rootfs().join(t.host("target").strip_prefix("/").unwrap());
        assert!(std::fs::read_to_string(inside).unwrap().contains("A=1"));

        // A directory link resolves inside the rootfs too.
        std::fs::create_dir_all(t.host("dir")).unwrap();
        symlink(t.host("dir"), t.rootfs().join("etc/linked")).unwrap();
        let err = write_env_target_file(&t.rootfs(), Path::new("/etc/linked/env"), &env(), me())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/etc/linked/env") && err.contains("directory"),
            "{err}"
        );
        assert!(!t.host("dir/env").exists());
        // `..` cannot climb out either.
        std::fs::write(t.host("up"), "host secret\n").unwrap();
        let _ = write_env_target_file(&t.rootfs(), Path::new("/../../host/up"), &env(), me());
        assert_eq!(
            std::fs::read_to_string(t.host("up")).unwrap(),
            "host secret\n"
        );
    }

    #[test]
    fn the_file_keeps_its_mode_and_owner_and_a_new_one_is_0644() {
        let t = Trees::new("mode");
        let file = t.rootfs().join("etc/default/app");
        std::fs::write(&file, "KEEP=1\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        let owner = if me().0 == 0 { (1000, 1001) } else { me() };
        std::os::unix::fs::chown(&file, Some(owner.0), Some(owner.1)).unwrap();
        write_env_target_file(&t.rootfs(), Path::new("/etc/default/app"), &env(), me()).unwrap();
        let meta = std::fs::metadata(&file).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o640);
        assert_eq!((meta.uid(), meta.gid()), owner);
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "KEEP=1\ncontainer=syscontainer\nA=1\n"
        );

        write_env_target_file(&t.rootfs(), Path::new("/etc/default/new"), &env(), me()).unwrap();
        let meta = std::fs::metadata(t.rootfs().join("etc/default/new")).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o644);
        assert_eq!((meta.uid(), meta.gid()), me());
        let leftovers: Vec<_> = std::fs::read_dir(t.rootfs().join("etc/default"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");

        // Not a regular file: refused.
        nix::unistd::mkfifo(
            &t.rootfs().join("etc/default/fifo"),
            nix::sys::stat::Mode::S_IRWXU,
        )
        .unwrap();
        let err = write_env_target_file(&t.rootfs(), Path::new("/etc/default/fifo"), &env(), me())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }
}

//! Walking the spec's mount table inside the container's new mount namespace, before
//! `pivot_root`: every target is resolved inside the rootfs.

use std::fs;
use std::os::fd::AsFd;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, Mount};

use crate::fsutil::{
    ensure_mount_point, open_mount_target, proc_fd_path, secure_join, MountTarget,
};

#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error("mount {what} on {target}: {errno}")]
    Mount {
        what: String,
        target: PathBuf,
        errno: nix::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Path(#[from] crate::fsutil::PathError),
}

pub type Result<T> = std::result::Result<T, MountError>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MountError + '_ {
    move |source| MountError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Open (creating it as `create` says) the mount point `dest` inside `rootfs`.
fn target(rootfs: &Path, dest: &Path, create: Option<bool>) -> Result<MountTarget> {
    open_mount_target(rootfs, dest, create).map_err(io(dest))
}

/// Mount on `target` itself (through its fd), naming `dest` in errors.
fn mount_on(
    source: Option<&Path>,
    target: &MountTarget,
    dest: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<()> {
    do_mount(source, &target.proc_path(), fstype, flags, data).map_err(|e| match e {
        MountError::Mount { what, errno, .. } => MountError::Mount {
            what,
            target: dest.to_path_buf(),
            errno,
        },
        other => other,
    })
}

/// Change flags or propagation of the mount just made on `target`.
fn change_mounted(target: &MountTarget, dest: &Path, flags: MsFlags) -> Result<()> {
    let root = target.mounted_root().map_err(io(dest))?;
    do_mount(None, &proc_fd_path(root.as_fd()), None, flags, None).map_err(|e| match e {
        MountError::Mount { what, errno, .. } => MountError::Mount {
            what,
            target: dest.to_path_buf(),
            errno,
        },
        other => other,
    })
}

fn do_mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<()> {
    mount(source, target, fstype, flags, data).map_err(|errno| MountError::Mount {
        what: format!(
            "{} ({})",
            source.map(|s| s.display().to_string()).unwrap_or_default(),
            fstype.unwrap_or("remount")
        ),
        target: target.to_path_buf(),
        errno,
    })
}

/// fstab-style options split into mount flags, propagation flags and fs data.
#[derive(Debug, PartialEq, Eq)]
pub struct ParsedOptions {
    pub flags: MsFlags,
    pub propagation: MsFlags,
    pub data: Vec<String>,
    pub bind: bool,
}

pub fn parse_options(options: &[String]) -> ParsedOptions {
    let mut p = ParsedOptions {
        flags: MsFlags::empty(),
        propagation: MsFlags::empty(),
        data: Vec::new(),
        bind: false,
    };
    for o in options {
        match o.as_str() {
            "ro" => p.flags |= MsFlags::MS_RDONLY,
            "rw" => p.flags &= !MsFlags::MS_RDONLY,
            "nosuid" => p.flags |= MsFlags::MS_NOSUID,
            "suid" => p.flags &= !MsFlags::MS_NOSUID,
            "nodev" => p.flags |= MsFlags::MS_NODEV,
            "dev" => p.flags &= !MsFlags::MS_NODEV,
            "noexec" => p.flags |= MsFlags::MS_NOEXEC,
            "exec" => p.flags &= !MsFlags::MS_NOEXEC,
            "strictatime" => p.flags |= MsFlags::MS_STRICTATIME,
            "relatime" => p.flags |= MsFlags::MS_RELATIME,
            "noatime" => p.flags |= MsFlags::MS_NOATIME,
            "bind" => p.bind = true,
            "rbind" => {
                p.bind = true;
                p.flags |= MsFlags::MS_REC;
            }
            "private" => p.propagation |= MsFlags::MS_PRIVATE,
            "rprivate" => p.propagation |= MsFlags::MS_PRIVATE | MsFlags::MS_REC,
            "shared" => p.propagation |= MsFlags::MS_SHARED,
            "rshared" => p.propagation |= MsFlags::MS_SHARED | MsFlags::MS_REC,
            "slave" => p.propagation |= MsFlags::MS_SLAVE,
            "rslave" => p.propagation |= MsFlags::MS_SLAVE | MsFlags::MS_REC,
            other => p.data.push(other.to_string()),
        }
    }
    p
}

/// Mount one entry of the table under `rootfs`. Relative bind sources are files of the
/// bundle directory.
pub fn mount_entry(rootfs: &Path, bundle: &Path, m: &Mount) -> Result<()> {
    let typ = m.typ().as_deref().unwrap_or("none");
    let options = parse_options(m.options().as_deref().unwrap_or(&[]));
    let dest = m.destination();
    let target = if typ == "cgroup" {
        let target = self::target(rootfs, dest, Some(true))?;
        return mount_cgroups(&target, dest, &options);
    } else if options.bind || typ == "bind" {
        let source = m.source().clone().unwrap_or_default();
        let source = if source.is_absolute() {
            source
        } else {
            bundle.join(source)
        };
        let is_dir = fs::metadata(&source).map_err(io(&source))?.is_dir();
        let target = self::target(rootfs, dest, Some(is_dir))?;
        mount_on(
            Some(&source),
            &target,
            dest,
            None,
            MsFlags::MS_BIND | (options.flags & MsFlags::MS_REC),
            None,
        )?;
        let remount_flags = options.flags & !MsFlags::MS_REC;
        if !remount_flags.is_empty() {
            change_mounted(
                &target,
                dest,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | remount_flags,
            )?;
        }
        target
    } else {
        let target = self::target(rootfs, dest, Some(true))?;
        let source = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
        let data = options.data.join(",");
        mount_on(
            Some(&source),
            &target,
            dest,
            Some(typ),
            options.flags,
            (!data.is_empty()).then_some(data.as_str()),
        )?;
        target
    };
    if !options.propagation.is_empty() {
        change_mounted(&target, dest, options.propagation)?;
    }
    Ok(())
}

/// One line of /proc/self/mountinfo that matters for cgroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    pub mount_point: PathBuf,
    pub fstype: String,
    /// Controllers or `name=…` (super options without rw/ro).
    pub options: String,
}

pub fn parse_cgroup_mounts(mountinfo: &str) -> Vec<CgroupMount> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount_point = left.split(' ').nth(4)?;
            let mut r = right.split(' ');
            let fstype = r.next()?;
            if fstype != "cgroup" && fstype != "cgroup2" {
                return None;
            }
            let super_opts = r.nth(1).unwrap_or("");
            let options = super_opts
                .split(',')
                .filter(|o| *o != "rw" && *o != "ro")
                .collect::<Vec<_>>()
                .join(",");
            Some(CgroupMount {
                mount_point: PathBuf::from(mount_point),
                fstype: fstype.to_string(),
                options,
            })
        })
        .collect()
}

/// Mount the container's view of every host cgroup hierarchy at `target`
/// (`<rootfs>/sys/fs/cgroup`). Runs inside the new cgroup namespace, so each fresh
/// mount shows the container's cgroup as its root.
fn mount_cgroups(at: &MountTarget, dest: &Path, options: &ParsedOptions) -> Result<()> {
    let host_root = Path::new("/sys/fs/cgroup");
    let mountinfo = fs::read_to_string("/proc/self/mountinfo")
        .map_err(io(Path::new("/proc/self/mountinfo")))?;
    let mounts = parse_cgroup_mounts(&mountinfo);
    let flags = options.flags & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
    let readonly = options.flags.contains(MsFlags::MS_RDONLY);

    if let Some(unified) = mounts
        .iter()
        .find(|m| m.mount_point == host_root && m.fstype == "cgroup2")
    {
        let ro = if readonly {
            MsFlags::MS_RDONLY
        } else {
            MsFlags::empty()
        };
        let _ = unified;
        return mount_on(
            Some(Path::new("cgroup2")),
            at,
            dest,
            Some("cgroup2"),
            flags | ro,
            None,
        );
    }

    mount_on(
        Some(Path::new("tmpfs")),
        at,
        dest,
        Some("tmpfs"),
        flags,
        Some("mode=755"),
    )?;
    // Below here everything is in that fresh tmpfs, which nothing else can reach.
    let root = at.mounted_root().map_err(io(dest))?;
    let target = &proc_fd_path(root.as_fd());
    for m in mounts
        .iter()
        .filter(|m| m.mount_point.parent() == Some(host_root))
    {
        let name = m.mount_point.file_name().unwrap_or_default();
        let dest = target.join(name);
        fs::create_dir_all(&dest).map_err(io(&dest))?;
        // name=systemd stays writable even in a read-only view: systemd needs it.
        let writable = !readonly || m.options.contains("name=systemd") || m.fstype == "cgroup2";
        let ro = if writable {
            MsFlags::empty()
        } else {
            MsFlags::MS_RDONLY
        };
        let data = (m.fstype == "cgroup").then_some(m.options.as_str());
        do_mount(
            Some(Path::new(&m.fstype)),
            &dest,
            Some(&m.fstype),
            flags | ro,
            data,
        )?;
    }
    // Co-mounted controllers appear under each name (cpu -> cpu,cpuacct).
    if let Ok(entries) = fs::read_dir(host_root) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_symlink()) {
                if let Ok(link) = fs::read_link(e.path()) {
                    let _ = symlink(link, target.join(e.file_name()));
                }
            }
        }
    }
    do_mount(
        None,
        target,
        None,
        MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | flags,
        Some("mode=755"),
    )
}

/// Create the device nodes of the spec in the container's `/dev` (a fresh tmpfs).
pub fn create_devices(rootfs: &Path, devices: &[LinuxDevice]) -> Result<()> {
    for d in devices {
        let path = secure_join(rootfs, d.path())?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let kind = match d.typ() {
            oci_spec::runtime::LinuxDeviceType::B => SFlag::S_IFBLK,
            _ => SFlag::S_IFCHR,
        };
        let mode = Mode::from_bits_truncate(d.file_mode().unwrap_or(0o666));
        let dev = makedev(d.major() as u64, d.minor() as u64);
        let _ = fs::remove_file(&path);
        if mknod(&path, kind, mode, dev).is_err() {
            // Without CAP_MKNOD in the caller's user namespace: bind the host node.
            ensure_mount_point(&path, false).map_err(io(&path))?;
            do_mount(Some(d.path()), &path, None, MsFlags::MS_BIND, None)?;
        } else {
            // mknod applies the umask; set the mode the spec asks for.
            nix::sys::stat::fchmodat(
                None,
                &path,
                mode,
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
            .map_err(|e| io(&path)(e.into()))?;
        }
    }
    Ok(())
}

/// The symlinks a Linux `/dev` has.
pub fn create_dev_symlinks(rootfs: &Path) -> Result<()> {
    let links = [
        ("/proc/self/fd", "dev/fd"),
        ("/proc/self/fd/0", "dev/stdin"),
        ("/proc/self/fd/1", "dev/stdout"),
        ("/proc/self/fd/2", "dev/stderr"),
        ("pts/ptmx", "dev/ptmx"),
    ];
    for (src, dst) in links {
        let path = rootfs.join(dst);
        let _ = fs::remove_file(&path);
        symlink(src, &path).map_err(io(&path))?;
    }
    Ok(())
}

/// Bind a host file (console pty, notify socket) onto a path inside the rootfs.
pub fn bind_file(rootfs: &Path, host: &Path, inside: &Path) -> Result<()> {
    let target = target(rootfs, inside, Some(false))?;
    mount_on(Some(host), &target, inside, None, MsFlags::MS_BIND, None)
}

/// Hide paths: /dev/null over files, an empty read-only tmpfs over directories.
pub fn mask_paths(rootfs: &Path, paths: &[String]) -> Result<()> {
    for p in paths {
        let dest = Path::new(p);
        let Some(target) = existing(rootfs, dest)? else {
            continue;
        };
        if target.is_dir().map_err(io(dest))? {
            mount_on(
                Some(Path::new("tmpfs")),
                &target,
                dest,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                Some("size=0"),
            )?;
        } else {
            mount_on(
                Some(Path::new("/dev/null")),
                &target,
                dest,
                None,
                MsFlags::MS_BIND,
                None,
            )?;
        }
    }
    Ok(())
}

/// Bind each existing path onto itself and remount it nosuid,nodev,noexec, read-only or
/// not. Mount flags are per mount, so a writable bind below a read-only one stays
/// writable: that is how `--ns-change-opt` reopens parts of a read-only `/proc/sys`.
fn rebind_paths(rootfs: &Path, paths: &[String], readonly: bool) -> Result<()> {
    for p in paths {
        let dest = Path::new(p);
        let Some(target) = existing(rootfs, dest)? else {
            continue;
        };
        let recursive = if readonly {
            MsFlags::MS_REC
        } else {
            MsFlags::empty()
        };
        mount_on(
            Some(&target.proc_path()),
            &target,
            dest,
            None,
            MsFlags::MS_BIND | recursive,
            None,
        )?;
        let mut flags = MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC;
        if readonly {
            flags |= MsFlags::MS_RDONLY;
        }
        change_mounted(&target, dest, flags)?;
    }
    Ok(())
}

/// The mount point `dest` if it exists in the rootfs.
fn existing(rootfs: &Path, dest: &Path) -> Result<Option<MountTarget>> {
    match open_mount_target(rootfs, dest, None) {
        Ok(t) => Ok(Some(t)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR)) => Ok(None),
        Err(e) => Err(io(dest)(e)),
    }
}

/// Make paths read-only (with what is mounted below them).
pub fn readonly_paths(rootfs: &Path, paths: &[String]) -> Result<()> {
    rebind_paths(rootfs, paths, true)
}

/// Make paths under a read-only `/proc/sys` writable again.
pub fn writable_paths(rootfs: &Path, paths: &[String]) -> Result<()> {
    rebind_paths(rootfs, paths, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_split() {
        let p = parse_options(&[
            "nosuid".into(),
            "rbind".into(),
            "ro".into(),
            "rslave".into(),
            "mode=755".into(),
        ]);
        assert!(p.bind);
        assert!(p
            .flags
            .contains(MsFlags::MS_NOSUID | MsFlags::MS_RDONLY | MsFlags::MS_REC));
        assert_eq!(p.propagation, MsFlags::MS_SLAVE | MsFlags::MS_REC);
        assert_eq!(p.data, vec!["mode=755"]);
        assert!(!parse_options(&["ro".into(), "rw".into()])
            .flags
            .contains(MsFlags::MS_RDONLY));
    }

    /// CVE-2021-30465: while the mounts are set up, something that shares the rootfs (another
    /// container with the same volume) swaps a directory on the mount target's path with a
    /// symlink to a host directory, as fast as it can. No mount may land outside the rootfs.
    #[test]
    fn a_directory_swapped_with_a_symlink_never_redirects_a_mount_out_of_the_rootfs() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root for mounts");
            return;
        }
        const ROUNDS: usize = 3000;
        let base = tempfile::tempdir().unwrap();
        let rootfs = base.path().join("rootfs");
        let outside = base.path().join("outside");
        fs::create_dir_all(rootfs.join("vol/dir/sub")).unwrap();
        fs::create_dir_all(outside.join("sub")).unwrap();
        // Where the link leads when it is resolved inside the root, as it must be.
        fs::create_dir_all(rootfs.join(outside.strip_prefix("/").unwrap()).join("sub")).unwrap();
        symlink(&outside, rootfs.join("vol/link")).unwrap();
        let entry = oci_spec::runtime::MountBuilder::default()
            .destination("/vol/dir/sub")
            .typ("tmpfs")
            .source("sc-race")
            .options(vec!["nosuid".to_string(), "ro".to_string()])
            .build()
            .unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        let (mounted, mountinfo) = std::thread::scope(|s| {
            s.spawn(|| {
                let dir = nix::NixPath::with_nix_path(&rootfs.join("vol/dir"), |p| p.to_owned());
                let link = nix::NixPath::with_nix_path(&rootfs.join("vol/link"), |p| p.to_owned());
                let (dir, link) = (dir.unwrap(), link.unwrap());
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // SAFETY: renameat2 with two NUL-terminated paths.
                    unsafe {
                        libc::renameat2(
                            libc::AT_FDCWD,
                            dir.as_ptr(),
                            libc::AT_FDCWD,
                            link.as_ptr(),
                            libc::RENAME_EXCHANGE,
                        )
                    };
                }
            });
            let mounter = s.spawn(|| {
                // SAFETY: only this thread's fs context and mount namespace change.
                let unshared = unsafe { libc::unshare(libc::CLONE_FS | libc::CLONE_NEWNS) };
                assert_eq!(unshared, 0, "unshare: {}", std::io::Error::last_os_error());
                mount(
                    None::<&str>,
                    "/",
                    None::<&str>,
                    MsFlags::MS_PRIVATE | MsFlags::MS_REC,
                    None::<&str>,
                )
                .unwrap();
                let mounted = (0..ROUNDS)
                    .filter(|_| mount_entry(&rootfs, &rootfs, &entry).is_ok())
                    .count();
                let info = fs::read_to_string("/proc/thread-self/mountinfo").unwrap();
                (mounted, info)
            });
            let result = mounter.join();
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            result.unwrap()
        });
        let ours: Vec<&str> = mountinfo
            .lines()
            .filter(|l| l.contains(" - tmpfs sc-race "))
            .filter_map(|l| l.split(' ').nth(4))
            .collect();
        assert_eq!(ours.len(), mounted, "{mountinfo}");
        assert!(
            mounted > ROUNDS / 2,
            "only {mounted} of {ROUNDS} mounts were made"
        );
        let root = rootfs.to_string_lossy().to_string() + "/";
        let escaped: Vec<&&str> = ours.iter().filter(|m| !m.starts_with(&root)).collect();
        assert!(escaped.is_empty(), "mounts outside the rootfs: {escaped:?}");
        assert_eq!(fs::read_dir(outside.join("sub")).unwrap().count(), 0);
    }

    #[test]
    fn cgroup_mountinfo() {
        let info = "\
30 25 0:26 / /sys/fs/cgroup rw,relatime shared:4 - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime shared:5 - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/systemd rw,relatime shared:6 - cgroup cgroup rw,name=systemd
33 30 0:29 / /sys/fs/cgroup/unified rw,relatime shared:7 - cgroup2 cgroup2 rw
34 25 0:30 / /proc rw - proc proc rw
";
        let m = parse_cgroup_mounts(info);
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].options, "cpu");
        assert_eq!(m[1].options, "name=systemd");
        assert_eq!(m[2].fstype, "cgroup2");
        assert_eq!(m[2].mount_point, Path::new("/sys/fs/cgroup/unified"));
    }
}

//! The lxcfs-rs FUSE daemon.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use fuser::{Config, MountOption, SessionACL};
use nix::sys::signal::{SigSet, Signal};

use lxcfs_rs::cgroup::CgroupLayout;
use std::sync::OnceLock;

use lxcfs_rs::fs::{FuseFs, IoUring, LxcFs, MAX_READ};
use lxcfs_rs::process::Resolver;
use lxcfs_rs::render::{HostPaths, Options, Renderer};

/// Serves per-container views of /proc files and the CPU list over FUSE.
#[derive(Debug, Parser)]
#[command(name = "lxcfs-rs", version)]
struct Cli {
    /// Per-container load average in proc/loadavg.
    #[arg(short = 'l', long = "enable-loadavg")]
    loadavg: bool,
    /// Narrow the CPU count to the CFS quota (ceil(quota/period)).
    #[arg(long = "enable-cfs")]
    cfs: bool,
    /// Disable swap virtualization: containers see no swap (as lxcfs -u).
    #[arg(short = 'u', long = "disable-swap")]
    disable_swap: bool,
    /// Write the daemon's pid here.
    #[arg(short = 'p', long = "pidfile")]
    pidfile: Option<PathBuf>,
    /// Log level.
    #[arg(long = "log-level", value_enum, default_value_t = sclog::LogLevel::Info)]
    log_level: sclog::LogLevel,
    /// Accepted for lxcfs compatibility; the daemon always runs in the foreground.
    #[arg(short = 'f', long = "foreground")]
    _foreground: bool,
    /// FUSE worker threads, 1 to 64.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    threads: u16,
    /// Serve requests through per-CPU queues over io_uring (Linux 6.14+, when the fuse module's
    /// enable_uring parameter is on): auto uses them when the kernel offers them.
    #[arg(long = "io-uring", value_enum, default_value_t = IoUring::Auto)]
    io_uring: IoUring,
    #[arg(default_value = "/var/lib/lxcfs")]
    mountpoint: PathBuf,
}

fn main() {
    if let Some(code) = clidoc::intercept(<Cli as clap::CommandFactory>::command) {
        std::process::exit(code);
    }
    let cli = Cli::parse();
    if let Err(e) = sclog::init(cli.log_level, None) {
        eprintln!("lxcfs-rs: {e}");
        std::process::exit(1);
    }
    if let Err(e) = run(cli) {
        tracing::error!("{}", lxcfs_rs::error::describe(&e));
        std::process::exit(1);
    }
}

/// Unmounts the mount point, lazily if it is busy or its daemon is gone.
fn unmount(mountpoint: &Path) {
    if nix::mount::umount(mountpoint).is_err() {
        let _ = nix::mount::umount2(mountpoint, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Raises the soft limit on open files to the hard one: each serving thread keeps the files it
/// reads open (`kernfiles`), and there is a thread per CPU.
fn raise_open_file_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                tracing::debug!("cannot raise the open file limit from {soft} to {hard}: {e}");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::debug!("cannot read the open file limit: {e}"),
    }
}

/// A previous daemon that died leaves a dead FUSE mount (ENOTCONN): clear it.
fn clear_stale_mount(mountpoint: &Path) {
    if let Err(e) = std::fs::metadata(mountpoint) {
        if e.raw_os_error() == Some(libc::ENOTCONN) {
            tracing::warn!("removing stale mount at {}", mountpoint.display());
            let _ = nix::mount::umount2(mountpoint, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

/// The fuse module's switch for FUSE over io_uring, a host-wide setting.
const ENABLE_URING: &str = "/sys/module/fuse/parameters/enable_uring";

fn run(cli: Cli) -> Result<()> {
    if cli.io_uring == IoUring::On {
        match std::fs::read_to_string(ENABLE_URING) {
            Ok(enabled) if enabled.trim() == "Y" => {}
            Ok(enabled) => anyhow::bail!(
                "--io-uring on: fuse over io_uring is off in this kernel ({ENABLE_URING} is {:?}); \
                 enable it or use --io-uring auto",
                enabled.trim()
            ),
            Err(e) => anyhow::bail!(
                "--io-uring on: this kernel has no fuse over io_uring (cannot read {ENABLE_URING}: \
                 {e}); use --io-uring auto"
            ),
        }
    }
    raise_open_file_limit();
    clear_stale_mount(&cli.mountpoint);
    std::fs::create_dir_all(&cli.mountpoint)
        .with_context(|| format!("cannot create mount point {}", cli.mountpoint.display()))?;

    // Handle termination signals in one thread; every other thread inherits the mask.
    let mut signals = SigSet::empty();
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        signals.add(signal);
    }
    signals.thread_block().context("cannot block signals")?;

    let layout = CgroupLayout::from_system().context("cannot read cgroup mounts")?;
    tracing::debug!(?layout, "cgroup hierarchies");
    let options = Options {
        cfs: cli.cfs,
        swap: !cli.disable_swap,
        loadavg: cli.loadavg,
    };
    let ticks_per_sec = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .unwrap_or(100) as u64;
    let renderer = Arc::new(Renderer::new(
        layout,
        HostPaths::default(),
        options,
        ticks_per_sec,
    ));
    let resolver = Resolver::new("/proc").context("cannot read own pid namespace")?;
    let views = Arc::new(LxcFs::new(renderer.clone(), resolver));
    let device = Arc::new(OnceLock::new());
    let filesystem = FuseFs::new(views, cli.io_uring, device.clone());

    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName("lxcfs-rs".into()),
        MountOption::RO,
        MountOption::NoSuid,
        MountOption::NoDev,
        MountOption::NoExec,
        MountOption::CUSTOM(format!("max_read={MAX_READ}")),
    ];
    config.acl = SessionACL::All;
    config.n_threads = Some(usize::from(cli.threads));
    config.clone_fd = true;

    let mut session = fuser::Session::new(filesystem, &cli.mountpoint, &config)
        .with_context(|| format!("cannot mount fuse at {}", cli.mountpoint.display()))?;
    tracing::info!(mountpoint = %cli.mountpoint.display(), ?options, "mounted");
    // The io_uring queues (if FUSE_INIT chose them) wait for this device to register on.
    let _ = device.set(
        session
            .as_fd()
            .try_clone_to_owned()
            .context("cannot duplicate the fuse device")?,
    );

    if let Some(pidfile) = &cli.pidfile {
        std::fs::write(pidfile, format!("{}\n", std::process::id()))
            .with_context(|| format!("cannot write pid file {}", pidfile.display()))?;
    }

    if cli.loadavg {
        let renderer = renderer.clone();
        std::thread::Builder::new()
            .name("loadavg".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_secs_f64(
                    lxcfs_rs::views::loadavg::SAMPLE_INTERVAL_SECS,
                ));
                renderer.loads.sample_all(&renderer.host.proc);
            })
            .context("cannot start loadavg thread")?;
    }

    let mut unmounter = session.unmount_callable();
    let mountpoint = cli.mountpoint.clone();
    let pidfile = cli.pidfile.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let signal = signals.wait();
            tracing::info!(?signal, "unmounting {}", mountpoint.display());
            if unmounter.unmount().is_err() {
                unmount(&mountpoint);
            }
            if let Some(pidfile) = pidfile {
                let _ = std::fs::remove_file(pidfile);
            }
            // Views bind-mounted into containers keep the connection alive, so the session
            // would not end on its own.
            std::process::exit(0);
        })
        .context("cannot start signal thread")?;

    let result = session.run();
    if let Some(pidfile) = &cli.pidfile {
        let _ = std::fs::remove_file(pidfile);
    }
    result.context("fuse session failed")
}

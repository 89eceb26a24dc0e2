use std::path::{Path, PathBuf};

use anyhow::Result;
use syscontainer::oci::{self, CreateOptions};

use super::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The bundle directory (config.json and the rootfs it names).
    #[arg(long, short = 'b', default_value = ".")]
    bundle: PathBuf,
    /// Write the init's host PID here (digits only, replaced atomically).
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// With process.terminal: send the pty master to this unix socket.
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// Accepted for runc compatibility (pivot_root is always used).
    #[arg(long)]
    no_pivot: bool,
    /// Accepted for runc compatibility (no session keyring is made).
    #[arg(long)]
    no_new_keyring: bool,
    /// Accepted for runc compatibility; must be 0.
    #[arg(long, default_value_t = 0)]
    preserve_fds: u32,
    id: String,
}

pub fn run(ctx: &Context, args: Args) -> Result<u8> {
    if args.preserve_fds != 0 {
        anyhow::bail!("--preserve-fds {} is not supported", args.preserve_fds);
    }
    // The init of a container that joins an existing PID namespace is visible there, running
    // this binary, until `start`: the CVE-2019-5736 exposure of an exec'd process, and the
    // same protection.
    let bundle = oci::bundle::load(&args.bundle)?;
    if oci::bundle::joins_a_pid_namespace(&bundle.spec) {
        syscontainer::sealed_exe::reexec_sealed()?;
    }
    let root = ctx.open_root()?;
    oci::create(
        &root,
        bundle,
        &CreateOptions {
            id: &args.id,
            pid_file: args.pid_file.as_deref(),
            console_socket: args.console_socket.as_deref(),
            systemd_cgroup: ctx.systemd_cgroup,
            daemon_config: Path::new(syscontainer::container::DEFAULT_DAEMON_CONFIG),
        },
    )?;
    Ok(0)
}

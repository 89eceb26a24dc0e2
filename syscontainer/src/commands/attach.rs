//! `attach CONTAINER`: the console of PID 1, through the monitor's socket.

use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use anyhow::Context;
use clap::Args;
use syscontainer::console::{parse_detach_keys, proxy, ProxyEnd, RawMode};

use super::Ctx;

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Key sequence that detaches.
    #[arg(long, default_value = "ctrl-p,ctrl-q", value_parser = parse_detach_keys)]
    pub detach_keys: syscontainer::console::DetachKeys,
    /// Do not send stdin.
    #[arg(long)]
    pub no_stdin: bool,
    pub container: String,
}

/// Attach to the console until detach or the container's end; the container's exit
/// code (0 on detach).
pub fn attach_and_wait(
    ctx: &Ctx,
    id: &str,
    stdin: bool,
    tty: bool,
    detach_keys: &[u8],
) -> anyhow::Result<u8> {
    let socket = syscontainer::monitor::attach_socket(&ctx.store, id);
    let stream = UnixStream::connect(&socket)
        .with_context(|| format!("connect to the console at {}", socket.display()))?;
    let input = std::io::stdin();
    let output = std::io::stdout();
    let _raw = if tty && stdin {
        RawMode::enable(input.as_fd())
    } else {
        None
    };
    let end = proxy(
        stdin.then(|| input.as_fd()),
        stream.as_fd(),
        stream.as_fd(),
        output.as_fd(),
        detach_keys,
    );
    drop(_raw);
    if end == ProxyEnd::Detached {
        return Ok(0);
    }
    let exit = syscontainer::container::wait(&ctx.store, id).ok().flatten();
    Ok(exit.map(|e| e.code.clamp(0, 255) as u8).unwrap_or(0))
}

pub fn run(ctx: &Ctx, args: AttachArgs) -> anyhow::Result<u8> {
    let id = ctx.resolve(&args.container)?;
    let c = syscontainer::container::Container::load(&ctx.store, &id)?;
    c.running_init()?;
    attach_and_wait(ctx, &id, !args.no_stdin, true, &args.detach_keys.0)
}

//! `info`

use clap::Args;
use syscontainer::container::Container;
use syscontainer::state::Status;

use super::Ctx;

#[derive(Debug, Args)]
pub struct InfoArgs {}

pub fn run(ctx: &Ctx, _args: InfoArgs) -> anyhow::Result<u8> {
    let (mut running, mut paused, mut stopped) = (0, 0, 0);
    let ids = ctx.store.ids()?;
    for id in &ids {
        if let Ok(c) = Container::load(&ctx.store, id) {
            match c.status() {
                Status::Running | Status::Starting => running += 1,
                Status::Paused => paused += 1,
                _ => stopped += 1,
            }
        }
    }
    let v2 = nix::sys::statfs::statfs("/sys/fs/cgroup")
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false);
    let hybrid = std::path::Path::new("/sys/fs/cgroup/unified").exists();
    println!("Containers: {}", ids.len());
    println!(" Running: {running}");
    println!(" Paused: {paused}");
    println!(" Stopped: {stopped}");
    println!("Server Version: {}", env!("CARGO_PKG_VERSION"));
    println!("Root Dir: {}", ctx.store.root().display());
    println!(
        "Cgroup Version: {}",
        if v2 {
            "2"
        } else if hybrid {
            "1 (hybrid, cgroup2 at /sys/fs/cgroup/unified)"
        } else {
            "1"
        }
    );
    if let Ok(u) = nix::sys::utsname::uname() {
        println!("Kernel Version: {}", u.release().to_string_lossy());
    }
    println!(
        "CPUs: {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    Ok(0)
}

//! `version`

use clap::Args;

use super::Ctx;

#[derive(Debug, Args)]
pub struct VersionArgs {}

pub fn run(_ctx: &Ctx, _args: VersionArgs) -> anyhow::Result<u8> {
    println!("Version:      {}", env!("CARGO_PKG_VERSION"));
    println!("OCI runtime:  1.0.2");
    println!(
        "Kernel:       {}",
        nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    Ok(0)
}

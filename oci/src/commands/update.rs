use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use oci_spec::runtime::LinuxResources;

use super::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A runtime-spec LinuxResources JSON file, `-` for stdin.
    #[arg(long, short = 'r')]
    resources: PathBuf,
    id: String,
}

pub fn run(ctx: &Context, args: Args) -> Result<u8> {
    let text = if args.resources.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("read the resources from stdin")?;
        text
    } else {
        std::fs::read_to_string(&args.resources)
            .with_context(|| format!("read {}", args.resources.display()))?
    };
    let resources: LinuxResources = serde_json::from_str(&text).with_context(|| {
        format!(
            "resources {}: not LinuxResources JSON",
            args.resources.display()
        )
    })?;
    syscontainer::oci::update(&ctx.open_root()?, &args.id, &resources)?;
    Ok(0)
}

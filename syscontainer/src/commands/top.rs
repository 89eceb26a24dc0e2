//! `top CONTAINER [PS OPTIONS]`: `ps` on the host, limited to the container's processes.

use std::process::Command;

use anyhow::Context;
use clap::Args;

use super::Ctx;

#[derive(Debug, Args)]
pub struct TopArgs {
    pub container: String,
    /// Options for ps (default -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub fn run(ctx: &Ctx, args: TopArgs) -> anyhow::Result<u8> {
    let id = ctx.resolve(&args.container)?;
    let pids = syscontainer::container::processes(&ctx.store, &id)?;
    let ps_args = if args.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        args.ps_args
    };
    let out = Command::new("ps")
        .args(&ps_args)
        .output()
        .context("run ps")?;
    anyhow::ensure!(
        out.status.success(),
        "ps {}: {}",
        ps_args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let pid_col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .context("ps output has no PID column")?;
    println!("{header}");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(pid_col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{line}");
        }
    }
    Ok(0)
}

//! `syscontainer-hooks --state prestart|poststart|poststop [--log FILE]`: the OCI hook
//! that re-applies what `syscontainer-tools` recorded. Reads the OCI state JSON on stdin
//! (`bundle` = the container's store directory, `root` = the rootfs on the host).
//! Which resources exist is not known here: `sctools::apply` walks every type registered
//! in `sctools::resource::all`.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use serde_json::Value;

#[derive(Clone, Copy, ValueEnum, Debug)]
enum Stage {
    Prestart,
    Poststart,
    Poststop,
}

#[derive(Parser)]
#[command(
    name = "syscontainer-hooks",
    version,
    about = "OCI hook for syscontainer-tools resources"
)]
struct Cli {
    #[arg(long, value_enum)]
    state: Stage,
    /// Append the log to this file (default: stderr, which the runtime logs).
    #[arg(long)]
    log: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = sclog::LogLevel::Info)]
    log_level: sclog::LogLevel,
}

/// The fields of the OCI state this hook uses.
#[derive(Debug)]
struct OciState {
    id: String,
    pid: i32,
    bundle: PathBuf,
    root: PathBuf,
}

fn parse_state(text: &str) -> Result<OciState> {
    let v: Value = serde_json::from_str(text).context("invalid OCI state on stdin")?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let state = OciState {
        id: s("id"),
        pid: v.get("pid").and_then(Value::as_i64).unwrap_or(0) as i32,
        bundle: PathBuf::from(s("bundle")),
        root: PathBuf::from(s("root")),
    };
    if !state.bundle.is_absolute() {
        bail!(
            "OCI state: bundle {:?} is not an absolute path",
            state.bundle
        );
    }
    Ok(state)
}

fn run(cli: &Cli) -> Result<()> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("read OCI state from stdin")?;
    let state = parse_state(&input)?;
    tracing::info!(id = %state.id, pid = state.pid, "{:?}", cli.state);
    let errors = match cli.state {
        Stage::Prestart => {
            if state.pid <= 0 {
                bail!("prestart: OCI state has no pid");
            }
            if !state.root.is_absolute() {
                bail!(
                    "prestart: OCI state root {:?} is not an absolute path",
                    state.root
                );
            }
            sctools::apply::prestart(&state.bundle, state.pid, &state.root)?
        }
        // Nothing to do once PID 1 runs: everything was applied before it started.
        Stage::Poststart => Vec::new(),
        Stage::Poststop => sctools::apply::poststop(&state.bundle)?,
    };
    for e in &errors {
        eprintln!("syscontainer-hooks: warning: {e}");
    }
    Ok(())
}

fn main() {
    if let Some(code) = clidoc::intercept(<Cli as clap::CommandFactory>::command) {
        std::process::exit(code);
    }
    let cli = Cli::parse();
    if let Err(e) = sclog::init(cli.log_level, cli.log.as_deref()) {
        eprintln!("syscontainer-hooks: {}", sclog::Causes(&e));
        std::process::exit(1);
    }
    if let Err(e) = run(&cli) {
        tracing::error!("{}", sclog::Causes(e.as_ref()));
        eprintln!("syscontainer-hooks: {}", sclog::Causes(e.as_ref()));
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_parsing() {
        let s = parse_state(
            r#"{"ociVersion":"1.0.2","id":"abc","status":"created","pid":42,"bundle":"/var/lib/syscontainer/abc","root":"/srv/rootfs","annotations":{}}"#,
        )
        .unwrap();
        assert_eq!(s.pid, 42);
        assert_eq!(s.bundle, PathBuf::from("/var/lib/syscontainer/abc"));
        assert_eq!(s.root, PathBuf::from("/srv/rootfs"));
        assert!(parse_state("{")
            .unwrap_err()
            .to_string()
            .contains("invalid OCI state"));
        assert!(parse_state(r#"{"bundle":"rel"}"#)
            .unwrap_err()
            .to_string()
            .contains("\"rel\""));
    }
}

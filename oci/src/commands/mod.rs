//! One file per subcommand: parse, call `syscontainer::oci`, print. Each `run` returns
//! the exit code (`exec` passes on its process's).

mod create;
mod delete;
mod exec;
mod features;
mod kill;
mod pause;
mod ps;
mod resume;
mod start;
mod state;
mod update;

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use syscontainer::oci::OciRoot;

/// What every subcommand gets from the global flags.
pub struct Context {
    pub root: PathBuf,
    pub systemd_cgroup: bool,
}

impl Context {
    pub fn open_root(&self) -> Result<OciRoot> {
        Ok(OciRoot::open(&self.root)?)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container from a bundle, parked before its process runs.
    Create(create::Args),
    /// Run the created container's process.
    Start(start::Args),
    /// Send a signal to the container's init (or, with --all, to all its processes).
    Kill(kill::Args),
    /// Remove a container (a running one only with --force).
    Delete(delete::Args),
    /// Freeze every process of the container.
    Pause(pause::Args),
    /// Thaw a paused container.
    Resume(resume::Args),
    /// List the host PIDs of the container's processes.
    Ps(ps::Args),
    /// Run another process in the container.
    Exec(exec::Args),
    /// Change the container's resource limits.
    Update(update::Args),
    /// Print the container's state as JSON.
    State(state::Args),
    /// Print what this runtime supports, as JSON.
    Features(features::Args),
}

impl Command {
    /// Whether this command's stdio is the container's (nothing of ours may go there).
    pub fn stdio_is_the_containers(&self) -> bool {
        matches!(self, Command::Create(_) | Command::Exec(_))
    }

    pub fn run(self, ctx: &Context) -> Result<u8> {
        match self {
            Command::Create(a) => create::run(ctx, a),
            Command::Start(a) => start::run(ctx, a),
            Command::Kill(a) => kill::run(ctx, a),
            Command::Delete(a) => delete::run(ctx, a),
            Command::Pause(a) => pause::run(ctx, a),
            Command::Resume(a) => resume::run(ctx, a),
            Command::Ps(a) => ps::run(ctx, a),
            Command::Exec(a) => exec::run(ctx, a),
            Command::Update(a) => update::run(ctx, a),
            Command::State(a) => state::run(ctx, a),
            Command::Features(a) => features::run(ctx, a),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: super::Command,
    }

    #[test]
    fn runcs_command_lines_parse() {
        for line in [
            &[
                "x",
                "create",
                "--bundle",
                "/b",
                "--pid-file",
                "/p",
                "--console-socket",
                "/s",
                "--no-pivot",
                "--no-new-keyring",
                "id",
            ][..],
            &["x", "create", "-b", "/b", "id"],
            &["x", "start", "id"],
            &["x", "kill", "--all", "id", "9"],
            &["x", "kill", "id", "KILL"],
            &["x", "kill", "id"],
            &["x", "delete", "--force", "id"],
            &["x", "delete", "-f", "id"],
            &["x", "pause", "id"],
            &["x", "resume", "id"],
            &["x", "ps", "--format", "json", "id"],
            &[
                "x",
                "exec",
                "--process",
                "/p.json",
                "--detach",
                "--pid-file",
                "/p",
                "--console-socket",
                "/s",
                "id",
            ],
            &["x", "exec", "-t", "id", "sh", "-c", "echo hi"],
            &["x", "update", "--resources", "-", "id"],
            &["x", "state", "id"],
            &["x", "features"],
        ] {
            Cli::try_parse_from(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        }
        assert!(Cli::try_parse_from(["x", "ps", "--format", "yaml", "id"]).is_err());
    }
}

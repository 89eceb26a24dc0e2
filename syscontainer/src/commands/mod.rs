//! One file per command: each parses its own arguments and prints its own output.

mod attach;
mod create;
mod events;
pub mod exec;
mod info;
mod inspect;
mod kill;
mod logs;
mod monitor;
mod pause;
mod ps;
mod rename;
mod restart;
mod restore;
mod rm;
mod run;
mod start;
mod state;
mod stats;
pub mod stop;
mod top;
mod update;
mod version;
mod wait;

use anyhow::Context;
use clap::Subcommand;
use syscontainer::store::Store;

use crate::Cli;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container (records only; `start` boots it).
    #[command(disable_help_flag = true)]
    Create(create::CreateArgs),
    /// Start created or stopped containers.
    Start(start::StartArgs),
    /// Start the containers that should survive a host reboot (restart policy always or unless-stopped).
    Restore(restore::RestoreArgs),
    /// Create and start a container.
    Run(run::RunArgs),
    /// Stop containers: the stop signal (SIGRTMIN+4, poweroff, for systemd), then SIGKILL after the timeout.
    Stop(stop::StopArgs),
    /// Send a signal to the PID 1 of containers.
    Kill(kill::KillArgs),
    /// Stop then start containers.
    Restart(restart::RestartArgs),
    /// Remove containers (the rootfs stays).
    Rm(rm::RmArgs),
    /// List containers.
    Ps(ps::PsArgs),
    /// Show the OCI runtime state of a container (as runc does)
    State(state::StateArgs),
    /// Show low-level information on containers as JSON.
    Inspect(inspect::InspectArgs),
    /// Run a command in a running container.
    Exec(exec::ExecArgs),
    /// Attach to the console of a running container.
    Attach(attach::AttachArgs),
    /// Show the console output of a container.
    Logs(logs::LogsArgs),
    /// Show what happens to containers (create, start, die, health_status, …), as docker events.
    Events(events::EventsArgs),
    /// Block until containers stop; print their exit codes.
    Wait(wait::WaitArgs),
    /// Freeze all processes of containers.
    Pause(pause::PauseArgs),
    /// Thaw paused containers.
    Unpause(pause::UnpauseArgs),
    /// Change resource limits of containers, running or not.
    Update(update::UpdateArgs),
    /// Show the processes of a container.
    Top(top::TopArgs),
    /// Show resource usage of containers.
    Stats(stats::StatsArgs),
    /// Rename a container.
    Rename(rename::RenameArgs),
    /// System-wide information.
    Info(info::InfoArgs),
    /// Version information.
    Version(version::VersionArgs),
    /// Internal: the per-container monitor process.
    #[command(hide = true)]
    Monitor(monitor::MonitorArgs),
}

/// What every command gets: the store and the global options.
pub struct Ctx {
    pub store: Store,
    pub log_level: String,
    pub daemon_config: std::path::PathBuf,
}

impl Ctx {
    /// Open the store (sweeping leftovers of interrupted creations and removals).
    pub fn open(
        root: &std::path::Path,
        log_level: sclog::LogLevel,
        daemon_config: std::path::PathBuf,
    ) -> anyhow::Result<Ctx> {
        let store = Store::open(root).with_context(|| format!("open store {}", root.display()))?;
        store.sweep();
        Ok(Ctx {
            store,
            log_level: log_level.to_string(),
            daemon_config,
        })
    }

    /// Resolve a name, ID or unique ID prefix.
    pub fn resolve(&self, query: &str) -> anyhow::Result<String> {
        Ok(self.store.resolve(query)?)
    }
}

/// The monitor executable `start` spawns: syscontainer-monitor beside this binary.
pub fn monitor_executable() -> anyhow::Result<std::path::PathBuf> {
    let own = std::env::current_exe().context("find this program's own executable")?;
    Ok(syscontainer::monitor::entry::executable_beside(&own))
}

/// Run `f` on each named container; report each failure and keep going, like docker.
pub fn for_each(
    ctx: &Ctx,
    names: &[String],
    mut f: impl FnMut(&str) -> anyhow::Result<()>,
) -> anyhow::Result<u8> {
    let mut failed = false;
    for name in names {
        match ctx.resolve(name).and_then(|id| f(&id)) {
            Ok(()) => println!("{name}"),
            Err(e) => {
                eprintln!("syscontainer: {name}: {}", sclog::Causes(e.as_ref()));
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let Cli { globals, command } = cli;
    let crate::Globals {
        root,
        log_level,
        daemon_config,
        ..
    } = globals;
    let ctx = Ctx::open(&root, log_level, daemon_config)?;
    match command {
        Command::Create(a) => create::run(&ctx, a),
        Command::Start(a) => start::run(&ctx, a),
        Command::State(a) => state::run(&ctx, a),
        Command::Restore(a) => restore::run(&ctx, a),
        Command::Run(a) => run::run(&ctx, a),
        Command::Stop(a) => stop::run(&ctx, a),
        Command::Kill(a) => kill::run(&ctx, a),
        Command::Restart(a) => restart::run(&ctx, a),
        Command::Rm(a) => rm::run(&ctx, a),
        Command::Ps(a) => ps::run(&ctx, a),
        Command::Inspect(a) => inspect::run(&ctx, a),
        Command::Exec(a) => exec::run(&ctx, a),
        Command::Attach(a) => attach::run(&ctx, a),
        Command::Logs(a) => logs::run(&ctx, a),
        Command::Events(a) => events::run(&ctx, a),
        Command::Wait(a) => wait::run(&ctx, a),
        Command::Pause(a) => pause::run_pause(&ctx, a),
        Command::Unpause(a) => pause::run_unpause(&ctx, a),
        Command::Update(a) => update::run(&ctx, a),
        Command::Top(a) => top::run(&ctx, a),
        Command::Stats(a) => stats::run(&ctx, a),
        Command::Rename(a) => rename::run(&ctx, a),
        Command::Info(a) => info::run(&ctx, a),
        Command::Version(a) => version::run(&ctx, a),
        Command::Monitor(a) => monitor::run(&ctx, a),
    }
}

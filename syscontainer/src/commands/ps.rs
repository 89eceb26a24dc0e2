//! `ps [-a] [-q] [--format table|json]`

use clap::{Args, ValueEnum};
use syscontainer::container::Container;
use syscontainer::state::{self, Status};

use super::Ctx;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers, not only running ones.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only print IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Show full IDs.
    #[arg(long)]
    pub no_trunc: bool,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

fn since(time: Option<&str>) -> String {
    let now = (state::now_ns() / 1_000_000_000) as i64;
    time.and_then(state::parse_rfc3339)
        .map(|t| state::human_duration(now - t))
        .unwrap_or_else(|| "?".into())
}

/// Docker-style status: "Up 5 minutes", "Exited (130) 2 seconds ago", "Up 1 hour (Paused)".
fn status_text(c: &Container) -> String {
    match (c.status(), c.state.exit) {
        (Status::Exited, Some(e)) => format!(
            "Exited ({}) {} ago",
            e.code,
            since(c.state.finished_at.as_deref())
        ),
        (Status::Exited, None) if c.state.error.is_some() => "Exited (start failed)".into(),
        (Status::Running, _) => format!(
            "Up {}{}",
            since(c.state.started_at.as_deref()),
            c.state.health.as_ref().map_or("", |h| h.status.ps_suffix())
        ),
        (Status::Paused, _) => format!("Up {} (Paused)", since(c.state.started_at.as_deref())),
        (s, _) => capitalize(s.as_str()),
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

pub fn run(ctx: &Ctx, args: PsArgs) -> anyhow::Result<u8> {
    let mut containers = Vec::new();
    for id in ctx.store.ids()? {
        if let Ok(c) = Container::load(&ctx.store, &id) {
            if args.all
                || matches!(
                    c.status(),
                    Status::Running | Status::Paused | Status::Starting | Status::Stopping
                )
            {
                containers.push(c);
            }
        }
    }
    containers.sort_by(|a, b| b.config.created.cmp(&a.config.created));
    if args.quiet {
        for c in &containers {
            println!(
                "{}",
                if args.no_trunc {
                    c.id()
                } else {
                    c.config.short_id()
                }
            );
        }
        return Ok(0);
    }
    match args.format {
        Format::Json => {
            let rows: Vec<_> = containers
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "Id": c.id(),
                        "Name": c.config.name,
                        "Status": c.status().as_str(),
                        "Pid": if c.state.is_active() { c.state.init.map(|p| p.pid).unwrap_or(0) } else { 0 },
                        "Command": c.config.command.join(" "),
                        "Created": c.config.created,
                        "Rootfs": c.config.rootfs,
                        "ExitCode": c.state.exit.map(|e| e.code),
                        "Health": c.state.health.as_ref().filter(|_| c.state.is_active()).map(|h| h.status.as_str()),
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&rows)?);
        }
        Format::Table => {
            println!(
                "{:<14} {:<10} {:<20} {:<30} NAMES",
                "CONTAINER ID", "COMMAND", "CREATED", "STATUS"
            );
            for c in &containers {
                let id = if args.no_trunc {
                    c.id()
                } else {
                    c.config.short_id()
                };
                println!(
                    "{:<14} {:<10} {:<20} {:<30} {}",
                    id,
                    c.config.command.join(" "),
                    format!("{} ago", since(Some(&c.config.created))),
                    status_text(c),
                    c.config.name
                );
            }
        }
    }
    Ok(0)
}

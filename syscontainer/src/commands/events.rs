//! `events [--since T] [--until T] [--filter KEY=VALUE]... [--format text|json]`: what
//! happened to containers, as `docker events` shows it. Without `--until` it follows the
//! log until interrupted; without `--since` and `--until` it shows only new events.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use syscontainer::events::{self, Event, Filter, Tail};

use super::Ctx;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// docker's lines: TIME container ACTION ID (attributes).
    Text,
    /// One JSON record a line (docker's `--format '{{json .}}'` is accepted too).
    #[value(alias = "{{json .}}")]
    Json,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Show events from this time: RFC 3339, unix seconds, or a duration ago (10m).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Stop at this time (same forms); without it, follow until interrupted.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// KEY=VALUE with KEY container (ID, prefix or name), event, type or label; repeat
    /// a key for alternatives.
    #[arg(short = 'f', long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

const FOLLOW_POLL: Duration = Duration::from_millis(200);

fn now_ns() -> u64 {
    syscontainer::state::now_ns().min(u128::from(u64::MAX)) as u64
}

fn print(out: &mut impl Write, format: Format, e: &Event) -> std::io::Result<()> {
    match format {
        Format::Text => writeln!(out, "{}", e.to_text()),
        Format::Json => writeln!(out, "{}", serde_json::to_string(e)?),
    }?;
    out.flush()
}

pub fn run(ctx: &Ctx, args: EventsArgs) -> anyhow::Result<u8> {
    let now = now_ns();
    let time = |flag: &str, value: &Option<String>| -> anyhow::Result<Option<u64>> {
        value
            .as_deref()
            .map(|v| events::parse_time(v, now).map_err(anyhow::Error::msg))
            .transpose()
            .with_context(|| format!("--{flag}"))
    };
    let since = time("since", &args.since)?;
    let until = time("until", &args.until)?;
    let mut filter = Filter::default();
    for f in &args.filters {
        filter.add(f).context("--filter")?;
    }
    // Without --since (and --until) only what happens from now on is shown.
    let from = since.unwrap_or(if until.is_some() { 0 } else { now });
    let wanted = |e: &Event| {
        e.time_nano >= from && until.is_none_or(|u| e.time_nano <= u) && filter.matches(e)
    };
    let root = ctx.store.root();
    let mut out = std::io::stdout().lock();
    // The tail is opened before the rotated file is read: a rotation in between moves
    // records into a file already read, and the tail still reads them from its handle.
    let mut tail = Tail::new(root);
    let rotated = std::fs::read(events::rotated_path(root)).unwrap_or_default();
    let past = events::parse_lines(&String::from_utf8_lossy(&rotated))
        .into_iter()
        .chain(tail.read_new().context("read the event log")?);
    for e in past.filter(|e| wanted(e)) {
        print(&mut out, args.format, &e)?;
    }
    loop {
        if until.is_some_and(|u| now_ns() > u) {
            return Ok(0);
        }
        std::thread::sleep(FOLLOW_POLL);
        for e in tail.read_new().context("read the event log")? {
            if wanted(&e) {
                // A closed pipe (`events | head`) ends the command quietly.
                if print(&mut out, args.format, &e).is_err() {
                    return Ok(0);
                }
            }
        }
    }
}

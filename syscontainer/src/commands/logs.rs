//! `logs [-f] [--tail N] CONTAINER`: the console output of PID 1.

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use syscontainer::container::Container;

use super::Ctx;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Keep following the output until the container stops.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only the last N lines.
    #[arg(long)]
    pub tail: Option<usize>,
    pub container: String,
}

pub fn run(ctx: &Ctx, args: LogsArgs) -> anyhow::Result<u8> {
    let id = ctx.resolve(&args.container)?;
    let path = ctx.store.dir(&id).join("console.log");
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("open {}", path.display())),
    };
    let mut out = std::io::stdout();
    let mut content = Vec::new();
    file.read_to_end(&mut content)?;
    let start = match args.tail {
        Some(n) => {
            let newlines: Vec<usize> = content
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i)
                .collect();
            let skip_trailing = if content.last() == Some(&b'\n') { 1 } else { 0 };
            if newlines.len() > n + skip_trailing - 1 && n > 0 {
                newlines[newlines.len() - n - skip_trailing] + 1
            } else if n == 0 {
                content.len()
            } else {
                0
            }
        }
        None => 0,
    };
    out.write_all(&content[start..])?;
    out.flush()?;
    if !args.follow {
        return Ok(0);
    }
    let mut pos = content.len() as u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let active = Container::load(&ctx.store, &id)
            .map(|c| c.state.is_active())
            .unwrap_or(false);
        file.seek(SeekFrom::Start(pos))?;
        let n = file.read(&mut buf)?;
        if n > 0 {
            out.write_all(&buf[..n])?;
            out.flush()?;
            pos += n as u64;
            continue;
        }
        if !active {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

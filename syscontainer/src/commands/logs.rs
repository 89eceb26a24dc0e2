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
    let start = args.tail.map_or(0, |n| tail_start(&content, n));
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
        if replaced(&file, &path) {
            // The monitor rotated the log (console_log.rs): this one is complete, go on
            // with the new one from its start.
            file =
                std::fs::File::open(&path).with_context(|| format!("open {}", path.display()))?;
            pos = 0;
            continue;
        }
        if !active {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether `path` now names another file than the open `file`.
fn replaced(file: &std::fs::File, path: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(open), Ok(now)) => open.ino() != now.ino() || open.dev() != now.dev(),
        _ => false,
    }
}

/// Where the last `n` lines of `content` begin. A last line without its newline counts
/// as a line; `n = 0` is the end of the content.
pub fn tail_start(content: &[u8], n: usize) -> usize {
    if n == 0 {
        return content.len();
    }
    let body = content.strip_suffix(b"\n").unwrap_or(content);
    body.iter()
        .enumerate()
        .rev()
        .filter(|(_, b)| **b == b'\n')
        .nth(n - 1)
        .map_or(0, |(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::tail_start;

    fn tail(content: &str, n: usize) -> &str {
        &content[tail_start(content.as_bytes(), n)..]
    }

    #[test]
    fn tail_counts_lines_from_the_end() {
        for text in ["a\nb\nc\n", "a\nb\nc"] {
            assert_eq!(tail(text, 0), "", "{text:?}");
            assert_eq!(tail(text, 1).trim_end(), "c", "{text:?}");
            assert_eq!(tail(text, 2).trim_end(), "b\nc", "{text:?}");
            assert_eq!(tail(text, 3), text, "{text:?}");
            assert_eq!(tail(text, 10), text, "{text:?}");
        }
        assert_eq!(tail("", 0), "");
        assert_eq!(tail("", 3), "");
        assert_eq!(tail("\n", 1), "\n");
        assert_eq!(tail("no newline", 0), "");
        assert_eq!(tail("no newline", 1), "no newline");
        assert_eq!(tail("a\n\n", 1), "\n");
    }
}

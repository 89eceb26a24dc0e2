//! `logs [-f] [--tail N] CONTAINER`: the console output of PID 1.

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use syscontainer::container::Container;
use syscontainer::logrotate;

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
    // The current file is opened first, so that a rotation while reading the older ones
    // loses nothing: the handle keeps following the file it opened.
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("open {}", path.display())),
    };
    let mut content = Vec::new();
    for older in logrotate::log_files(&path).iter().filter(|p| **p != path) {
        match std::fs::read(older) {
            Ok(bytes) => content.extend(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("read {}", older.display())),
        }
    }
    let before_current = content.len();
    file.read_to_end(&mut content)?;
    let mut out = std::io::stdout();
    let start = args.tail.map_or(0, |n| tail_start(&content, n));
    out.write_all(&content[start..])?;
    out.flush()?;
    if !args.follow {
        return Ok(0);
    }
    let mut pos = (content.len() - before_current) as u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let active = Container::load(&ctx.store, &id)
            .map(|c| c.state.is_active())
            .unwrap_or(false);
        // Looked at before draining: the monitor writes nothing more to a file once it
        // has renamed it, so the drain below reads all the old file will ever hold.
        let newer = replaced(&file, &path);
        pos = copy_to_end(&mut file, pos, &mut buf, &mut out)?;
        if let Some(newer) = newer {
            file = newer;
            pos = 0;
            continue;
        }
        if file.metadata()?.len() < pos {
            // Rotation with max-file=1 started the file over.
            pos = 0;
            continue;
        }
        if !active {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Write what `file` holds from `pos` on; returns the new position.
fn copy_to_end(
    file: &mut std::fs::File,
    mut pos: u64,
    buf: &mut [u8],
    out: &mut impl Write,
) -> std::io::Result<u64> {
    loop {
        file.seek(SeekFrom::Start(pos))?;
        let n = file.read(buf)?;
        if n == 0 {
            return Ok(pos);
        }
        out.write_all(&buf[..n])?;
        out.flush()?;
        pos += n as u64;
    }
}

/// The file after the one `file` has open, once that one was rotated away: the one
/// numbered one less, or the current `console.log`; the oldest left when `file`'s own was
/// already dropped (`max-file`). `None` while `file` is still the current one.
fn replaced(file: &std::fs::File, path: &std::path::Path) -> Option<std::fs::File> {
    use std::os::unix::fs::MetadataExt;
    let open = file.metadata().ok()?;
    let identity = |p: &std::path::Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let ours = (open.dev(), open.ino());
    // Another rotation may rename the files between the listing and the open: check that
    // the file opened is the one listed, and list again if not.
    for _ in 0..10 {
        if identity(path) == Some(ours) {
            return None;
        }
        let files: Vec<_> = logrotate::log_files(path)
            .into_iter()
            .filter_map(|p| identity(&p).map(|id| (p, id)))
            .collect();
        let next = match files.iter().position(|(_, id)| *id == ours) {
            Some(i) => files.get(i + 1)?,
            None => files.first()?,
        };
        let opened = std::fs::File::open(&next.0).ok()?;
        let got = opened.metadata().ok().map(|m| (m.dev(), m.ino()));
        if got == Some(next.1) {
            return Some(opened);
        }
    }
    None
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
    use super::{replaced, tail_start};
    use syscontainer::logrotate::{numbered, ConsoleLog};
    use syscontainer::options::LogRotation;

    #[test]
    fn a_follower_goes_on_with_the_next_newer_file() {
        use std::io::Read;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.log");
        let rotation = LogRotation {
            max_size: Some(4),
            max_file: 4,
        };
        let mut log = ConsoleLog::open(&path, rotation).unwrap();
        log.write(b"aaaa").unwrap();
        let first = std::fs::File::open(&path).unwrap();
        assert!(replaced(&first, &path).is_none(), "still the current file");
        // Two rotations while the follower looked away: it must read "bbbb" next,
        // not jump to the current file.
        log.write(b"bbbbcc").unwrap();
        let mut next = replaced(&first, &path).expect("rotated away");
        let mut text = String::new();
        next.read_to_string(&mut text).unwrap();
        assert_eq!(text, "bbbb");
        let mut last = replaced(&next, &path).expect("rotated away too");
        text.clear();
        last.read_to_string(&mut text).unwrap();
        assert_eq!(text, "cc");
        assert!(replaced(&last, &path).is_none());
        // A file max-file dropped: the follower resumes at the oldest one left.
        log.write(b"ddddeeeeffff").unwrap();
        assert!(!numbered(&path, 4).exists());
        let mut oldest = replaced(&first, &path).expect("the oldest left");
        text.clear();
        oldest.read_to_string(&mut text).unwrap();
        assert_eq!(text, "ccdd");
    }

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

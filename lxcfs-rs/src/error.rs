use std::path::PathBuf;

/// Errors of the view library: parsing host or cgroup files and reading them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("malformed {file}: {reason}: {line:?}")]
    Parse {
        file: &'static str,
        reason: &'static str,
        line: String,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no cgroup hierarchy offers {0}")]
    NoController(&'static str),
    #[error("process {0} not found")]
    NoProcess(i32),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn parse(file: &'static str, reason: &'static str, line: &str) -> Self {
        let mut line = line.to_string();
        line.truncate(200);
        Error::Parse { file, reason, line }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// True when the error means a file or process does not exist (optional inputs).
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::Io { source, .. } => {
                matches!(
                    source.raw_os_error(),
                    Some(libc::ENOENT) | Some(libc::ESRCH)
                ) || source.kind() == std::io::ErrorKind::NotFound
            }
            Error::NoProcess(_) | Error::NoController(_) => true,
            Error::Parse { .. } => false,
        }
    }
}

/// Reads a whole (small) file into a string, mapping errors to [`Error::Io`].
pub(crate) fn read_string(path: &std::path::Path) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    read_file_string(file, path)
}

/// Reads a whole (small) file as bytes, mapping errors to [`Error::Io`].
pub(crate) fn read_bytes(path: &std::path::Path) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    read_file_with(file, path, <[u8]>::to_vec)
}

/// Reads the rest of an open file as a string; `path` names it in errors.
pub(crate) fn read_file_string(file: std::fs::File, path: &std::path::Path) -> Result<String> {
    read_file_with(file, path, |bytes| {
        std::str::from_utf8(bytes).map(str::to_owned)
    })?
    .map_err(|e| {
        Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    })
}

thread_local! {
    /// The buffer every read of this thread reuses.
    static READ_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Size of the first read: every cgroup file and almost every /proc file fits.
const READ_CHUNK: usize = 16 * 1024;
/// A thread keeps a buffer that grew past this only for the read that grew it.
const READ_BUFFER_KEPT: usize = 1024 * 1024;

/// Reads `file` to its end into one reused per-thread buffer and hands the bytes to `f`.
///
/// `std::fs::read` asks for the size first (`statx`, 0 for /proc and a page for cgroup
/// files) and then starts with a small probe read; /proc and cgroup files need neither, so a
/// file here costs one `read` per 16 KiB plus the final `read` of 0.
pub(crate) fn read_file_with<T>(
    mut file: std::fs::File,
    path: &std::path::Path,
    f: impl FnOnce(&[u8]) -> T,
) -> Result<T> {
    use std::io::Read;
    let mut buf = READ_BUFFER.with(|b| b.take());
    if buf.len() < READ_CHUNK {
        buf.resize(READ_CHUNK, 0);
    }
    let mut len = 0;
    let result = loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => break Ok(f(&buf[..len])),
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Err(Error::io(path, e)),
        }
    };
    if buf.len() <= READ_BUFFER_KEPT {
        READ_BUFFER.with(|b| b.set(buf));
    }
    result
}

/// Parses a u64, naming the file and line on failure.
pub(crate) fn parse_u64(file: &'static str, word: &str, line: &str) -> Result<u64> {
    word.trim()
        .parse()
        .map_err(|_| Error::parse(file, "expected an unsigned integer", line))
}

/// One line for an error and its causes. Errors of this crate carry their source's text in
/// their own message, so a cause whose text the line already ends with is not repeated.
pub fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if text.ends_with(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_whole_files_of_any_size_with_the_reused_buffer() {
        let dir = tempfile::tempdir().unwrap();
        for size in [
            0usize,
            1,
            READ_CHUNK - 1,
            READ_CHUNK,
            READ_CHUNK + 1,
            3 * READ_CHUNK,
        ] {
            let text: String = (0..size).map(|i| (b'a' + (i % 26) as u8) as char).collect();
            let path = dir.path().join(format!("f{size}"));
            std::fs::write(&path, &text).unwrap();
            assert_eq!(read_string(&path).unwrap(), text, "size {size}");
            assert_eq!(read_bytes(&path).unwrap(), text.as_bytes(), "size {size}");
        }
        // A buffer that grew past the bound is not kept; a later small read still works.
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; 2 * READ_BUFFER_KEPT]).unwrap();
        assert_eq!(read_bytes(&big).unwrap().len(), 2 * READ_BUFFER_KEPT);
        assert!(READ_BUFFER.with(|b| {
            let buf = b.take();
            let kept = buf.len() <= READ_BUFFER_KEPT;
            b.set(buf);
            kept
        }));
        assert_eq!(read_string(&dir.path().join("f1")).unwrap(), "a");
        let bad = dir.path().join("bad");
        std::fs::write(&bad, [0xff, 0xfe]).unwrap();
        assert!(read_string(&bad).is_err());
        assert!(read_string(&dir.path().join("missing"))
            .unwrap_err()
            .is_not_found());
    }

    #[test]
    fn describe_does_not_repeat_causes() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let e = anyhow::Error::new(Error::io("/x", io)).context("cannot start");
        assert_eq!(describe(&e), "cannot start: cannot read /x: gone");
    }
}

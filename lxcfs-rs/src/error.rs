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
    #[error(transparent)]
    Cgroup(#[from] syscontainer_cgroups::CgroupError),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn parse(file: &'static str, reason: &'static str, line: &str) -> Self {
        // At most 200 bytes, cut at a character boundary: a container names its own cgroups,
        // so /proc/PID/cgroup lines may hold any UTF-8.
        let mut end = line.len().min(200);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        Error::Parse {
            file,
            reason,
            line: line[..end].to_string(),
        }
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
            Error::Cgroup(e) => e.is_not_found(),
            Error::Parse { .. } => false,
        }
    }
}

/// Reads a whole (small) file into a string with the per-thread buffer of
/// [`syscontainer_cgroups::read`].
pub(crate) fn read_string(path: &std::path::Path) -> Result<String> {
    Ok(syscontainer_cgroups::read::read_string(path)?)
}

/// Reads a whole (small) file as bytes with the per-thread buffer.
pub(crate) fn read_bytes(path: &std::path::Path) -> Result<Vec<u8>> {
    Ok(syscontainer_cgroups::read::read_bytes(path)?)
}

/// Reads the rest of an open file as a string; `path` names it in errors.
pub(crate) fn read_file_string(file: std::fs::File, path: &std::path::Path) -> Result<String> {
    Ok(syscontainer_cgroups::read::read_file_string(file, path)?)
}

/// Parses a u64, naming the file and line on failure.
pub(crate) fn parse_u64(file: &'static str, word: &str, line: &str) -> Result<u64> {
    Ok(syscontainer_cgroups::read::parse_u64(file, word, line)?)
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

    /// Like the cgroups crate's: a bad line of more than 200 bytes whose 200th byte falls
    /// inside a character must not panic while building the error.
    #[test]
    fn a_long_bad_line_is_cut_at_a_character_boundary() {
        let line = format!("a{}", "é".repeat(150));
        let err = crate::host::Meminfo::parse(&line).unwrap_err();
        let Error::Parse { line: shown, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(shown.len(), 199);
        assert!(line.starts_with(shown.as_str()));
    }

    #[test]
    fn describe_does_not_repeat_causes() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let e = anyhow::Error::new(Error::io("/x", io)).context("cannot start");
        assert_eq!(describe(&e), "cannot start: cannot read /x: gone");
    }
}

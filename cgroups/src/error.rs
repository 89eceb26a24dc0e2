//! The crate's error type. Messages are lower-case and name the file or value that failed.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A controller refused a value, or the host lacks what the value needs.
    #[error("cgroup {path}: {message}")]
    Controller { path: String, message: String },
    #[error("cgroup {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A line written to a controller file was refused.
    #[error("write {line:?} to {}: {source}", path.display())]
    Write {
        path: PathBuf,
        line: String,
        source: std::io::Error,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("malformed {file}: {reason}: {line:?}")]
    Parse {
        file: &'static str,
        reason: &'static str,
        line: String,
    },
    #[error("cannot read this process's cgroups: {0}")]
    Own(String),
    #[error("cgroup {0} did not freeze within 5 s")]
    NotFrozen(String),
    /// The cgroup v2 device filter could not be built, loaded or attached.
    #[error("device filter: {0}")]
    DeviceFilter(#[from] syscontainer_device_filter::Error),
    /// The host or the container's cgroup offers no way to do what was asked.
    #[error("{0}")]
    Unsupported(String),
    /// systemd refused or failed a call of the systemd driver.
    #[error("systemd driver: {0}")]
    Systemd(#[from] syscontainer_systemd_client::Error),
}

pub type Result<T> = std::result::Result<T, CgroupError>;

impl CgroupError {
    pub(crate) fn parse(file: &'static str, reason: &'static str, line: &str) -> Self {
        // At most 200 bytes, cut at a character boundary: a container names its own cgroups,
        // so /proc/PID/cgroup lines may hold any UTF-8.
        let mut end = line.len().min(200);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        CgroupError::Parse {
            file,
            reason,
            line: line[..end].to_string(),
        }
    }

    pub(crate) fn read(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CgroupError::Read {
            path: path.into(),
            source,
        }
    }

    /// True when the error means a file or process does not exist (optional inputs).
    pub fn is_not_found(&self) -> bool {
        match self {
            CgroupError::Read { source, .. } | CgroupError::Io { source, .. } => {
                matches!(
                    source.raw_os_error(),
                    Some(libc::ENOENT) | Some(libc::ESRCH)
                ) || source.kind() == std::io::ErrorKind::NotFound
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `cgroup_files` fuzz target: a bad line of more than 200 bytes whose 200th
    /// byte falls inside a character panicked while building the error.
    #[test]
    fn a_long_bad_line_is_cut_at_a_character_boundary() {
        let line = format!("a{}", "é".repeat(150));
        let err = crate::stats::parse_cpu_max(&line).unwrap_err();
        let CgroupError::Parse { line: shown, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(shown.len(), 199);
        assert!(line.starts_with(shown.as_str()));
        assert!(crate::ProcessCgroups::parse(&format!("4:memory:{line}\nx\n")).is_err());
    }
}

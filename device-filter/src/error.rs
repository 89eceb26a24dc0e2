use std::io;
use std::path::PathBuf;

/// What went wrong, with the value or object it went wrong on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid device access {value:?}: expected each of \"r\", \"w\", \"m\" at most once")]
    InvalidAccess { value: String },
    #[error("invalid device type {value:?}: expected \"a\", \"b\" or \"c\"")]
    InvalidKind { value: String },
    #[error("open cgroup directory {}: {source}", path.display())]
    OpenCgroup { path: PathBuf, source: io::Error },
    #[error(
        "load device filter program of {insns} instructions: {source}{}",
        verifier_log(log)
    )]
    Load {
        insns: usize,
        source: io::Error,
        /// The verifier's log of the failed load (empty if the kernel gave none).
        log: String,
    },
    #[error("attach device filter program {id} to cgroup {}: {source}", path.display())]
    Attach {
        id: u32,
        path: PathBuf,
        source: io::Error,
    },
    #[error("replace device filter program {old} with {new} on cgroup {}: {source}", path.display())]
    Replace {
        old: u32,
        new: u32,
        path: PathBuf,
        source: io::Error,
    },
    #[error("detach device filter program {id} from cgroup {}: {source}", path.display())]
    Detach {
        id: u32,
        path: PathBuf,
        source: io::Error,
    },
    #[error("query device programs attached to cgroup {}: {source}", path.display())]
    Query { path: PathBuf, source: io::Error },
    #[error("open bpf program {id}: {source}")]
    ProgramById { id: u32, source: io::Error },
    #[error("read the info of bpf program {what}: {source}")]
    ProgramInfo { what: String, source: io::Error },
}

fn verifier_log(log: &str) -> String {
    let log = log.trim();
    if log.is_empty() {
        String::new()
    } else {
        format!("; verifier log:\n{log}")
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The library's error type. Messages are lower-case and name the value that was wrong.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad argument or a request that cannot be satisfied as given.
    #[error("{0}")]
    Invalid(String),
    /// The resource is already in use (by this or another container).
    #[error("{0}")]
    Conflict(String),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("netlink: {0}")]
    Netlink(String),
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Store(#[from] syscontainer::store::StoreError),
    #[error(transparent)]
    Runtime(#[from] syscontainer::Error),
    #[error(transparent)]
    Cgroup(#[from] syscontainer_cgroups::CgroupError),
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io_err(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { op, path, source }
}

pub(crate) fn invalid<T>(msg: impl Into<String>) -> Result<T> {
    Err(Error::Invalid(msg.into()))
}

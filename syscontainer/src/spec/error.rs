//! The errors of spec building: a bad combination names the option and the value.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("--system-container requires --external-rootfs")]
    SystemContainerNeedsRootfs,
    #[error("with --external-rootfs the image argument must be \"none\", not {0:?}")]
    ImageWithRootfs(String),
    #[error("image {0:?}: images are not supported, boot a root file system with --external-rootfs PATH none")]
    ImagesUnsupported(String),
    #[error("rootfs {path}: {reason}")]
    Rootfs { path: PathBuf, reason: String },
    #[error("no command given: name one after the image, or use --system-container for init")]
    NoCommand,
    #[error("{option} {value}: {reason}")]
    Conflict {
        option: &'static str,
        value: String,
        reason: String,
    },
    #[error("user {0}")]
    User(#[from] crate::users::UserError),
    #[error("cgroup placement: {0}")]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error("oci spec: {0}")]
    Oci(#[from] oci_spec::OciSpecError),
}

pub type Result<T> = std::result::Result<T, SpecError>;

/// `option value: reason`.
pub(crate) fn conflict(
    option: &'static str,
    value: impl Into<String>,
    reason: impl Into<String>,
) -> SpecError {
    SpecError::Conflict {
        option,
        value: value.into(),
        reason: reason.into(),
    }
}

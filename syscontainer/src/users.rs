//! `USER[:GROUP]` to numeric ids, looked up in the container's own passwd and group.

use std::path::Path;

use crate::fsutil::secure_join;
use crate::options::UserSpec;

use exec_stage::users::groups;
pub use exec_stage::users::UserError;

/// Resolve a user against passwd/group text: (uid, gid, supplementary gids).
pub fn resolve_in(
    passwd_text: &str,
    group_text: &str,
    spec: &UserSpec,
) -> Result<(u32, u32, Vec<u32>), UserError> {
    exec_stage::users::resolve_in(passwd_text, group_text, &spec.user, spec.group.as_deref())
}

/// Resolve a user in a rootfs that is not running yet.
pub fn resolve(rootfs: &Path, spec: &UserSpec) -> Result<(u32, u32, Vec<u32>), UserError> {
    let read = |p: &str| {
        secure_join(rootfs, Path::new(p))
            .ok()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    };
    resolve_in(&read("/etc/passwd"), &read("/etc/group"), spec)
}

/// A group name (looked up in the rootfs's /etc/group) or number.
pub fn resolve_group(rootfs: &Path, group: &str) -> Result<u32, UserError> {
    let text = secure_join(rootfs, Path::new("/etc/group"))
        .ok()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    match groups(&text).iter().find(|(n, _, _)| n == group) {
        Some((_, id, _)) => Ok(*id),
        None => group
            .parse()
            .map_err(|_| UserError::NoGroup(group.to_string())),
    }
}

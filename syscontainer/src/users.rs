//! `USER[:GROUP]` to numeric ids, looked up in the container's own passwd and group.

use std::path::Path;

use crate::fsutil::secure_join;
use crate::options::UserSpec;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0:?}: no such user in the container's /etc/passwd")]
    NoUser(String),
    #[error("{0:?}: no such group in the container's /etc/group")]
    NoGroup(String),
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
}

fn passwd(content: &str) -> Vec<PasswdEntry> {
    content
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
            })
        })
        .collect()
}

/// (name, gid, members)
fn groups(content: &str) -> Vec<(String, u32, Vec<String>)> {
    content
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((
                f.first()?.to_string(),
                f.get(2)?.parse().ok()?,
                f.get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            ))
        })
        .collect()
}

/// Resolve a user against passwd/group text: (uid, gid, supplementary gids).
pub fn resolve_in(
    passwd_text: &str,
    group_text: &str,
    spec: &UserSpec,
) -> Result<(u32, u32, Vec<u32>), UserError> {
    let users = passwd(passwd_text);
    let groups = groups(group_text);
    let (uid, mut gid, name) = match users.iter().find(|u| u.name == spec.user) {
        Some(u) => (u.uid, u.gid, Some(u.name.clone())),
        None => match spec.user.parse::<u32>() {
            Ok(uid) => match users.iter().find(|u| u.uid == uid) {
                Some(u) => (uid, u.gid, Some(u.name.clone())),
                None => (uid, uid, None),
            },
            Err(_) => return Err(UserError::NoUser(spec.user.clone())),
        },
    };
    if let Some(g) = &spec.group {
        gid = match groups.iter().find(|(n, _, _)| n == g) {
            Some((_, id, _)) => *id,
            None => g.parse().map_err(|_| UserError::NoGroup(g.clone()))?,
        };
    }
    let supplementary = match &name {
        Some(n) => groups
            .iter()
            .filter(|(_, id, members)| *id != gid && members.contains(n))
            .map(|(_, id, _)| *id)
            .collect(),
        None => Vec::new(),
    };
    Ok((uid, gid, supplementary))
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

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n";
    const GROUP: &str = "root:x:0:\nadm:x:4:www-data\nwww-data:x:33:\nstaff:x:50:\n";

    fn spec(u: &str, g: Option<&str>) -> UserSpec {
        UserSpec {
            user: u.into(),
            group: g.map(Into::into),
        }
    }

    #[test]
    fn names_and_numbers() {
        assert_eq!(
            resolve_in(PASSWD, GROUP, &spec("www-data", None)).unwrap(),
            (33, 33, vec![4])
        );
        assert_eq!(
            resolve_in(PASSWD, GROUP, &spec("33", Some("staff"))).unwrap(),
            (33, 50, vec![4])
        );
        assert_eq!(
            resolve_in(PASSWD, GROUP, &spec("1234", Some("99"))).unwrap(),
            (1234, 99, vec![])
        );
        assert!(matches!(
            resolve_in(PASSWD, GROUP, &spec("nobody", None)),
            Err(UserError::NoUser(_))
        ));
        assert!(matches!(
            resolve_in(PASSWD, GROUP, &spec("root", Some("wheel"))),
            Err(UserError::NoGroup(_))
        ));
    }
}

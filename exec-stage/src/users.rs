//! `USER[:GROUP]` to numeric ids, looked up in passwd and group text (a container's own).

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

/// The entries of group text: (name, gid, members).
pub fn groups(content: &str) -> Vec<(String, u32, Vec<String>)> {
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

/// Resolve `user[:group]` against passwd/group text: (uid, gid, supplementary gids).
pub fn resolve_in(
    passwd_text: &str,
    group_text: &str,
    user: &str,
    group: Option<&str>,
) -> Result<(u32, u32, Vec<u32>), UserError> {
    let users = passwd(passwd_text);
    let groups = groups(group_text);
    let (uid, mut gid, name) = match users.iter().find(|u| u.name == user) {
        Some(u) => (u.uid, u.gid, Some(u.name.clone())),
        None => match user.parse::<u32>() {
            Ok(uid) => match users.iter().find(|u| u.uid == uid) {
                Some(u) => (uid, u.gid, Some(u.name.clone())),
                None => (uid, uid, None),
            },
            Err(_) => return Err(UserError::NoUser(user.to_string())),
        },
    };
    if let Some(g) = group {
        gid = match groups.iter().find(|(n, _, _)| n == g) {
            Some((_, id, _)) => *id,
            None => g.parse().map_err(|_| UserError::NoGroup(g.to_string()))?,
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

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n";
    const GROUP: &str = "root:x:0:\nadm:x:4:www-data\nwww-data:x:33:\nstaff:x:50:\n";

    #[test]
    fn names_and_numbers() {
        assert_eq!(
            resolve_in(PASSWD, GROUP, "www-data", None).unwrap(),
            (33, 33, vec![4])
        );
        assert_eq!(
            resolve_in(PASSWD, GROUP, "33", Some("staff")).unwrap(),
            (33, 50, vec![4])
        );
        assert_eq!(
            resolve_in(PASSWD, GROUP, "1234", Some("99")).unwrap(),
            (1234, 99, vec![])
        );
        assert!(matches!(
            resolve_in(PASSWD, GROUP, "nobody", None),
            Err(UserError::NoUser(_))
        ));
        assert!(matches!(
            resolve_in(PASSWD, GROUP, "root", Some("wheel")),
            Err(UserError::NoGroup(_))
        ));
    }
}

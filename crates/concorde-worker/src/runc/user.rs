//! Resolving a user name (`alice`, `1000`, `alice:staff`, `1000:50`) against an image's
//! `/etc/passwd` and `/etc/group`, as a container runtime must: the names mean what the image
//! says, not what the host says.

use std::path::Path;

use crate::WorkerError;

/// The ids a process runs with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: those of `/etc/group` listing the user by name.
    pub additional_gids: Vec<u32>,
}

/// Resolves `user` (`None` meaning root) in the rootfs at `rootfs`.
pub(crate) fn resolve(rootfs: &Path, user: Option<&str>) -> Result<ResolvedUser, WorkerError> {
    let Some(user) = user.filter(|user| !user.is_empty()) else {
        return Ok(ResolvedUser::default());
    };
    let (user_part, group_part) = match user.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (user, None),
    };
    let not_found = |what: &str| WorkerError::ProcessStart {
        path: String::new(),
        reason: format!(
            "{what} not found in the image's /etc/{}",
            if what.starts_with("user") {
                "passwd"
            } else {
                "group"
            }
        ),
    };
    let passwd = read_image_file(rootfs, "passwd")?;
    let entry = passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| {
            fields.len() >= 4
                && (fields[0] == user_part
                    || (user_part.parse::<u32>().is_ok() && fields[2] == user_part))
        });
    let (name, uid, mut gid) = match (&entry, user_part.parse::<u32>()) {
        (Some(fields), _) => (
            Some(fields[0].to_owned()),
            fields[2]
                .parse()
                .map_err(|_| not_found(&format!("user {user_part:?}")))?,
            fields[3]
                .parse()
                .map_err(|_| not_found(&format!("user {user_part:?}")))?,
        ),
        // A numeric uid the image does not name still works, in group 0, as with Docker.
        (None, Ok(uid)) => (None, uid, 0),
        (None, Err(_)) => return Err(not_found(&format!("user {user_part:?}"))),
    };
    let groups = read_image_file(rootfs, "group")?;
    let group_entries: Vec<Vec<&str>> = groups
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .filter(|fields| fields.len() >= 3)
        .collect();
    if let Some(group) = group_part {
        gid = match group.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => group_entries
                .iter()
                .find(|fields| fields[0] == group)
                .and_then(|fields| fields[2].parse().ok())
                .ok_or_else(|| not_found(&format!("group {group:?}")))?,
        };
    }
    let mut additional_gids: Vec<u32> = match &name {
        Some(name) => group_entries
            .iter()
            .filter(|fields| {
                fields
                    .get(3)
                    .is_some_and(|members| members.split(',').any(|member| member == name))
            })
            .filter_map(|fields| fields[2].parse().ok())
            .filter(|&extra| extra != gid)
            .collect(),
        None => Vec::new(),
    };
    additional_gids.sort_unstable();
    additional_gids.dedup();
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
    })
}

/// Reads `etc/<name>` of the rootfs; missing is empty. Symlinks are refused rather than
/// followed, since they would resolve against the host's root.
fn read_image_file(rootfs: &Path, name: &str) -> Result<String, WorkerError> {
    for path in [rootfs.join("etc"), rootfs.join("etc").join(name)] {
        match std::fs::symlink_metadata(&path) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                return Err(WorkerError::InvalidImage(format!(
                    "{} is a symlink",
                    path.display()
                )));
            }
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
            Err(err) => return Err(err.into()),
        }
    }
    Ok(std::fs::read_to_string(rootfs.join("etc").join(name))?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]
mod tests {
    use super::*;

    fn rootfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\nalice:x:1000:\nstaff:x:50:alice,bob\nwheel:x:10:alice\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn names_ids_and_groups() {
        let dir = rootfs();
        let resolve = |user| resolve(dir.path(), user).unwrap();
        assert_eq!(resolve(None), ResolvedUser::default());
        assert_eq!(resolve(Some("root")), ResolvedUser::default());
        let alice = ResolvedUser {
            uid: 1000,
            gid: 1000,
            additional_gids: vec![10, 50],
        };
        assert_eq!(resolve(Some("alice")), alice);
        assert_eq!(resolve(Some("1000")), alice);
        assert_eq!(
            resolve(Some("alice:staff")),
            ResolvedUser {
                gid: 50,
                additional_gids: vec![10],
                ..alice.clone()
            }
        );
        assert_eq!(
            resolve(Some("4242:7")),
            ResolvedUser {
                uid: 4242,
                gid: 7,
                additional_gids: vec![]
            }
        );
        assert_eq!(
            resolve(Some("4242")),
            ResolvedUser {
                uid: 4242,
                gid: 0,
                additional_gids: vec![]
            }
        );
    }

    #[test]
    fn unknown_names_are_start_errors() {
        let dir = rootfs();
        for user in ["mallory", "alice:nogroup"] {
            let err = resolve(dir.path(), Some(user)).unwrap_err();
            assert!(
                matches!(&err, WorkerError::ProcessStart { reason, .. } if reason.contains("not found")),
                "{err:?}"
            );
        }
    }

    #[test]
    fn symlinked_passwd_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("etc/passwd")).unwrap();
        assert!(matches!(
            resolve(dir.path(), Some("root")),
            Err(WorkerError::InvalidImage(_))
        ));
    }
}

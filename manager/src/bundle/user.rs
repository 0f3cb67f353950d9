//! `--user name|uid[:group|gid]` resolved against the image's /etc/passwd and /etc/group, read
//! inside the rootfs without letting symlinks lead out of it (rules as runc's GetExecUser,
//! which Docker uses).

use std::path::Path;

use super::BundleError;
use crate::rootfs_fs::{RelPath, Root, MAX_ETC_FILE};

/// The identity a container process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups (from /etc/group membership when no group was given).
    pub additional_gids: Vec<u32>,
    /// Home directory from /etc/passwd (`/` when unknown).
    pub home: String,
}

#[derive(Debug)]
struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

#[derive(Debug)]
struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

/// The colon-separated fields of each entry of an /etc/passwd or /etc/group text (blank lines
/// and comments left out).
fn colon_records(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split(':').collect())
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    colon_records(text)
        .filter_map(|f| {
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).map(|s| s.to_string()).unwrap_or_default(),
            })
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry> {
    colon_records(text)
        .filter_map(|f| {
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Reads `etc/<name>` inside the rootfs (a regular file of at most [`MAX_ETC_FILE`] bytes,
/// never through a symlink); a missing file reads as `None`.
fn read_etc(rootfs: &Path, name: &str) -> Result<Option<String>, BundleError> {
    let root = Root::open(rootfs).map_err(|e| BundleError::Io {
        op: "open rootfs",
        path: rootfs.to_path_buf(),
        source: e,
    })?;
    let rel =
        RelPath::parse(&Path::new("etc").join(name)).ok_or_else(|| BundleError::InvalidOption {
            option: "user".into(),
            reason: format!("bad file name {name:?}"),
        })?;
    let bytes = root.read_regular(&rel, MAX_ETC_FILE)?;
    Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
}

/// `--group-add` names resolved to gids from the image's /etc/group (numeric values are taken
/// as they are, as Docker does for a gid without an entry).
pub fn resolve_groups(rootfs: &Path, names: &[String]) -> Result<Vec<u32>, BundleError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let text = read_etc(rootfs, "group")?;
    let groups = parse_group(text.as_deref().unwrap_or(""));
    names
        .iter()
        .map(|n| match groups.iter().find(|g| &g.name == n) {
            Some(g) => Ok(g.gid),
            None => n
                .parse::<u32>()
                .map_err(|_| BundleError::UnknownGroup { group: n.clone() }),
        })
        .collect()
}

/// Resolves `user` (empty = root) against the image rootfs at `rootfs`.
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<ResolvedUser, BundleError> {
    let (user_part, group_part) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let passwd_text = read_etc(rootfs, "passwd")?;
    let passwd = parse_passwd(passwd_text.as_deref().unwrap_or(""));
    let numeric_uid = user_part.parse::<u32>().ok();
    let entry = passwd
        .iter()
        .find(|e| e.name == user_part || numeric_uid == Some(e.uid));
    let mut out = match (entry, numeric_uid) {
        (Some(e), _) => ResolvedUser {
            uid: e.uid,
            gid: e.gid,
            additional_gids: vec![],
            home: if e.home.is_empty() {
                "/".into()
            } else {
                e.home.clone()
            },
        },
        (None, Some(uid)) => ResolvedUser {
            uid,
            gid: 0,
            additional_gids: vec![],
            home: "/".into(),
        },
        (None, None) => {
            return Err(BundleError::UnknownUser {
                user: user_part.to_string(),
                reason: if passwd_text.is_some() {
                    "no matching entry in the image's /etc/passwd".into()
                } else {
                    "the image has no /etc/passwd".into()
                },
            })
        }
    };
    let matched_name = entry.map(|e| e.name.clone());
    if group_part.is_some() || matched_name.is_some() {
        let group_text = read_etc(rootfs, "group")?;
        let groups = parse_group(group_text.as_deref().unwrap_or(""));
        match group_part {
            Some(g) if !g.is_empty() => {
                let numeric = g.parse::<u32>().ok();
                match groups
                    .iter()
                    .find(|e| e.name == g || numeric == Some(e.gid))
                {
                    Some(e) => out.gid = e.gid,
                    None => match numeric {
                        Some(gid) => out.gid = gid,
                        None => {
                            return Err(BundleError::UnknownGroup {
                                group: g.to_string(),
                            })
                        }
                    },
                }
            }
            Some(_) => {
                return Err(BundleError::InvalidOption {
                    option: "user".into(),
                    reason: format!("{user:?} has an empty group after ':'"),
                })
            }
            None => {
                if let Some(name) = matched_name {
                    let mut gids: Vec<u32> = groups
                        .iter()
                        .filter(|g| g.members.contains(&name))
                        .map(|g| g.gid)
                        .collect();
                    gids.dedup();
                    out.additional_gids = gids;
                }
            }
        }
    }
    Ok(out)
}
